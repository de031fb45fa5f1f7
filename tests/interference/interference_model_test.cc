#include "simulator/interference/interference_model.h"

#include <gtest/gtest.h>

namespace echosim {
namespace {

// A compute-bound kernel beside 16 channels on a 132-SM GPU with a = 1, b = 0 keeps
// 116 SMs: rate 1 / (1 + 16/132).
TEST(InterferenceModelTest, RatesFollowTheFormula) {
  InterferenceParams p;
  p.a[static_cast<int>(OpClass::kGemm)] = 1.0;
  p.b[static_cast<int>(OpClass::kGemm)] = 0.0;
  p.a[static_cast<int>(OpClass::kMemoryBound)] = 0.5;
  p.b[static_cast<int>(OpClass::kMemoryBound)] = 0.05;
  p.comm_slowdown = 0.1;
  InterferenceModel m(p, 132);
  EXPECT_DOUBLE_EQ(m.ComputeRate(OpClass::kGemm, 0), 1.0);
  EXPECT_DOUBLE_EQ(m.ComputeRate(OpClass::kGemm, 16), 1.0 / (1.0 + 16.0 / 132));
  EXPECT_DOUBLE_EQ(m.ComputeRate(OpClass::kMemoryBound, 16), 1.0 / (1.0 + 0.5 * 16.0 / 132 + 0.05));
  EXPECT_DOUBLE_EQ(m.CommRate(true), 1.0 / 1.1);
  EXPECT_DOUBLE_EQ(m.CommRate(false), 1.0);
}

TEST(InterferenceModelTest, DefaultsParseAndKnowEveryGpu) {
  const InterferenceParams& p = DefaultInterferenceParams();
  for (const char* g :
       {"a100-40gb", "a100-80gb", "h100-sxm", "h800", "h200", "b200", "gb200", "b300"}) {
    EXPECT_TRUE(SmCount(p, g).ok()) << g;
  }
  EXPECT_EQ(*SmCount(p, "h100-sxm"), 132);
  EXPECT_FALSE(SmCount(p, "tpu").ok());
}

// Samples generated from known parameters are recovered exactly by the least-squares fit.
TEST(InterferenceModelTest, FitRecoversKnownParameters) {
  std::vector<InterferenceSample> samples;
  for (int c : {0, 4, 8, 16, 32}) {
    samples.push_back({OpClass::kGemm, c, 1.0 + 0.8 * c / 132.0 + 0.02, 132});
    samples.push_back({OpClass::kMemoryBound, c, 1.0 + 0.3 * c / 132.0 + 0.1, 132});
  }
  auto fit = FitInterference(samples, InterferenceParams());
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_NEAR(fit->a[0], 0.8, 1e-9);
  EXPECT_NEAR(fit->b[0], 0.02, 1e-9);
  EXPECT_NEAR(fit->a[2], 0.3, 1e-9);
  EXPECT_NEAR(fit->b[2], 0.1, 1e-9);
  // One channel count only: the slope is not identifiable.
  auto bad = FitInterference({{OpClass::kGemm, 8, 1.1, 132}, {OpClass::kGemm, 8, 1.2, 132}},
                             InterferenceParams());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("two or more channel counts"), std::string::npos);
}

TEST(InterferenceModelTest, CsvErrorsNameTheLine) {
  auto ok = ReadInterferenceCsv("class,channels,sm_count,slowdown\ngemm,8,132,1.06\n", "t.csv");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 1u);
  auto bad_class = ReadInterferenceCsv("class,channels,sm_count,slowdown\nconv,8,132,1.1\n", "t.csv");
  EXPECT_NE(bad_class.status().message().find("t.csv:2: unknown kernel class 'conv'"), std::string::npos);
  auto bad_num = ReadInterferenceCsv("class,channels,sm_count,slowdown\ngemm,x,132,1.1\n", "t.csv");
  EXPECT_NE(bad_num.status().message().find("t.csv:2: bad number"), std::string::npos);
  auto speedup = ReadInterferenceCsv("class,channels,sm_count,slowdown\ngemm,8,132,0.9\n", "t.csv");
  EXPECT_NE(speedup.status().message().find("slowdown >= 1"), std::string::npos);
  auto header = ReadInterferenceCsv("a,b\n", "t.csv");
  EXPECT_NE(header.status().message().find("t.csv:1: expected header"), std::string::npos);
}

}  // namespace
}  // namespace echosim
