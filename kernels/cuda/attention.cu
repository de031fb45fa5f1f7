// Flash attention, forward and backward (see kernels.h for layouts).
//
// Forward (FlashAttention-2's loop order, Dao 2023, Algorithm 1): a block owns kBr = 32
// query rows of one (sequence, head); it walks the key/value tiles of kBc = 64 keys that
// the causal mask leaves visible, keeping per row the running maximum m, the running sum
// l and the unnormalised output in fp32 registers:
//   m' = max(m, max_j s_j);  l' = l 2^(m - m') + sum_j 2^(s_j - m');
//   o' = o 2^(m - m') + sum_j 2^(s_j - m') v_j
// with s_j = q.k_j * scale * log2(e) (exp2 of scaled scores, as FlashAttention does). Each
// warp owns 8 rows; for scores a lane owns keys lane and lane + 32, for P V a lane owns
// head_dim / 32 output columns. lse = (m + log2 l) ln 2 is kept for the backward.
//
// Backward (Dao 2023, Algorithm 2): D_i = dO_i . O_i first; then a block owns kBc = 32
// keys of one kv head, loops over the query heads sharing it and the query tiles that
// can see its keys, recomputes P_ij = exp(s_ij - lse_i), and accumulates
//   dV_j += P_ij dO_i,  dS_ij = P_ij (dO_i . V_j - D_i),  dK_j += scale dS_ij Q_i
// in registers (4 threads per key, each a quarter of head_dim), while
// dQ_i += scale sum_j dS_ij K_j goes through shared memory into an fp32 accumulator with
// atomicAdd, converted to bf16 at the end.
#include <cuda_bf16.h>

#include <cmath>

#include "kernels/cuda/attention_internal.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/warp_reduce.h"

namespace echosim::kernels::cuda {
namespace {

struct KernelArgs {
  const __nv_bfloat162* q;
  const __nv_bfloat162* k;
  const __nv_bfloat162* v;
  int heads, kv_heads, sq, sk;
  bool causal;
  float scale;
  // Strides in bf16 pairs (elements / 2): q/dq, k/v/dk/dv, o/d_o.
  int64_t qb, qh, qr, kb, kh, kr, ob, oh, orow;
};

template <int D>
__global__ void __launch_bounds__(128) FlashForwardKernel(KernelArgs a, __nv_bfloat162* o, float* lse) {
  constexpr int kBr = 32, kBc = 64, kRows = kBr / 4;
  constexpr int kD2 = D / 2, kStride2 = kD2 + 1, kPerLane = D / 64;
  __shared__ __nv_bfloat162 sq[kBr * kStride2];
  __shared__ __nv_bfloat162 sk[kBc * kStride2];
  __shared__ __nv_bfloat162 sv[kBc * kD2];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int bh = blockIdx.y, b = bh / a.heads, h = bh % a.heads;
  const int hk = h / (a.heads / a.kv_heads);
  const int q0 = blockIdx.x * kBr;
  const __nv_bfloat162* qg = a.q + b * a.qb + h * a.qh;
  const __nv_bfloat162* kg = a.k + b * a.kb + hk * a.kh;
  const __nv_bfloat162* vg = a.v + b * a.kb + hk * a.kh;
  const __nv_bfloat162 zero = __floats2bfloat162_rn(0.f, 0.f);
  for (int i = tid; i < kBr * kD2; i += blockDim.x) {
    const int r = i / kD2, c = i % kD2;
    sq[r * kStride2 + c] = q0 + r < a.sq ? qg[static_cast<int64_t>(q0 + r) * a.qr + c] : zero;
  }
  const int offset = a.sk - a.sq;
  const int last_row = min(q0 + kBr, a.sq) - 1;
  const int kv_end = a.causal ? min(a.sk, last_row + offset + 1) : a.sk;
  const float scale_log2 = a.scale * kLog2e;

  float m[kRows], l[kRows], acc[kRows][2 * kPerLane];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
#pragma unroll
    for (int e = 0; e < 2 * kPerLane; ++e) acc[r][e] = 0.f;
  }
  for (int k0 = 0; k0 < kv_end; k0 += kBc) {
    __syncthreads();
    for (int i = tid; i < kBc * kD2; i += blockDim.x) {
      const int j = i / kD2, c = i % kD2;
      const bool in = k0 + j < a.sk;
      sk[j * kStride2 + c] = in ? kg[static_cast<int64_t>(k0 + j) * a.kr + c] : zero;
      sv[j * kD2 + c] = in ? vg[static_cast<int64_t>(k0 + j) * a.kr + c] : zero;
    }
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < kRows; ++rr) {
      const int r = warp * kRows + rr, qi = q0 + r;
      if (qi >= a.sq) continue;  // warp-uniform
      const int last = a.causal ? qi + offset : a.sk - 1;
      float s[2];
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int j = lane + 32 * half, key = k0 + j;
        float dot = 0.f;
#pragma unroll 8
        for (int c = 0; c < kD2; ++c) {
          const float2 qf = __bfloat1622float2(sq[r * kStride2 + c]);
          const float2 kf = __bfloat1622float2(sk[j * kStride2 + c]);
          dot = fmaf(qf.x, kf.x, dot);
          dot = fmaf(qf.y, kf.y, dot);
        }
        s[half] = (key <= last && key < a.sk) ? dot * scale_log2 : -INFINITY;
      }
      const float m_new = fmaxf(m[rr], WarpMax(fmaxf(s[0], s[1])));
      if (m_new == -INFINITY) continue;  // no visible key yet (warp-uniform)
      const float alpha = exp2f(m[rr] - m_new);
      const float p0 = exp2f(s[0] - m_new), p1 = exp2f(s[1] - m_new);
      l[rr] = l[rr] * alpha + WarpSum(p0 + p1);
#pragma unroll
      for (int e = 0; e < 2 * kPerLane; ++e) acc[rr][e] *= alpha;
#pragma unroll 4
      for (int j = 0; j < kBc; ++j) {
        const float pj = __shfl_sync(kFull, j < 32 ? p0 : p1, j & 31);
#pragma unroll
        for (int t = 0; t < kPerLane; ++t) {
          const float2 vf = __bfloat1622float2(sv[j * kD2 + lane + 32 * t]);
          acc[rr][2 * t] = fmaf(pj, vf.x, acc[rr][2 * t]);
          acc[rr][2 * t + 1] = fmaf(pj, vf.y, acc[rr][2 * t + 1]);
        }
      }
      m[rr] = m_new;
    }
  }
