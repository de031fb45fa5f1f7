// Operators of one LLM inference iteration (prefill and decode), as a serving replica runs
// them on one tensor-parallel rank, and the memory facts a paged KV cache is sized from.
//
// What it models: a decoder-only transformer forward pass over a batch that mixes prefill
// chunks and decode tokens (continuous batching, as vLLM and Sarathi-Serve run it). The
// linear layers see every new token of the batch at once (one GEMM with m = tokens); the
// attention kernels see each sequence's own context:
//   - a prefill chunk of q new tokens over c cached tokens attends to
//     pairs = q*c + q*(q+1)/2 key positions (causal), FLOPs = 4 * head_dim * heads * pairs
//     (QK^T and PV, 2 FLOPs per multiply-add each), bytes = Q and O of the q tokens plus K and
//     V of the c+q tokens (FlashAttention-2, Dao 2023: one pass over K/V per query block);
//   - a decode token over a context of c tokens (its own included) is the q = 1 case:
//     FLOPs = 4 * head_dim * heads * c, bytes = K and V of c tokens (PagedAttention, Kwon et
//     al. SOSP'23: decode attention is bound by reading the KV cache).
// All decode tokens of an iteration run as one batched kernel (one op), all prefill chunks as
// one variable-length kernel (one op), as vLLM launches them.
// GEMM and memory-bound op shapes follow models/layer_ops.h's forward pass (Megatron-style
// tensor parallelism: column-parallel QKV and MLP-in, row-parallel O-projection and MLP-out,
// one all-reduce after each, Shoeybi et al. 2019); a GEMM of m < 64 rows is costed as 64 rows
// (the tensor-core tile it computes), checked against Vidur's measured Llama-2-70B TP4 H100
// projections (../shared/data/measured/kernels/vidur). Sequence parallelism is not used in
// inference. The LM head runs only for tokens that are sampled (vLLM computes logits for the
// last position of each sequence) and its vocab-parallel logits are gathered over TP.
//
// Memory (how vLLM sizes the KV cache, vllm/worker determine_num_available_blocks):
//   kv bytes per token per layer = 2 (K and V) * max(1, kv_heads / tp) * head_dim * kv bytes
//   weights per GPU = parameters of the GPU's layers / tp * weight bytes (fp8: 1, else 2);
//     embeddings and the LM head are vocab-parallel (/ tp) on the first / last stage
//   activation peak = the profile run's largest live tensors for `tokens` tokens:
//     tokens * (3 * ffn / tp + 4 * hidden) * 2 bytes (MLP input, gate/up output and the
//     residual stream), plus fp32 logits, probabilities and log-probabilities of `seqs`
//     sampled rows: 3 * seqs * vocab * 4 bytes.
#ifndef ECHOSIM_MODELS_INFERENCE_OPS_H_
#define ECHOSIM_MODELS_INFERENCE_OPS_H_

#include <cstdint>
#include <vector>

#include "models/layer_ops.h"
#include "models/model_spec.h"
#include "models/ops.h"

namespace echosim {

// How a replica runs the model.
struct InferenceConfig {
  int64_t tp = 1;
  int64_t pp = 1;
  DType dtype = DType::kBf16;     // GEMM inputs (fp8 = W8A8, as vLLM's fp8 checkpoints run)
  DType kv_dtype = DType::kBf16;  // KV cache elements (fp8: 1 byte, else 2)
};

// The attention work of one iteration, summed over its sequences.
struct AttentionWork {
  int64_t prefill_tokens = 0;        // new tokens of all prefill chunks
  double prefill_pairs = 0;          // sum over chunks of q*c + q*(q+1)/2
  double prefill_kv_tokens = 0;      // sum over chunks of c + q (K/V rows read)
  int64_t decode_tokens = 0;         // decode sequences (one new token each)
  double decode_context_tokens = 0;  // sum over decode sequences of their context c
};

// Rows of the smallest tensor-core GEMM tile a kernel computes (see InferenceLayerOps).
inline constexpr int64_t kGemmTileRows = 64;

inline int KvElementBytes(DType kv) { return kv == DType::kFp8 ? 1 : 2; }
inline int WeightBytes(DType d) { return d == DType::kFp8 ? 1 : 2; }

// Non-attention operators of one transformer layer for `tokens` new tokens (norms, QKV, RoPE,
// O-projection, MLP or MoE, residuals, and the two TP all-reduces), in execution order.
std::vector<LayerStep> InferenceLayerOps(const ModelSpec& model, int64_t tokens,
                                         const InferenceConfig& config);
// The attention kernels of one layer: at most two ops (prefill, decode); none for no work.
std::vector<ComputeOp> InferenceAttentionOps(const ModelSpec& model, const AttentionWork& work,
                                             const InferenceConfig& config);
// Embedding lookup of `tokens` tokens (first stage), with the vocab-parallel all-reduce.
std::vector<LayerStep> InferenceEmbeddingOps(const ModelSpec& model, int64_t tokens,
                                             const InferenceConfig& config);
// Final norm, LM head over `sampled` rows, logits gather over TP and sampling (last stage).
std::vector<LayerStep> InferenceHeadOps(const ModelSpec& model, int64_t sampled,
                                        const InferenceConfig& config);

double KvBytesPerTokenPerLayer(const ModelSpec& model, const InferenceConfig& config);
// Bytes of weights on the most loaded GPU of a replica (pipeline stage 0 or the last).
double InferenceWeightBytesPerGpu(const ModelSpec& model, const InferenceConfig& config);
// Peak activation bytes of a forward pass of `tokens` tokens and `seqs` sampled rows.
double InferenceActivationPeakBytes(const ModelSpec& model, int64_t tokens, int64_t seqs,
                                    const InferenceConfig& config);

}  // namespace echosim

#endif  // ECHOSIM_MODELS_INFERENCE_OPS_H_
