#include "hardware/gpu_spec.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

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
  // The sustained tensor rate: fitted on the Blackwell presets, absent (1) elsewhere.
  EXPECT_DOUBLE_EQ(h100->sustained_tensor_rate, 1.0);
  EXPECT_DOUBLE_EQ(FindGpuPreset("gb200")->sustained_tensor_rate, 0.83);
  EXPECT_DOUBLE_EQ(FindGpuPreset("gb300")->sustained_tensor_rate, 0.96);
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

// The training calibration's flex dispatcher factor: read and range-checked (the built-in
// value is checked against its refit in tests/validation/ep_dispatch_test.cc).
TEST(GpuSpecTest, TrainingCalibrationFlexTrafficFactor) {
  auto ok = ParseTrainingCalibration("flex_dispatch_traffic_factor: 0.8\n", "t.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_DOUBLE_EQ(ok->flex_dispatch_traffic_factor, 0.8);
  auto unset = ParseTrainingCalibration("fitted_on: x\n", "t.yaml");
  ASSERT_TRUE(unset.ok()) << unset.status().ToString();
  EXPECT_DOUBLE_EQ(unset->flex_dispatch_traffic_factor, 1.0);
  for (const char* bad : {"flex_dispatch_traffic_factor: 0\n", "flex_dispatch_traffic_factor: 2.5\n"}) {
    auto c = ParseTrainingCalibration(bad, "t.yaml");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find("flex_dispatch_traffic_factor must be in (0, 2]"), std::string::npos)
        << c.status().message();
  }
  auto typo = ParseTrainingCalibration("flex_factor: 0.8\n", "t.yaml");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("flex_dispatch_traffic_factor"), std::string::npos);
}

TEST(GpuSpecTest, Errors) {
  auto unknown = FindGpuPreset("v100");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown gpu 'v100'; valid gpus: a100-40gb, a100-80gb, b200, b300, gb200, gb300, h100-sxm, h200, h800"),
            std::string::npos);
  auto typo = ParseGpuYaml("name: g\nhbm_tbs: 3\n", "g.yaml");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("g.yaml:2: unknown field 'hbm_tbs'"), std::string::npos);
  // A field out of its range, after the required ones: the error names the field and the range.
  const std::string required =
      "name: g\npeak_tflops_bf16: 1\npeak_tflops_fp16: 1\nhbm_capacity_gb: 1\nhbm_tbps: 1\n"
      "nvlink_gbps: 1\nnic_gbps: 1\n";
  for (const auto& [line, want] : std::vector<std::pair<std::string, std::string>>{
           {"nic_efficiency: 1.5", "nic_efficiency is a fraction of peak and must be <= 1"},
           {"mamba_scan_efficiency: 0", "mamba_scan_efficiency must be positive"},
           {"sustained_tensor_rate: 1.2", "sustained_tensor_rate is a fraction of peak and must be <= 1"},
           {"sustained_tensor_rate: 0", "sustained_tensor_rate must be positive"},
           {"attention_fp8_speedup_bwd: -1", "attention_fp8_speedup_bwd must be a finite number >= 0"},
           {"attention_mxfp8_speedup_fwd_d192: .nan",
            "attention_mxfp8_speedup_fwd_d192 must be a finite number >= 0"}}) {
    auto bad = ParseGpuYaml(required + line + "\n", "g.yaml");
    ASSERT_FALSE(bad.ok()) << line;
    EXPECT_NE(bad.status().message().find(want), std::string::npos) << bad.status().message();
  }
  auto dim = ParseGpuYaml("name: g\nattention_head_dim: 0\n", "g.yaml");
  ASSERT_FALSE(dim.ok());
  EXPECT_NE(dim.status().message().find("g.yaml:2: field 'attention_head_dim': expected a positive integer"),
            std::string::npos)
      << dim.status().message();
}

