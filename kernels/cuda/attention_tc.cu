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
//
// Backward on tensor cores (Dao 2023, Algorithm 2, transposed so that a block's 64 keys
// are the rows): a block owns 64 keys of one kv head (16 per warp) and loops over the
// query heads sharing it and the 64-row query tiles that can see its keys:
//   S^T = K Q^T, dP^T = V dO^T                  (WMMA, to shared memory in fp32)
//   P^T = exp(S^T scale - lse), dS^T = P^T (dP^T - D) scale   (elementwise, bf16)
//   dV += P^T dO, dK += dS^T Q                   (WMMA, fp32 fragments kept in registers)
//   dQ  = dS K                                   (WMMA, then atomicAdd into fp32 dq)
#include <cuda_bf16.h>
#include <mma.h>

#include <cmath>

#include "kernels/cuda/attention_internal.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/warp_reduce.h"

namespace echosim::kernels::cuda {
namespace {

namespace wmma = nvcuda::wmma;
constexpr int kBr = 64, kBc = 64, kWarps = 4;

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

// Copies rows [row0, row0 + 64) of two bf16 matrices x and y (D elements a row, row strides
// ld_x and ld_y, 16-byte aligned) into shared tiles sx and sy of row pitch kLdh, 8 bf16 =
// 16 bytes per access; rows at or past n are zero.
template <int D, int kLdh>
__device__ __forceinline__ void LoadTilePair(const bf16* x, int64_t ld_x, const bf16* y, int64_t ld_y, int row0,
                                             int n, bf16* sx, bf16* sy) {
  constexpr int kVec = D / 8;
  for (int i = threadIdx.x; i < 64 * kVec; i += blockDim.x) {
    const int r = i / kVec, c = (i % kVec) * 8;
    uint4 xv = make_uint4(0, 0, 0, 0), yv = make_uint4(0, 0, 0, 0);
    if (row0 + r < n) {
      xv = *reinterpret_cast<const uint4*>(x + static_cast<int64_t>(row0 + r) * ld_x + c);
      yv = *reinterpret_cast<const uint4*>(y + static_cast<int64_t>(row0 + r) * ld_y + c);
    }
    *reinterpret_cast<uint4*>(sx + r * kLdh + c) = xv;
    *reinterpret_cast<uint4*>(sy + r * kLdh + c) = yv;
  }
}

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
    LoadTilePair<D, L::kLdh>(kg, a.kr, vg, a.kr, k0, a.sk, sk, sv);
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


template <int D>
struct BwdSmem {
  static constexpr int kLdh = D + 8;   // bf16 K, V, Q, dO tiles
  static constexpr int kLds = 64 + 4;  // fp32 S^T, dP^T
  static constexpr int kLdp = 64 + 8;  // bf16 P^T, dS^T
  static constexpr int kLdq = D + 4;   // fp32 dQ / dK / dV staging (aliases S^T and dP^T)
  static constexpr size_t kK = 0;
  static constexpr size_t kV = kK + sizeof(bf16) * 64 * kLdh;
  static constexpr size_t kQ = kV + sizeof(bf16) * 64 * kLdh;
  static constexpr size_t kDO = kQ + sizeof(bf16) * 64 * kLdh;
  static constexpr size_t kS = kDO + sizeof(bf16) * 64 * kLdh;
  static constexpr size_t kDP = kS + sizeof(float) * 64 * kLds;
  static constexpr size_t kP = kDP + sizeof(float) * 64 * kLds;
  static constexpr size_t kDS = kP + sizeof(bf16) * 64 * kLdp;
  static constexpr size_t kLse = kDS + sizeof(bf16) * 64 * kLdp;
  static constexpr size_t kD = kLse + sizeof(float) * 64;
  static constexpr size_t kBytes = kD + sizeof(float) * 64;
  static_assert(sizeof(float) * 64 * kLdq <= kP - kS, "staging must fit in the S^T/dP^T region");
};

template <int D>
__global__ void __launch_bounds__(128) FlashBackwardTcKernel(TcArgs a, const bf16* d_o, const float* dsum,
                                                             float* dq_acc, bf16* dk, bf16* dv) {
  using L = BwdSmem<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* sk = reinterpret_cast<bf16*>(smem + L::kK);
  bf16* sv = reinterpret_cast<bf16*>(smem + L::kV);
  bf16* sq = reinterpret_cast<bf16*>(smem + L::kQ);
  bf16* sdo = reinterpret_cast<bf16*>(smem + L::kDO);
  float* ss = reinterpret_cast<float*>(smem + L::kS);
  float* sdp = reinterpret_cast<float*>(smem + L::kDP);
  float* stage = reinterpret_cast<float*>(smem + L::kS);  // after S^T and dP^T are consumed
  bf16* sp = reinterpret_cast<bf16*>(smem + L::kP);
  bf16* sds = reinterpret_cast<bf16*>(smem + L::kDS);
  float* slse = reinterpret_cast<float*>(smem + L::kLse);
  float* sd = reinterpret_cast<float*>(smem + L::kD);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, row0 = warp * 16;
  const int kvh = blockIdx.y, b = kvh / a.kv_heads, hk = kvh % a.kv_heads, group = a.heads / a.kv_heads;
  const int key0 = blockIdx.x * 64;
  const int64_t kv_base = b * a.kb + hk * a.kh;
  LoadTilePair<D, L::kLdh>(a.k + kv_base, a.kr, a.v + kv_base, a.kr, key0, a.sk, sk, sv);
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> dk_acc[D / 16], dv_acc[D / 16];
#pragma unroll
  for (int t = 0; t < D / 16; ++t) {
    wmma::fill_fragment(dk_acc[t], 0.f);
    wmma::fill_fragment(dv_acc[t], 0.f);
  }
  const int offset = a.sk - a.sq;
  const int q_start = ((a.causal ? max(0, key0 - offset) : 0) / 64) * 64;
  for (int g = 0; g < group; ++g) {
    const int h = hk * group + g;
    const int64_t bh = static_cast<int64_t>(b) * a.heads + h;
    const int64_t q_base = b * a.qb + h * a.qh, o_base = b * a.ob + h * a.oh;
    for (int i0 = q_start; i0 < a.sq; i0 += 64) {
      __syncthreads();  // previous tile's Q, dO, P, dS and staging no longer read
      LoadTilePair<D, L::kLdh>(a.q + q_base, a.qr, d_o + o_base, a.orow, i0, a.sq, sq, sdo);
      if (tid < 64) {
        const bool in = i0 + tid < a.sq;
        slse[tid] = in ? a.lse[bh * a.sq + i0 + tid] : 0.f;
        sd[tid] = in ? dsum[bh * a.sq + i0 + tid] : 0.f;
      }
      __syncthreads();
      // S^T = K Q^T and dP^T = V dO^T for this warp's 16 keys.
#pragma unroll
      for (int nt = 0; nt < 4; ++nt) {
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc_s, acc_dp;
        wmma::fill_fragment(acc_s, 0.f);
        wmma::fill_fragment(acc_dp, 0.f);
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> fa;
          wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> fb;
          wmma::load_matrix_sync(fa, sk + row0 * L::kLdh + kk * 16, L::kLdh);
          wmma::load_matrix_sync(fb, sq + nt * 16 * L::kLdh + kk * 16, L::kLdh);
          wmma::mma_sync(acc_s, fa, fb, acc_s);
          wmma::load_matrix_sync(fa, sv + row0 * L::kLdh + kk * 16, L::kLdh);
          wmma::load_matrix_sync(fb, sdo + nt * 16 * L::kLdh + kk * 16, L::kLdh);
          wmma::mma_sync(acc_dp, fa, fb, acc_dp);
        }
        wmma::store_matrix_sync(ss + row0 * L::kLds + nt * 16, acc_s, L::kLds, wmma::mem_row_major);
        wmma::store_matrix_sync(sdp + row0 * L::kLds + nt * 16, acc_dp, L::kLds, wmma::mem_row_major);
      }
      __syncwarp();
      for (int r = 0; r < 16; ++r) {
        const int j = row0 + r, key = key0 + j;
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int i = lane + 32 * half, qi = i0 + i;
          const bool valid = qi < a.sq && key < a.sk && (!a.causal || key <= qi + offset);
          const float p = valid ? expf(ss[j * L::kLds + i] * a.scale - slse[i]) : 0.f;
          const float ds = valid ? p * (sdp[j * L::kLds + i] - sd[i]) * a.scale : 0.f;
          sp[j * L::kLdp + i] = __float2bfloat16_rn(p);
          sds[j * L::kLdp + i] = __float2bfloat16_rn(ds);
        }
      }
      __syncthreads();  // dQ needs every warp's dS^T rows; S^T/dP^T become staging
      // dV += P^T dO and dK += dS^T Q for this warp's keys.
#pragma unroll
      for (int nt = 0; nt < D / 16; ++nt) {
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> fa;
          wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> fb;
          wmma::load_matrix_sync(fa, sp + row0 * L::kLdp + kk * 16, L::kLdp);
          wmma::load_matrix_sync(fb, sdo + kk * 16 * L::kLdh + nt * 16, L::kLdh);
          wmma::mma_sync(dv_acc[nt], fa, fb, dv_acc[nt]);
          wmma::load_matrix_sync(fa, sds + row0 * L::kLdp + kk * 16, L::kLdp);
          wmma::load_matrix_sync(fb, sq + kk * 16 * L::kLdh + nt * 16, L::kLdh);
          wmma::mma_sync(dk_acc[nt], fa, fb, dk_acc[nt]);
        }
      }
      // dQ rows 16w.. of this query tile = dS K (dS read column-major from dS^T).
#pragma unroll
      for (int nt = 0; nt < D / 16; ++nt) {
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
        wmma::fill_fragment(acc, 0.f);
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::col_major> fa;
          wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> fb;
          wmma::load_matrix_sync(fa, sds + kk * 16 * L::kLdp + row0, L::kLdp);
          wmma::load_matrix_sync(fb, sk + kk * 16 * L::kLdh + nt * 16, L::kLdh);
          wmma::mma_sync(acc, fa, fb, acc);
        }
        wmma::store_matrix_sync(stage + row0 * L::kLdq + nt * 16, acc, L::kLdq, wmma::mem_row_major);
      }
      __syncwarp();
      for (int idx = lane; idx < 16 * D; idx += 32) {
        const int r = idx / D, c = idx % D, qi = i0 + row0 + r;
        if (qi < a.sq) atomicAdd(dq_acc + (bh * a.sq + qi) * D + c, stage[(row0 + r) * L::kLdq + c]);
      }
    }
  }
  // dK and dV of this warp's keys, through the staging area.
  __syncthreads();
  for (int which = 0; which < 2; ++which) {
#pragma unroll
    for (int nt = 0; nt < D / 16; ++nt) {
      wmma::store_matrix_sync(stage + row0 * L::kLdq + nt * 16, which == 0 ? dk_acc[nt] : dv_acc[nt], L::kLdq,
                              wmma::mem_row_major);
    }
    __syncwarp();
    bf16* out = which == 0 ? dk : dv;
    for (int idx = lane; idx < 16 * D; idx += 32) {
      const int r = idx / D, c = idx % D, key = key0 + row0 + r;
      if (key < a.sk) {
        out[kv_base + static_cast<int64_t>(key) * a.kr + c] = __float2bfloat16_rn(stage[(row0 + r) * L::kLdq + c]);
      }
    }
    __syncwarp();
  }
}