#pragma unroll
  for (int rr = 0; rr < kRows; ++rr) {
    const int qi = q0 + warp * kRows + rr;
    if (qi >= a.sq) continue;
    const float inv = l[rr] > 0.f ? 1.f / l[rr] : 0.f;
    __nv_bfloat162* orow = o + b * a.ob + h * a.oh + static_cast<int64_t>(qi) * a.orow;
#pragma unroll
    for (int t = 0; t < kPerLane; ++t) {
      orow[lane + 32 * t] = __floats2bfloat162_rn(acc[rr][2 * t] * inv, acc[rr][2 * t + 1] * inv);
    }
    if (lane == 0) lse[static_cast<int64_t>(bh) * a.sq + qi] = (m[rr] + log2f(l[rr])) * kLn2;
  }
}

// D_i = dO_i . O_i, one warp per row.
template <int D>
__global__ void RowDotKernel(KernelArgs a, const __nv_bfloat162* o, const __nv_bfloat162* d_o, float* dsum,
                             int64_t rows) {
  const int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const int64_t bh = row / a.sq, i = row % a.sq, b = bh / a.heads, h = bh % a.heads;
  const int64_t at = b * a.ob + h * a.oh + i * a.orow;
  float acc = 0.f;
  for (int c = lane; c < D / 2; c += 32) {
    const float2 x = __bfloat1622float2(o[at + c]);
    const float2 y = __bfloat1622float2(d_o[at + c]);
    acc += x.x * y.x + x.y * y.y;
  }
  acc = WarpSum(acc);
  if (lane == 0) dsum[row] = acc;
}

