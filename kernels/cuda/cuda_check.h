// CUDA/cuBLAS error checks for the kernels library and the harness.
//
// A failing CUDA call throws CudaError (file:line, the call and the runtime's message); the
// harness's main() turns it into exit code 1. Kernels themselves never throw.
#ifndef ECHOSIM_KERNELS_CUDA_CUDA_CHECK_H_
#define ECHOSIM_KERNELS_CUDA_CUDA_CHECK_H_

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace echosim::kernels::cuda {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void ThrowCudaError(const char* file, int line, const char* expr, const std::string& what) {
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + expr + " failed: " + what);
}

}  // namespace echosim::kernels::cuda

#define ECHOSIM_CUDA_CHECK(expr)                                                              \
  do {                                                                                        \
    cudaError_t _e = (expr);                                                                  \
    if (_e != cudaSuccess) {                                                                  \
      ::echosim::kernels::cuda::ThrowCudaError(__FILE__, __LINE__, #expr, cudaGetErrorString(_e)); \
    }                                                                                         \
  } while (0)
// After a kernel launch: launch-configuration errors surface here.
#define ECHOSIM_CUDA_CHECK_LAUNCH() ECHOSIM_CUDA_CHECK(cudaGetLastError())

#endif  // ECHOSIM_KERNELS_CUDA_CUDA_CHECK_H_
