// Memory-bound kernels: normalisations, softmax, activations, RoPE, embedding, add, copy.
//
// bf16 storage with fp32 arithmetic, 128-bit (8 x bf16) vector accesses. Row kernels
// (norms, softmax) give each row one 256-thread block; the norm backward kernels walk rows
// with a fixed grid and keep the weight-gradient partial sums in shared memory, adding them
// to the fp32 output once per block. Formulas: see kernels/reference/reference.h.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <algorithm>
#include <cmath>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/kernels.h"

namespace echosim::kernels::cuda {
namespace {

constexpr int kThreads = 256;

struct alignas(16) Vec8 {
  __nv_bfloat162 h[4];
};

__device__ __forceinline__ void Load8(const bf16* p, float* f) {
  const Vec8 v = *reinterpret_cast<const Vec8*>(p);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 x = __bfloat1622float2(v.h[i]);
    f[2 * i] = x.x;
    f[2 * i + 1] = x.y;
  }
}
__device__ __forceinline__ void Store8(bf16* p, const float* f) {
  Vec8 v;
#pragma unroll
  for (int i = 0; i < 4; ++i) v.h[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
  *reinterpret_cast<Vec8*>(p) = v;
}

// Sum (or max) over the warp; every lane gets the result.
template <bool kMax>
__device__ __forceinline__ float WarpReduce(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float other = __shfl_xor_sync(0xffffffffu, v, o);
    v = kMax ? fmaxf(v, other) : v + other;
  }
  return v;
}

// Sum (or max) over the block; every thread gets the result.
template <bool kMax>
__device__ float BlockReduce(float v) {
  __shared__ float partial[32];
  __shared__ float result;
  v = WarpReduce<kMax>(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / 32) ? partial[lane] : (kMax ? -INFINITY : 0.f);
    v = WarpReduce<kMax>(v);
    if (lane == 0) result = v;
  }
  __syncthreads();
  const float r = result;
  __syncthreads();  // `result` and `partial` may be reused by the next call
  return r;
}

// Mean (0 for RMSNorm) and 1 / sqrt(variance + eps) of the row xr, for every thread of the
// block; RMSNorm's variance is mean(x^2), LayerNorm's mean((x - mean)^2) in a second pass
// (numerically safer than E[x^2]-mean^2).
template <bool kLayerNorm>
__device__ __forceinline__ void RowStats(const bf16* xr, int64_t cols, float eps, float& mean, float& rstd) {
  float sum = 0.f, sumsq = 0.f, f[8];
  for (int64_t c = threadIdx.x * 8; c < cols; c += blockDim.x * 8) {
    Load8(xr + c, f);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      sum += f[i];
      sumsq += f[i] * f[i];
    }
  }
  mean = 0.f;
  if (kLayerNorm) {
    mean = BlockReduce<false>(sum) / cols;
    sumsq = 0.f;
    for (int64_t c = threadIdx.x * 8; c < cols; c += blockDim.x * 8) {
      Load8(xr + c, f);
#pragma unroll
      for (int i = 0; i < 8; ++i) sumsq += (f[i] - mean) * (f[i] - mean);
    }
  }
  rstd = rsqrtf(BlockReduce<false>(sumsq) / cols + eps);
}

template <bool kLayerNorm>
__global__ void NormForwardKernel(const bf16* x, const bf16* w, const bf16* b, bf16* y, int64_t cols, float eps) {
  const int64_t row = blockIdx.x;
  const bf16* xr = x + row * cols;
  float mean, rstd;
  RowStats<kLayerNorm>(xr, cols, eps, mean, rstd);
  float f[8], wf[8], bf[8], out[8];
  for (int64_t c = threadIdx.x * 8; c < cols; c += blockDim.x * 8) {
    Load8(xr + c, f);
    Load8(w + c, wf);
    if (kLayerNorm) Load8(b + c, bf);
#pragma unroll
    for (int i = 0; i < 8; ++i) out[i] = (f[i] - mean) * rstd * wf[i] + (kLayerNorm ? bf[i] : 0.f);
    Store8(y + row * cols + c, out);
  }
}

