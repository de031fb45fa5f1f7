// Host entry points of our CUDA kernels (bf16 storage, fp32 arithmetic), each launched on
// the given stream. Layouts and formulas are those of the CPU references
// (kernels/reference/reference.h); kernels/tests/gpu_correctness.cc compares every one of
// them with its reference.
//
// Vectorised kernels move 128 bits per access; element counts and row widths that feed
// them must be multiples of 8 (checked, CudaError otherwise).
#ifndef ECHOSIM_KERNELS_CUDA_KERNELS_H_
#define ECHOSIM_KERNELS_CUDA_KERNELS_H_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace echosim::kernels::cuda {

using bf16 = __nv_bfloat16;

// ---- Flash attention (attention.cu) ----
// Tiled, online-softmax (FlashAttention-2 style: Dao, 2023) forward and backward, causal
// or not, grouped-query, head_dim 64 or 128, bf16 in / fp32 accumulate. Scalar FMA
// arithmetic, or tensor cores through WMMA (p.tensor_cores).
// Where row i of head h of sequence b starts: base + b*batch + h*head + i*row (elements).
// All zero means the contiguous layout [batch, heads, rows, d]. The fused QKV GEMM output
// [batch, seq, (heads + 2 kv_heads) d] is used in place with batch = seq*width,
// head = d, row = width (no transposes).
struct TensorLayout {
  int64_t batch = 0, head = 0, row = 0;
};
struct AttentionParams {
  const bf16* q = nullptr;  // [batch, heads, sq, d] by default
  const bf16* k = nullptr;  // [batch, kv_heads, kv_capacity, d] by default (first sk rows used)
  const bf16* v = nullptr;
  int64_t batch = 1, heads = 1, kv_heads = 1, sq = 1, sk = 1, d = 64;
  int64_t kv_capacity = 0;  // rows per kv head in the default k/v layout; 0 means sk
  bool causal = true;       // query i sees keys j <= i + (sk - sq)
  TensorLayout q_layout;    // q and dq
  TensorLayout kv_layout;   // k, v, dk, dv
  TensorLayout o_layout;    // o and d_o
  // The tensor-core (WMMA) kernels of attention_tc.cu instead of the scalar ones, forward
  // and backward. Layout strides must then be multiples of 8 elements.
  bool tensor_cores = false;
};
// o (o_layout); lse[batch*heads, sq] (natural log of the softmax denominators).
void FlashAttentionForward(const AttentionParams& p, bf16* o, float* lse, cudaStream_t s);
// The tensor-core forward (called by FlashAttentionForward when p.tensor_cores).
void FlashAttentionForwardTensorCores(const AttentionParams& p, bf16* o, float* lse, cudaStream_t s);
// Floats of scratch the backward needs (dq accumulator and the row dot products).
int64_t FlashAttentionBackwardWorkspace(const AttentionParams& p);
// dq (q_layout), dk and dv (kv_layout). `o` and `lse` from the forward.
void FlashAttentionBackward(const AttentionParams& p, const bf16* o, const bf16* d_o, const float* lse,
                            bf16* dq, bf16* dk, bf16* dv, float* workspace, cudaStream_t s);

// ---- Memory-bound kernels (memory_kernels.cu) ----
void RmsNormForward(const bf16* x, const bf16* w, bf16* y, int64_t rows, int64_t cols, float eps, cudaStream_t s);
// dw (fp32, cols) is accumulated into: zero it first.
void RmsNormBackward(const bf16* x, const bf16* w, const bf16* dy, bf16* dx, float* dw, int64_t rows,
                     int64_t cols, float eps, cudaStream_t s);
void LayerNormForward(const bf16* x, const bf16* w, const bf16* b, bf16* y, int64_t rows, int64_t cols, float eps,
                      cudaStream_t s);
void LayerNormBackward(const bf16* x, const bf16* w, const bf16* dy, bf16* dx, float* dw, float* db, int64_t rows,
                       int64_t cols, float eps, cudaStream_t s);
