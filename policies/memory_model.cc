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

std::vector<StageMemory> EstimateMemory(const ModelSpec& m, const ParallelPlan& p,
                                        const LayerContext& layer,
                                        const std::vector<int64_t>& in_flight,
                                        double reserved_bytes) {
  std::vector<StageMemory> out;
  const double dp = static_cast<double>(p.GroupSize(GroupKind::kDp));  // ZeRO shards over dp*cp
  const double layer_act = LayerActivationBytes(m, layer);
  for (int64_t s = 0; s < p.pp; ++s) {
    StageMemory sm;
    sm.stage = s;
    sm.params = StageParams(m, p, s);
    const double wbytes = layer.dtype == DType::kFp8 ? 3.0 : 2.0;
    sm.weight_bytes = sm.params * wbytes / (p.zero >= 3 ? dp : 1.0);
    if (p.zero >= 3) {
      // Two layers gathered at a time (the one running and the one prefetched): of an MoE
      // layer only the rank's experts (1/ep of them), as the simulated all-gather moves.
      const double dense_layer = static_cast<double>(m.LayerParams() - m.LayerExpertParams());
      const double expert_layer = static_cast<double>(m.LayerExpertParams());
      sm.weight_bytes += 2.0 * (dense_layer / p.tp + expert_layer / (p.ExpertTp() * p.ep)) * wbytes;
    }
    sm.gradient_bytes = sm.params * 4.0 / (p.zero >= 2 ? dp : 1.0);
    sm.optimizer_bytes = sm.params * 12.0 / (p.zero >= 1 ? dp : 1.0);
    // in_flight counts chunk-micro-batches; a chunk of this stage holds StageLayers / vpp
    // layers on average (fewer on the chunks that carry the embedding or the loss).
    const double layers_per_chunk = static_cast<double>(p.StageLayers(m, s)) / static_cast<double>(p.vpp);
    sm.activation_bytes = layer_act * layers_per_chunk * static_cast<double>(in_flight[s]);
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
