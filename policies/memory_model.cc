#include "policies/memory_model.h"

namespace echosim {

double StageParams(const ModelSpec& m, const ParallelPlan& p, int64_t stage) {
  const double layers = static_cast<double>(p.StageLayers(m, stage));
  const double dense_layer = static_cast<double>(m.LayerParams() - m.LayerExpertParams());
  const double expert_layer = static_cast<double>(m.LayerExpertParams());
  double params = layers * (dense_layer / p.tp + expert_layer / (p.ExpertTp() * p.ep));
  const double embed = static_cast<double>(m.vocab * m.hidden) / p.tp;
  const bool first = stage == 0, last = stage == p.pp - 1;
  if (first) params += embed;
  // The output layer: its own matrix when untied; with tied embeddings the last stage
  // keeps a copy (unless it is also the first stage).
  if (last && (!m.tied_embeddings || !first)) params += embed;
  return params;
}

double StageExpertParams(const ModelSpec& m, const ParallelPlan& p, int64_t stage) {
  return static_cast<double>(p.StageLayers(m, stage)) * static_cast<double>(m.LayerExpertParams()) /
         static_cast<double>(p.ExpertTp() * p.ep);
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
      const double dense_layer = static_cast<double>(m.LayerParams() - m.LayerExpertParams());
      const double expert_layer = static_cast<double>(m.LayerExpertParams());
      sm.weight_bytes += 2.0 * (dense_layer / p.tp + expert_layer / (p.ExpertTp() * p.ep)) * wbytes;
    }
    // The gradient buffer: fp32 with grad_reduce_in_fp32, else the 16-bit training dtype.
    sm.gradient_bytes = sharded(p.grad_reduce_in_fp32 ? 4.0 : 2.0, 2);
    sm.optimizer_bytes = sharded(12.0, 1);
    // in_flight counts chunk-micro-batches; a chunk of this stage holds StageLayers / vpp
    // layers on average (fewer on the chunks that carry the embedding or the loss).
    const double layers_per_chunk = static_cast<double>(p.StageLayers(m, s)) / static_cast<double>(p.vpp);
    // Offloaded layers (pp 1: one chunk, one micro-batch in flight) leave but the one in transit.
    const double offloaded =
        p.cpu_offload_layers > 0 ? static_cast<double>(p.cpu_offload_layers) - 1.0 : 0.0;
    sm.activation_bytes =
        layer_act * (layers_per_chunk * static_cast<double>(in_flight[s]) - offloaded);
    if (s == p.pp - 1) {
      // fp32 logits and their gradient for one micro-batch.
      const double tokens = static_cast<double>(layer.micro_batch * layer.seq_len) / p.cp;
      sm.activation_bytes += tokens * static_cast<double>(m.vocab) / p.tp * 4.0 * 2.0;
    }
    sm.reserved_bytes = reserved_bytes;
    out.push_back(sm);
  }
  return out;
}

}  // namespace echosim