// dx = rstd (g - [mean(g)] - xhat mean(g xhat)), g = dy w; dw += dy xhat; db += dy.
template <bool kLayerNorm>
__global__ void NormBackwardKernel(const bf16* x, const bf16* w, const bf16* dy, bf16* dx, float* dw, float* db,
                                   int64_t rows, int64_t cols, float eps) {
  extern __shared__ float acc[];  // dw partials [cols], then db partials [cols]
  for (int64_t c = threadIdx.x; c < cols * (kLayerNorm ? 2 : 1); c += blockDim.x) acc[c] = 0.f;
  __syncthreads();
  float f[8], g[8], wf[8], out[8];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const bf16* xr = x + row * cols;
    const bf16* dyr = dy + row * cols;
    float mean, rstd;
    RowStats<kLayerNorm>(xr, cols, eps, mean, rstd);
    float sg = 0.f, sgx = 0.f;
    for (int64_t c = threadIdx.x * 8; c < cols; c += blockDim.x * 8) {
      Load8(xr + c, f);
      Load8(dyr + c, g);
      Load8(w + c, wf);
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float gi = g[i] * wf[i];
        sg += gi;
        sgx += gi * (f[i] - mean) * rstd;
      }
    }
    const float mean_g = kLayerNorm ? BlockReduce<false>(sg) / cols : 0.f;
    const float mean_gx = BlockReduce<false>(sgx) / cols;
    for (int64_t c = threadIdx.x * 8; c < cols; c += blockDim.x * 8) {
      Load8(xr + c, f);
      Load8(dyr + c, g);
      Load8(w + c, wf);
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float xhat = (f[i] - mean) * rstd;
        out[i] = rstd * (g[i] * wf[i] - mean_g - xhat * mean_gx);
        acc[c + i] += g[i] * xhat;  // this thread owns columns c..c+7 in every row
        if (kLayerNorm) acc[cols + c + i] += g[i];
      }
      Store8(dx + row * cols + c, out);
    }
  }
  __syncthreads();
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    atomicAdd(dw + c, acc[c]);
    if (kLayerNorm) atomicAdd(db + c, acc[cols + c]);
  }
}

__global__ void SoftmaxForwardKernel(const bf16* x, bf16* y, int64_t cols) {
  const int64_t row = blockIdx.x;
  const bf16* xr = x + row * cols;
  float f[8], mx = -INFINITY, sum = 0.f;
  for (int64_t c = threadIdx.x * 8; c < cols; c += blockDim.x * 8) {
    Load8(xr + c, f);
#pragma unroll
    for (int i = 0; i < 8; ++i) mx = fmaxf(mx, f[i]);
  }
  mx = BlockReduce<true>(mx);
  for (int64_t c = threadIdx.x * 8; c < cols; c += blockDim.x * 8) {
    Load8(xr + c, f);
#pragma unroll
    for (int i = 0; i < 8; ++i) sum += expf(f[i] - mx);
  }
  const float inv = 1.f / BlockReduce<false>(sum);
  for (int64_t c = threadIdx.x * 8; c < cols; c += blockDim.x * 8) {
    Load8(xr + c, f);
#pragma unroll
    for (int i = 0; i < 8; ++i) f[i] = expf(f[i] - mx) * inv;
    Store8(y + row * cols + c, f);
  }
}

__global__ void SoftmaxBackwardKernel(const bf16* y, const bf16* dy, bf16* dx, int64_t cols) {
  const int64_t row = blockIdx.x;
  float a[8], g[8], dot = 0.f;
  for (int64_t c = threadIdx.x * 8; c < cols; c += blockDim.x * 8) {
    Load8(y + row * cols + c, a);
    Load8(dy + row * cols + c, g);
#pragma unroll
    for (int i = 0; i < 8; ++i) dot += a[i] * g[i];
  }
  dot = BlockReduce<false>(dot);
  for (int64_t c = threadIdx.x * 8; c < cols; c += blockDim.x * 8) {
    Load8(y + row * cols + c, a);
    Load8(dy + row * cols + c, g);
#pragma unroll
    for (int i = 0; i < 8; ++i) a[i] = a[i] * (g[i] - dot);
    Store8(dx + row * cols + c, a);
  }
}

__device__ __forceinline__ float Sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

