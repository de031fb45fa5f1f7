// ModelSpec: the shape of a transformer language model, and its presets.
//
// Presets live as data in models/presets/<name>.yaml (embedded into the binary).
// A spec is plain data; Validate() checks internal consistency and names the field.
#ifndef ECHOSIM_MODELS_MODEL_SPEC_H_
#define ECHOSIM_MODELS_MODEL_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {

enum class MlpKind { kGelu, kSwiglu };
enum class NormKind { kLayerNorm, kRmsNorm };
enum class PositionKind { kLearned, kRope };

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
  // Dropout after attention and MLP (Megatron-LM GPT: 0.1). Models trained without it (Llama,
  // Qwen3, Mixtral, gpt-oss: attention and hidden dropout 0) keep no dropout masks.
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
  bool WindowedLayer(int64_t layer) const {
    return sliding_window > 0 && (full_attention_every <= 0 || (layer + 1) % full_attention_every != 0);
  }
  int64_t WindowedLayers() const;

  int64_t head_dim() const { return head_dim_override > 0 ? head_dim_override : hidden / heads; }
  // Width of the attention's query (and output-projection input): heads * head_dim.
  int64_t q_dim() const { return heads * head_dim(); }
  bool is_moe() const { return experts > 1; }
  // Parameters of one transformer layer (attention + MLP/experts + norms), all experts counted.
  int64_t LayerParams() const;
  // Of which belong to the experts (0 for dense models).
  int64_t LayerExpertParams() const;
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
