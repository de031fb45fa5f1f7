#include "hardware/compute_cost_model.h"

#include <gtest/gtest.h>

#include <memory>

namespace echosim {
namespace {

GpuSpec Simple() {
  GpuSpec g;
  g.name = "test";
  g.peak_tflops_bf16 = g.peak_tflops_fp16 = 100;
  g.peak_tflops_fp8 = 200;
  g.hbm_tbps = 1.0;
  g.memory_efficiency = 0.5;
  g.gemm_max_efficiency_bf16 = 0.8;
  g.gemm_max_efficiency_fp8 = 0.6;
  g.gemm_min_dim_half = 100;
  g.gemm_flops_half = 1e9;
  g.attention_efficiency = 0.4;
  return g;
}

// eff = 0.8 * d/(d+100) * F/(F+1e9): for 1000^3, d = 1000, F = 2e9 -> 0.8 * 10/11 * 2/3.
TEST(ComputeCostModelTest, GemmEfficiencyCurve) {
  ComputeCostModel m(Simple());
  ComputeOp op;
  op.cls = OpClass::kGemm;
  op.m = op.n = op.k = 1000;
  op.flops = 2e9;
  op.bytes = 6e6;
  EXPECT_NEAR(m.GemmEfficiency(op), 0.8 * 1000.0 / 1100 * 2.0 / 3, 1e-12);
  const double t = 2e9 / (100e12 * 0.8 * 1000.0 / 1100 * 2.0 / 3) + ComputeCostModel::kKernelOverheadS;
  EXPECT_EQ(m.Estimate(op), SecondsToDuration(t));
}

// A memory-bound op of 1 GB at 1 TB/s * 0.5 takes 2 ms (+ overhead).
TEST(ComputeCostModelTest, MemoryBound) {
  ComputeCostModel m(Simple());
  ComputeOp op;
  op.cls = OpClass::kMemoryBound;
  op.bytes = 1e9;
  EXPECT_EQ(m.Estimate(op), SecondsToDuration(2e-3 + ComputeCostModel::kKernelOverheadS));
}

// A skinny GEMM whose bytes outweigh its FLOPs is priced by the bandwidth roof.
TEST(ComputeCostModelTest, RooflinePicksTheSlowerRoof) {
  ComputeCostModel m(Simple());
  ComputeOp op;
  op.cls = OpClass::kGemm;
  op.m = 1;
  op.n = 100000;
  op.k = 100000;
  op.flops = 2e10;
  op.bytes = 2e10;  // 20 GB: 40 ms at 0.5 TB/s, far above the compute time
  EXPECT_EQ(m.Estimate(op), SecondsToDuration(2e10 / 0.5e12 + ComputeCostModel::kKernelOverheadS));
}

// Mamba-2's chunked scan is priced at the rate measured for the whole kernel, not by the GEMM
// size curve of its tiles; the memory roof still applies.
TEST(ComputeCostModelTest, ChunkedScanUsesTheMeasuredKernelRate) {
  GpuSpec g = Simple();
  g.mamba_scan_efficiency = 0.05;
  ComputeCostModel m(g);
  ComputeOp op;
  op.cls = OpClass::kGemm;
  op.m = op.k = 128;
  op.n = 64;
  op.batch = 1000;
  op.flops = 2e12;
  op.bytes = 1e6;
  const Duration as_gemm = m.Estimate(op);
  op.chunked_scan = true;
  EXPECT_EQ(m.Estimate(op), SecondsToDuration(2e12 / (100e12 * 0.05) + ComputeCostModel::kKernelOverheadS));
  EXPECT_GT(m.Estimate(op), as_gemm);
  op.bytes = 1e12;  // 2 s at 0.5 TB/s: above the compute time
  EXPECT_EQ(m.Estimate(op), SecondsToDuration(1e12 / 0.5e12 + ComputeCostModel::kKernelOverheadS));
}

TEST(ComputeCostModelTest, AttentionUsesItsEfficiency) {
  ComputeCostModel m(Simple());
  ComputeOp op;
  op.cls = OpClass::kAttention;
  op.flops = 4e12;
  EXPECT_EQ(m.Estimate(op), SecondsToDuration(4e12 / (100e12 * 0.4) + ComputeCostModel::kKernelOverheadS));
}

// A compute-bound attention kernel: 4 TFLOP over 4096 x 4096 scores at head dim 128.
ComputeOp Attention4k() {
  ComputeOp op;
  op.cls = OpClass::kAttention;
  op.flops = 4e12;
  op.m = op.n = 4096;
  op.k = 128;
  return op;
}

// An MXFP8 GEMM (ComputeOp::block_scaled) takes kBlockScaledGemmTimeRatio (1.051) times a
// per-tensor-scaled fp8 GEMM's compute time; a memory-bound one is not slowed.
TEST(ComputeCostModelTest, BlockScaledGemmsRunAtTheMeasuredRatio) {
  ComputeCostModel model(Simple());
  const double overhead = ComputeCostModel::kKernelOverheadS;
  ComputeOp gemm;
  gemm.cls = OpClass::kGemm;
  gemm.dtype = DType::kFp8;
  gemm.m = gemm.n = gemm.k = 8192;
  gemm.flops = 2.0 * 8192 * 8192 * 8192;
  gemm.bytes = 3.0 * 8192 * 8192;
  ComputeOp mx = gemm;
  mx.block_scaled = true;
  const double plain = DurationToSeconds(model.Estimate(gemm)) - overhead;
  EXPECT_NEAR((DurationToSeconds(model.Estimate(mx)) - overhead) / plain, 7.161 / 6.812, 1e-6);
  EXPECT_NEAR(kBlockScaledGemmTimeRatio, 1.0512, 1e-4);
  ComputeOp heavy = gemm;  // bound by its (here inflated) traffic, not its FLOPs
  heavy.bytes = 1e12;
  ComputeOp heavy_mx = heavy;
  heavy_mx.block_scaled = true;
  EXPECT_DOUBLE_EQ(DurationToSeconds(model.Estimate(heavy_mx)), DurationToSeconds(model.Estimate(heavy)));
}

// GpuSpec::sustained_tensor_rate scales the tensor-core work (GEMMs, fused attention) of the
// datasheet model and nothing else: memory-bound kernels and the Mamba scan keep their times.
TEST(ComputeCostModelTest, SustainedTensorRateSlowsTensorCoreWorkOnly) {
  GpuSpec held = Simple();
  held.sustained_tensor_rate = 0.5;
  ComputeCostModel full(Simple()), half(held);
  const double overhead = ComputeCostModel::kKernelOverheadS;
  auto ratio = [&](const ComputeOp& op) {
    return (DurationToSeconds(half.Estimate(op)) - overhead) /
           (DurationToSeconds(full.Estimate(op)) - overhead);
  };
  ComputeOp gemm;
  gemm.cls = OpClass::kGemm;
  gemm.m = gemm.n = gemm.k = 4096;
  gemm.flops = 2.0 * 4096 * 4096 * 4096;
  gemm.bytes = 3.0 * 4096 * 4096 * 2;
  EXPECT_NEAR(ratio(gemm), 2.0, 1e-6);
  EXPECT_NEAR(ratio(Attention4k()), 2.0, 1e-6);
  ComputeOp scan = gemm;
  scan.chunked_scan = true;
  EXPECT_NEAR(ratio(scan), 1.0, 1e-9);
  ComputeOp norm;
  norm.cls = OpClass::kMemoryBound;
  norm.bytes = 1e9;
  EXPECT_DOUBLE_EQ(DurationToSeconds(half.Estimate(norm)), DurationToSeconds(full.Estimate(norm)));
  // The calibrated path starts from the same datasheet parameters.
  EXPECT_NEAR(RooflineSeconds(held, DatasheetParams(held), gemm) - overhead,
              2.0 * (RooflineSeconds(Simple(), DatasheetParams(Simple()), gemm) - overhead), 1e-9);
}

// Attention dropout: the forward at 0.80 of its no-dropout rate, the backward at 0.65
// (FlashAttention-4 on GB200, Dao-AILab/flash-attention pull request 2597); a kernel of its own
// in the memo and in measured-time lookups.
TEST(ComputeCostModelTest, AttentionDropoutSlowsTheKernel) {
  ComputeCostModel m(Simple());
  ComputeOp op = Attention4k();
  op.name = "attn.fwd";
  const double overhead = ComputeCostModel::kKernelOverheadS;
  const double fwd = DurationToSeconds(m.Estimate(op)) - overhead;
  op.dropout = true;
  EXPECT_NEAR((DurationToSeconds(m.Estimate(op)) - overhead) / fwd, 1.0 / 0.80, 1e-6);
  op.name = "attn.bwd";
  EXPECT_NEAR((DurationToSeconds(m.Estimate(op)) - overhead) / fwd, 1.0 / 0.65, 1e-6);
  op.dropout = false;
  EXPECT_NEAR(DurationToSeconds(m.Estimate(op)) - overhead, fwd, 1e-12);
  EXPECT_NE(KernelShapeKey(op), [&] {
    ComputeOp d = op;
    d.dropout = true;
    return KernelShapeKey(d);
  }());
}

// Head dim 64 runs at 0.670 of the head-dim-128 rate (cuDNN 408 vs 609 TFLOP/s on H100); from
// 128 up the GPU's efficiency applies unchanged; the datasheet and calibrated paths agree.
TEST(ComputeCostModelTest, SmallHeadDimAttentionIsSlower) {
  EXPECT_NEAR(AttentionHeadDimFactor(64), 408.0 / 609.0, 0.002);
  EXPECT_DOUBLE_EQ(AttentionHeadDimFactor(128), 1.0);
  EXPECT_DOUBLE_EQ(AttentionHeadDimFactor(256), 1.0);
  EXPECT_GT(AttentionHeadDimFactor(96), AttentionHeadDimFactor(64));
  EXPECT_LT(AttentionHeadDimFactor(96), 1.0);
  ComputeCostModel m(Simple());
  ComputeOp op = Attention4k();
  const double t128 = DurationToSeconds(m.Estimate(op));
  op.k = 64;
  const double t64 = DurationToSeconds(m.Estimate(op));
  const double overhead = ComputeCostModel::kKernelOverheadS;
  EXPECT_NEAR((t64 - overhead) / (t128 - overhead), 1.0 / AttentionHeadDimFactor(64), 1e-6);
  EXPECT_NEAR(RooflineSeconds(Simple(), DatasheetParams(Simple()), op), t64 - overhead + 2e-6,
              1e-9);
}

// A 128-key sliding window runs at the measured fraction of the causal kernel's FLOP rate
// (cuDNN 9.22 on GB200, head dim 64, 4K tokens: 161 / 182 TFLOP/s against 943 / 769), longer
// windows faster, up to the causal rate from a band of half the keys, and fp8 windowed kernels
// at the bf16 rate (173 / 161 TFLOP/s measured).
TEST(ComputeCostModelTest, SlidingWindowAttentionRunsAtTheMeasuredRate) {
  EXPECT_DOUBLE_EQ(WindowedAttentionRate(0, 4096, false), 1.0);
  EXPECT_NEAR(WindowedAttentionRate(128, 4096, false), 161.0 / 943.0, 0.002);
  EXPECT_NEAR(WindowedAttentionRate(128, 4096, true), 182.0 / 769.0, 0.002);
  EXPECT_GT(WindowedAttentionRate(1024, 4096, false), WindowedAttentionRate(128, 4096, false));
  EXPECT_LT(WindowedAttentionRate(1024, 4096, false), 1.0);
  // No jump where a band becomes as wide as the causal kernel's mean.
  EXPECT_NEAR(WindowedAttentionRate(2047, 4096, false), 1.0, 1e-3);
  EXPECT_DOUBLE_EQ(WindowedAttentionRate(4095, 4096, true), 1.0);
  ComputeCostModel m(Simple());
  ComputeOp op = Attention4k();
  op.flops = 1e11;
  const double overhead = ComputeCostModel::kKernelOverheadS;
  const double full = DurationToSeconds(m.Estimate(op)) - overhead;
  op.attention_window = 128;
  const double banded = DurationToSeconds(m.Estimate(op)) - overhead;
  EXPECT_NEAR(banded / full, 1.0 / WindowedAttentionRate(128, 4096, false), 1e-6);
  op.dtype = DType::kFp8;
  EXPECT_NEAR(DurationToSeconds(m.Estimate(op)) - overhead, banded, 1e-12);
}

// Measured kernel times do not price a sliding-window kernel (the harness runs attention
// causal, without a band), and it is not among the distinct ops a run would measure.
TEST(ComputeCostModelTest, BandedAttentionIsNotTakenFromMeasuredTimes) {
  ComputeOp op = Attention4k();
  op.flops = 1e11;
  op.attention_window = 128;
  auto measured = std::make_shared<MeasuredKernelTimes>();
  measured->seconds[KernelShapeKey(op)] = 1.0;  // what a causal run of the shape would give
  ComputeCostModel with(Simple(), 1.0, nullptr, measured);
  with.RecordDistinctOps();
  ComputeCostModel without(Simple());
  EXPECT_DOUBLE_EQ(DurationToSeconds(with.Estimate(op)), DurationToSeconds(without.Estimate(op)));
  EXPECT_EQ(with.measured_misses(), 0);
  EXPECT_TRUE(with.distinct_ops().empty());
  op.attention_window = 0;
  with.Estimate(op);
  EXPECT_EQ(with.distinct_ops().size(), 1u);
}

// A GPU whose efficiency was measured at head dim 64 keeps it from 64 up and slows below.
TEST(ComputeCostModelTest, HeadDimFactorIsRelativeToTheMeasuredHeadDim) {
  EXPECT_DOUBLE_EQ(AttentionHeadDimFactor(64, 64), 1.0);
  EXPECT_DOUBLE_EQ(AttentionHeadDimFactor(128, 64), 1.0);
  EXPECT_LT(AttentionHeadDimFactor(32, 64), 1.0);
  EXPECT_NEAR(AttentionHeadDimFactor(32, 64) * AttentionHeadDimFactor(64, 128),
              AttentionHeadDimFactor(32, 128), 1e-12);
  GpuSpec g = Simple();
  g.attention_head_dim = 64;
  ComputeCostModel m(g);
  ComputeOp op;
  op.cls = OpClass::kAttention;
  op.flops = 4e12;
  op.k = 64;
  EXPECT_EQ(m.Estimate(op), SecondsToDuration(4e12 / (100e12 * 0.4) + ComputeCostModel::kKernelOverheadS));
}

}  // namespace
}  // namespace echosim
