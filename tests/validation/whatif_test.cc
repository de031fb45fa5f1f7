// What-if pairs of the published validation: which rows pair up, under which choice, and how
// the pairs are scored.
#include <gtest/gtest.h>

#include "simulator/validation/validation_case.h"

namespace echosim {
namespace {

// A 64-GPU Llama-3-70B-like row of campaign "26.02" on GB200.
ValidationCase Row(int line) {
  ValidationCase c;
  c.row.source = "nemo_megatron_bridge";
  c.row.campaign = "26.02";
  c.row.precision = "BF16";
  c.row.line = line;
  c.config.gpu = "gb200";
  c.config.gpus_per_node = 64;
  c.config.shape.name = "llama3-70b";
  c.config.shape.layers = 80;
  c.config.shape.hidden = 8192;
  c.config.seq = 8192;
  c.config.gpus = 64;
  c.config.tp = 1;
  c.config.pp = 4;
  c.config.vpp = 5;
  c.config.dp = 16;
  c.config.gbs = 256;
  return c;
}

std::string Kind(const ValidationCase& a, const ValidationCase& b) {
  return WhatIfKind(a.row, a.config, b.row, b.config);
}

TEST(WhatIfTest, OneChoiceApartMakesAPair) {
  const ValidationCase a = Row(1);
  ValidationCase gpu = Row(2);
  gpu.config.gpu = "b200";
  gpu.config.gpus_per_node = 8;
  EXPECT_EQ(Kind(a, gpu), "gpu");
  ValidationCase precision = Row(3);
  precision.row.precision = "MXFP8";
  precision.config.dtype = "fp8";
  EXPECT_EQ(Kind(a, precision), "precision");
  // Stated recipes that echosim simulates alike are still a precision choice.
  ValidationCase cs = precision, mx = precision;
  cs.row.precision = "FP8-CS";
  EXPECT_EQ(Kind(cs, mx), "precision");
  ValidationCase plan = Row(4);
  plan.config.tp = 2;
  plan.config.dp = 8;
  EXPECT_EQ(Kind(a, plan), "plan");
  ValidationCase batch = Row(5);
  batch.config.mbs = 2;
  EXPECT_EQ(Kind(a, batch), "plan");
  // A precision with its recipe's plan.
  ValidationCase recipe = precision;
  recipe.config.vpp = 4;
  EXPECT_EQ(Kind(a, recipe), "recipe");
}

TEST(WhatIfTest, AnythingElseIsNoPair) {
  const ValidationCase a = Row(1);
  EXPECT_EQ(Kind(a, Row(2)), "") << "the same configuration is a repeat, not a what-if";
  ValidationCase release = Row(2);
  release.config.gpu = "b200";
  release.row.campaign = "26.04";
  EXPECT_EQ(Kind(a, release), "") << "another release is another software stack";
  ValidationCase two = Row(3);
  two.config.gpu = "b200";
  two.config.tp = 2;
  EXPECT_EQ(Kind(a, two), "") << "the GPU and the plan changed at once";
  ValidationCase gpus = Row(4);
  gpus.config.gpus = 128;
  gpus.config.dp = 32;
  EXPECT_EQ(Kind(a, gpus), "");
  ValidationCase seq = Row(5);
  seq.config.seq = 4096;
  EXPECT_EQ(Kind(a, seq), "");
  ValidationCase skipped = Row(6);
  skipped.config.tp = 2;
  skipped.row.skipped = true;
  EXPECT_EQ(Kind(a, skipped), "");
}

TEST(WhatIfTest, SummaryScoresRatioErrorAndOrder) {
  std::vector<WhatIfPair> pairs(3);
  pairs[0] = {"gpu", "s", 1, 2, "", "", "", "", 1.20, 1.26, 1.26 / 1.20 - 1};   // right way, +5 %
  pairs[1] = {"gpu", "s", 3, 4, "", "", "", "", 0.95, 1.05, 1.05 / 0.95 - 1};   // wrong way
  pairs[2] = {"plan", "s", 5, 6, "", "", "", "", 1.01, 0.90, 0.90 / 1.01 - 1};  // a tie: unscored
  const std::vector<WhatIfSummary> s = SummarizeWhatIfs(pairs);
  ASSERT_EQ(s.size(), 3u);  // gpu, plan, all (no precision pair)
  EXPECT_EQ(s[0].kind, "gpu");
  EXPECT_EQ(s[0].pairs, 2);
  EXPECT_NEAR(s[0].median_abs_ratio_error, 0.5 * (0.05 + (1.05 / 0.95 - 1)), 1e-12);
  EXPECT_EQ(s[0].ordered, 2);
  EXPECT_EQ(s[0].ordered_right, 1);
  EXPECT_EQ(s[1].kind, "plan");
  EXPECT_EQ(s[1].ordered, 0);
  EXPECT_EQ(s[2].kind, "all");
  EXPECT_EQ(s[2].pairs, 3);
  EXPECT_NEAR(s[2].worst_abs_ratio_error, 1 - 0.90 / 1.01, 1e-12);
  EXPECT_EQ(s[2].ordered, 2);  // the tie is left out
  EXPECT_EQ(s[2].ordered_right, 1);
}

}  // namespace
}  // namespace echosim