void SoftmaxForward(const bf16* x, bf16* y, int64_t rows, int64_t cols, cudaStream_t s);
void SoftmaxBackward(const bf16* y, const bf16* dy, bf16* dx, int64_t rows, int64_t cols, cudaStream_t s);
// in[rows, 2f] = [gate | up] -> out[rows, f]
void SwigluForward(const bf16* in, bf16* out, int64_t rows, int64_t f, cudaStream_t s);
void SwigluBackward(const bf16* in, const bf16* dy, bf16* d_in, int64_t rows, int64_t f, cudaStream_t s);
void GeluForward(const bf16* x, bf16* y, int64_t n, cudaStream_t s);
void GeluBackward(const bf16* x, const bf16* dy, bf16* dx, int64_t n, cudaStream_t s);
// x, y [tokens, heads, d] with `row_stride` elements between tokens (0: heads * d);
// positions[tokens] on the device. In place (x == y) is allowed.
void Rope(const bf16* x, bf16* y, const int32_t* positions, int64_t tokens, int64_t heads, int64_t d, float base,
          bool inverse, cudaStream_t s, int64_t row_stride = 0);
// Serving: appends each sequence's new K and V rows (from the fused QKV output
// qkv[seqs, (heads + 2 kv_heads) d]) at row `pos` of the caches [seqs, kv_heads, capacity, d].
void KvCacheWrite(const bf16* qkv, bf16* k_cache, bf16* v_cache, int64_t seqs, int64_t heads, int64_t kv_heads,
                  int64_t d, int64_t capacity, int64_t pos, cudaStream_t s);
void EmbeddingForward(const bf16* table, const int32_t* ids, bf16* out, int64_t tokens, int64_t hidden,
                      cudaStream_t s);
// out = a + b (residual connections); n elements.
void Add(const bf16* a, const bf16* b, bf16* out, int64_t n, cudaStream_t s);
// 128-bit copy of `bytes` (a multiple of 16).
void Copy(const void* src, void* dst, int64_t bytes, cudaStream_t s);

// Deterministic pseudo-random fill (a hash of seed and index): uniform in [lo, hi),
// stored as `type`; integers (kI32) uniform in [lo, hi) truncated.
enum class Storage : uint8_t { kBf16, kFp16, kFp8, kF32, kI32 };
void FillUniform(void* p, Storage type, int64_t n, uint64_t seed, float lo, float hi, cudaStream_t s);

// ---- Fused AdamW (adam.cu) ----
struct AdamHyper {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0.1f;
  int step = 1;
};
// One pass: reads param/m/v/grad (fp32), writes param/m/v and the bf16 copy.
void AdamStep(const AdamHyper& h, float* param, float* m, float* v, const float* grad, bf16* param_bf16,
              int64_t n, cudaStream_t s);

// ---- Communication-like kernel (comm_kernel.cu) ----
// Moves data with `blocks` thread blocks the way NCCL's protocols do:
//   kSimple: 128-bit loads and stores of the payload (NCCL's Simple protocol);
//   kLl:     every 4-byte word goes through an 8-byte {data, flag} line written with one
//            64-bit store and read back checking the flag (NCCL's LL protocol), so it
//            moves twice the payload through memory.
// dst = a (copy) or dst = a + b (reduce, b != nullptr), fp32 elements; n a multiple of 4.
enum class CommProtocol : uint8_t { kSimple, kLl };
inline constexpr int kCommThreads = 512;  // threads per block (NCCL's Simple kernels use 512-640)
void CommCopyReduce(CommProtocol proto, int blocks, const float* a, const float* b, float* dst, uint64_t* ll_lines,
                    int64_t n, uint32_t flag, cudaStream_t s);
// The same traffic in a loop until *stop (device memory) becomes non-zero; *started (host
// mapped) is set once the kernel runs. Used to measure interference.
void CommCopyLoop(CommProtocol proto, int blocks, const float* a, float* dst, uint64_t* ll_lines, int64_t n,
                  const int* stop, int* started, cudaStream_t s);

}  // namespace echosim::kernels::cuda

#endif  // ECHOSIM_KERNELS_CUDA_KERNELS_H_