template <int D>
__global__ void __launch_bounds__(128) FlashBackwardKernel(KernelArgs a, const __nv_bfloat162* d_o, const float* lse,
                                                           const float* dsum, float* dq_acc, __nv_bfloat162* dk,
                                                           __nv_bfloat162* dv) {
  constexpr int kBc = 32, kBr = 32, kD2 = D / 2, kStride2 = kD2 + 1;
  constexpr int kSlice2 = kD2 / 4;  // bf16 pairs per thread: a quarter of head_dim
  __shared__ __nv_bfloat162 sk[kBc * kStride2];
  __shared__ __nv_bfloat162 sv[kBc * kStride2];
  __shared__ __nv_bfloat162 sq[kBr * kStride2];
  __shared__ __nv_bfloat162 sdo[kBr * kStride2];
  __shared__ float sds[kBr * (kBc + 1)];
  __shared__ float slse[kBr], sdsum[kBr];
  const int tid = threadIdx.x, j = tid / 4, part = tid % 4;
  const int64_t kvh = blockIdx.y;  // b * kv_heads + hk
  const int b = static_cast<int>(kvh / a.kv_heads), hk = static_cast<int>(kvh % a.kv_heads);
  const int group = a.heads / a.kv_heads;
  const int key0 = blockIdx.x * kBc, key = key0 + j;
  const __nv_bfloat162 zero = __floats2bfloat162_rn(0.f, 0.f);
  const int64_t kv_base = b * a.kb + hk * a.kh;
  for (int i = tid; i < kBc * kD2; i += blockDim.x) {
    const int jj = i / kD2, c = i % kD2;
    const bool in = key0 + jj < a.sk;
    const int64_t g = kv_base + static_cast<int64_t>(key0 + jj) * a.kr + c;
    sk[jj * kStride2 + c] = in ? a.k[g] : zero;
    sv[jj * kStride2 + c] = in ? a.v[g] : zero;
  }
  float dk_acc[2 * kSlice2], dv_acc[2 * kSlice2];
#pragma unroll
  for (int e = 0; e < 2 * kSlice2; ++e) dk_acc[e] = dv_acc[e] = 0.f;
  const int offset = a.sk - a.sq;
  int q_start = a.causal ? max(0, key0 - offset) : 0;
  q_start = (q_start / kBr) * kBr;
  for (int g = 0; g < group; ++g) {
    const int h = hk * group + g;
    const int64_t bh = static_cast<int64_t>(b) * a.heads + h;
    const int64_t q_base = b * a.qb + h * a.qh, o_base = b * a.ob + h * a.oh;
    for (int i0 = q_start; i0 < a.sq; i0 += kBr) {
      __syncthreads();
      for (int i = tid; i < kBr * kD2; i += blockDim.x) {
        const int r = i / kD2, c = i % kD2;
        const bool in = i0 + r < a.sq;
        sq[r * kStride2 + c] = in ? a.q[q_base + static_cast<int64_t>(i0 + r) * a.qr + c] : zero;
        sdo[r * kStride2 + c] = in ? d_o[o_base + static_cast<int64_t>(i0 + r) * a.orow + c] : zero;
      }
      if (tid < kBr) {
        const bool in = i0 + tid < a.sq;
        slse[tid] = in ? lse[bh * a.sq + i0 + tid] : 0.f;
        sdsum[tid] = in ? dsum[bh * a.sq + i0 + tid] : 0.f;
      }
      __syncthreads();
      for (int ii = 0; ii < kBr; ++ii) {
        const int qi = i0 + ii;
        const bool valid = qi < a.sq && key < a.sk && (!a.causal || key <= qi + offset);
        float qk = 0.f, dov = 0.f;
#pragma unroll
        for (int c = 0; c < kSlice2; ++c) {
          const int cc = part * kSlice2 + c;
          const float2 qf = __bfloat1622float2(sq[ii * kStride2 + cc]);
          const float2 kf = __bfloat1622float2(sk[j * kStride2 + cc]);
          const float2 df = __bfloat1622float2(sdo[ii * kStride2 + cc]);
          const float2 vf = __bfloat1622float2(sv[j * kStride2 + cc]);
          qk += qf.x * kf.x + qf.y * kf.y;
          dov += df.x * vf.x + df.y * vf.y;
        }
        qk += __shfl_xor_sync(kFull, qk, 1);
        qk += __shfl_xor_sync(kFull, qk, 2);
        dov += __shfl_xor_sync(kFull, dov, 1);
        dov += __shfl_xor_sync(kFull, dov, 2);
        const float p = valid ? expf(qk * a.scale - slse[ii]) : 0.f;
        const float ds = valid ? p * (dov - sdsum[ii]) * a.scale : 0.f;
#pragma unroll
        for (int c = 0; c < kSlice2; ++c) {
          const int cc = part * kSlice2 + c;
          const float2 qf = __bfloat1622float2(sq[ii * kStride2 + cc]);
          const float2 df = __bfloat1622float2(sdo[ii * kStride2 + cc]);
          dv_acc[2 * c] = fmaf(p, df.x, dv_acc[2 * c]);
          dv_acc[2 * c + 1] = fmaf(p, df.y, dv_acc[2 * c + 1]);
          dk_acc[2 * c] = fmaf(ds, qf.x, dk_acc[2 * c]);
          dk_acc[2 * c + 1] = fmaf(ds, qf.y, dk_acc[2 * c + 1]);
        }
        if (part == 0) sds[ii * (kBc + 1) + j] = ds;
      }
      __syncthreads();
      for (int i = tid; i < kBr * kD2; i += blockDim.x) {
        const int r = i / kD2, c = i % kD2;
        if (i0 + r >= a.sq) continue;
        float2 acc = make_float2(0.f, 0.f);
#pragma unroll 8
        for (int jj = 0; jj < kBc; ++jj) {
          const float ds = sds[r * (kBc + 1) + jj];
          const float2 kf = __bfloat1622float2(sk[jj * kStride2 + c]);
          acc.x = fmaf(ds, kf.x, acc.x);
          acc.y = fmaf(ds, kf.y, acc.y);
        }
        float* dst = dq_acc + (bh * a.sq + i0 + r) * D + 2 * c;
        atomicAdd(dst, acc.x);
        atomicAdd(dst + 1, acc.y);
      }
    }
  }
  if (key < a.sk) {
    const int64_t base = kv_base + static_cast<int64_t>(key) * a.kr + part * kSlice2;
#pragma unroll
    for (int c = 0; c < kSlice2; ++c) {
      dk[base + c] = __floats2bfloat162_rn(dk_acc[2 * c], dk_acc[2 * c + 1]);
      dv[base + c] = __floats2bfloat162_rn(dv_acc[2 * c], dv_acc[2 * c + 1]);
    }
  }
}