__global__ void SwigluForwardKernel(const bf16* in, bf16* out, int64_t rows, int64_t f) {
  const int64_t vecs = rows * f / 8;
  float g[8], u[8];
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < vecs;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = v / (f / 8), c = (v % (f / 8)) * 8;
    Load8(in + r * 2 * f + c, g);
    Load8(in + r * 2 * f + f + c, u);
#pragma unroll
    for (int i = 0; i < 8; ++i) g[i] = g[i] * Sigmoid(g[i]) * u[i];
    Store8(out + r * f + c, g);
  }
}

__global__ void SwigluBackwardKernel(const bf16* in, const bf16* dy, bf16* d_in, int64_t rows, int64_t f) {
  const int64_t vecs = rows * f / 8;
  float g[8], u[8], d[8], dg[8], du[8];
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < vecs;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = v / (f / 8), c = (v % (f / 8)) * 8;
    Load8(in + r * 2 * f + c, g);
    Load8(in + r * 2 * f + f + c, u);
    Load8(dy + r * f + c, d);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const float s = Sigmoid(g[i]);
      dg[i] = d[i] * u[i] * s * (1.f + g[i] * (1.f - s));
      du[i] = d[i] * g[i] * s;
    }
    Store8(d_in + r * 2 * f + c, dg);
    Store8(d_in + r * 2 * f + f + c, du);
  }
}

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

__global__ void GeluKernel(const bf16* x, const bf16* dy, bf16* out, int64_t n, bool backward) {
  float a[8], g[8];
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < n / 8;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    Load8(x + v * 8, a);
    if (backward) Load8(dy + v * 8, g);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const float xi = a[i];
      const float t = tanhf(kSqrt2OverPi * (xi + kGeluCubic * xi * xi * xi));
      if (backward) {
        const float du = kSqrt2OverPi * (1.f + 3.f * kGeluCubic * xi * xi);
        a[i] = g[i] * (0.5f * (1.f + t) + 0.5f * xi * (1.f - t * t) * du);
      } else {
        a[i] = 0.5f * xi * (1.f + t);
      }
    }
    Store8(out + v * 8, a);
  }
}

__global__ void RopeKernel(const bf16* x, bf16* y, const int32_t* pos, int64_t tokens, int64_t heads, int64_t d,
                           int64_t row_stride, float log2_base, bool inverse) {
  const int64_t half = d / 2, pairs = tokens * heads * half;
  for (int64_t p = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; p < pairs;
       p += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = p % half, th = p / half, t = th / heads, hh = th % heads;
    const float inv_freq = exp2f(-2.f * static_cast<float>(i) / static_cast<float>(d) * log2_base);
    float s, c;
    sincosf(static_cast<float>(pos[t]) * inv_freq, &s, &c);
    if (inverse) s = -s;
    const int64_t base = t * row_stride + hh * d;
    const float a = __bfloat162float(x[base + i]), b = __bfloat162float(x[base + i + half]);
    y[base + i] = __float2bfloat16_rn(a * c - b * s);
    y[base + i + half] = __float2bfloat16_rn(b * c + a * s);
  }
}

__global__ void EmbeddingKernel(const bf16* table, const int32_t* ids, bf16* out, int64_t tokens, int64_t hidden) {
  const int64_t vecs = tokens * hidden / 8, per_row = hidden / 8;
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < vecs;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t t = v / per_row, c = v % per_row;
    reinterpret_cast<uint4*>(out)[v] = reinterpret_cast<const uint4*>(table)[ids[t] * per_row + c];
  }
}

__global__ void KvCacheWriteKernel(const bf16* qkv, bf16* kc, bf16* vc, int64_t seqs, int64_t heads,
                                   int64_t kv_heads, int64_t d, int64_t capacity, int64_t pos) {
  const int64_t width = (heads + 2 * kv_heads) * d, per_seq = kv_heads * d / 8;
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < seqs * per_seq;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t b = v / per_seq, e = (v % per_seq) * 8, hk = e / d, c = e % d;
    const int64_t dst = ((b * kv_heads + hk) * capacity + pos) * d + c;
    const bf16* row = qkv + b * width;
    *reinterpret_cast<uint4*>(kc + dst) = *reinterpret_cast<const uint4*>(row + heads * d + e);
    *reinterpret_cast<uint4*>(vc + dst) = *reinterpret_cast<const uint4*>(row + (heads + kv_heads) * d + e);
  }
}

