// Flash attention forward on tensor cores (WMMA bf16 16x16x16 with fp32 accumulation).
//
// Same algorithm and layouts as the scalar forward in attention.cu (FlashAttention-2 loop
// order, Dao 2023), with both GEMMs of a tile on tensor cores: a block owns 64 query rows
// (16 per warp) and walks 64-key tiles;
//   S = Q K^T         (WMMA, stored to shared memory as fp32),
//   online softmax     (each warp over its 16 rows: running max m and sum l, P = 2^(S - m)
//                       written as bf16, the running output rescaled by 2^(m_old - m)),
//   O += P V           (WMMA, accumulating into the fp32 output tile in shared memory).
// WMMA fragments have no documented element layout, so the rescaling goes through shared
// memory rather than registers. Dynamic shared memory: about 110 KB for head_dim 128.
#include <cuda_bf16.h>
#include <mma.h>

#include <cmath>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/kernels.h"

namespace echosim::kernels::cuda {
namespace {

namespace wmma = nvcuda::wmma;
constexpr unsigned kFull = 0xffffffffu;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kBr = 64, kBc = 64, kWarps = 4;

__device__ __forceinline__ float WarpMax(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFull, v, o));
  return v;
}
__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
  return v;
}

struct TcArgs {
  const bf16* q;
  const bf16* k;
  const bf16* v;
  bf16* o;
  float* lse;
  int heads, kv_heads, sq, sk;
  bool causal;
  float scale;
  int64_t qb, qh, qr, kb, kh, kr, ob, oh, orow;  // strides in elements
};

template <int D>
struct Smem {
  static constexpr int kLdh = D + 8;    // bf16 tiles (row pitch a multiple of 8 elements)
  static constexpr int kLds = kBc + 4;  // fp32 scores
  static constexpr int kLdp = kBc + 8;  // bf16 probabilities
  static constexpr int kLdo = D + 4;    // fp32 output
  static constexpr size_t kQ = 0;
  static constexpr size_t kK = kQ + sizeof(bf16) * kBr * kLdh;
  static constexpr size_t kV = kK + sizeof(bf16) * kBc * kLdh;
  static constexpr size_t kS = kV + sizeof(bf16) * kBc * kLdh;
  static constexpr size_t kP = kS + sizeof(float) * kBr * kLds;
  static constexpr size_t kO = kP + sizeof(bf16) * kBr * kLdp;
  static constexpr size_t kStats = kO + sizeof(float) * kBr * kLdo;  // m, l, alpha per row
  static constexpr size_t kBytes = kStats + sizeof(float) * 3 * kBr;
};

