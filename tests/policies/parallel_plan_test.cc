#include "policies/parallel_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace echosim {
namespace {

ParallelPlan Gpt3Plan() {
  ParallelPlan p;
  p.gpus = 1024;
  p.tp = 8;
  p.pp = 8;
  p.vpp = 3;
  p.dp = 16;
  p.micro_batch = 1;
  p.global_batch = 1536;
  p.pipeline_schedule = "interleaved_1f1b";
  return p;
}

TEST(ParallelPlanTest, MegatronRankLayout) {
  const ParallelPlan p = Gpt3Plan();
  // rank = tp + 8 * (dp + 16 * pp) with cp = 1.
  EXPECT_EQ(p.RankOf({3, 0, 2, 1}), 3 + 8 * (2 + 16 * 1));
  const auto c = p.CoordsOf(155);
  EXPECT_EQ(p.RankOf(c), 155);
  EXPECT_EQ(p.GroupMembers(9, GroupKind::kTp), (std::vector<int64_t>{8, 9, 10, 11, 12, 13, 14, 15}));
  const auto dp = p.GroupMembers(9, GroupKind::kDp);
  ASSERT_EQ(dp.size(), 16u);
  EXPECT_EQ(dp[0], 1);
  EXPECT_EQ(dp[1], 9);
  EXPECT_EQ(dp[15], 1 + 8 * 15);
  for (int64_t r : {0, 9, 155, 1023}) {
    for (GroupKind g : {GroupKind::kTp, GroupKind::kDp, GroupKind::kPp}) {
      EXPECT_EQ(p.GroupLeader(r, g), p.GroupMembers(r, g).front());
    }
  }
  const auto pp = p.GroupMembers(0, GroupKind::kPp);
  EXPECT_EQ(pp[1], 128);
  EXPECT_EQ(p.num_microbatches(), 96);
}

TEST(ParallelPlanTest, ValidPlanPasses) {
  auto m = FindModelPreset("gpt3-175b");
  EXPECT_TRUE(ValidatePlan(Gpt3Plan(), *m, 2048).ok());
}

// Each impossible plan gives one error naming the flag and the scenario field.
TEST(ParallelPlanTest, ImpossiblePlansNameTheFlag) {
  auto m = FindModelPreset("gpt3-175b").value();
  struct Case {
    void (*mutate)(ParallelPlan*);
    const char* expected;
  };
  const Case cases[] = {
      {[](ParallelPlan* p) { p->gpus = 1000; }, "--gpus (cluster.gpus): tp*pp*cp*dp = 8*8*1*16 = 1024 does not equal gpus = 1000"},
      {[](ParallelPlan* p) { p->tp = 7; p->dp = 1; p->gpus = 7 * 8; }, "--tp (parallelism.tp): model heads (96) are not divisible by tp = 7"},
      {[](ParallelPlan* p) { p->vpp = 5; }, "--vpp (parallelism.vpp): model layers (96) are not divisible by pp*vpp = 8*5 = 40"},
      {[](ParallelPlan* p) { p->global_batch = 1000; }, "--global-batch (workload.training.global_batch_seqs): global batch 1000 is not divisible by micro_batch*dp = 1*16 = 16"},
      {[](ParallelPlan* p) { p->global_batch = 16 * 12; }, "multiple of pp = 8"},
      {[](ParallelPlan* p) { p->ep = 2; }, "--ep (parallelism.ep): expert parallelism needs a mixture-of-experts model"},
      {[](ParallelPlan* p) { p->zero = 4; }, "--zero (parallelism.zero): must be 0, 1, 2 or 3, got 4"},
      {[](ParallelPlan* p) { p->micro_batch = 0; }, "--micro-batch (workload.training.micro_batch_seqs): must be a positive integer, got 0"},
      {[](ParallelPlan* p) { p->pipeline_schedule = "1f1b"; }, "--vpp (parallelism.vpp): 1f1b runs one chunk per rank"},
      {[](ParallelPlan* p) { p->cpu_offload_layers = 4; }, "--cpu-offload-layers (parallelism.cpu_offload_layers): activation offloading needs pp 1"},
      {[](ParallelPlan* p) { p->pp = 1; p->vpp = 1; p->dp = 128; p->cpu_offload_layers = 96; }, "fewer layers than the model's 96"},
  };
  for (const Case& c : cases) {
    ParallelPlan p = Gpt3Plan();
    c.mutate(&p);
    Status st = ValidatePlan(p, m, 2048);
    ASSERT_FALSE(st.ok()) << c.expected;
    EXPECT_NE(st.message().find(c.expected), std::string::npos) << st.message();
  }
  ParallelPlan p = Gpt3Plan();
  p.cp = 2;
  p.dp = 8;
  Status st = ValidatePlan(p, m, 2050);
  EXPECT_NE(st.message().find("--cp (parallelism.cp): sequence length 2050 must be divisible by 2*cp = 4"),
            std::string::npos)
      << st.message();
}

// Llama 3.1 405B: 126 layers over 8 stages x 8 chunks, with the embedding and the loss
// counted as layers (Megatron-LM --account-for-{embedding,loss}-in-pipeline-split).
TEST(ParallelPlanTest, EmbeddingAndLossCountedInThePipelineSplit) {
  auto m = FindModelPreset("llama3.1-405b").value();
  ParallelPlan p;
  p.gpus = 1024;
  p.tp = 8;
  p.pp = 8;
  p.vpp = 8;
  p.cp = 2;
  p.dp = 8;
  p.micro_batch = 1;
  p.global_batch = 1536;
  p.pipeline_schedule = "interleaved_1f1b";
  Status uniform = ValidatePlan(p, m, 8192);
  ASSERT_FALSE(uniform.ok());
  EXPECT_NE(uniform.message().find("--account-for-embedding-in-pipeline-split"), std::string::npos)
      << uniform.message();
  // One of the two counted: 127 slots; the message names the other flag.
  p.embedding_in_pipeline_split = true;
  Status half = ValidatePlan(p, m, 8192);
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.message().find("count the loss too with --account-for-loss-in-pipeline-split"), std::string::npos)
      << half.message();
  p.embedding_in_pipeline_split = false;
  p.loss_in_pipeline_split = true;
  half = ValidatePlan(p, m, 8192);
  EXPECT_NE(half.message().find("count the embedding too with --account-for-embedding-in-pipeline-split"),
            std::string::npos)
      << half.message();
  p.embedding_in_pipeline_split = true;
  p.loss_in_pipeline_split = true;
  ASSERT_TRUE(ValidatePlan(p, m, 8192).ok()) << ValidatePlan(p, m, 8192).ToString();
  // 128 slots over 64 virtual stages: 2 each; the first and the last give one to the
  // embedding and the loss.
  EXPECT_EQ(p.ChunkLayers(m, 0), 1);
  EXPECT_EQ(p.ChunkLayers(m, 1), 2);
  EXPECT_EQ(p.ChunkLayers(m, 63), 1);
  int64_t next = 0, total = 0;
  for (int64_t v = 0; v < 64; ++v) {
    EXPECT_EQ(p.ChunkFirstLayer(m, v), next) << v;
    next += p.ChunkLayers(m, v);
  }
  EXPECT_EQ(next, 126);
  for (int64_t s = 0; s < 8; ++s) total += p.StageLayers(m, s);
  EXPECT_EQ(total, 126);
  EXPECT_EQ(p.StageLayers(m, 0), 15);  // chunk 0 holds 1 layer, chunks 1..7 hold 2
  EXPECT_EQ(p.StageLayers(m, 7), 15);
  EXPECT_EQ(p.StageLayers(m, 3), 16);
}


