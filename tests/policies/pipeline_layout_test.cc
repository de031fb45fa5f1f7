#include "policies/pipeline_layout.h"

#include <gtest/gtest.h>

#include "policies/parallel_plan.h"

namespace echosim {
namespace {

// DeepSeek-V3's layout in Megatron-Bridge's recipes: 16 virtual stages of 4 layers, the
// embedding with the first, one layer, the MTP depth and the loss in the last.
TEST(PipelineLayoutTest, ExpandsRepeatsAndGroups) {
  const auto stages = ParsePipelineLayout("Et*4|(t*4|)*14tmL").value();
  ASSERT_EQ(stages.size(), 16u);
  EXPECT_EQ(stages[0], (LayoutStage{4, 0, true, false}));
  for (size_t v = 1; v < 15; ++v) EXPECT_EQ(stages[v], (LayoutStage{4, 0, false, false})) << v;
  EXPECT_EQ(stages[15], (LayoutStage{1, 1, false, true}));
  EXPECT_EQ(FormatPipelineLayout(stages).substr(0, 11), "Etttt|tttt|");
  // Spaces are ignored; nested groups multiply.
  const auto nested = ParsePipelineLayout(" E | ((t t|)*2)*3 L").value();
  ASSERT_EQ(nested.size(), 8u);
  EXPECT_EQ(nested[0].layers, 0);
  EXPECT_EQ(nested[1].layers, 2);
  EXPECT_EQ(nested[7], (LayoutStage{0, 0, false, true}));
}

TEST(PipelineLayoutTest, ErrorsNameThePositionOrTheRule) {
  auto message = [](const std::string& text) { return ParsePipelineLayout(text).status().message(); };
  EXPECT_NE(message("Et*4|tx|tL").find("at character 7: unexpected 'x'"), std::string::npos)
      << message("Et*4|tx|tL");
  EXPECT_NE(message("Et*|tL").find("'*' must be followed by a repeat count"), std::string::npos);
  EXPECT_NE(message("E(t|tL").find("missing ')'"), std::string::npos);
  EXPECT_NE(message("Et|t)L").find("unexpected ')'"), std::string::npos);
  EXPECT_NE(message("Et*0|tL").find("at least 1"), std::string::npos);
  EXPECT_NE(message("Et*999999999|tL").find("repeat count above"), std::string::npos);
  EXPECT_NE(message("(t*1000|)*1000").find("expands to more than"), std::string::npos);
  EXPECT_NE(message("t|EtL").find("the embedding 'E' must be in the first virtual stage"),
            std::string::npos);
  EXPECT_NE(message("EtL|t").find("the loss 'L' must be in the last virtual stage"), std::string::npos);
  EXPECT_NE(message("Etm|tL").find("'m' must be in the last virtual stage"), std::string::npos);
  EXPECT_NE(message("Et|t").find("the first virtual stage must hold the embedding"), std::string::npos);
  EXPECT_NE(message("EEt|tL").find("lists the embedding 'E' twice"), std::string::npos);
  std::string deep(40, '(');
  EXPECT_NE(message(deep).find("nested more than 32 deep"), std::string::npos);
}

// A layout decides the layers of each virtual stage (chunk c of stage s is v = c * pp + s) and
// must match the plan and the model.
TEST(PipelineLayoutTest, PlanTakesItsSplitFromTheLayout) {
  const ModelSpec m = FindModelPreset("deepseek-v3").value();
  ParallelPlan p;
  p.gpus = 256;
  p.pp = 4;
  p.vpp = 4;
  p.ep = 64;
  p.dp = 64;
  p.micro_batch = 1;
  p.global_batch = 4096;
  p.pipeline_schedule = "interleaved_1f1b";
  p.layout = ParsePipelineLayout("Et*4|(t*4|)*14tmL").value();
  ASSERT_TRUE(ValidatePlan(p, m, 4096).ok()) << ValidatePlan(p, m, 4096).message();
  EXPECT_EQ(p.ChunkLayers(m, 0), 4);
  EXPECT_EQ(p.ChunkFirstLayer(m, 5), 20);
  EXPECT_EQ(p.ChunkLayers(m, 15), 1);
  EXPECT_EQ(p.ChunkFirstLayer(m, 15), 60);
  EXPECT_EQ(p.ChunkMtpLayers(m, 15), 1);
  EXPECT_EQ(p.ChunkMtpLayers(m, 14), 0);
  EXPECT_EQ(p.StageLayers(m, 3), 13);  // chunks 3, 7, 11, 15
  // 16 stages for pp * vpp = 8.
  p.vpp = 2;
  EXPECT_NE(ValidatePlan(p, m, 4096).message().find("the layout lists 16 virtual stages; pp * vpp = 4 * 2 = 8"),
            std::string::npos)
      << ValidatePlan(p, m, 4096).message();
  p.vpp = 4;
  // A layer short, or no MTP depth for a model with one.
  p.layout = ParsePipelineLayout("Et*3|(t*4|)*14tmL").value();
  EXPECT_NE(ValidatePlan(p, m, 4096).message().find("places 60 transformer layers ('t'); model 'deepseek-v3' has 61"),
            std::string::npos);
  p.layout = ParsePipelineLayout("Et*4|(t*4|)*14tL").value();
  EXPECT_NE(ValidatePlan(p, m, 4096).message().find("places 0 multi-token-prediction layers"),
            std::string::npos);
  p.layout = ParsePipelineLayout("Et*4|(t*4|)*14tmL").value();
  p.embedding_in_pipeline_split = true;
  EXPECT_NE(ValidatePlan(p, m, 4096).message().find("leave parallelism.account_for_embedding"),
            std::string::npos);
}

}  // namespace
}  // namespace echosim
