#include "models/model_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <utility>

#include "simulator/core/embedded_data.h"
#include "simulator/core/strings.h"
#include "simulator/core/yaml_load.h"

namespace echosim {

const char* MlpKindName(MlpKind k) { return k == MlpKind::kGelu ? "gelu" : "swiglu"; }
const char* NormKindName(NormKind k) { return k == NormKind::kLayerNorm ? "layernorm" : "rmsnorm"; }
const char* PositionKindName(PositionKind k) {
  return k == PositionKind::kLearned ? "learned" : k == PositionKind::kRope ? "rope" : "none";
}

int64_t ModelSpec::LayerExpertParams() const {
  const int64_t mats = mlp == MlpKind::kSwiglu ? 3 : 2;
  return is_moe() ? experts * mats * expert_width() * expert_ffn() : 0;
}

int64_t ModelSpec::AttentionParams() const {
  if (!is_mla()) {
    const int64_t kv_dim = kv_heads * head_dim();
    return hidden * (q_dim() + 2 * kv_dim) + q_dim() * hidden;
  }
  // Query: down to q_lora_rank, RMSNorm, up to every head's qk dims (or one full-rank
  // projection); keys and values: down to the latent plus the shared rotary key dims, RMSNorm
  // of the latent, up to every head's key (no-rope part) and value; output projection.
  const int64_t q = q_lora_rank > 0 ? hidden * q_lora_rank + q_lora_rank + q_lora_rank * heads * qk_head_dim()
                                    : hidden * heads * qk_head_dim();
  const int64_t kv = hidden * (kv_lora_rank + qk_rope_head_dim) + kv_lora_rank +
                     kv_lora_rank * heads * (head_dim() + v_dim());
  return q + kv + attn_out_dim() * hidden;
}

int64_t ModelSpec::MoeBlockParams() const {
  const int64_t mats = mlp == MlpKind::kSwiglu ? 3 : 2;
  return LayerExpertParams() + hidden * experts  // + router
         + mats * hidden * shared_expert_ffn + LatentProjParams();
}

int64_t ModelSpec::LayerParams() const {
  const int64_t mats = mlp == MlpKind::kSwiglu ? 3 : 2;
  const int64_t mlp_params = is_moe() ? MoeBlockParams() : mats * hidden * ffn_hidden;
  const int64_t norms = 2 * hidden + (qk_norm ? 2 * head_dim() : 0);
  return AttentionParams() + mlp_params + norms;
}

int64_t ModelSpec::MambaParams() const {
  const int64_t conv = mamba_conv_channels();
  return hidden * mamba_in_proj() + conv * mamba_conv_kernel + conv + 3 * mamba_heads +
         mamba_inner() + mamba_inner() * hidden;
}

double ModelSpec::MambaScanFlopsPerToken() const {
  const double q = static_cast<double>(mamba_chunk), n = static_cast<double>(mamba_state),
               p = static_cast<double>(mamba_head_dim), h = static_cast<double>(mamba_heads),
               g = static_cast<double>(mamba_groups);
  return 2.0 * (q * n * g + q * p * h + 2.0 * n * p * h);
}

int64_t ModelSpec::LayerParamsAt(int64_t layer) const {
  if (is_hybrid()) {
    const int64_t mats = mlp == MlpKind::kSwiglu ? 3 : 2;
    switch (LayerKind(layer)) {
      case 'M':
        return MambaParams() + hidden;
      case '*':
        return AttentionParams() + hidden + (qk_norm ? 2 * head_dim() : 0);
      case 'E':
        return MoeBlockParams() + hidden;
      default:  // '-'
        return mats * hidden * ffn_hidden + hidden;
    }
  }
  if (MoeLayer(layer) || !is_moe()) return LayerParams();
  const int64_t mats = mlp == MlpKind::kSwiglu ? 3 : 2;
  const int64_t norms = 2 * hidden + (qk_norm ? 2 * head_dim() : 0);
  return AttentionParams() + mats * hidden * ffn_hidden + norms;
}

std::vector<ModelSpec::Matrix> ModelSpec::LayerMatrices(int64_t layer) const {
  std::vector<Matrix> out;
  const char kind = layer >= layers ? 'T' : LayerKind(layer);
  if (kind == 'M') {
    out.push_back({hidden, mamba_in_proj(), 1});
    out.push_back({mamba_inner(), hidden, 1});
    return out;
  }
  if (KindHasAttention(kind)) {
    if (is_mla()) {
      if (q_lora_rank > 0) {
        out.push_back({hidden, q_lora_rank, 1});
        out.push_back({q_lora_rank, heads * qk_head_dim(), 1});
      } else {
        out.push_back({hidden, heads * qk_head_dim(), 1});
      }
      out.push_back({hidden, kv_lora_rank + qk_rope_head_dim, 1});
      out.push_back({kv_lora_rank, heads * (head_dim() + v_dim()), 1});
    } else {
      out.push_back({hidden, q_dim() + 2 * kv_heads * head_dim(), 1});
    }
    out.push_back({attn_out_dim(), hidden, 1});
    if (kind == '*') return out;
  }
  const int64_t gate = mlp == MlpKind::kSwiglu ? 2 : 1;  // fc1 holds gate and up together
  const bool moe = layer >= layers ? is_moe() : MoeLayer(layer);
  if (!moe) {
    out.push_back({hidden, gate * ffn_hidden, 1});
    out.push_back({ffn_hidden, hidden, 1});
    return out;
  }
  out.push_back({hidden, experts, 1});  // router
  if (moe_latent > 0) {
    out.push_back({hidden, moe_latent, 1});  // fc1_latent_proj
    out.push_back({moe_latent, hidden, 1});  // fc2_latent_proj
  }
  out.push_back({expert_width(), gate * expert_ffn(), experts});
  out.push_back({expert_ffn(), expert_width(), experts});
  if (shared_expert_ffn > 0) {
    out.push_back({hidden, gate * shared_expert_ffn, 1});
    out.push_back({shared_expert_ffn, hidden, 1});
  }
  if (layer >= layers) out.push_back({2 * hidden, hidden, 1});  // MTP projection
  return out;
}

int64_t ModelSpec::MtpLayerParams() const { return LayerParams() + 2 * hidden * hidden + 3 * hidden; }

int64_t ModelSpec::EmbeddingParams() const {
  int64_t p = vocab * hidden * (tied_embeddings ? 1 : 2);
  if (position == PositionKind::kLearned) p += max_seq_len_tokens * hidden;
  return p;
}

int64_t ModelSpec::TotalParams() const {
  // Every layer as it is (dense, MoE, or a hybrid model's block), the MTP depths, the
  // embeddings and the final norm.
  int64_t p = MtpWeightDepths(mtp_layers) * MtpLayerParams() + EmbeddingParams() + hidden;
  for (int64_t l = 0; l < layers; ++l) p += LayerParamsAt(l);
  return p;
}

int64_t ModelSpec::WindowedLayers() const {
  int64_t n = 0;
  for (int64_t l = 0; l < layers; ++l) n += WindowedLayer(l) && KindHasAttention(LayerKind(l)) ? 1 : 0;
  return n;
}

double ModelSpec::TrainingFlops(int64_t tokens, int64_t seq_len) const {
  const double h = static_cast<double>(hidden);
  const double mats = mlp == MlpKind::kSwiglu ? 3.0 : 2.0;
  // Matmul parameters one token passes through in one layer: the attention projections (less
  // MLA's two latent norms) and the MLP, or the top_k routed experts and the shared experts.
  const double attn_mm = static_cast<double>(AttentionParams()) -
                         (is_mla() ? static_cast<double>(q_lora_rank + kv_lora_rank) : 0.0);
  const double dense_mm = attn_mm + mats * h * static_cast<double>(ffn_hidden);
  const double moe_mm = attn_mm + mats * h * static_cast<double>(shared_expert_ffn) +
                        mats * static_cast<double>(expert_width()) * static_cast<double>(top_k) *
                            static_cast<double>(expert_ffn()) +
                        static_cast<double>(LatentProjParams());
  const double moe_layers = static_cast<double>(MoeLayers());
  const double dense_layers_n = static_cast<double>(layers) - moe_layers;
  // Attention scores and weighted sum: 2 * seq * heads * (qk dims + v dims) FLOPs per token
  // (forward; 4 * seq * heads * head_dim without MLA).
  const double per_key = 2.0 * static_cast<double>(heads) * static_cast<double>(qk_head_dim() + v_dim());
  const double layer_attn_fwd = static_cast<double>(seq_len) * per_key;
  const double windowed = static_cast<double>(WindowedLayers());
  const double window_attn_fwd =
      static_cast<double>(std::min(sliding_window > 0 ? sliding_window : seq_len, seq_len)) * per_key;
  // Each MTP depth: one more layer of the MoE kind (of the dense kind for dense models), its
  // 2h -> h projection and its own output layer.
  const double mtp = static_cast<double>(mtp_layers);
  const double mtp_mm = (is_moe() ? moe_mm : dense_mm) + 2.0 * h * h + h * vocab;
  if (is_hybrid()) {
    // Layer by layer: each block's matmuls (and attention scores, and the Mamba scan).
    const double mlp_dense = dense_mm - attn_mm, mlp_moe = moe_mm - attn_mm;
    double fwd = 2.0 * h * vocab + mtp * (2.0 * mtp_mm + layer_attn_fwd);
    for (int64_t l = 0; l < layers; ++l) {
      switch (LayerKind(l)) {
        case 'M':
          fwd += 2.0 * static_cast<double>(hidden * mamba_in_proj() + mamba_inner() * hidden) +
                 MambaScanFlopsPerToken();
          break;
        case '*':
          fwd += 2.0 * attn_mm + (WindowedLayer(l) ? window_attn_fwd : layer_attn_fwd);
          break;
        case 'E':
          fwd += 2.0 * mlp_moe;
          break;
        default:
          fwd += 2.0 * mlp_dense;
      }
    }
    return 3.0 * fwd * static_cast<double>(tokens);
  }
  const double fwd_per_token = 2.0 * (dense_layers_n * dense_mm + moe_layers * moe_mm) +
                               (layers - windowed) * layer_attn_fwd + windowed * window_attn_fwd +
                               2.0 * h * vocab + mtp * (2.0 * mtp_mm + layer_attn_fwd);
  return 3.0 * fwd_per_token * static_cast<double>(tokens);
}

Status ModelSpec::Validate() const {
  auto positive = [&](const char* field, int64_t v) -> Status {
    if (v <= 0) {
      return InvalidArgument(StrCat("model '", name, "': ", field, " must be positive, got ", v));
    }
    return Status::Ok();
  };
  ECHOSIM_RETURN_IF_ERROR(positive("layers", layers));
  ECHOSIM_RETURN_IF_ERROR(positive("hidden", hidden));
  ECHOSIM_RETURN_IF_ERROR(positive("heads", heads));
  ECHOSIM_RETURN_IF_ERROR(positive("kv_heads", kv_heads));
  ECHOSIM_RETURN_IF_ERROR(positive("ffn_hidden", ffn_hidden));
  ECHOSIM_RETURN_IF_ERROR(positive("vocab", vocab));
  ECHOSIM_RETURN_IF_ERROR(positive("experts", experts));
  ECHOSIM_RETURN_IF_ERROR(positive("top_k", top_k));
  ECHOSIM_RETURN_IF_ERROR(positive("max_seq_len_tokens", max_seq_len_tokens));
  // Far beyond any model, and small enough that shapes, FLOP counts and simulated times
  // cannot overflow.
  auto at_most = [&](const char* field, int64_t v, int64_t limit) -> Status {
    if (v > limit) {
      return InvalidArgument(StrCat("model '", name, "': ", field, " must be at most ", limit, ", got ", v));
    }
    return Status::Ok();
  };
  ECHOSIM_RETURN_IF_ERROR(at_most("layers", layers, int64_t{1} << 14));
  ECHOSIM_RETURN_IF_ERROR(at_most("hidden", hidden, int64_t{1} << 20));
  ECHOSIM_RETURN_IF_ERROR(at_most("heads", heads, int64_t{1} << 14));
  ECHOSIM_RETURN_IF_ERROR(at_most("ffn_hidden", ffn_hidden, int64_t{1} << 22));
  ECHOSIM_RETURN_IF_ERROR(at_most("vocab", vocab, int64_t{1} << 24));
  ECHOSIM_RETURN_IF_ERROR(at_most("experts", experts, int64_t{1} << 16));
  ECHOSIM_RETURN_IF_ERROR(at_most("head_dim", head_dim_override, int64_t{1} << 14));
  ECHOSIM_RETURN_IF_ERROR(at_most("max_seq_len_tokens", max_seq_len_tokens, int64_t{1} << 24));
  ECHOSIM_RETURN_IF_ERROR(at_most("sliding_window", sliding_window, int64_t{1} << 24));
  ECHOSIM_RETURN_IF_ERROR(at_most("full_attention_every", full_attention_every, int64_t{1} << 14));
  if (sliding_window < 0 || full_attention_every < 0) {
    return InvalidArgument(StrCat("model '", name, "': sliding_window and full_attention_every must "
                                  "be 0 (off) or positive, got ", sliding_window, " and ",
                                  full_attention_every));
  }
  if (head_dim_override < 0) {
    return InvalidArgument(StrCat("model '", name, "': head_dim must be positive (or 0 for hidden / heads), got ",
                                  head_dim_override));
  }
  if (head_dim_override == 0 && hidden % heads != 0) {
    return InvalidArgument(StrCat("model '", name, "': hidden (", hidden,
                                  ") must be divisible by heads (", heads,
                                  ") unless head_dim is given"));
  }
  for (const auto& [field, v] : {std::pair<const char*, int64_t>{"moe_ffn_hidden", moe_ffn_hidden},
                                 {"dense_layers", dense_layers},
                                 {"shared_expert_ffn", shared_expert_ffn},
                                 {"moe_latent", moe_latent},
                                 {"router_groups", router_groups},
                                 {"router_group_topk", router_group_topk},
                                 {"q_lora_rank", q_lora_rank},
                                 {"kv_lora_rank", kv_lora_rank},
                                 {"qk_rope_head_dim", qk_rope_head_dim},
                                 {"v_head_dim", v_head_dim},
                                 {"mtp_layers", mtp_layers}}) {
    if (v < 0) {
      return InvalidArgument(StrCat("model '", name, "': ", field, " must be 0 (off) or positive, got ", v));
    }
    ECHOSIM_RETURN_IF_ERROR(at_most(field, v, int64_t{1} << 22));
  }
  ECHOSIM_RETURN_IF_ERROR(at_most("mtp_layers", mtp_layers, 64));
  if (!(glu_clamp >= 0) || glu_clamp > 1e6) {
    return InvalidArgument(StrCat("model '", name, "': glu_clamp must be 0 (off) or a positive bound up to 1e6, got ",
                                  glu_clamp));
  }
  if (!(rope_mscale > 0) || rope_mscale > 100) {
    return InvalidArgument(StrCat("model '", name,
                                  "': rope_mscale must be a positive factor up to 100 (1 = plain RoPE), got ",
                                  rope_mscale));
  }
  if (rope_mscale != 1.0 && (position != PositionKind::kRope || is_mla())) {
    return InvalidArgument(StrCat("model '", name, "': rope_mscale (", rope_mscale,
                                  ") scales RoPE's cos and sin: it needs position rope and standard "
                                  "(not multi-head latent) attention; rope_mscale 1 turns it off"));
  }
  if (moe_latent > 0 && (!is_moe() || moe_latent >= hidden)) {
    return InvalidArgument(StrCat("model '", name, "': moe_latent (", moe_latent,
                                  ") needs experts > 1 and must be narrower than hidden (", hidden,
                                  "); moe_latent 0 turns latent experts off"));
  }
  if (mtp_shared_weights && mtp_layers <= 0) {
    return InvalidArgument(StrCat("model '", name, "': mtp_shared_weights needs mtp_layers > 0, got mtp_layers = ",
                                  mtp_layers, "; mtp_shared_weights false turns it off"));
  }
  if (expert_bias && !is_moe()) {
    return InvalidArgument(StrCat("model '", name, "': expert_bias needs experts > 1, got experts = ", experts,
                                  "; expert_bias false turns it off"));
  }
  if (glu_clamp > 0 && (!is_moe() || mlp != MlpKind::kSwiglu)) {
    return InvalidArgument(StrCat("model '", name, "': glu_clamp clamps the experts' gated (swiglu) activation: it "
                                  "needs experts > 1 and mlp swiglu; glu_clamp 0 turns it off"));
  }
  if (!is_moe() && (moe_ffn_hidden > 0 || dense_layers > 0 || shared_expert_ffn > 0)) {
    return InvalidArgument(StrCat("model '", name, "': moe_ffn_hidden, dense_layers and shared_expert_ffn "
                                  "need experts > 1, got experts = ", experts));
  }
  if (router_groups > 1) {  // 0 or 1: routing not group-limited (router_group_topk unused)
    if (!is_moe()) {
      return InvalidArgument(StrCat("model '", name, "': router_groups (", router_groups,
                                    ") needs experts > 1, got experts = ", experts,
                                    "; router_groups 0 turns group-limited routing off"));
    }
    if (experts % router_groups != 0) {
      return InvalidArgument(StrCat("model '", name, "': router_groups (", router_groups, ") must divide experts (",
                                    experts, "); router_groups 0 turns group-limited routing off"));
    }
    if (router_group_topk < 1 || router_group_topk > router_groups ||
        router_group_topk * (experts / router_groups) < top_k) {
      return InvalidArgument(StrCat("model '", name, "': router_group_topk (", router_group_topk,
                                    ") must be 1..router_groups (", router_groups,
                                    ") and its groups must hold at least top_k (", top_k, ") experts (",
                                    experts / router_groups, " per group); router_groups 0 turns "
                                    "group-limited routing off"));
    }
  }
  if (dense_layers >= layers && is_moe()) {
    return InvalidArgument(StrCat("model '", name, "': dense_layers (", dense_layers,
                                  ") must be fewer than layers (", layers, ")"));
  }
  if (!is_mla() && (q_lora_rank > 0 || qk_rope_head_dim > 0 || v_head_dim > 0)) {
    return InvalidArgument(StrCat("model '", name, "': q_lora_rank, qk_rope_head_dim and v_head_dim "
                                  "describe multi-head latent attention and need kv_lora_rank > 0"));
  }
  if (is_mla() && kv_heads != heads) {
    return InvalidArgument(StrCat("model '", name, "': multi-head latent attention (kv_lora_rank > 0) "
                                  "gives every head its own key and value: kv_heads (", kv_heads,
                                  ") must equal heads (", heads, ")"));
  }
  if (is_mla() && sliding_window > 0) {
    return InvalidArgument(StrCat("model '", name, "': sliding_window is not supported with multi-head "
                                  "latent attention (kv_lora_rank > 0)"));
  }
  if (heads % kv_heads != 0) {
    return InvalidArgument(StrCat("model '", name, "': heads (", heads,
                                  ") must be divisible by kv_heads (", kv_heads, ")"));
  }
  if (!layer_pattern.empty()) {
    if (static_cast<int64_t>(layer_pattern.size()) != layers) {
      return InvalidArgument(StrCat("model '", name, "': layer_pattern has ", layer_pattern.size(),
                                    " characters; it needs one per layer (layers = ", layers, ")"));
    }
    for (size_t i = 0; i < layer_pattern.size(); ++i) {
      const char k = layer_pattern[i];
      if (k != 'M' && k != '*' && k != 'E' && k != '-') {
        return InvalidArgument(StrCat("model '", name, "': layer_pattern character ", i + 1, " is '",
                                      std::string(1, k), "'; valid: M (Mamba-2), * (attention), ",
                                      "E (experts), - (dense MLP)"));
      }
      if (k == 'E' && !is_moe()) {
        return InvalidArgument(StrCat("model '", name, "': layer_pattern has an 'E' (experts) layer at ",
                                      i + 1, " but experts = ", experts));
      }
    }
    if (dense_layers > 0) {
      return InvalidArgument(StrCat("model '", name, "': dense_layers does not apply with a layer_pattern "
                                    "(its '-' layers are the dense ones)"));
    }
    if (layer_pattern.find('M') != std::string::npos) {
      for (const auto& [field, v] : {std::pair<const char*, int64_t>{"mamba_heads", mamba_heads},
                                     {"mamba_head_dim", mamba_head_dim},
                                     {"mamba_state", mamba_state},
                                     {"mamba_groups", mamba_groups},
                                     {"mamba_conv_kernel", mamba_conv_kernel},
                                     {"mamba_chunk", mamba_chunk}}) {
        ECHOSIM_RETURN_IF_ERROR(positive(field, v));
        ECHOSIM_RETURN_IF_ERROR(at_most(field, v, int64_t{1} << 16));
      }
      if (mamba_heads % mamba_groups != 0) {
        return InvalidArgument(StrCat("model '", name, "': mamba_heads (", mamba_heads,
                                      ") must be divisible by mamba_groups (", mamba_groups, ")"));
      }
    }
  }
  if (top_k > experts) {
    return InvalidArgument(StrCat("model '", name, "': top_k (", top_k,
                                  ") must not exceed experts (", experts, ")"));
  }
  return Status::Ok();
}

namespace {

template <typename T>
Status ReadScalar(const YAML::Node& doc, const char* key, const std::string& source, T* out) {
  const YAML::Node n = doc[key];
  if (!n) return Status::Ok();
  try {
    *out = n.as<T>();
  } catch (const YAML::Exception& e) {
    return InvalidArgument(StrCat(source, ":", n.Mark().line + 1, ": field '", key,
                                  "': cannot read value '", n.Scalar(), "'"));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ModelSpec> ParseModelYaml(const std::string& text, const std::string& source) {
  ECHOSIM_ASSIGN_OR_RETURN(const YAML::Node doc,
                           LoadYamlMap(text, source, "a model file must be a YAML map"));
  static const char* kKnown[] = {"name", "description", "layers", "hidden", "heads", "kv_heads",
                                 "ffn_hidden", "vocab", "experts", "top_k", "mlp", "norm",
                                 "position", "max_seq_len_tokens", "tied_embeddings", "head_dim",
                                 "sliding_window", "full_attention_every", "dropout", "qk_norm",
                                 "moe_ffn_hidden", "dense_layers", "shared_expert_ffn",
                                 "router_groups", "router_group_topk", "glu_clamp", "rope_mscale", "expert_bias", "moe_latent", "mtp_shared_weights", "q_lora_rank", "kv_lora_rank", "qk_rope_head_dim", "v_head_dim",
                                 "mtp_layers", "layer_pattern", "mamba_heads", "mamba_head_dim",
                                 "mamba_state", "mamba_groups", "mamba_conv_kernel", "mamba_chunk"};
  for (const auto& kv : doc) {
    if (!kv.first.IsScalar()) {
      return InvalidArgument(StrCat(source, ":", kv.first.Mark().line + 1,
                                    ": a field name must be a plain word; valid fields: ",
                                    Join(std::begin(kKnown), std::end(kKnown), ", ")));
    }
    const std::string key = kv.first.as<std::string>();
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      return InvalidArgument(StrCat(source, ":", kv.first.Mark().line + 1, ": unknown field '", key,
                                    "'; valid fields: ", Join(std::begin(kKnown), std::end(kKnown), ", ")));
    }
  }
  ModelSpec m;
  std::string mlp = "gelu", norm = "layernorm", position = "learned";
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "name", source, &m.name));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "description", source, &m.description));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "layers", source, &m.layers));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "hidden", source, &m.hidden));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "heads", source, &m.heads));
  m.kv_heads = m.heads;
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "kv_heads", source, &m.kv_heads));
  m.ffn_hidden = 4 * m.hidden;
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "ffn_hidden", source, &m.ffn_hidden));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "vocab", source, &m.vocab));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "experts", source, &m.experts));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "top_k", source, &m.top_k));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "mlp", source, &mlp));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "norm", source, &norm));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "position", source, &position));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "max_seq_len_tokens", source, &m.max_seq_len_tokens));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "tied_embeddings", source, &m.tied_embeddings));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "dropout", source, &m.dropout));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "qk_norm", source, &m.qk_norm));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "head_dim", source, &m.head_dim_override));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "sliding_window", source, &m.sliding_window));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "full_attention_every", source, &m.full_attention_every));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "moe_ffn_hidden", source, &m.moe_ffn_hidden));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "dense_layers", source, &m.dense_layers));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "shared_expert_ffn", source, &m.shared_expert_ffn));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "router_groups", source, &m.router_groups));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "router_group_topk", source, &m.router_group_topk));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "glu_clamp", source, &m.glu_clamp));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "rope_mscale", source, &m.rope_mscale));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "expert_bias", source, &m.expert_bias));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "moe_latent", source, &m.moe_latent));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "mtp_shared_weights", source, &m.mtp_shared_weights));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "q_lora_rank", source, &m.q_lora_rank));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "kv_lora_rank", source, &m.kv_lora_rank));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "qk_rope_head_dim", source, &m.qk_rope_head_dim));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "v_head_dim", source, &m.v_head_dim));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "mtp_layers", source, &m.mtp_layers));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "layer_pattern", source, &m.layer_pattern));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "mamba_heads", source, &m.mamba_heads));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "mamba_head_dim", source, &m.mamba_head_dim));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "mamba_state", source, &m.mamba_state));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "mamba_groups", source, &m.mamba_groups));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "mamba_conv_kernel", source, &m.mamba_conv_kernel));
  ECHOSIM_RETURN_IF_ERROR(ReadScalar(doc, "mamba_chunk", source, &m.mamba_chunk));
  ECHOSIM_ASSIGN_OR_RETURN(m.mlp, ParseChoice<MlpKind>("mlp", mlp, {{"gelu", MlpKind::kGelu},
                                                                    {"swiglu", MlpKind::kSwiglu}}));
  ECHOSIM_ASSIGN_OR_RETURN(m.norm, ParseChoice<NormKind>("norm", norm,
                                                         {{"layernorm", NormKind::kLayerNorm},
                                                          {"rmsnorm", NormKind::kRmsNorm}}));
  ECHOSIM_ASSIGN_OR_RETURN(m.position, ParseChoice<PositionKind>(
                                           "position", position,
                                           {{"learned", PositionKind::kLearned},
                                            {"rope", PositionKind::kRope},
                                            {"none", PositionKind::kNone}}));
  ECHOSIM_RETURN_IF_ERROR(m.Validate().WithContext(source));
  return m;
}

std::vector<std::string> ModelPresetNames() {
  std::vector<std::string> names;
  for (const EmbeddedFile& f : EmbeddedFilesUnder("models/presets/")) {
    std::string base(f.path.substr(std::string_view("models/presets/").size()));
    names.push_back(base.substr(0, base.size() - 5));  // strip ".yaml"
  }
  std::sort(names.begin(), names.end());
  return names;
}

StatusOr<ModelSpec> FindModelPreset(const std::string& name) {
  const std::string path = "models/presets/" + name + ".yaml";
  for (const EmbeddedFile& f : EmbeddedFilesUnder("models/presets/")) {
    if (f.path == path) return ParseModelYaml(std::string(f.contents), path);
  }
  return NotFound(StrCat("unknown model '", name, "'; valid models: custom, ",
                         Join(ModelPresetNames(), ", ")));
}

}  // namespace echosim