template <int D>
__global__ void __launch_bounds__(128) FlashForwardTcKernel(TcArgs a) {
  using L = Smem<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* sq = reinterpret_cast<bf16*>(smem + L::kQ);
  bf16* sk = reinterpret_cast<bf16*>(smem + L::kK);
  bf16* sv = reinterpret_cast<bf16*>(smem + L::kV);
  float* ss = reinterpret_cast<float*>(smem + L::kS);
  bf16* sp = reinterpret_cast<bf16*>(smem + L::kP);
  float* so = reinterpret_cast<float*>(smem + L::kO);
  float* sm = reinterpret_cast<float*>(smem + L::kStats);
  float* sl = sm + kBr;
  float* salpha = sl + kBr;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int bh = blockIdx.y, b = bh / a.heads, h = bh % a.heads, hk = h / (a.heads / a.kv_heads);
  const int q0 = blockIdx.x * kBr;
  const bf16* qg = a.q + b * a.qb + h * a.qh;
  const bf16* kg = a.k + b * a.kb + hk * a.kh;
  const bf16* vg = a.v + b * a.kb + hk * a.kh;

  // Q tile (8 bf16 = 16 bytes per access; rows past sq are zero), output and stats cleared.
  constexpr int kVec = D / 8;
  for (int i = tid; i < kBr * kVec; i += blockDim.x) {
    const int r = i / kVec, c = (i % kVec) * 8;
    uint4 val = make_uint4(0, 0, 0, 0);
    if (q0 + r < a.sq) val = *reinterpret_cast<const uint4*>(qg + static_cast<int64_t>(q0 + r) * a.qr + c);
    *reinterpret_cast<uint4*>(sq + r * L::kLdh + c) = val;
  }
  for (int i = tid; i < kBr * L::kLdo; i += blockDim.x) so[i] = 0.f;
  if (tid < kBr) {
    sm[tid] = -INFINITY;
    sl[tid] = 0.f;
  }
  const int offset = a.sk - a.sq;
  const int last_row = min(q0 + kBr, a.sq) - 1;
  const int kv_end = a.causal ? min(a.sk, last_row + offset + 1) : a.sk;
  const float scale_log2 = a.scale * kLog2e;
  const int row0 = warp * 16;  // this warp's rows within the tile

  for (int k0 = 0; k0 < kv_end; k0 += kBc) {
    __syncthreads();  // previous tile's K/V no longer read
    for (int i = tid; i < kBc * kVec; i += blockDim.x) {
      const int j = i / kVec, c = (i % kVec) * 8;
      uint4 kv = make_uint4(0, 0, 0, 0), vv = make_uint4(0, 0, 0, 0);
      if (k0 + j < a.sk) {
        kv = *reinterpret_cast<const uint4*>(kg + static_cast<int64_t>(k0 + j) * a.kr + c);
        vv = *reinterpret_cast<const uint4*>(vg + static_cast<int64_t>(k0 + j) * a.kr + c);
      }
      *reinterpret_cast<uint4*>(sk + j * L::kLdh + c) = kv;
      *reinterpret_cast<uint4*>(sv + j * L::kLdh + c) = vv;
    }
    __syncthreads();

    // S[16 rows, 64 keys] = Q K^T for this warp's rows.
#pragma unroll
    for (int nt = 0; nt < kBc / 16; ++nt) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> fb;  // K^T: column-major view of K
        wmma::load_matrix_sync(fa, sq + row0 * L::kLdh + kk * 16, L::kLdh);
        wmma::load_matrix_sync(fb, sk + nt * 16 * L::kLdh + kk * 16, L::kLdh);
        wmma::mma_sync(acc, fa, fb, acc);
      }
      wmma::store_matrix_sync(ss + row0 * L::kLds + nt * 16, acc, L::kLds, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax over the warp's 16 rows: lanes own keys lane and lane + 32.
    for (int r = 0; r < 16; ++r) {
      const int row = row0 + r, qi = q0 + row;
      const int last = a.causal ? qi + offset : a.sk - 1;
      float s[2];
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int j = lane + 32 * half, key = k0 + j;
        const bool visible = qi < a.sq && key < a.sk && key <= last;
        s[half] = visible ? ss[row * L::kLds + j] * scale_log2 : -INFINITY;
      }
      const float m_old = sm[row];
      const float m_new = fmaxf(m_old, WarpMax(fmaxf(s[0], s[1])));
      float p0 = 0.f, p1 = 0.f, alpha = 1.f;
      if (m_new != -INFINITY) {
        p0 = exp2f(s[0] - m_new);
        p1 = exp2f(s[1] - m_new);
        alpha = exp2f(m_old - m_new);
      }
      const float sum = WarpSum(p0 + p1);
      sp[row * L::kLdp + lane] = __float2bfloat16_rn(p0);
      sp[row * L::kLdp + lane + 32] = __float2bfloat16_rn(p1);
      __syncwarp();
      if (lane == 0) {
        sm[row] = m_new;
        sl[row] = sl[row] * alpha + sum;
        salpha[row] = alpha;
      }
    }
    __syncwarp();
    // Rescale the warp's output rows, then O += P V on tensor cores.
    for (int i = lane; i < 16 * D; i += 32) {
      const int r = i / D, c = i % D;
      so[(row0 + r) * L::kLdo + c] *= salpha[row0 + r];
    }
    __syncwarp();
#pragma unroll
    for (int nt = 0; nt < D / 16; ++nt) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::load_matrix_sync(acc, so + row0 * L::kLdo + nt * 16, L::kLdo, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kBc / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> fb;
        wmma::load_matrix_sync(fa, sp + row0 * L::kLdp + kk * 16, L::kLdp);
        wmma::load_matrix_sync(fb, sv + kk * 16 * L::kLdh + nt * 16, L::kLdh);
        wmma::mma_sync(acc, fa, fb, acc);
      }
      wmma::store_matrix_sync(so + row0 * L::kLdo + nt * 16, acc, L::kLdo, wmma::mem_row_major);
    }
    __syncwarp();
  }
  __syncwarp();
  // Normalise and write this warp's rows.
  for (int r = 0; r < 16; ++r) {
    const int row = row0 + r, qi = q0 + row;
    if (qi >= a.sq) break;
    const float l = sl[row];
    const float inv = l > 0.f ? 1.f / l : 0.f;
    bf16* orow = a.o + b * a.ob + h * a.oh + static_cast<int64_t>(qi) * a.orow;
    for (int c = lane; c < D; c += 32) orow[c] = __float2bfloat16_rn(so[row * L::kLdo + c] * inv);
    if (lane == 0) a.lse[static_cast<int64_t>(bh) * a.sq + qi] = (sm[row] + log2f(l)) * kLn2;
  }
}

