// ParallelPlan: how a training job is split over GPUs, and the rank layout.
//
// Ranks are laid out as Megatron-LM does by default (order tp, cp, dp, pp; tp
// fastest): rank = tp_i + tp * (cp_i + cp * (dp_i + dp * pp_i)). With 8 GPUs per
// node and tp = 8 a tensor-parallel group is one node; data-parallel groups then
// take one GPU per node. Expert-parallel groups are blocks of `ep` consecutive
// data-parallel indices (EP is carved out of DP), or, with MoE parallel folding (expert TP 1
// under TP), blocks of `ep` consecutive ranks of the pipeline stage. The gradient-reduction / ZeRO group
// (GroupKind::kDp) spans data- and context-parallel ranks, dp * cp members: context-
// parallel ranks hold the same weights (Megatron-LM's data_parallel_group_with_cp).
#ifndef ECHOSIM_POLICIES_PARALLEL_PLAN_H_
#define ECHOSIM_POLICIES_PARALLEL_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "models/layer_ops.h"
#include "models/model_spec.h"
#include "models/ops.h"
#include "policies/pipeline_layout.h"
#include "simulator/core/status.h"

namespace echosim {

struct ParallelPlan {
  int64_t gpus = 1;
  int64_t gpus_per_node = 8;
  int64_t tp = 1, pp = 1, vpp = 1, cp = 1, ep = 1, dp = 1;
  // Expert tensor parallel size (Megatron-Core --expert-tensor-parallel-size): 0 = tp. 1 with
  // tp > 1 is MoE parallel folding: the expert layers use the stage's tp * cp * dp ranks as
  // ep * (tp * cp * dp / ep) instead of splitting experts over TP, so ep may exceed dp.
  int64_t etp = 0;
  int64_t ExpertTp() const { return etp > 0 ? etp : tp; }
  bool MoeFolded() const { return tp > 1 && ExpertTp() == 1; }
  int64_t zero = 0;
  bool sequence_parallel = false;
  RecomputeMode recompute = RecomputeMode::kNone;
  // Modules re-run by selective recompute (RecomputeModule bits; Megatron-Core's default: core
  // attention).
  uint32_t recompute_modules = kDefaultRecomputeModules;
  std::string pipeline_schedule = "1f1b";
  int64_t micro_batch = 1;
  int64_t global_batch = 1;

  // Megatron-LM's --account-for-embedding-in-pipeline-split / --account-for-loss-in-pipeline-split:
  // the embedding (and the loss) count as one layer of the first (last) virtual stage when the
  // transformer layers are split, so (layers + 2) rather than layers must divide by pp * vpp
  // (Llama 3.1 405B: 126 + 2 = 128 layers over 8 x 8 or 16 x 8 virtual stages).
  bool embedding_in_pipeline_split = false;
  bool loss_in_pipeline_split = false;
  // Gradients kept and reduced in fp32 (Megatron-Core grad_reduce_in_fp32), else 16-bit.
  bool grad_reduce_in_fp32 = false;
  // fp8 primary weights (Megatron-LM --fp8-param-gather; dtype fp8 only).
  bool fp8_param_gather = false;
  // Transformer layers whose activations are offloaded to host memory (Megatron-Core
  // --cpu-offloading-num-layers; pp 1 only).
  int64_t cpu_offload_layers = 0;
  // The Muon optimizer (workload.training.optimizer: muon) instead of Adam.
  bool muon = false;
  // The optimizer's moments in bf16 (workload.training.optimizer_moments), else fp32; the
  // master weights stay fp32.
  bool moments_bf16 = false;
  // Layers per virtual stage from a pipeline layout (parallelism.pipeline_layout); empty = the
  // even split above.
  std::vector<LayoutStage> layout;

  int64_t num_microbatches() const { return global_batch / (micro_batch * dp); }
  // Transformer layers of virtual stage `v` (0 .. pp*vpp - 1; chunk c of stage s is
  // v = c * pp + s) and the index of its first layer.
  int64_t ChunkLayers(const ModelSpec& m, int64_t v) const;
  int64_t ChunkFirstLayer(const ModelSpec& m, int64_t v) const;
  // Multi-token-prediction layers of virtual stage `v`: the layout's, or all of the model's on
  // the last virtual stage.
  int64_t ChunkMtpLayers(const ModelSpec& m, int64_t v) const;
  // Transformer layers held by pipeline stage `stage` (all its chunks).
  int64_t StageLayers(const ModelSpec& m, int64_t stage) const;
  // Multi-token-prediction layers held by pipeline stage `stage` (all its chunks).
  int64_t StageMtpLayers(const ModelSpec& m, int64_t stage) const;
  // Calls f(layer) for each transformer layer of pipeline stage `stage`, chunk by chunk.
  template <class F>
  void ForEachStageLayer(const ModelSpec& m, int64_t stage, F f) const {
    for (int64_t c = 0; c < vpp; ++c) {
      const int64_t v = c * pp + stage;
      const int64_t first = ChunkFirstLayer(m, v);
      for (int64_t l = first; l < first + ChunkLayers(m, v); ++l) f(l);
    }
  }

  struct Coords {
    int64_t tp = 0, cp = 0, dp = 0, pp = 0;
  };
  int64_t RankOf(const Coords& c) const { return c.tp + tp * (c.cp + cp * (c.dp + dp * c.pp)); }
  Coords CoordsOf(int64_t rank) const;
  // Lowest member of `rank`'s group of kind `g` (no allocation; equals GroupMembers().front()).
  int64_t GroupLeader(int64_t rank, GroupKind g) const;
  // Members of `rank`'s group of kind `g`, ascending.
  std::vector<int64_t> GroupMembers(int64_t rank, GroupKind g) const;
  int64_t GroupSize(GroupKind g) const;
};

// Checks the plan against the model and sequence length. Each error names the
// CLI flag and the scenario field, and says what would be valid.
Status ValidatePlan(const ParallelPlan& plan, const ModelSpec& model, int64_t seq_len);

const char* RecomputeModeName(RecomputeMode m);

}  // namespace echosim

#endif  // ECHOSIM_POLICIES_PARALLEL_PLAN_H_