// The GEMM size curve: FP4 has its own where a file gives one and inherits the others' otherwise;
// a negative or non-finite size term is an error naming the field.
TEST(GpuSpecTest, GemmSizeCurvePerPrecision) {
  const std::string required =
      "name: g\npeak_tflops_bf16: 1\npeak_tflops_fp16: 1\nhbm_capacity_gb: 1\nhbm_tbps: 1\n"
      "nvlink_gbps: 1\nnic_gbps: 1\n";
  const std::string base = required + "gemm_min_dim_half: 150\ngemm_flops_half: 3e9\n";
  auto inherit = ParseGpuYaml(base, "g.yaml");
  ASSERT_TRUE(inherit.ok()) << inherit.status().ToString();
  EXPECT_EQ(inherit->GemmMinDimHalf(DType::kFp4), 150);
  EXPECT_EQ(inherit->GemmFlopsHalf(DType::kFp4), 3e9);
  auto own = ParseGpuYaml(base + "gemm_min_dim_half_fp4: 0\ngemm_flops_half_fp4: 5e10\n", "g.yaml");
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(own->GemmMinDimHalf(DType::kFp4), 0);
  EXPECT_EQ(own->GemmFlopsHalf(DType::kFp4), 5e10);
  EXPECT_EQ(own->GemmMinDimHalf(DType::kFp8), 150);
  EXPECT_EQ(own->GemmFlopsHalf(DType::kFp8), 3e9);
  auto negative = ParseGpuYaml(required + "gemm_flops_half: -1\n", "g.yaml");
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("gemm_flops_half must be a finite number >= 0"), std::string::npos)
      << negative.status().message();
  auto nan = ParseGpuYaml(required + "gemm_min_dim_half: .nan\n", "g.yaml");
  ASSERT_FALSE(nan.ok());
  EXPECT_NE(nan.status().message().find("gemm_min_dim_half must be a finite number >= 0"), std::string::npos)
      << nan.status().message();
  auto nan4 = ParseGpuYaml(base + "gemm_flops_half_fp4: .inf\n", "g.yaml");
  ASSERT_FALSE(nan4.ok());
  EXPECT_NE(nan4.status().message().find("gemm_flops_half_fp4 must be a finite number"), std::string::npos)
      << nan4.status().message();
  // Fitted at fp8, the half-fill work of a bf16 GEMM is half as many flops (same time at half the
  // rate); a precision name outside the list is an error naming the choices.
  auto fp8_curve = ParseGpuYaml(base + "peak_tflops_fp8: 2\ngemm_curve_dtype: fp8\n", "g.yaml");
  ASSERT_TRUE(fp8_curve.ok()) << fp8_curve.status().ToString();
  EXPECT_DOUBLE_EQ(fp8_curve->GemmFlopsHalf(DType::kFp8), 3e9);
  EXPECT_DOUBLE_EQ(fp8_curve->GemmFlopsHalf(DType::kBf16), 1.5e9);
  auto bad_dtype = ParseGpuYaml(base + "gemm_curve_dtype: int8\n", "g.yaml");
  ASSERT_FALSE(bad_dtype.ok());
  EXPECT_NE(bad_dtype.status().message().find("field 'gemm_curve_dtype': expected one of bf16, fp16, fp8, fp4; got 'int8'"),
            std::string::npos)
      << bad_dtype.status().message();
  // The Blackwell presets' fp4 GEMMs fill later than their fp8 ones (AZ sweeps, gb200.yaml).
  auto gb200 = FindGpuPreset("gb200");
  ASSERT_TRUE(gb200.ok());
  EXPECT_GT(gb200->GemmFlopsHalf(DType::kFp4), gb200->GemmFlopsHalf(DType::kFp8));
}

// The A100 presets' attention efficiency was measured at head dim 64 and says so; the others
// at the default 128.
// FP8 attention's speed-up over bf16: the measured values at head dim 128 and 192, linear in the
// head dim between them and held outside; without a measurement the fp8 : bf16 peak ratio.
TEST(GpuSpecTest, Fp8AttentionSpeedupByPassRecipeAndHeadDim) {
  const GpuSpec gb200 = FindGpuPreset("gb200").value();
  EXPECT_DOUBLE_EQ(gb200.AttentionFp8Speedup(false, false, 128), 1.29);
  EXPECT_DOUBLE_EQ(gb200.AttentionFp8Speedup(true, false, 128), 1.06);
  EXPECT_DOUBLE_EQ(gb200.AttentionFp8Speedup(true, true, 128), 0.94);
  EXPECT_DOUBLE_EQ(gb200.AttentionFp8Speedup(true, true, 64), 0.94);
  EXPECT_DOUBLE_EQ(gb200.AttentionFp8Speedup(true, true, 192), 1.27);
  EXPECT_DOUBLE_EQ(gb200.AttentionFp8Speedup(true, true, 256), 1.27);
  EXPECT_NEAR(gb200.AttentionFp8Speedup(false, false, 160), (1.29 + 1.50) / 2, 1e-12);
  // H100: no measurement at 192 (cuDNN 9.19 has no fp8 kernel for it), so 128's holds there.
  const GpuSpec h100 = FindGpuPreset("h100-sxm").value();
  EXPECT_DOUBLE_EQ(h100.AttentionFp8Speedup(true, false, 192), 0.89);
  // ... and, without MXFP8 measurements (Hopper has no MXFP8), per-tensor fp8's values.
  EXPECT_DOUBLE_EQ(h100.AttentionFp8Speedup(true, true, 128), 0.89);
  EXPECT_DOUBLE_EQ(h100.AttentionFp8Speedup(false, true, 128), 1.47);
  // No measurement at all: the peaks' ratio.
  const std::string required =
      "name: g\npeak_tflops_bf16: 100\npeak_tflops_fp16: 100\npeak_tflops_fp8: 200\n"
      "hbm_capacity_gb: 1\nhbm_tbps: 1\nnvlink_gbps: 1\nnic_gbps: 1\n";
  auto g = ParseGpuYaml(required, "g.yaml");
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_DOUBLE_EQ(g->AttentionFp8Speedup(true, true, 128), 2.0);
  EXPECT_DOUBLE_EQ(g->AttentionFp8Speedup(false, false, 192), 2.0);
}

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