template <int D>
void Launch(const TcArgs& a, int64_t sq, int64_t bh, cudaStream_t s) {
  constexpr size_t bytes = Smem<D>::kBytes;
  ECHOSIM_CUDA_CHECK(cudaFuncSetAttribute(FlashForwardTcKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(bytes)));
  const dim3 grid(static_cast<unsigned>((sq + kBr - 1) / kBr), static_cast<unsigned>(bh));
  FlashForwardTcKernel<D><<<grid, kWarps * 32, bytes, s>>>(a);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

}  // namespace

void FlashAttentionForwardTensorCores(const AttentionParams& p, bf16* o, float* lse, cudaStream_t s) {
  if (p.d != 64 && p.d != 128) ThrowCudaError(__FILE__, __LINE__, "FlashAttention", "head_dim must be 64 or 128");
  if (p.heads % p.kv_heads != 0 || p.sq < 1 || p.sk < 1 || (p.causal && p.sk < p.sq) || p.batch * p.heads > 65535) {
    ThrowCudaError(__FILE__, __LINE__, "FlashAttention", "invalid shape (heads % kv_heads, sq, sk, batch * heads)");
  }
  const int64_t cap = p.kv_capacity > 0 ? p.kv_capacity : p.sk;
  auto resolve = [&](const TensorLayout& l, int64_t heads, int64_t rows) {
    TensorLayout r = l;
    if (r.batch == 0 && r.head == 0 && r.row == 0) r = TensorLayout{heads * rows * p.d, rows * p.d, p.d};
    if (r.batch % 8 || r.head % 8 || r.row % 8) {
      ThrowCudaError(__FILE__, __LINE__, "FlashAttention", "tensor-core layout strides must be multiples of 8");
    }
    return r;
  };
  const TensorLayout q = resolve(p.q_layout, p.heads, p.sq), kv = resolve(p.kv_layout, p.kv_heads, cap),
                     ol = resolve(p.o_layout, p.heads, p.sq);
  TcArgs a{p.q, p.k, p.v, o, lse, static_cast<int>(p.heads), static_cast<int>(p.kv_heads), static_cast<int>(p.sq),
           static_cast<int>(p.sk), p.causal, 1.0f / sqrtf(static_cast<float>(p.d)), q.batch, q.head, q.row,
           kv.batch, kv.head, kv.row, ol.batch, ol.head, ol.row};
  if (p.d == 64) {
    Launch<64>(a, p.sq, p.batch * p.heads, s);
  } else {
    Launch<128>(a, p.sq, p.batch * p.heads, s);
  }
}

}  // namespace echosim::kernels::cuda
