// Per-layer operator sequences of a transformer under tensor, sequence, context
// and expert parallelism: what one rank executes for one micro-batch.
//
// FLOPs follow the standard accounting (a GEMM of m x k by k x n is 2mnk FLOPs;
// causal attention forward is 4 * b * s_q * s_kv * heads * head_dim / 2; its
// backward is 2.5x the forward, the FlashAttention-2 ratio of 5 to 2 matmuls).
// Bytes of memory-bound ops count every HBM read and write of the fused kernel
// as Megatron-LM / Transformer Engine implement them; activation-memory terms
// follow Korthikanti et al. 2022 (arXiv:2205.05198), Section 4.
#ifndef ECHOSIM_MODELS_LAYER_OPS_H_
#define ECHOSIM_MODELS_LAYER_OPS_H_

#include <cstdint>
#include <variant>
#include <vector>

#include "models/model_spec.h"
#include "models/ops.h"

namespace echosim {

enum class AttentionImpl { kFlash, kUnfused };
enum class RecomputeMode { kNone, kSelective, kFull };

// What selective recomputation re-runs (Megatron-Core --recompute-modules, with
// --recompute-granularity selective): a bit set. Each recomputed module's forward runs again
// at the start of the layer's backward and the activations it would have kept are not stored.
enum RecomputeModule : uint32_t {
  kRecomputeCoreAttn = 1u << 0,   // core attention (Korthikanti et al.'s selective recompute)
  kRecomputeLayernorm = 1u << 1,  // the two norms: their outputs, the GEMM inputs, not stored
  kRecomputeMoeAct = 1u << 2,     // the experts' activation function (MoE models)
  kRecomputeMlp = 1u << 3,        // the whole dense MLP block, TP communication included
  kRecomputeMoe = 1u << 4,        // the whole MoE block: router, dispatch, experts, combine
  kRecomputeMlaUpProj = 1u << 5,  // MLA's query and key/value up-projections (and the rotary
                                  // embedding): q, k and v are not stored but re-made from the
                                  // latents for the attention's backward
};
// Megatron-Core's default module list for selective recompute.
inline constexpr uint32_t kDefaultRecomputeModules = kRecomputeCoreAttn;
// Names as Megatron-Core spells them ("core_attn", "layernorm", "moe_act", "mlp", "moe",
// "mla_up_proj").
struct RecomputeModuleName {
  const char* name;
  RecomputeModule module;
};
const std::vector<RecomputeModuleName>& RecomputeModuleNames();

// How fp8 training scales its tensors (workload.training.fp8_recipe; Transformer Engine's
// DelayedScaling, Float8CurrentScaling and MXFP8BlockScaling recipes).
enum class Fp8Recipe : uint8_t { kDelayed, kCurrent, kMxfp8 };

// The linear layers a LoRA adapter can wrap (workload.training.lora_modules), named as
// Megatron-Core's modules without their "linear_" prefix: the attention's fused QKV and output
// projections and the dense MLP's two layers. Adapters on routed experts and on multi-latent
// attention's projections are not simulated (those base weights are frozen all the same).
enum LoraModule : uint32_t { kLoraQkv = 1u << 0, kLoraProj = 1u << 1, kLoraFc1 = 1u << 2, kLoraFc2 = 1u << 3 };
constexpr uint32_t kAllLoraModules = kLoraQkv | kLoraProj | kLoraFc1 | kLoraFc2;
struct LoraModuleName {
  const char* name;
  LoraModule module;
};
const std::vector<LoraModuleName>& LoraModuleNames();

// What shapes one rank sees: the parallel plan's effect on a layer.
struct LayerContext {
  int64_t micro_batch = 1;  // sequences per micro-batch
  int64_t seq_len = 2048;   // tokens per sequence (before context-parallel split)
  int64_t tp = 1, cp = 1, ep = 1;
  // Expert tensor parallelism: 0 = tp (experts split like the dense MLP); 1 with tp > 1 =
  // MoE parallel folding (needs sequence parallel).
  int64_t etp = 0;
  int64_t ExpertTp() const { return etp > 0 ? etp : tp; }
  bool sequence_parallel = false;
  DType dtype = DType::kBf16;
  AttentionImpl attention = AttentionImpl::kFlash;
  // Flash attention in fp8 (dtype fp8 only); otherwise its matmuls run in 16-bit, also in
  // fp8 training (Transformer Engine's default).
  bool fp8_attention = false;
  // The fp8 recipe (dtype fp8 only): an amax pass before each quantisation under current
  // scaling; block-scaled GEMMs and their scales under MXFP8.
  Fp8Recipe fp8_recipe = Fp8Recipe::kDelayed;
  // The MTP depths (MtpForward / MtpBackward) run in bf16 whatever dtype says (Megatron-Core
  // keep_mtp_spec_in_bf16).
  bool mtp_bf16 = false;
  // Layers kept in bf16 under fp8 / fp4, from the first and from the last layer
  // (workload.training.bf16_layers_at_start / _at_end): LayerContextOf gives them dtype bf16.
  int64_t bf16_layers_at_start = 0;
  int64_t bf16_layers_at_end = 0;
  // Packed sequences (workload.training.packed_sample_tokens): each sequence holds samples of
  // this many tokens that attend only within themselves (Transformer Engine's THD layout);
  // flash attention then scores seq_len / packed_sample_tokens causal samples, not one causal
  // sequence. 0 = one sample per sequence. Needs flash attention and cp 1.
  int64_t packed_sample_tokens = 0;
  // Sliding-window attention for this layer: keys per query (0 = the whole causal prefix).
  // Flash attention only.
  int64_t attention_window = 0;
  // Megatron-Core's flex token dispatcher (DeepEP / HybridEP): a token is sent once per
  // destination NVLink domain across domains and once per destination GPU inside one, not
  // once per routed expert. ep_per_domain: the EP group's GPUs in one NVLink domain (0 = all).
  bool flex_dispatch = false;
  int64_t ep_per_domain = 0;
  // The busiest EP rank's token-expert pairs over the mean (workload.training.moe_load_imbalance):
  // every rank is priced as that rank, whose expert work the all-to-alls wait for. Below 1
  // (the default 0): uniformly random routing's expected busiest rank (RandomRoutingImbalance).
  double moe_load_imbalance = 0;
  // Inside one NVLink domain the flex dispatcher's bytes are priced as NCCL all_to_all bytes
  // times this factor (simulation.flex_dispatch_traffic_factor; 1 by calibration).
  double flex_traffic_factor = 1.0;
  // The expert GEMMs as one grouped kernel (parallelism.moe_grouped_gemm single_kernel)
  // instead of one GEMM per local expert over Transformer Engine's 4 streams.
  bool grouped_gemm_single_kernel = false;
  // The expert MLP as one fused op (parallelism.moe_fused_mlp; Transformer Engine's
  // grouped MLP fusion, transformer_engine/pytorch/ops/fused/grouped_mlp.py: fc1, the
  // activation and fc2 as CuTe DSL grouped GEMMs through cuDNN's front end, for MXFP8 / NVFP4
  // on Blackwell): each grouped GEMM is one kernel over all local experts, the activation
  // (a clamped GLU too, ModelSpec::glu_clamp), the routing-probability scale and the
  // quantisation of fc2's input run in fc1's epilogue, their gradients and the quantisation of
  // fc1's output gradient in fc2's data-gradient epilogue, and expert biases
  // (ModelSpec::expert_bias) in the GEMMs: none costs a pass of its own.
  bool fused_moe_mlp = false;
  // A leading dense layer of an MoE model (ModelSpec::dense_layers): its MLP is the dense one
  // of ffn_hidden, not the experts.
  bool dense_layer = false;
  // The layer's kind (ModelSpec::LayerKind): 'T' a transformer layer (attention, then the MLP
  // or the experts); in hybrid models 'M' a Mamba-2 mixer, '*' attention alone, 'E' the
  // experts alone, '-' a dense MLP alone, each behind its own pre-norm.
  char layer_kind = 'T';
  // Low-rank adaptation (workload.training.lora_rank; Hu et al. 2021, "LoRA: Low-Rank
  // Adaptation of Large Language Models"): with a rank > 0 every base weight is frozen (no
  // weight-gradient GEMMs, no embedding backward) and each linear layer named in
  // lora_modules (LoraModule bits) gains an adapter x -> (x A) B * alpha / rank in bf16.
  int64_t lora_rank = 0;
  uint32_t lora_modules = 0;
  bool FrozenWeights() const { return lora_rank > 0; }
  RecomputeMode recompute = RecomputeMode::kNone;
  // Modules re-run under RecomputeMode::kSelective (RecomputeModule bits).
  uint32_t recompute_modules = kDefaultRecomputeModules;
  bool Recomputes(RecomputeModule mod) const {
    return recompute == RecomputeMode::kSelective && (recompute_modules & mod) != 0;
  }
};

using LayerStep = std::variant<ComputeOp, CommOp>;

// The busiest rank's load over the mean in an EP group of `ep` ranks when every token picks
// `top_k` of `experts` experts uniformly at random and independently (Megatron-Core's
// moe_router_force_load_balancing: random router logits, a seed per EP rank), each rank routing
// `routed_per_rank` token-expert pairs: 1 + z(ep) * sqrt((1 - 1/ep)(E - k)/(E - 1) / routed),
// z(n) the expected maximum of n standard normals. 1 for ep <= 1.
double RandomRoutingImbalance(int64_t experts, int64_t top_k, int64_t ep, double routed_per_rank);
// The busiest EP rank's load over the mean that `ctx` prices in the MoE layers of `model`
// (LayerContext::moe_load_imbalance, or random routing's); 1 without experts or EP.
double MoeLoadImbalance(const ModelSpec& model, const LayerContext& ctx);

// `base` (the plan's shapes) for layer `layer` of `model`: its attention window, whether it is
// a dense layer of an MoE model, its block kind (ModelSpec::LayerKind), and bf16 for an edge
// layer kept in high precision.
LayerContext LayerContextOf(const ModelSpec& model, const LayerContext& base, int64_t layer);
// Whether `layer` is one of the edge layers kept in bf16 under fp8 / fp4
// (LayerContext::bf16_layers_at_start / _at_end).
bool HighPrecisionEdgeLayer(const ModelSpec& model, const LayerContext& base, int64_t layer);

// Forward of one transformer layer (attention block + MLP or MoE block).
std::vector<LayerStep> LayerForward(const ModelSpec& model, const LayerContext& ctx);
// Backward of one layer, including whatever the recompute mode re-runs first.
std::vector<LayerStep> LayerBackward(const ModelSpec& model, const LayerContext& ctx);
// Input embedding (first pipeline stage) forward / backward.
std::vector<LayerStep> EmbeddingForward(const ModelSpec& model, const LayerContext& ctx);
std::vector<LayerStep> EmbeddingBackward(const ModelSpec& model, const LayerContext& ctx);
// Final norm, output projection and cross-entropy loss (last stage), forward / backward.
std::vector<LayerStep> HeadForward(const ModelSpec& model, const LayerContext& ctx);
std::vector<LayerStep> HeadBackward(const ModelSpec& model, const LayerContext& ctx);

// One multi-token-prediction depth (ModelSpec::mtp_layers), forward / backward: the embedding
// lookup of the tokens one further ahead, the two norms and the 2h -> h projection, one
// transformer layer of the model's MoE kind, and its own output layer and loss. Op names carry
// the prefix "mtp.".
std::vector<LayerStep> MtpForward(const ModelSpec& model, const LayerContext& ctx);
std::vector<LayerStep> MtpBackward(const ModelSpec& model, const LayerContext& ctx);

// Parameters of the LoRA adapters of layer `ctx` (LayerContextOf) on one rank: rank x (in +
// out) of each wrapped linear layer, in and out as the rank's share of the base layer sees
// them. 0 without LoRA.
double LoraLayerParams(const ModelSpec& model, const LayerContext& ctx);

// Activation bytes one layer keeps for backward per micro-batch on one rank
// (Korthikanti et al. eq. 2-5, adapted: flash attention never stores the s^2 terms).
double LayerActivationBytes(const ModelSpec& model, const LayerContext& ctx);

}  // namespace echosim

#endif  // ECHOSIM_MODELS_LAYER_OPS_H_
