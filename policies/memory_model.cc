#include "policies/memory_model.h"

#include <algorithm>

namespace echosim {
namespace {

// Parameters of layer `layer` on one rank: dense ones over TP, experts over expert TP * EP.
double LocalLayerParams(const ModelSpec& m, const ParallelPlan& p, int64_t layer) {
  const double expert = static_cast<double>(m.LayerExpertParamsAt(layer));
  const double dense = static_cast<double>(m.LayerParamsAt(layer)) - expert;
  return dense / p.tp + expert / static_cast<double>(p.ExpertTp() * p.ep);
}

}  // namespace

double StageEmbeddingParams(const ModelSpec& m, const ParallelPlan& p, int64_t stage) {
  const double embed = static_cast<double>(m.vocab * m.hidden) / p.tp;
  const bool first = stage == 0, last = stage == p.pp - 1;
  double params = first ? embed : 0.0;
  // The output layer: its own matrix when untied; with tied embeddings the last stage
  // keeps a copy (unless it is also the first stage).
  if (last && (!m.tied_embeddings || !first)) params += embed;
  // MTP depths away from the first stage keep a copy of the input embedding for their lookups.
  if (p.StageMtpLayers(m, stage) > 0 && !first) params += embed;
  return params;
}

double StageParams(const ModelSpec& m, const ParallelPlan& p, int64_t stage) {
  double params = 0;
  p.ForEachStageLayer(m, stage, [&](int64_t l) { params += LocalLayerParams(m, p, l); });
  // MTP depths: their layer, projection and norms (one set when the depths share them).
  if (const int64_t mtp = m.MtpWeightDepths(p.StageMtpLayers(m, stage)); mtp > 0) {
    const double expert = static_cast<double>(m.LayerExpertParams());
    params += static_cast<double>(mtp) * ((static_cast<double>(m.MtpLayerParams()) - expert) / p.tp +
                                          expert / static_cast<double>(p.ExpertTp() * p.ep));
  }
  return params + StageEmbeddingParams(m, p, stage);
}

double StageLoraParams(const ModelSpec& m, const ParallelPlan& p, const LayerContext& layer,
                       int64_t stage) {
  if (!layer.FrozenWeights()) return 0;
  double params = 0;
  p.ForEachStageLayer(m, stage, [&](int64_t l) { params += LoraLayerParams(m, LayerContextOf(m, layer, l)); });
  return params;
}

double StageExpertParams(const ModelSpec& m, const ParallelPlan& p, int64_t stage) {
  double params = 0;
  p.ForEachStageLayer(m, stage, [&](int64_t l) { params += static_cast<double>(m.LayerExpertParamsAt(l)); });
  params += static_cast<double>(m.MtpWeightDepths(p.StageMtpLayers(m, stage))) *
            static_cast<double>(m.LayerExpertParams());
  return params / static_cast<double>(p.ExpertTp() * p.ep);
}

std::vector<StageMemory> EstimateMemory(const ModelSpec& m, const ParallelPlan& p,
                                        const LayerContext& layer,
                                        const std::vector<int64_t>& in_flight,
                                        double reserved_bytes) {
  std::vector<StageMemory> out;
  // ZeRO shards dense state over the DP group (dp*cp) and expert state over the expert-DP
  // group (the ranks holding the same experts).
  const double dp = static_cast<double>(p.GroupSize(GroupKind::kDp));
  const double edp = static_cast<double>(p.GroupSize(GroupKind::kEdp));
  // Activations of an MoE layer (or of every layer of a dense model): what an MTP depth keeps.
  const double layer_act = LayerActivationBytes(m, layer);
  for (int64_t s = 0; s < p.pp; ++s) {
    StageMemory sm;
    sm.stage = s;
    sm.params = StageParams(m, p, s);
    const double expert = StageExpertParams(m, p, s);
    const double dense = sm.params - expert;
    // Bytes per parameter of a state, sharded from ZeRO stage `from` on.
    auto sharded = [&](double bytes, int64_t from) {
      return p.zero >= from ? dense * bytes / dp + expert * bytes / edp : sm.params * bytes;
    };
    // 16-bit weights, plus a low-precision copy for the GEMMs (fp8: 1 byte, NVFP4: half a byte
    // and its block scales).
    // With fp8 primary weights (fp8_param_gather) only the fp8 data and its transpose.
    const double wbytes = layer.dtype == DType::kFp8 ? (p.fp8_param_gather ? 2.0 : 3.0)
                          : layer.dtype == DType::kFp4 ? 2.5625
                                                       : 2.0;
    sm.weight_bytes = sharded(wbytes, 3);
    if (p.zero >= 3) {
      // Two layers gathered at a time (the one running and the one prefetched): of an MoE
      // layer only the rank's experts (1/ep of them), as the simulated all-gather moves.
      double largest = 0;
      p.ForEachStageLayer(m, s, [&](int64_t l) { largest = std::max(largest, LocalLayerParams(m, p, l)); });
      sm.weight_bytes += 2.0 * largest * wbytes;
    }
    // The gradient buffer: fp32 with grad_reduce_in_fp32, else the 16-bit training dtype.
    sm.gradient_bytes = sharded(p.grad_reduce_in_fp32 ? 4.0 : 2.0, 2);
    // Adam: fp32 master weight, m and v (12 bytes). Muon keeps one fp32 momentum (8 bytes)
    // for the layers' matrices; the embeddings and the output layer stay with Adam. bf16
    // moments (optimizer_moments) take 2 bytes each instead of 4.
    const double moment = p.moments_bf16 ? 2.0 : 4.0;
    sm.optimizer_bytes = sharded(4.0 + (p.muon ? 1.0 : 2.0) * moment, 1);
    if (p.muon) {
      sm.optimizer_bytes += StageEmbeddingParams(m, p, s) * moment / (p.zero >= 1 ? dp : 1.0);
    }
    if (layer.FrozenWeights()) {
      // LoRA: the frozen base weights as above; the bf16 adapters are the only weights with a
      // gradient and optimizer state (sharded over DP from ZeRO-1 as any dense state).
      // Activations are counted as in full training: the inputs of the frozen linear layers,
      // which no weight gradient needs, are not taken off (an upper bound).
      const double adapters = StageLoraParams(m, p, layer, s);
      auto adapter_sharded = [&](double bytes, int64_t from) {
        return p.zero >= from ? adapters * bytes / dp : adapters * bytes;
      };
      sm.weight_bytes += adapter_sharded(2.0, 3);
      sm.gradient_bytes = adapter_sharded(p.grad_reduce_in_fp32 ? 4.0 : 2.0, 2);
      sm.optimizer_bytes = adapter_sharded(4.0 + 2.0 * moment, 1);
    }
    // in_flight counts chunk-micro-batches; a chunk of this stage holds StageLayers / vpp
    // layers on average (fewer on the chunks that carry the embedding or the loss).
    double stage_act = 0;  // one micro-batch through every layer of the stage
    int64_t stage_layers = 0;
    p.ForEachStageLayer(m, s, [&](int64_t l) {
      stage_act += LayerActivationBytes(m, LayerContextOf(m, layer, l));
      ++stage_layers;
    });
    const double mtp = static_cast<double>(p.StageMtpLayers(m, s));
    stage_act += mtp * layer_act;  // an MTP depth keeps about one layer's activations
    const double act_per_chunk = stage_act / static_cast<double>(p.vpp);
    // Offloaded layers (pp 1: one chunk, one micro-batch in flight) leave but the one in transit.
    const double offloaded =
        p.cpu_offload_layers > 0 ? static_cast<double>(p.cpu_offload_layers) - 1.0 : 0.0;
    // A hybrid model has no typical transformer layer: an offloaded layer is an average one.
    const double offloaded_act =
        m.is_hybrid() && stage_layers > 0 ? stage_act / static_cast<double>(stage_layers) : layer_act;
    sm.activation_bytes =
        act_per_chunk * static_cast<double>(in_flight[s]) - offloaded_act * offloaded;
    if (s == p.pp - 1) {
      // fp32 logits and their gradient for one micro-batch.
      const double tokens = static_cast<double>(layer.micro_batch * layer.seq_len) / p.cp;
      // and those of each MTP depth's own output layer.
      sm.activation_bytes += (1.0 + mtp) * tokens * static_cast<double>(m.vocab) / p.tp * 4.0 * 2.0;
    }
    sm.reserved_bytes = reserved_bytes;
    out.push_back(sm);
  }
  return out;
}

}  // namespace echosim