__global__ void AddKernel(const bf16* a, const bf16* b, bf16* out, int64_t n) {
  float x[8], y[8];
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < n / 8;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    Load8(a + v * 8, x);
    Load8(b + v * 8, y);
#pragma unroll
    for (int i = 0; i < 8; ++i) x[i] += y[i];
    Store8(out + v * 8, x);
  }
}

__global__ void CopyKernel(const uint4* src, uint4* dst, int64_t n) {
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < n;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    dst[v] = src[v];
  }
}

__device__ __forceinline__ float HashUniform(uint64_t seed, int64_t i) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(i + 1);  // splitmix64
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // 24 bits in [0, 1)
}

__global__ void FillKernel(void* p, Storage type, int64_t n, uint64_t seed, float lo, float hi) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = lo + (hi - lo) * HashUniform(seed, i);
    switch (type) {
      case Storage::kBf16: static_cast<bf16*>(p)[i] = __float2bfloat16_rn(v); break;
      case Storage::kFp16: static_cast<__half*>(p)[i] = __float2half_rn(v); break;
      case Storage::kFp8: static_cast<__nv_fp8_e4m3*>(p)[i] = __nv_fp8_e4m3(v); break;
      case Storage::kF32: static_cast<float*>(p)[i] = v; break;
      case Storage::kI32: static_cast<int32_t*>(p)[i] = min(static_cast<int32_t>(v), static_cast<int32_t>(hi) - 1); break;
    }
  }
}

// Grid for grid-stride kernels: enough blocks to fill the GPU several times over.
unsigned GridFor(int64_t work) {
  return static_cast<unsigned>(std::clamp<int64_t>((work + kThreads - 1) / kThreads, 1, 65535));
}

void CheckMultipleOf8(int64_t v, const char* what) {
  if (v % 8 != 0 || v <= 0) ThrowCudaError(__FILE__, __LINE__, what, "must be a positive multiple of 8");
}

int NormBackwardGrid(int64_t rows) { return static_cast<int>(std::min<int64_t>(rows, 1024)); }

void SetSharedLimit(const void* fn, size_t bytes) {
  if (bytes > 48 * 1024) {
    ECHOSIM_CUDA_CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
  }
}

}  // namespace

