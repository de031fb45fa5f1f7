// cuBLASLt GEMM wrapper (see gemm_lt.h).
#include "kernels/cuda/gemm_lt.h"

#include "kernels/cuda/cuda_check.h"

namespace echosim::kernels::cuda {
namespace {

void CheckLt(cublasStatus_t st, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS) {
    ThrowCudaError(__FILE__, __LINE__, what, std::string("cuBLAS status ") + std::to_string(static_cast<int>(st)));
  }
}

cudaDataType_t CudaType(GemmType t) {
  switch (t) {
    case GemmType::kBf16: return CUDA_R_16BF;
    case GemmType::kFp16: return CUDA_R_16F;
    case GemmType::kFp8: return CUDA_R_8F_E4M3;
    case GemmType::kF32: return CUDA_R_32F;
  }
  return CUDA_R_32F;
}

const char* TypeName(GemmType t) {
  switch (t) {
    case GemmType::kBf16: return "bf16";
    case GemmType::kFp16: return "fp16";
    case GemmType::kFp8: return "fp8e4m3";
    case GemmType::kF32: return "fp32";
  }
  return "?";
}

cublasLtMatrixLayout_t Layout(GemmType t, int64_t rows, int64_t cols, int64_t batch) {
  cublasLtMatrixLayout_t l = nullptr;
  CheckLt(cublasLtMatrixLayoutCreate(&l, CudaType(t), static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), rows),
          "cublasLtMatrixLayoutCreate");
  if (batch > 1) {
    const int32_t count = static_cast<int32_t>(batch);
    const int64_t stride = rows * cols;
    CheckLt(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)),
            "batch count");
    CheckLt(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)),
            "batch stride");
  }
  return l;
}

}  // namespace

size_t GemmLt::ElementBytes(GemmType t) {
  switch (t) {
    case GemmType::kFp8: return 1;
    case GemmType::kF32: return 4;
    default: return 2;
  }
}

std::string GemmLt::Describe(const GemmShape& g) {
  return std::string("cublasLt ") + TypeName(g.in) + "->" + TypeName(g.out) + " " + (g.w_kn ? "N" : "T") +
         (g.x_km ? "T" : "N") +
         (g.batch > 1 ? " batched" : "");
}

GemmLt::GemmLt(size_t workspace_bytes) : workspace_bytes_(workspace_bytes) {
  CheckLt(cublasLtCreate(&handle_), "cublasLtCreate");
  ECHOSIM_CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes_));
}

GemmLt::~GemmLt() {
  for (auto& [key, p] : plans_) {
    cublasLtMatrixLayoutDestroy(p.a);
    cublasLtMatrixLayoutDestroy(p.b);
    cublasLtMatrixLayoutDestroy(p.c);
    cublasLtMatmulDescDestroy(p.op);
  }
  cudaFree(workspace_);
  cublasLtDestroy(handle_);
}

GemmLt::Plan& GemmLt::GetPlan(const GemmShape& g) {
  const Key key{static_cast<int>(g.in), static_cast<int>(g.out), g.m, g.n, g.k, g.batch, g.x_km, g.w_kn};
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second;
  if (g.in == GemmType::kF32 || (g.out != GemmType::kF32 && g.out != (g.in == GemmType::kFp8 ? GemmType::kBf16 : g.in))) {
    ThrowCudaError(__FILE__, __LINE__, "GemmLt", "unsupported input/output type combination");
  }
  if (g.in == GemmType::kFp8 && (g.x_km || g.w_kn)) {
    ThrowCudaError(__FILE__, __LINE__, "GemmLt", "fp8 GEMMs need the TN storage (w [n,k], x [m,k])");
  }
  Plan p;
  CheckLt(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  // D (n x m, column-major) = c^T = W^T X^T. A = w: row-major [n,k] reads as the
  // column-major k x n matrix W (op T gives W^T); row-major [k,n] reads as W^T (op N).
  // B = x: row-major [m,k] reads as X^T (op N); row-major [k,m] (x = X^T) reads as X (op T).
  const cublasOperation_t ta = g.w_kn ? CUBLAS_OP_N : CUBLAS_OP_T, tb = g.x_km ? CUBLAS_OP_T : CUBLAS_OP_N;
  CheckLt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "transa");
  CheckLt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "transb");
  p.a = g.w_kn ? Layout(g.in, g.n, g.k, g.batch) : Layout(g.in, g.k, g.n, g.batch);
  p.b = g.x_km ? Layout(g.in, g.m, g.k, g.batch) : Layout(g.in, g.k, g.m, g.batch);
  p.c = Layout(g.out, g.n, g.m, g.batch);  // c: column-major n x m (row-major [m,n])
  cublasLtMatmulPreference_t pref = nullptr;
  CheckLt(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  CheckLt(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                               sizeof(workspace_bytes_)),
          "workspace preference");
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t st =
      cublasLtMatmulAlgoGetHeuristic(handle_, p.op, p.a, p.b, p.c, p.c, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (st != CUBLAS_STATUS_SUCCESS || found == 0) {
    cublasLtMatrixLayoutDestroy(p.a);
    cublasLtMatrixLayoutDestroy(p.b);
    cublasLtMatrixLayoutDestroy(p.c);
    cublasLtMatmulDescDestroy(p.op);
    ThrowCudaError(__FILE__, __LINE__, "cublasLtMatmulAlgoGetHeuristic",
                   "no algorithm for " + Describe(g) + " m=" + std::to_string(g.m) + " n=" + std::to_string(g.n) +
                       " k=" + std::to_string(g.k));
  }
  p.algo = result.algo;
  return plans_.emplace(key, p).first->second;
}

void GemmLt::Run(const GemmShape& g, const void* x, const void* w, void* c, float beta, cudaStream_t s) {
  Plan& p = GetPlan(g);
  const float alpha = 1.0f;
  CheckLt(cublasLtMatmul(handle_, p.op, &alpha, w, p.a, x, p.b, &beta, c, p.c, c, p.c, &p.algo, workspace_,
                         workspace_bytes_, s),
          "cublasLtMatmul");
}

}  // namespace echosim::kernels::cuda
