// GEMMs through cuBLASLt: c[m,n] = X[m,k] W[k,n] (+ beta c), the ComputeOp's GEMM, with
// `batch` problems stored back to back. Row-major buffers, stored as
//   x: [m,k] (or [k,m] when x_km: X = x^T, the weight-gradient GEMM dW = dy^T x)
//   w: [n,k] (W = w^T, the "TN" form every dtype supports and fp8 requires; a linear
//      layer's weight as stored) or [k,n] when w_kn (the input-gradient GEMM dx = dy W).
// cuBLASLt sees row-major buffers as column-major transposes: D(n x m) = op(w) * op(x).
// Inputs bf16, fp16 or fp8 e4m3 (compute capability >= 8.9); fp32 accumulation; output
// bf16 (fp16 for fp16 inputs) or fp32. The heuristic's first algorithm is cached per shape.
#ifndef ECHOSIM_KERNELS_CUDA_GEMM_LT_H_
#define ECHOSIM_KERNELS_CUDA_GEMM_LT_H_

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

namespace echosim::kernels::cuda {

enum class GemmType : uint8_t { kBf16, kFp16, kFp8, kF32 };

struct GemmShape {
  GemmType in = GemmType::kBf16;
  GemmType out = GemmType::kBf16;  // kBf16/kFp16 (as the input, bf16 for fp8) or kF32
  int64_t m = 1, n = 1, k = 1, batch = 1;
  bool x_km = false, w_kn = false;  // storage of the operands (fp8: both false)
};

class GemmLt {
 public:
  explicit GemmLt(size_t workspace_bytes = size_t{64} << 20);
  ~GemmLt();
  GemmLt(const GemmLt&) = delete;
  GemmLt& operator=(const GemmLt&) = delete;

  void Run(const GemmShape& g, const void* x, const void* w, void* c, float beta, cudaStream_t s);
  // "cublasLt bf16->bf16 TN" (what runs, for the harness's `kernel` field).
  static std::string Describe(const GemmShape& g);
  static size_t ElementBytes(GemmType t);

 private:
  struct Plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  using Key = std::tuple<int, int, int64_t, int64_t, int64_t, int64_t, bool, bool>;
  Plan& GetPlan(const GemmShape& g);

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_;
  std::map<Key, Plan> plans_;
};

}  // namespace echosim::kernels::cuda

#endif  // ECHOSIM_KERNELS_CUDA_GEMM_LT_H_
