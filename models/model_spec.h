// ModelSpec: the shape of a transformer language model, and its presets.
//
// Presets live as data in models/presets/<name>.yaml (embedded into the binary).
// A spec is plain data; Validate() checks internal consistency and names the field.
#ifndef ECHOSIM_MODELS_MODEL_SPEC_H_
#define ECHOSIM_MODELS_MODEL_SPEC_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {

enum class MlpKind { kGelu, kSwiglu };
enum class NormKind { kLayerNorm, kRmsNorm };
enum class PositionKind { kLearned, kRope, kNone };  // kNone: no position encoding (Nemotron-H)

struct ModelSpec {
  std::string name;
  std::string description;
  int64_t layers = 0;
  int64_t hidden = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t ffn_hidden = 0;
  int64_t vocab = 0;
  int64_t experts = 1;  // 1 = dense
  int64_t top_k = 1;
  MlpKind mlp = MlpKind::kGelu;
  NormKind norm = NormKind::kLayerNorm;
  PositionKind position = PositionKind::kLearned;
  int64_t max_seq_len_tokens = 2048;
  bool tied_embeddings = true;
  // Dropout on the attention probabilities and after the attention and MLP blocks (Megatron-LM
  // GPT: 0.1 each). Models trained without it (Llama, Qwen3, Mixtral, gpt-oss, Nemotron:
  // attention and hidden dropout 0) keep no dropout masks, and their flash attention runs at its
  // full rate (ComputeOp::dropout).
  bool dropout = true;
  // RMSNorm on each query and key head before the rotary embedding (Qwen3's QK-norm;
  // Megatron-Core qk_layernorm): two memory-bound passes over q and k in each direction.
  bool qk_norm = false;
  // Attention head dimension when it is not hidden / heads (Qwen3: 128 with hidden 2048 and
  // 32 heads; Megatron-LM's --kv-channels). 0 = hidden / heads.
  int64_t head_dim_override = 0;
  // Sliding-window (banded causal) attention: each query sees the `sliding_window` tokens up to
  // itself (0 = every layer attends to the whole sequence). With full_attention_every = N > 0,
  // layer i (from 0) attends fully when (i + 1) % N == 0 and through the window otherwise
  // (gpt-oss: window 128, N = 2, alternating); N = 0: every layer uses the window.
  int64_t sliding_window = 0;
  int64_t full_attention_every = 0;
  // Mixture of experts beyond one expert shape (DeepSeek-V3, Kimi K2; 0 = off):
  // moe_ffn_hidden: the routed experts' FFN width (0 = ffn_hidden, which is then the experts'
  //   width; with it set, ffn_hidden is the dense layers' width);
  // dense_layers: the first N layers use a dense MLP of ffn_hidden (Megatron-Core
  //   moe_layer_freq with N leading zeros; Hugging Face first_k_dense_replace);
  // shared_expert_ffn: total FFN width of the shared experts every token also passes through
  //   (Megatron-Core moe_shared_expert_intermediate_size).
  int64_t moe_ffn_hidden = 0;
  int64_t dense_layers = 0;
  int64_t shared_expert_ffn = 0;
  // Latent mixture of experts (Nemotron 3 Super; Megatron-Core moe_latent_size; 0 = off): the
  // routed experts work in a narrower space of moe_latent dims. Each MoE layer projects its
  // tokens down (hidden -> moe_latent, fc1_latent_proj) before the dispatch, so the dispatch,
  // the combine and the experts' GEMMs are moe_latent wide (moe_latent -> expert FFN ->
  // moe_latent), and projects the combined output up again (moe_latent -> hidden,
  // fc2_latent_proj). The router and the shared experts see the full hidden states.
  int64_t moe_latent = 0;
  // Group-limited routing (DeepSeek-V3's node-limited routing; Megatron-Core
  // moe_router_num_groups / moe_router_group_topk, Hugging Face n_group / topk_group): the
  // experts form router_groups contiguous groups, each token first picks router_group_topk
  // groups and then its top_k experts among theirs. router_groups 0 or 1 = not limited.
  int64_t router_groups = 0;
  int64_t router_group_topk = 0;
  // Clamped GLU activation of the experts (gpt-oss: 7.0; Megatron-Core activation_func_clamp_value):
  // the gate half is clamped from above and the linear half to [-clamp, clamp] before the
  // activation. Simulated as Megatron-Core's clamped quick-GEGLU path, gpt-oss's
  // (weighted_bias_quick_geglu_impl: two clamp kernels and a concatenation before the fused
  // activation, and a synchronising copy of its linear offset to the GPU; layer_ops.cc
  // GluClampFwd, host_launches.cc SynchronizesHost). 0 = no clamp.
  double glu_clamp = 0;
  // YaRN's attention (concentration) factor on RoPE's cos and sin (gpt-oss: 0.1 ln 32 + 1 =
  // 1.3466; Megatron-Core _yarn_get_concentration_factor); 1 = plain RoPE. Megatron-Core's
  // apply_rotary_pos_emb hands a factor other than 1 to its unfused PyTorch RoPE instead of
  // Transformer Engine's fused kernel (megatron/core/models/common/embeddings/rope_utils.py:
  // "mscale=... is not supported by TE's fused RoPE"), so the rotation costs several
  // elementwise passes over the queries and keys (layer_ops.cc, RopeFwd / RopeBwd).
  double rope_mscale = 1.0;
  // The experts' projections carry biases (gpt-oss; Megatron-Core add_bias_linear with grouped
  // experts): Megatron-Core adds each local expert's fc2 bias, weighted by the routing
  // probability, with separate kernels after the grouped GEMM (TEGroupedMLP._apply_bias).
  bool expert_bias = false;
  // Multi-head latent attention (DeepSeek-V2/V3; on when kv_lora_rank > 0): keys and values
  // are projected down to a kv_lora_rank latent (plus qk_rope_head_dim rotary key dims shared
  // by the heads) and up again per head; queries likewise through q_lora_rank (0 = one full-rank
  // query projection). Each head scores with head_dim + qk_rope_head_dim dims and returns
  // v_head_dim (0 = head_dim) dims. kv_heads must equal heads.
  int64_t q_lora_rank = 0;
  int64_t kv_lora_rank = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  // Multi-token prediction (DeepSeek-V3; Megatron-Core mtp_num_layers): after the last layer,
  // each MTP depth normalises the hidden states and the embeddings of the tokens one further
  // ahead, projects their concatenation (2 * hidden -> hidden), runs one more transformer layer
  // (of the model's MoE kind) and its own output layer and loss. They sit on the last virtual
  // pipeline stage ('m' in a pipeline layout) and are not counted in `layers`.
  int64_t mtp_layers = 0;
  // The MTP depths share one layer's weights (Megatron-Core mtp_use_repeated_layer): every
  // depth runs, but only one depth's parameters, gradients and optimizer state exist.
  bool mtp_shared_weights = false;
  // Hybrid state-space models (Nemotron-H, Nemotron 3; Megatron-Core hybrid_layer_pattern):
  // one character per layer, each layer one block behind its own pre-norm: 'M' a Mamba-2 mixer,
  // '*' self-attention, 'E' the routed experts (with the shared experts), '-' a dense MLP.
  // Empty: every layer is a transformer layer (attention, then the MLP or the experts).
  std::string layer_pattern;
  // The Mamba-2 mixer (Dao and Gu 2024, arXiv 2405.21060, "SSD"): mamba_heads heads of
  // mamba_head_dim channels (inner width heads * head_dim), a state of mamba_state per channel,
  // B and C shared by the heads of each of mamba_groups groups, a causal depthwise convolution
  // of mamba_conv_kernel taps, and the chunked scan over chunks of mamba_chunk tokens.
  int64_t mamba_heads = 0;
  int64_t mamba_head_dim = 0;
  int64_t mamba_state = 0;
  int64_t mamba_groups = 1;
  int64_t mamba_conv_kernel = 4;
  int64_t mamba_chunk = 128;
  bool is_hybrid() const { return !layer_pattern.empty(); }
  // 'T' (transformer layer: attention and MLP / experts) without a pattern, else the pattern's
  // character.
  char LayerKind(int64_t layer) const {
    return layer_pattern.empty() || layer < 0 || layer >= static_cast<int64_t>(layer_pattern.size())
               ? 'T'
               : layer_pattern[static_cast<size_t>(layer)];
  }
  static bool KindHasAttention(char k) { return k == 'T' || k == '*'; }
  static bool KindHasMlp(char k) { return k == 'T' || k == 'E' || k == '-'; }
  int64_t mamba_inner() const { return mamba_heads * mamba_head_dim; }
  // The mixer's input projection width: z and x (inner each), B and C (groups * state each)
  // and one dt per head.
  int64_t mamba_in_proj() const { return 2 * mamba_inner() + 2 * mamba_groups * mamba_state + mamba_heads; }
  // Channels of the convolution: x, B and C.
  int64_t mamba_conv_channels() const { return mamba_inner() + 2 * mamba_groups * mamba_state; }
  // Parameters of one Mamba-2 mixer (projections, convolution, dt bias, A, D, gated norm).
  int64_t MambaParams() const;
  // Forward FLOPs per token of the chunked scan (Mamba-2's SSD algorithm): per chunk of Q
  // tokens, C B^T per group (Q x Q x N), its masked product with x per head (Q x Q x P), the
  // chunk states B^T x per head (N x Q x P) and their contribution C h per head (Q x N x P).
  double MambaScanFlopsPerToken() const;
  bool WindowedLayer(int64_t layer) const {
    return sliding_window > 0 && (full_attention_every <= 0 || (layer + 1) % full_attention_every != 0);
  }
  int64_t WindowedLayers() const;

