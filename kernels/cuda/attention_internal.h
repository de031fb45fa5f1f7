// Pieces shared by the scalar (attention.cu) and tensor-core (attention_tc.cu) flash
// attention: the layouts of the parameters, and the tensor-core backward's main kernel,
// launched by FlashAttentionBackward between the row dot products D_i = dO_i . O_i and the
// dq conversion.
#ifndef ECHOSIM_KERNELS_CUDA_ATTENTION_INTERNAL_H_
#define ECHOSIM_KERNELS_CUDA_ATTENTION_INTERNAL_H_

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/kernels.h"

namespace echosim::kernels::cuda {

struct AttentionLayouts {
  TensorLayout q, kv, o;
};

// The q, kv and o layouts of p, one given as all zeros being the contiguous [batch, heads,
// rows, d] (kv rows: kv_capacity, or sk without one). Unless every stride is a multiple of
// `multiple`, throws CudaError `what` naming file:line (the caller's).
inline AttentionLayouts ResolveLayouts(const AttentionParams& p, int64_t multiple, const char* file, int line,
                                       const char* what) {
  const int64_t cap = p.kv_capacity > 0 ? p.kv_capacity : p.sk;
  auto resolve = [&](const TensorLayout& l, int64_t heads, int64_t rows) {
    TensorLayout r = l;
    if (r.batch == 0 && r.head == 0 && r.row == 0) r = TensorLayout{heads * rows * p.d, rows * p.d, p.d};
    if (r.batch % multiple || r.head % multiple || r.row % multiple) ThrowCudaError(file, line, "FlashAttention", what);
    return r;
  };
  return {resolve(p.q_layout, p.heads, p.sq), resolve(p.kv_layout, p.kv_heads, cap),
          resolve(p.o_layout, p.heads, p.sq)};
}

// dq_acc [batch*heads, sq, d] fp32 accumulated into (zeroed by the caller); dk, dv written
// in p.kv_layout. Layout strides must be multiples of 8 elements.
void FlashAttentionBackwardTensorCores(const AttentionParams& p, const bf16* d_o, const float* lse, const float* dsum,
                                       float* dq_acc, bf16* dk, bf16* dv, cudaStream_t s);

}  // namespace echosim::kernels::cuda

#endif  // ECHOSIM_KERNELS_CUDA_ATTENTION_INTERNAL_H_
