#include "policies/plan_search.h"

#include <gtest/gtest.h>

#include <tuple>

#include "hardware/gpu_spec.h"
#include "simulator/training/training_step.h"

namespace echosim {
namespace {

PlanSearchSpace H100Space(int64_t gpus, int64_t global_batch, int64_t seq_len) {
  const GpuSpec gpu = FindGpuPreset("h100-sxm").value();
  PlanSearchSpace s;
  s.gpus = gpus;
  s.global_batch = global_batch;
  s.seq_len = seq_len;
  s.memory_capacity_bytes = gpu.HbmCapacityBytes();
  s.reserved_bytes = gpu.memory_reserved_gb * 1e9;
  return s;
}

// What the simulator reports for `plan` of `m` on H100 (the memory the search filter predicts).
StepResult SimulateOnH100(const ModelSpec& m, const ParallelPlan& plan, int64_t seq_len,
                          double moe_load_imbalance = 0) {
  TrainingSetup setup;
  setup.model = m;
  setup.gpu = FindGpuPreset("h100-sxm").value();
  setup.plan = plan;
  setup.seq_len = seq_len;
  setup.moe_load_imbalance = moe_load_imbalance;
  return SimulateTrainingStep(setup).value();
}

auto Key(const ParallelPlan& p) {
  return std::make_tuple(p.tp, p.pp, p.vpp, p.cp, p.ep, p.micro_batch, p.zero, p.recompute);
}

// 4 GPUs, tp and pp in {1, 2, 4}: tp * pp must divide 4, so (1,1) (1,2) (1,4) (2,1) (2,2)
// (4,1) are valid and (2,4) (4,2) (4,4) are not; dp = 4 / (tp * pp) divides the batch of 8.
TEST(PlanSearchTest, CountsValidPlansByHand) {
  const ModelSpec m = FindModelPreset("gpt-1.7b").value();
  PlanSearchSpace s = H100Space(4, 8, 2048);
  s.memory_capacity_bytes = 1e15;  // everything fits
  s.tp = {1, 2, 4};
  s.pp = {1, 2, 4};
  s.vpp = {1};
  s.cp = {1};
  s.micro_batch = {1};
  s.zero = {1};
  s.recompute = {RecomputeMode::kNone};
  const PlanEnumeration e = EnumerateTrainingPlans(m, s).value();
  EXPECT_EQ(e.considered, 9);
  EXPECT_EQ(e.invalid, 3);
  EXPECT_EQ(e.over_memory, 0);
  ASSERT_EQ(e.plans.size(), 6u);
  for (const PlanCandidate& c : e.plans) {
    EXPECT_EQ(c.plan.tp * c.plan.pp * c.plan.dp, 4);
    EXPECT_EQ(c.plan.sequence_parallel, c.plan.tp > 1);
    EXPECT_EQ(c.plan.pipeline_schedule, "1f1b");
  }
}

// Every kept plan is valid and fits; the counts account for every combination; the
// order is the nested-loop order, strictly increasing.
TEST(PlanSearchTest, KeptPlansAreValidFitAndOrdered) {
  const ModelSpec m = FindModelPreset("gpt3-175b").value();
  const PlanSearchSpace s = H100Space(256, 512, 2048);
  const PlanEnumeration e = EnumerateTrainingPlans(m, s).value();
  ASSERT_FALSE(e.plans.empty());
  EXPECT_EQ(e.considered,
            e.invalid + e.over_memory + e.dominated + static_cast<int64_t>(e.plans.size()));
  EXPECT_GT(e.over_memory, 0);  // 175B does not fit with every plan on 256 GPUs
  for (size_t i = 0; i < e.plans.size(); ++i) {
    const PlanCandidate& c = e.plans[i];
    EXPECT_TRUE(ValidatePlan(c.plan, m, s.seq_len).ok());
    EXPECT_LE(c.peak_memory_bytes, s.memory_capacity_bytes);
    if (i > 0) EXPECT_LT(Key(e.plans[i - 1].plan), Key(c.plan));
  }
  // Deterministic: the same input gives the same plans.
  const PlanEnumeration again = EnumerateTrainingPlans(m, s).value();
  ASSERT_EQ(again.plans.size(), e.plans.size());
  for (size_t i = 0; i < e.plans.size(); ++i) EXPECT_EQ(Key(again.plans[i].plan), Key(e.plans[i].plan));
}

// The memory estimate used for filtering is the one the simulator reports.
TEST(PlanSearchTest, PeakMemoryMatchesTheSimulator) {
  const ModelSpec m = FindModelPreset("gpt-1.7b").value();
  PlanSearchSpace s = H100Space(16, 32, 2048);
  s.tp = {1, 4};
  s.pp = {1, 2, 4};
  s.vpp = {1, 3};
  s.micro_batch = {1, 2};
  const PlanEnumeration e = EnumerateTrainingPlans(m, s).value();
  ASSERT_GE(e.plans.size(), 4u);
  for (const PlanCandidate& c : e.plans) {
    const StepResult r = SimulateOnH100(m, c.plan, s.seq_len);
    EXPECT_DOUBLE_EQ(r.peak_memory_bytes, c.peak_memory_bytes);
    EXPECT_TRUE(r.fits_in_memory);
  }
}

// An MoE job's stated routing imbalance reaches the memory filter as the simulator prices it:
// the plans with EP hold the busiest rank's routed activations, the plans without EP none.
TEST(PlanSearchTest, PeakMemoryOfMoePlansFollowsTheRoutingImbalance) {
  const ModelSpec m = FindModelPreset("qwen3-30b-a3b").value();
  PlanSearchSpace s = H100Space(16, 32, 2048);
  s.tp = {1};
  s.pp = {1, 2};
  s.vpp = {1};
  s.ep = {1, 8};
  s.micro_batch = {1};
  s.recompute = {RecomputeMode::kNone};
  s.memory_capacity_bytes = 1e15;  // every plan kept
  s.moe_load_imbalance = 1.5;
  const PlanEnumeration e = EnumerateTrainingPlans(m, s).value();
  int with_ep = 0;
  for (const PlanCandidate& c : e.plans) {
    EXPECT_DOUBLE_EQ(SimulateOnH100(m, c.plan, s.seq_len, c.plan.ep > 1 ? 1.5 : 0).peak_memory_bytes,
                     c.peak_memory_bytes);
    if (c.plan.ep > 1) {
      ++with_ep;
      EXPECT_GT(c.peak_memory_bytes, PlanPeakMemoryBytes(m, c.plan, s.seq_len, s.dtype, s.attention,
                                                         s.reserved_bytes));
    }
  }
  EXPECT_GE(with_ep, 1);
}

// Pruning keeps, for each plan that differs only in recompute mode, the least
// recomputation that fits; keeping everything gives a superset.
TEST(PlanSearchTest, RecomputePruningKeepsTheLeastThatFits) {
  const ModelSpec m = FindModelPreset("gpt3-175b").value();
  PlanSearchSpace s = H100Space(128, 256, 2048);
  s.tp = {8};
  const PlanEnumeration pruned = EnumerateTrainingPlans(m, s).value();
  s.keep_dominated_recompute = true;
  const PlanEnumeration all = EnumerateTrainingPlans(m, s).value();
  EXPECT_EQ(all.dominated, 0);
  EXPECT_GT(pruned.dominated, 0);
  EXPECT_EQ(all.plans.size(), pruned.plans.size() + static_cast<size_t>(pruned.dominated));
  for (const PlanCandidate& c : all.plans) {
    bool kept_same_or_less = false;
    for (const PlanCandidate& k : pruned.plans) {
      ParallelPlan a = c.plan, b = k.plan;
      a.recompute = b.recompute = RecomputeMode::kNone;
      if (Key(a) == Key(b) && k.plan.recompute <= c.plan.recompute) kept_same_or_less = true;
    }
    EXPECT_TRUE(kept_same_or_less);
  }
}

// Llama 3.1 405B's 126 layers split over 8 stages only with the embedding and the loss
// counted (126 + 2 = 128): the job's split reaches every plan, and the default pp
// candidates are the divisors of 128, not of 126.
TEST(PlanSearchTest, PipelineSplitCountingEmbeddingAndLoss) {
  const ModelSpec m = FindModelPreset("llama3.1-405b").value();
  PlanSearchSpace s = H100Space(512, 64, 8192);
  s.memory_capacity_bytes = 1e15;
  s.tp = {8};
  s.vpp = {1};
  s.cp = {1};
  s.micro_batch = {1};
  s.recompute = {RecomputeMode::kNone};
  auto pps = [](const PlanEnumeration& e) {
    std::vector<int64_t> out;
    for (const PlanCandidate& c : e.plans) out.push_back(c.plan.pp);
    return out;
  };
  EXPECT_EQ(pps(EnumerateTrainingPlans(m, s).value()), (std::vector<int64_t>{1, 2}));  // 126 = 2 * 3^2 * 7
  s.embedding_in_pipeline_split = s.loss_in_pipeline_split = true;
  const PlanEnumeration e = EnumerateTrainingPlans(m, s).value();
  EXPECT_EQ(pps(e), (std::vector<int64_t>{1, 2, 4, 8, 16, 32, 64}));
  for (const PlanCandidate& c : e.plans) {
    EXPECT_TRUE(c.plan.embedding_in_pipeline_split);
    EXPECT_TRUE(c.plan.loss_in_pipeline_split);
    EXPECT_TRUE(ValidatePlan(c.plan, m, s.seq_len).ok());
  }
}

TEST(PlanSearchTest, NothingFitsInTinyMemory) {
  const ModelSpec m = FindModelPreset("gpt-1.7b").value();
  PlanSearchSpace s = H100Space(8, 16, 2048);
  s.memory_capacity_bytes = 1e6;
  const PlanEnumeration e = EnumerateTrainingPlans(m, s).value();
  EXPECT_TRUE(e.plans.empty());
  EXPECT_GT(e.over_memory, 0);
  EXPECT_EQ(e.considered, e.invalid + e.over_memory);
}

TEST(PlanSearchTest, BadInputNamesTheField) {
  const ModelSpec m = FindModelPreset("gpt-1.7b").value();
  PlanSearchSpace s = H100Space(0, 16, 2048);
  auto r = EnumerateTrainingPlans(m, s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("gpus"), std::string::npos);
  s = H100Space(8, 16, 2048);
  s.pp = {2, 0};
  r = EnumerateTrainingPlans(m, s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("pp"), std::string::npos);
}

}  // namespace
}  // namespace echosim
