#include "hardware/gpu_spec.h"

#include <gtest/gtest.h>

#include "hardware/calibration.h"

namespace echosim {
namespace {

TEST(GpuSpecTest, PresetsParse) {
  const auto names = GpuPresetNames();
  EXPECT_EQ(names, (std::vector<std::string>{"a100-40gb", "a100-80gb", "b200", "b300", "gb200", "gb300",
                                             "h100-sxm", "h200", "h800"}));
  for (const std::string& n : names) {
    auto g = FindGpuPreset(n);
    ASSERT_TRUE(g.ok()) << n << ": " << g.status().ToString();
    EXPECT_EQ(g->name, n);
  }
  auto h100 = FindGpuPreset("h100-sxm");
  EXPECT_DOUBLE_EQ(h100->PeakFlopsPerS(DType::kBf16), 989e12);
  EXPECT_DOUBLE_EQ(h100->PeakFlopsPerS(DType::kFp8), 1979e12);
  // A100 has no FP8 tensor cores: fp8 falls back to the 16-bit peak.
  EXPECT_DOUBLE_EQ(FindGpuPreset("a100-80gb")->PeakFlopsPerS(DType::kFp8), 312e12);
}

// Maps where plain words or strings belong (found by the data-file fuzz target) are errors,
// not crashes.
TEST(GpuSpecTest, NonScalarNamesAreErrors) {
  auto key = ParseGpuYaml(" {}:", "g.yaml");
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("g.yaml:1: a field name must be a plain word"), std::string::npos)
      << key.status().message();
  auto name = ParseGpuYaml("name: {a: 1}\n", "g.yaml");
  ASSERT_FALSE(name.ok());
  EXPECT_NE(name.status().message().find("g.yaml:1: field 'name' must be a string"), std::string::npos)
      << name.status().message();
  auto cal = ParseTrainingCalibration(" {}: 1\n", "t.yaml");
  ASSERT_FALSE(cal.ok());
  EXPECT_NE(cal.status().message().find("t.yaml:1: a field name must be a plain word"), std::string::npos)
      << cal.status().message();
}

TEST(GpuSpecTest, Errors) {
  auto unknown = FindGpuPreset("v100");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown gpu 'v100'; valid gpus: a100-40gb, a100-80gb, b200, b300, gb200, gb300, h100-sxm, h200, h800"),
            std::string::npos);
  auto typo = ParseGpuYaml("name: g\nhbm_tbs: 3\n", "g.yaml");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("g.yaml:2: unknown field 'hbm_tbs'"), std::string::npos);
  auto frac = ParseGpuYaml(
      "name: g\npeak_tflops_bf16: 1\npeak_tflops_fp16: 1\nhbm_capacity_gb: 1\nhbm_tbps: 1\n"
      "nvlink_gbps: 1\nnic_gbps: 1\nnic_efficiency: 1.5\n",
      "g.yaml");
  ASSERT_FALSE(frac.ok());
  EXPECT_NE(frac.status().message().find("nic_efficiency is a fraction of peak and must be <= 1"),
            std::string::npos);
  auto dim = ParseGpuYaml("name: g\nattention_head_dim: 0\n", "g.yaml");
  ASSERT_FALSE(dim.ok());
  EXPECT_NE(dim.status().message().find("g.yaml:2: field 'attention_head_dim': expected a positive integer"),
            std::string::npos)
      << dim.status().message();
}

// The A100 presets' attention efficiency was measured at head dim 64 and says so; the others
// at the default 128.
TEST(GpuSpecTest, AttentionHeadDimOfTheMeasurement) {
  auto a100 = FindGpuPreset("a100-80gb");
  ASSERT_TRUE(a100.ok());
  EXPECT_EQ(a100->attention_head_dim, 64);
  auto h100 = FindGpuPreset("h100-sxm");
  ASSERT_TRUE(h100.ok());
  EXPECT_EQ(h100->attention_head_dim, 128);
}

}  // namespace
}  // namespace echosim
