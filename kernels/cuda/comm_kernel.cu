// A communication-like kernel: moves a buffer with a chosen number of thread blocks using
// the memory access patterns of NCCL's protocols (NCCL's "channels" are thread blocks):
//   Simple: each thread moves 128-bit vectors (NCCL's Simple protocol loads and stores
//           whole 16-byte vectors through its FIFO buffers);
//   LL:     each 4-byte word is written together with a 4-byte flag as one 8-byte store
//           into a line buffer and read back once the flag matches (NCCL's low-latency
//           protocol), so twice the payload crosses memory, in 8-byte accesses.
// It occupies `blocks` SMs and their share of HBM bandwidth the way an NCCL kernel does,
// which is what the interference measurement needs; it does not talk to other GPUs.
#include <algorithm>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/kernels.h"

namespace echosim::kernels::cuda {
namespace {

__device__ __forceinline__ float4 Add4(float4 a, float4 b) {
  return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
}

// Moves elements [begin, end) of the float4 view with this block's threads.
__device__ __forceinline__ void SimpleSlice(const float4* a, const float4* b, float4* dst, int64_t begin,
                                            int64_t end) {
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    float4 x = a[i];
    if (b != nullptr) x = Add4(x, b[i]);
    dst[i] = x;
  }
}

__device__ __forceinline__ void LlSlice(const float* a, const float* b, float* dst, uint64_t* lines, int64_t begin,
                                        int64_t end, uint32_t flag) {
  volatile uint64_t* vl = lines;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const uint32_t data = __float_as_uint(a[i]);
    vl[i] = (static_cast<uint64_t>(flag) << 32) | data;  // one 8-byte {data, flag} store
    uint64_t line;
    do {
      line = vl[i];
    } while (static_cast<uint32_t>(line >> 32) != flag);  // the receiver's flag check
    float x = __uint_as_float(static_cast<uint32_t>(line));
    if (b != nullptr) x += b[i];
    dst[i] = x;
  }
}

// Block `blockIdx.x` owns chunks blockIdx.x, blockIdx.x + gridDim.x, ... (NCCL's channels
// each own a slice of every step).
constexpr int64_t kChunkElems = kCommThreads * 16;

__global__ void __launch_bounds__(kCommThreads) CommKernel(CommProtocol proto, const float* a, const float* b,
                                                           float* dst, uint64_t* lines, int64_t n, uint32_t flag) {
  for (int64_t c0 = blockIdx.x * kChunkElems; c0 < n; c0 += gridDim.x * kChunkElems) {
    const int64_t c1 = min(n, c0 + kChunkElems);
    if (proto == CommProtocol::kSimple) {
      SimpleSlice(reinterpret_cast<const float4*>(a), reinterpret_cast<const float4*>(b),
                  reinterpret_cast<float4*>(dst), c0 / 4, c1 / 4);
    } else {
      LlSlice(a, b, dst, lines, c0, c1, flag);
    }
  }
}

__global__ void __launch_bounds__(kCommThreads) CommLoopKernel(CommProtocol proto, const float* a, float* dst,
                                                               uint64_t* lines, int64_t n, const int* stop,
                                                               int* started) {
  __shared__ int s_stop;
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    *reinterpret_cast<volatile int*>(started) = 1;
    __threadfence_system();
  }
  for (uint32_t pass = 1;; ++pass) {
    for (int64_t c0 = blockIdx.x * kChunkElems; c0 < n; c0 += gridDim.x * kChunkElems) {
      if (threadIdx.x == 0) s_stop = *reinterpret_cast<const volatile int*>(stop);
      __syncthreads();
      if (s_stop != 0) return;
      const int64_t c1 = min(n, c0 + kChunkElems);
      if (proto == CommProtocol::kSimple) {
        SimpleSlice(reinterpret_cast<const float4*>(a), nullptr, reinterpret_cast<float4*>(dst), c0 / 4, c1 / 4);
      } else {
        LlSlice(a, nullptr, dst, lines, c0, c1, pass);
      }
      __syncthreads();
    }
  }
}

void CheckArgs(int blocks, int64_t n, CommProtocol proto, const uint64_t* lines) {
  if (blocks < 1 || n < 4 || n % 4 != 0) {
    ThrowCudaError(__FILE__, __LINE__, "CommCopyReduce", "blocks >= 1 and n a positive multiple of 4 required");
  }
  if (proto == CommProtocol::kLl && lines == nullptr) {
    ThrowCudaError(__FILE__, __LINE__, "CommCopyReduce", "the LL protocol needs a line buffer of n 8-byte lines");
  }
}

}  // namespace

void CommCopyReduce(CommProtocol proto, int blocks, const float* a, const float* b, float* dst, uint64_t* ll_lines,
                    int64_t n, uint32_t flag, cudaStream_t s) {
  CheckArgs(blocks, n, proto, ll_lines);
  CommKernel<<<blocks, kCommThreads, 0, s>>>(proto, a, b, dst, ll_lines, n, flag);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

void CommCopyLoop(CommProtocol proto, int blocks, const float* a, float* dst, uint64_t* ll_lines, int64_t n,
                  const int* stop, int* started, cudaStream_t s) {
  CheckArgs(blocks, n, proto, ll_lines);
  CommLoopKernel<<<blocks, kCommThreads, 0, s>>>(proto, a, dst, ll_lines, n, stop, started);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

}  // namespace echosim::kernels::cuda
