// Fused AdamW step: one pass over fp32 master weights, moments and gradients, writing the
// bf16 weight copy the next forward reads (as Megatron-LM/Apex fused Adam do).
// Update (Loshchilov & Hutter, Algorithm 2, with Adam's bias correction):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr (m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps) + wd p)
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/kernels.h"

namespace echosim::kernels::cuda {
namespace {

__global__ void AdamKernel(AdamHyper h, float inv_bc1, float inv_bc2, float* param, float* m, float* v,
                           const float* grad, bf16* param_bf16, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = grad[i];
    const float mi = h.beta1 * m[i] + (1.f - h.beta1) * g;
    const float vi = h.beta2 * v[i] + (1.f - h.beta2) * g * g;
    float p = param[i];
    p -= h.lr * (mi * inv_bc1 / (sqrtf(vi * inv_bc2) + h.eps) + h.weight_decay * p);
    m[i] = mi;
    v[i] = vi;
    param[i] = p;
    param_bf16[i] = __float2bfloat16_rn(p);
  }
}

}  // namespace

void AdamStep(const AdamHyper& h, float* param, float* m, float* v, const float* grad, bf16* param_bf16, int64_t n,
              cudaStream_t s) {
  if (h.step < 1) ThrowCudaError(__FILE__, __LINE__, "AdamStep", "step must be >= 1");
  const float inv_bc1 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(h.beta1), h.step)));
  const float inv_bc2 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(h.beta2), h.step)));
  const unsigned grid = static_cast<unsigned>(std::clamp<int64_t>((n + 255) / 256, 1, 65535));
  AdamKernel<<<grid, 256, 0, s>>>(h, inv_bc1, inv_bc2, param, m, v, grad, param_bf16, n);
  ECHOSIM_CUDA_CHECK_LAUNCH();
}

}  // namespace echosim::kernels::cuda
