// Pieces shared by the scalar (attention.cu) and tensor-core (attention_tc.cu) flash
// attention: the tensor-core backward's main kernel, launched by FlashAttentionBackward
// between the row dot products D_i = dO_i . O_i and the dq conversion.
#ifndef ECHOSIM_KERNELS_CUDA_ATTENTION_INTERNAL_H_
#define ECHOSIM_KERNELS_CUDA_ATTENTION_INTERNAL_H_

#include "kernels/cuda/kernels.h"

namespace echosim::kernels::cuda {

// dq_acc [batch*heads, sq, d] fp32 accumulated into (zeroed by the caller); dk, dv written
// in p.kv_layout. Layout strides must be multiples of 8 elements.
void FlashAttentionBackwardTensorCores(const AttentionParams& p, const bf16* d_o, const float* lse, const float* dsum,
                                       float* dq_acc, bf16* dk, bf16* dv, cudaStream_t s);

}  // namespace echosim::kernels::cuda

#endif  // ECHOSIM_KERNELS_CUDA_ATTENTION_INTERNAL_H_