// dq accumulator [batch*heads, sq, d] (fp32) -> dq in the q layout (bf16).
__global__ void DqConvertKernel(KernelArgs a, int d, const float* in, __nv_bfloat162* out, int64_t pairs) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < pairs;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = i % (d / 2), row = i / (d / 2), bh = row / a.sq, qi = row % a.sq;
    const int64_t b = bh / a.heads, h = bh % a.heads;
    out[b * a.qb + h * a.qh + qi * a.qr + c] = __floats2bfloat162_rn(in[2 * i], in[2 * i + 1]);
  }
}

KernelArgs MakeArgs(const AttentionParams& p) {
  if (p.d != 64 && p.d != 128) ThrowCudaError(__FILE__, __LINE__, "FlashAttention", "head_dim must be 64 or 128");
  if (p.heads % p.kv_heads != 0 || p.sq < 1 || p.sk < 1 || (p.causal && p.sk < p.sq)) {
    ThrowCudaError(__FILE__, __LINE__, "FlashAttention", "invalid shape (heads % kv_heads, sq, sk)");
  }
  if (p.batch * p.heads > 65535) {  // gridDim.y limit of the launches
    ThrowCudaError(__FILE__, __LINE__, "FlashAttention", "batch * heads must be <= 65535");
  }
  const int64_t cap = p.kv_capacity > 0 ? p.kv_capacity : p.sk;
  if (cap < p.sk) ThrowCudaError(__FILE__, __LINE__, "FlashAttention", "kv_capacity < sk");
  const auto [q, kv, o] = ResolveLayouts(p, 2, __FILE__, __LINE__, "layout strides must be even");
  KernelArgs a;
  a.q = reinterpret_cast<const __nv_bfloat162*>(p.q);
  a.k = reinterpret_cast<const __nv_bfloat162*>(p.k);
  a.v = reinterpret_cast<const __nv_bfloat162*>(p.v);
  a.heads = static_cast<int>(p.heads);
  a.kv_heads = static_cast<int>(p.kv_heads);
  a.sq = static_cast<int>(p.sq);
  a.sk = static_cast<int>(p.sk);
  a.causal = p.causal;
  a.qb = q.batch / 2;
  a.qh = q.head / 2;
  a.qr = q.row / 2;
  a.kb = kv.batch / 2;
  a.kh = kv.head / 2;
  a.kr = kv.row / 2;
  a.ob = o.batch / 2;
  a.oh = o.head / 2;
  a.orow = o.row / 2;
  a.scale = 1.0f / sqrtf(static_cast<float>(p.d));
  return a;
}

}  // namespace