// Qwen3-235B-A22B on 256 H100 as NeMo runs it: TP 2, PP 8, EP 32 > DP 16. With expert TP 1
// (MoE parallel folding) an EP group is 32 consecutive ranks of a stage, across TP and DP.
ParallelPlan FoldedPlan() {
  ParallelPlan p;
  p.gpus = 256;
  p.tp = 2;
  p.pp = 8;
  p.vpp = 4;
  p.dp = 16;
  p.ep = 32;
  p.etp = 1;
  p.sequence_parallel = true;
  p.micro_batch = 1;
  p.global_batch = 2048;
  p.pipeline_schedule = "interleaved_1f1b";
  p.embedding_in_pipeline_split = true;
  p.loss_in_pipeline_split = true;
  return p;
}

TEST(ParallelPlanTest, ExpertTpOneFoldsExpertParallelismOverTheStage) {
  const auto m = FindModelPreset("qwen3-235b-a22b").value();
  ParallelPlan p = FoldedPlan();
  ASSERT_TRUE(ValidatePlan(p, m, 4096).ok()) << ValidatePlan(p, m, 4096).message();
  EXPECT_TRUE(p.MoeFolded());
  std::vector<int64_t> stage1;
  for (int64_t r = 32; r < 64; ++r) stage1.push_back(r);
  EXPECT_EQ(p.GroupMembers(45, GroupKind::kEp), stage1);
  for (int64_t r : {0, 45, 100, 255}) {
    EXPECT_EQ(p.GroupLeader(r, GroupKind::kEp), p.GroupMembers(r, GroupKind::kEp).front());
    const auto members = p.GroupMembers(r, GroupKind::kEp);
    EXPECT_NE(std::find(members.begin(), members.end(), r), members.end());
  }
  // ep 8 of 32 stage ranks: four EP groups per stage.
  p.ep = 8;
  EXPECT_EQ(p.GroupMembers(45, GroupKind::kEp),
            (std::vector<int64_t>{40, 41, 42, 43, 44, 45, 46, 47}));

  // Without folding EP must divide DP, and the message says how to fold.
  p = FoldedPlan();
  p.etp = 0;
  Status st = ValidatePlan(p, m, 4096);
  EXPECT_NE(st.message().find("ep = 32 must divide dp = 16 (EP is carved out of DP; with tp > 1, "
                              "--expert-tp 1 lets EP span the TP ranks too)"),
            std::string::npos)
      << st.message();
  p = FoldedPlan();
  p.sequence_parallel = false;
  st = ValidatePlan(p, m, 4096);
  EXPECT_NE(st.message().find("--expert-tp (parallelism.expert_tp): expert tp 1 under tp > 1"),
            std::string::npos)
      << st.message();
  p = FoldedPlan();
  p.etp = 3;
  st = ValidatePlan(p, m, 4096);
  EXPECT_NE(st.message().find("expert tensor parallel size must be 1 or tp (2), got 3"),
            std::string::npos)
      << st.message();
  p = FoldedPlan();
  p.ep = 64;  // 64 does not divide the stage's 32 ranks
  st = ValidatePlan(p, m, 4096);
  EXPECT_NE(st.message().find("ep = 64 must divide tp*cp*dp = 32"), std::string::npos)
      << st.message();
}