  int64_t head_dim() const { return head_dim_override > 0 ? head_dim_override : hidden / heads; }
  // Width of the attention's query (and output-projection input): heads * head_dim.
  int64_t q_dim() const { return heads * head_dim(); }
  bool is_moe() const { return experts > 1; }
  bool is_mla() const { return kv_lora_rank > 0; }
  // Dims one head scores with (MLA: head_dim + qk_rope_head_dim) and returns (MLA: v_head_dim).
  int64_t qk_head_dim() const { return head_dim() + (is_mla() ? qk_rope_head_dim : 0); }
  int64_t v_dim() const { return is_mla() && v_head_dim > 0 ? v_head_dim : head_dim(); }
  // Width of the attention output (the output projection's input): heads * v_dim.
  int64_t attn_out_dim() const { return heads * v_dim(); }
  // The routed experts' FFN width.
  int64_t expert_ffn() const { return moe_ffn_hidden > 0 ? moe_ffn_hidden : ffn_hidden; }
  // Width of the tokens the routed experts take and return: moe_latent, or hidden.
  int64_t expert_width() const { return moe_latent > 0 ? moe_latent : hidden; }
  // Parameters of an MoE block's latent projections (0 without moe_latent).
  int64_t LatentProjParams() const { return moe_latent > 0 ? 2 * hidden * moe_latent : 0; }
  // Of `depths` MTP depths (the model's, or those one pipeline stage holds), how many have
  // weights of their own: one when the depths share a layer's.
  int64_t MtpWeightDepths(int64_t depths) const {
    return mtp_shared_weights ? std::min<int64_t>(depths, 1) : depths;
  }
  // Whether layer `layer` (from 0) routes through experts (false for dense models and for the
  // leading dense layers of an MoE model).
  bool MoeLayer(int64_t layer) const {
    if (is_hybrid()) return is_moe() && LayerKind(layer) == 'E';
    return is_moe() && layer >= dense_layers;
  }
  int64_t MoeLayers() const {
    if (is_hybrid()) return is_moe() ? static_cast<int64_t>(std::count(layer_pattern.begin(), layer_pattern.end(), 'E')) : 0;
    return is_moe() ? std::max<int64_t>(0, layers - dense_layers) : 0;
  }
  // Parameters of an MoE block's weights: router, routed experts, shared experts and the latent
  // projections (norms not included).
  int64_t MoeBlockParams() const;
  // Parameters of the attention block's projections (and MLA's latent norms).
  int64_t AttentionParams() const;
  // Parameters of one transformer layer (attention + MLP/experts + norms), all experts counted:
  // of an MoE layer (of the only kind of layer for dense models).
  int64_t LayerParams() const;
  // Of which belong to the routed experts (0 for dense models).
  int64_t LayerExpertParams() const;
  // The same for layer `layer` (a leading dense layer of an MoE model has no experts).
  int64_t LayerParamsAt(int64_t layer) const;
  int64_t LayerExpertParamsAt(int64_t layer) const { return MoeLayer(layer) ? LayerExpertParams() : 0; }
  // The weight matrices of layer `layer` (from 0; layers() and above: an MTP depth's), as
  // their parameters store them: rows x cols, and how many of that shape (the experts).
  struct Matrix {
    int64_t rows, cols, count;
  };
  std::vector<Matrix> LayerMatrices(int64_t layer) const;
  // Parameters of one MTP depth: its transformer layer, the 2h x h projection and three norms.
  int64_t MtpLayerParams() const;
  // Embedding (and untied output) parameters.
  int64_t EmbeddingParams() const;
  int64_t TotalParams() const;
  // Model FLOPs of one training iteration (forward + backward, no recompute) for
  // `tokens` tokens of sequence length `seq_len`, Megatron-LM's accounting
  // (Narayanan et al. SC'21, eq. 3 generalised to GQA, gated MLP and MoE):
  // 6 * (matmul params touched per token) * tokens + 12 * layers * hidden * seq * tokens (attention, no causal discount;
  // a sliding-window layer counts the window instead of the sequence).
  double TrainingFlops(int64_t tokens, int64_t seq_len) const;

  Status Validate() const;
};

const char* MlpKindName(MlpKind k);
const char* NormKindName(NormKind k);
const char* PositionKindName(PositionKind k);

// Parses a preset YAML document (the format of models/presets/*.yaml).
StatusOr<ModelSpec> ParseModelYaml(const std::string& text, const std::string& source);
// Names of all built-in presets, sorted.
std::vector<std::string> ModelPresetNames();
// A built-in preset; NotFound lists the valid names.
StatusOr<ModelSpec> FindModelPreset(const std::string& name);

}  // namespace echosim

#endif  // ECHOSIM_MODELS_MODEL_SPEC_H_