void FlashAttentionForward(const AttentionParams& p, bf16* o, float* lse, cudaStream_t s) {
  if (p.tensor_cores) {
    FlashAttentionForwardTensorCores(p, o, lse, s);
    return;
  }
  const KernelArgs a = MakeArgs(p);
  const dim3 grid(static_cast<unsigned>((p.sq + 31) / 32), static_cast<unsigned>(p.batch * p.heads));
  auto* o2 = reinterpret_cast<__nv_bfloat162*>(o);
  if (p.d == 64) {
    FlashForwardKernel<64><<<grid, 128, 0, s>>>(a, o2, lse);
  } else {
    FlashForwardKernel<128><<<grid, 128, 0, s>>>(a, o2, lse);
  }
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

int64_t FlashAttentionBackwardWorkspace(const AttentionParams& p) {
  const int64_t rows = p.batch * p.heads * p.sq;
  return rows * p.d + rows;  // dq accumulator, then D_i
}

void FlashAttentionBackward(const AttentionParams& p, const bf16* o, const bf16* d_o, const float* lse, bf16* dq,
                            bf16* dk, bf16* dv, float* workspace, cudaStream_t s) {
  const KernelArgs a = MakeArgs(p);
  const int64_t rows = p.batch * p.heads * p.sq;
  float* dq_acc = workspace;
  float* dsum = workspace + rows * p.d;
  ECHOSIM_CUDA_CHECK(cudaMemsetAsync(dq_acc, 0, sizeof(float) * rows * p.d, s));
  const auto* o2 = reinterpret_cast<const __nv_bfloat162*>(o);
  const auto* do2 = reinterpret_cast<const __nv_bfloat162*>(d_o);
  auto* dk2 = reinterpret_cast<__nv_bfloat162*>(dk);
  auto* dv2 = reinterpret_cast<__nv_bfloat162*>(dv);
  const unsigned dot_blocks = static_cast<unsigned>((rows * 32 + 255) / 256);
  const dim3 grid(static_cast<unsigned>((p.sk + 31) / 32), static_cast<unsigned>(p.batch * p.kv_heads));
  if (p.d == 64) {
    RowDotKernel<64><<<dot_blocks, 256, 0, s>>>(a, o2, do2, dsum, rows);
  } else {
    RowDotKernel<128><<<dot_blocks, 256, 0, s>>>(a, o2, do2, dsum, rows);
  }
  ECHOSIM_CUDA_CHECK_LAUNCH();
  if (p.tensor_cores) {
    FlashAttentionBackwardTensorCores(p, d_o, lse, dsum, dq_acc, dk, dv, s);
  } else if (p.d == 64) {
    FlashBackwardKernel<64><<<grid, 128, 0, s>>>(a, do2, lse, dsum, dq_acc, dk2, dv2);
  } else {
    FlashBackwardKernel<128><<<grid, 128, 0, s>>>(a, do2, lse, dsum, dq_acc, dk2, dv2);
  }
  ECHOSIM_CUDA_CHECK_LAUNCH();
  const int64_t pairs = rows * p.d / 2;
  DqConvertKernel<<<static_cast<unsigned>(std::min<int64_t>((pairs + 255) / 256, 65535)), 256, 0, s>>>(
      a, static_cast<int>(p.d), dq_acc, reinterpret_cast<__nv_bfloat162*>(dq), pairs);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

}  // namespace echosim::kernels::cuda