// Expert data parallelism: the ranks holding the same experts. EP carved out of DP (ep 4 of
// dp 8, tp 2): the same tp index and the same place in an EP block. Folded (expert TP 1):
// the same place in every EP block of the stage.
TEST(ParallelPlanTest, ExpertDataParallelGroupsHoldTheSameExperts) {
  ParallelPlan p;
  p.gpus = 16;
  p.tp = 2;
  p.dp = 8;
  p.ep = 4;
  EXPECT_EQ(p.GroupSize(GroupKind::kEdp), 2);
  // rank = tp + 2 * dp: rank 5 is tp 1, dp 2; its EP block is dp 0..3, so dp 2 and dp 6.
  EXPECT_EQ(p.GroupMembers(5, GroupKind::kEdp), (std::vector<int64_t>{5, 13}));
  EXPECT_EQ(p.GroupMembers(5, GroupKind::kEp), (std::vector<int64_t>{1, 3, 5, 7}));
  p.etp = 1;
  p.ep = 8;  // folded: 16 stage ranks, EP blocks of 8 consecutive ranks
  EXPECT_EQ(p.GroupSize(GroupKind::kEdp), 2);
  EXPECT_EQ(p.GroupMembers(5, GroupKind::kEdp), (std::vector<int64_t>{5, 13}));
  EXPECT_EQ(p.GroupMembers(5, GroupKind::kEp), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  for (int64_t r = 0; r < 16; ++r) {
    for (GroupKind g : {GroupKind::kEp, GroupKind::kEdp}) {
      EXPECT_EQ(p.GroupLeader(r, g), p.GroupMembers(r, g).front()) << r;
    }
  }
}

}  // namespace
}  // namespace echosim
