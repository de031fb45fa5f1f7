#include "policies/memory_model.h"

#include <gtest/gtest.h>

namespace echosim {
namespace {

// ZeRO stages shard optimizer states (12 B/param), then gradients (2 B, 4 with
// grad_reduce_in_fp32), then weights (2 B) over dp; the unsharded parts stay per rank.
TEST(MemoryModelTest, ZeroStagesShardByDp) {
  const ModelSpec m = FindModelPreset("llama3-8b").value();
  ParallelPlan p;
  p.gpus = 8;
  p.dp = 8;
  LayerContext c;
  c.seq_len = 8192;
  std::vector<int64_t> inflight = {1};
  const double params = StageParams(m, p, 0);
  // One stage, untied embeddings, rotary positions: everything but the final norm.
  EXPECT_DOUBLE_EQ(params, static_cast<double>(m.TotalParams() - m.hidden));
  for (int zero = 0; zero <= 3; ++zero) {
    p.zero = zero;
    const StageMemory sm = EstimateMemory(m, p, c, inflight, 0)[0];
    EXPECT_DOUBLE_EQ(sm.optimizer_bytes, params * 12 / (zero >= 1 ? 8 : 1));
    // 16-bit gradients by default, fp32 with grad_reduce_in_fp32.
    EXPECT_DOUBLE_EQ(sm.gradient_bytes, params * 2 / (zero >= 2 ? 8 : 1));
    if (zero < 3) {
      EXPECT_DOUBLE_EQ(sm.weight_bytes, params * 2);
    }
    p.grad_reduce_in_fp32 = true;
    EXPECT_DOUBLE_EQ(EstimateMemory(m, p, c, inflight, 0)[0].gradient_bytes,
                     params * 4 / (zero >= 2 ? 8 : 1));
    p.grad_reduce_in_fp32 = false;
  }
}

// Llama 3 8B over 8 data-parallel GPUs, one stage, 8K tokens per sequence.
struct Llama8bDp8 {
  ModelSpec m = FindModelPreset("llama3-8b").value();
  ParallelPlan p;
  LayerContext c;
  const std::vector<int64_t> inflight = {1};
  Llama8bDp8() {
    p.gpus = 8;
    p.dp = 8;
    c.seq_len = 8192;
  }
  StageMemory Stage() const { return EstimateMemory(m, p, c, inflight, 0)[0]; }
};

// fp8 training keeps 16-bit weights and an fp8 copy (3 B/param); with fp8 primary weights
// (fp8_param_gather) only the fp8 data and its transpose (2 B).
TEST(MemoryModelTest, Fp8PrimaryWeightsDropTheSixteenBitCopy) {
  Llama8bDp8 j;
  j.p.zero = 1;
  j.c.dtype = DType::kFp8;
  const double params = StageParams(j.m, j.p, 0);
  EXPECT_DOUBLE_EQ(j.Stage().weight_bytes, params * 3);
  j.p.fp8_param_gather = true;
  EXPECT_DOUBLE_EQ(j.Stage().weight_bytes, params * 2);
  j.c.dtype = DType::kBf16;  // without fp8 the flag has nothing to hold in fp8
  j.p.fp8_param_gather = false;
  EXPECT_DOUBLE_EQ(j.Stage().weight_bytes, params * 2);
}

// Offloading the activations of N layers (pp 1) keeps all but one of them off the GPU.
TEST(MemoryModelTest, OffloadedLayersLeaveTheActivations) {
  Llama8bDp8 j;
  const double all = j.Stage().activation_bytes;
  const double logits = 8192.0 * j.m.vocab * 4 * 2;  // fp32 logits and gradient, last stage
  const double layer = (all - logits) / j.m.layers;
  j.p.cpu_offload_layers = 10;
  EXPECT_NEAR(j.Stage().activation_bytes, all - 9 * layer, 1e-6 * all);
}

// ZeRO-3 keeps two gathered layers per rank; of an MoE layer only the rank's experts.
TEST(MemoryModelTest, Zero3GathersTwoLayersOfLocalExperts) {
  const ModelSpec m = FindModelPreset("qwen3-30b-a3b").value();
  ParallelPlan p;
  p.gpus = 16;
  p.dp = 16;
  p.ep = 8;
  p.zero = 3;
  LayerContext c;
  c.seq_len = 4096;
  c.ep = 8;
  const StageMemory sm = EstimateMemory(m, p, c, {1}, 0)[0];
  const double dense = static_cast<double>(m.LayerParams() - m.LayerExpertParams());
  const double experts = static_cast<double>(m.LayerExpertParams()) / 8;
  // Sharded: dense weights over the 16 DP ranks, the rank's experts over the 2 ranks that hold
  // the same experts (expert-DP = 16 / 8).
  const double stage_experts = StageExpertParams(m, p, 0);
  EXPECT_DOUBLE_EQ(stage_experts, m.layers * experts);
  EXPECT_DOUBLE_EQ(sm.weight_bytes, (StageParams(m, p, 0) - stage_experts) * 2 / 16 +
                                        stage_experts * 2 / 2 + 2 * (dense + experts) * 2);
  EXPECT_DOUBLE_EQ(sm.optimizer_bytes,
                   (StageParams(m, p, 0) - stage_experts) * 12 / 16 + stage_experts * 12 / 2);
}

// Pipeline stages split layers; the first holds the embedding, the last the output layer.
TEST(MemoryModelTest, StageParamsSplitLayers) {
  const ModelSpec m = FindModelPreset("llama2-7b").value();
  ParallelPlan p;
  p.pp = 4;
  p.tp = 2;
  const double layer = static_cast<double>(m.LayerParams()) / 2 * 8;  // 8 layers per stage, / tp
  const double embed = 32000.0 * 4096 / 2;
  EXPECT_DOUBLE_EQ(StageParams(m, p, 0), layer + embed);
  EXPECT_DOUBLE_EQ(StageParams(m, p, 1), layer);
  EXPECT_DOUBLE_EQ(StageParams(m, p, 3), layer + embed);
}

}  // namespace
}  // namespace echosim
