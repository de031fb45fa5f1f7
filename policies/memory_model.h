// MemoryModel: bytes held by one rank of each pipeline stage at its peak.
//
// Mixed-precision training with Megatron-LM's layout (Rajbhandari et al. 2020, ZeRO,
// Sec. 3; Korthikanti et al. 2022 for activations):
//   weights      2 bytes/param (bf16/fp16; fp8 adds a 1-byte copy)
//   gradients    4 bytes/param (fp32 main-grad buffer)            / dp under ZeRO >= 2
//   optimizer    12 bytes/param (fp32 master, Adam m and v)       / dp under ZeRO >= 1
//   ZeRO-3 also shards the weights (/dp) and keeps two layers' full weights as working set.
//   activations  LayerActivationBytes * layers on the stage * micro-batches in flight
//                (schedule-dependent), plus the last stage's fp32 logits.
//   reserved     the GPU preset's memory_reserved_gb (context, NCCL buffers, fragmentation)
#ifndef ECHOSIM_POLICIES_MEMORY_MODEL_H_
#define ECHOSIM_POLICIES_MEMORY_MODEL_H_

#include <vector>

#include "models/layer_ops.h"
#include "models/model_spec.h"
#include "policies/parallel_plan.h"

namespace echosim {

struct StageMemory {
  int64_t stage = 0;
  double params = 0;  // parameters held by one rank of this stage (before ZeRO sharding)
  double weight_bytes = 0;
  double gradient_bytes = 0;
  double optimizer_bytes = 0;
  double activation_bytes = 0;
  double reserved_bytes = 0;
  double total_bytes() const {
    return weight_bytes + gradient_bytes + optimizer_bytes + activation_bytes + reserved_bytes;
  }
};

// Parameters one rank of `stage` holds (its layers, / tp, experts / ep, embeddings).
double StageParams(const ModelSpec& model, const ParallelPlan& plan, int64_t stage);
// Of which expert parameters (sharded over the expert-data-parallel group, not the DP group).
double StageExpertParams(const ModelSpec& m, const ParallelPlan& p, int64_t stage);
// Of which the input embedding, the output layer and MTP's embedding copy (on this rank).
double StageEmbeddingParams(const ModelSpec& m, const ParallelPlan& p, int64_t stage);
// Parameters of the LoRA adapters of pipeline stage `stage` on one rank (LoraLayerParams of
// each of its layers; `layer` the plan's LayerContext). 0 without LoRA.
double StageLoraParams(const ModelSpec& model, const ParallelPlan& plan, const LayerContext& layer,
                       int64_t stage);

// `in_flight[s]`: model chunks whose activations stage s holds at its peak (from the
// pipeline schedule).
std::vector<StageMemory> EstimateMemory(const ModelSpec& model, const ParallelPlan& plan,
                                        const LayerContext& layer,
                                        const std::vector<int64_t>& in_flight,
                                        double reserved_bytes);

}  // namespace echosim

#endif  // ECHOSIM_POLICIES_MEMORY_MODEL_H_
