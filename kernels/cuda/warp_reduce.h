// Warp-wide reductions and the exp2/log constants shared by the scalar (attention.cu) and
// tensor-core (attention_tc.cu) flash attention kernels.
#ifndef ECHOSIM_KERNELS_CUDA_WARP_REDUCE_H_
#define ECHOSIM_KERNELS_CUDA_WARP_REDUCE_H_

namespace echosim::kernels::cuda {

constexpr unsigned kFull = 0xffffffffu;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

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

}  // namespace echosim::kernels::cuda

#endif  // ECHOSIM_KERNELS_CUDA_WARP_REDUCE_H_