void RmsNormForward(const bf16* x, const bf16* w, bf16* y, int64_t rows, int64_t cols, float eps, cudaStream_t s) {
  CheckMultipleOf8(cols, "RmsNormForward cols");
  NormForwardKernel<false><<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, w, nullptr, y, cols, eps);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void RmsNormBackward(const bf16* x, const bf16* w, const bf16* dy, bf16* dx, float* dw, int64_t rows, int64_t cols,
                     float eps, cudaStream_t s) {
  CheckMultipleOf8(cols, "RmsNormBackward cols");
  const size_t smem = sizeof(float) * cols;
  SetSharedLimit(reinterpret_cast<const void*>(&NormBackwardKernel<false>), smem);
  NormBackwardKernel<false><<<NormBackwardGrid(rows), kThreads, smem, s>>>(x, w, dy, dx, dw, nullptr, rows, cols, eps);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void LayerNormForward(const bf16* x, const bf16* w, const bf16* b, bf16* y, int64_t rows, int64_t cols, float eps,
                      cudaStream_t s) {
  CheckMultipleOf8(cols, "LayerNormForward cols");
  NormForwardKernel<true><<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, w, b, y, cols, eps);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void LayerNormBackward(const bf16* x, const bf16* w, const bf16* dy, bf16* dx, float* dw, float* db, int64_t rows,
                       int64_t cols, float eps, cudaStream_t s) {
  CheckMultipleOf8(cols, "LayerNormBackward cols");
  const size_t smem = sizeof(float) * 2 * cols;
  SetSharedLimit(reinterpret_cast<const void*>(&NormBackwardKernel<true>), smem);
  NormBackwardKernel<true><<<NormBackwardGrid(rows), kThreads, smem, s>>>(x, w, dy, dx, dw, db, rows, cols, eps);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void SoftmaxForward(const bf16* x, bf16* y, int64_t rows, int64_t cols, cudaStream_t s) {
  CheckMultipleOf8(cols, "SoftmaxForward cols");
  SoftmaxForwardKernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, y, cols);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void SoftmaxBackward(const bf16* y, const bf16* dy, bf16* dx, int64_t rows, int64_t cols, cudaStream_t s) {
  CheckMultipleOf8(cols, "SoftmaxBackward cols");
  SoftmaxBackwardKernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(y, dy, dx, cols);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void SwigluForward(const bf16* in, bf16* out, int64_t rows, int64_t f, cudaStream_t s) {
  CheckMultipleOf8(f, "SwigluForward f");
  SwigluForwardKernel<<<GridFor(rows * f / 8), kThreads, 0, s>>>(in, out, rows, f);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void SwigluBackward(const bf16* in, const bf16* dy, bf16* d_in, int64_t rows, int64_t f, cudaStream_t s) {
  CheckMultipleOf8(f, "SwigluBackward f");
  SwigluBackwardKernel<<<GridFor(rows * f / 8), kThreads, 0, s>>>(in, dy, d_in, rows, f);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void GeluForward(const bf16* x, bf16* y, int64_t n, cudaStream_t s) {
  CheckMultipleOf8(n, "GeluForward n");
  GeluKernel<<<GridFor(n / 8), kThreads, 0, s>>>(x, nullptr, y, n, false);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void GeluBackward(const bf16* x, const bf16* dy, bf16* dx, int64_t n, cudaStream_t s) {
  CheckMultipleOf8(n, "GeluBackward n");
  GeluKernel<<<GridFor(n / 8), kThreads, 0, s>>>(x, dy, dx, n, true);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void Rope(const bf16* x, bf16* y, const int32_t* positions, int64_t tokens, int64_t heads, int64_t d, float base,
          bool inverse, cudaStream_t s, int64_t row_stride) {
  if (d % 2 != 0) ThrowCudaError(__FILE__, __LINE__, "Rope", "head_dim must be even");
  if (row_stride == 0) row_stride = heads * d;
  RopeKernel<<<GridFor(tokens * heads * d / 2), kThreads, 0, s>>>(x, y, positions, tokens, heads, d, row_stride,
                                                                  log2f(base), inverse);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void EmbeddingForward(const bf16* table, const int32_t* ids, bf16* out, int64_t tokens, int64_t hidden,
                      cudaStream_t s) {
  CheckMultipleOf8(hidden, "EmbeddingForward hidden");
  EmbeddingKernel<<<GridFor(tokens * hidden / 8), kThreads, 0, s>>>(table, ids, out, tokens, hidden);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void KvCacheWrite(const bf16* qkv, bf16* k_cache, bf16* v_cache, int64_t seqs, int64_t heads, int64_t kv_heads,
                  int64_t d, int64_t capacity, int64_t pos, cudaStream_t s) {
  CheckMultipleOf8(d, "KvCacheWrite d");
  if (pos < 0 || pos >= capacity) ThrowCudaError(__FILE__, __LINE__, "KvCacheWrite", "pos outside the cache");
  KvCacheWriteKernel<<<GridFor(seqs * kv_heads * d / 8), kThreads, 0, s>>>(qkv, k_cache, v_cache, seqs, heads,
                                                                          kv_heads, d, capacity, pos);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void Add(const bf16* a, const bf16* b, bf16* out, int64_t n, cudaStream_t s) {
  CheckMultipleOf8(n, "Add n");
  AddKernel<<<GridFor(n / 8), kThreads, 0, s>>>(a, b, out, n);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void FillUniform(void* p, Storage type, int64_t n, uint64_t seed, float lo, float hi, cudaStream_t s) {
  if (n <= 0) return;
  FillKernel<<<GridFor(n), kThreads, 0, s>>>(p, type, n, seed, lo, hi);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void Copy(const void* src, void* dst, int64_t bytes, cudaStream_t s) {
  if (bytes % 16 != 0 || bytes <= 0) ThrowCudaError(__FILE__, __LINE__, "Copy", "bytes must be a positive multiple of 16");
  CopyKernel<<<GridFor(bytes / 16), kThreads, 0, s>>>(static_cast<const uint4*>(src), static_cast<uint4*>(dst),
                                                      bytes / 16);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

}  // namespace echosim::kernels::cuda