template <int D>
void LaunchBackward(const TcArgs& a, int64_t sk, int64_t bkv, const bf16* d_o, const float* dsum, float* dq_acc,
                    bf16* dk, bf16* dv, cudaStream_t s) {
  constexpr size_t bytes = BwdSmem<D>::kBytes;
  ECHOSIM_CUDA_CHECK(cudaFuncSetAttribute(FlashBackwardTcKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(bytes)));
  const dim3 grid(static_cast<unsigned>((sk + 63) / 64), static_cast<unsigned>(bkv));
  FlashBackwardTcKernel<D><<<grid, 128, bytes, s>>>(a, d_o, dsum, dq_acc, dk, dv);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

TcArgs MakeTcArgs(const AttentionParams& p, bf16* o, float* lse) {
  if (p.d != 64 && p.d != 128) ThrowCudaError(__FILE__, __LINE__, "FlashAttention", "head_dim must be 64 or 128");
  if (p.heads % p.kv_heads != 0 || p.sq < 1 || p.sk < 1 || (p.causal && p.sk < p.sq) || p.batch * p.heads > 65535) {
    ThrowCudaError(__FILE__, __LINE__, "FlashAttention", "invalid shape (heads % kv_heads, sq, sk, batch * heads)");
  }
  const auto [q, kv, ol] =
      ResolveLayouts(p, 8, __FILE__, __LINE__, "tensor-core layout strides must be multiples of 8");
  return TcArgs{p.q, p.k, p.v, o, lse, static_cast<int>(p.heads), static_cast<int>(p.kv_heads),
                static_cast<int>(p.sq), static_cast<int>(p.sk), p.causal, 1.0f / sqrtf(static_cast<float>(p.d)),
                q.batch, q.head, q.row, kv.batch, kv.head, kv.row, ol.batch, ol.head, ol.row};
}

}  // namespace

void FlashAttentionForwardTensorCores(const AttentionParams& p, bf16* o, float* lse, cudaStream_t s) {
  const TcArgs a = MakeTcArgs(p, o, lse);
  if (p.d == 64) {
    Launch<64>(a, p.sq, p.batch * p.heads, s);
  } else {
    Launch<128>(a, p.sq, p.batch * p.heads, s);
  }
}

void FlashAttentionBackwardTensorCores(const AttentionParams& p, const bf16* d_o, const float* lse, const float* dsum,
                                       float* dq_acc, bf16* dk, bf16* dv, cudaStream_t s) {
  TcArgs a = MakeTcArgs(p, nullptr, const_cast<float*>(lse));
  if (p.d == 64) {
    LaunchBackward<64>(a, p.sk, p.batch * p.kv_heads, d_o, dsum, dq_acc, dk, dv, s);
  } else {
    LaunchBackward<128>(a, p.sk, p.batch * p.kv_heads, d_o, dsum, dq_acc, dk, dv, s);
  }
}

}  // namespace echosim::kernels::cuda
