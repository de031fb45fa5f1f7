// Kernel calibration files: parsing (errors name file, line and field), the fit (synthetic
// samples generated from known parameters must give those parameters back), exact-shape
// samples in the cost model, and the built-in lookup among embedded files.
#include "hardware/kernel_calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "hardware/compute_cost_model.h"
#include "simulator/core/strings.h"

namespace echosim {
namespace {

GpuSpec TestGpu() {
  GpuSpec g;
  g.name = "h100-sxm";
  g.peak_tflops_bf16 = g.peak_tflops_fp16 = 989;
  g.peak_tflops_fp8 = 1979;
  g.hbm_tbps = 3.35;
  g.memory_efficiency = 0.887;
  g.gemm_max_efficiency_bf16 = 0.803;
  g.gemm_max_efficiency_fp8 = 0.709;
  g.gemm_min_dim_half = 120;
  g.gemm_flops_half = 2e9;
  g.attention_efficiency = 0.332;
  return g;
}

ComputeOp Gemm(int64_t m, int64_t n, int64_t k, DType d, int64_t batch = 1) {
  ComputeOp op;
  op.name = "gemm";
  op.cls = OpClass::kGemm;
  op.dtype = d;
  op.m = m;
  op.n = n;
  op.k = k;
  op.batch = batch;
  op.flops = 2.0 * m * n * k * batch;
  op.bytes = 2.0 * (m * k + k * n + m * n) * batch;
  return op;
}

ComputeOp Attention(int64_t s, int64_t head_dim, int64_t bh, bool bwd) {
  ComputeOp op;
  op.name = bwd ? "attn.core.bwd" : "attn.core.fwd";
  op.cls = OpClass::kAttention;
  op.m = op.n = s;
  op.k = head_dim;
  op.batch = bh;
  op.flops = 4.0 * s * s * head_dim * bh / 2 * (bwd ? 2.5 : 1.0);
  op.bytes = 4.0 * s * head_dim * bh * 2;
  return op;
}

ComputeOp Memory(const char* name, double bytes, OpClass cls = OpClass::kMemoryBound) {
  ComputeOp op;
  op.name = name;
  op.cls = cls;
  op.bytes = bytes;
  return op;
}

// Known parameters, deliberately far from the datasheet values.
FittedComputeParams Truth(const GpuSpec& gpu) {
  FittedComputeParams p = DatasheetParams(gpu);
  p.memory.efficiency = 0.81;
  p.memory.overhead_s = 3.5e-6;
  p.optimizer.efficiency = 0.62;
  p.optimizer.overhead_s = 9e-6;
  p.kernel_overhead_s = p.memory.overhead_s;
  p.gemm[0] = {true, 0, 0.71, 260, 7e9};   // bf16
  p.gemm[2] = {true, 0, 0.58, 410, 2.5e10};  // fp8
  p.attention_efficiency[0] = 0.47;
  p.attention_efficiency[1] = 0.36;
  return p;
}

std::vector<KernelSample> Synthetic(const GpuSpec& gpu, const FittedComputeParams& truth) {
  std::vector<ComputeOp> ops;
  for (DType d : {DType::kBf16, DType::kFp8}) {
    for (int64_t m : {128, 512, 2048, 8192}) {
      for (int64_t n : {256, 1024, 4096}) {
        for (int64_t k : {64, 1024, 8192}) ops.push_back(Gemm(m, n, k, d));
      }
    }
    ops.push_back(Gemm(64, 64, 64, d, 512));
  }
  for (int64_t s : {512, 2048, 8192}) {
    for (bool bwd : {false, true}) ops.push_back(Attention(s, 128, 32, bwd));
  }
  for (double b : {1e5, 1e6, 1e7, 1e8, 1e9}) {
    ops.push_back(Memory("ln1.fwd", b));
    ops.push_back(Memory("optimizer.adam", b * 3, OpClass::kOptimizer));
  }
  std::vector<KernelSample> samples;
  for (const ComputeOp& op : ops) {
    KernelSample s;
    s.op = op;
    s.median_us = RooflineSeconds(gpu, truth, op) * 1e6;
    samples.push_back(s);
  }
  return samples;
}

TEST(KernelCalibrationTest, FitRecoversKnownParameters) {
  const GpuSpec gpu = TestGpu();
  const FittedComputeParams truth = Truth(gpu);
  const FittedComputeParams fit = FitKernelSamples(gpu, Synthetic(gpu, truth));
  auto near = [](double got, double want, double rel) { EXPECT_NEAR(got, want, rel * want) << want; };
  EXPECT_TRUE(fit.memory.fitted);
  near(fit.memory.efficiency, 0.81, 1e-6);
  near(fit.memory.overhead_s, 3.5e-6, 1e-6);
  near(fit.optimizer.efficiency, 0.62, 1e-6);
  near(fit.optimizer.overhead_s, 9e-6, 1e-6);
  near(fit.kernel_overhead_s, 3.5e-6, 1e-6);
  for (int d : {0, 2}) {
    EXPECT_TRUE(fit.gemm[d].fitted);
    near(fit.gemm[d].max_efficiency, truth.gemm[d].max_efficiency, 0.01);
    near(fit.gemm[d].min_dim_half, truth.gemm[d].min_dim_half, 0.03);
    near(fit.gemm[d].flops_half, truth.gemm[d].flops_half, 0.05);
  }
  // fp16 has no samples of its own: it takes bf16's fit.
  EXPECT_EQ(fit.gemm[1].max_efficiency, fit.gemm[0].max_efficiency);
  near(fit.attention_efficiency[0], 0.47, 0.005);
  near(fit.attention_efficiency[1], 0.36, 0.005);
  // And the fitted curve predicts the samples.
  for (const KernelSample& s : Synthetic(gpu, truth)) {
    near(RooflineSeconds(gpu, fit, s.op) * 1e6, s.median_us, 0.01);
  }
}

// A grouped GEMM issued one GEMM per group fills the GPU like the GEMMs in flight, not like
// one kernel of the whole batch, and pays the kernel overhead once per wave.
TEST(KernelCalibrationTest, GroupedGemmIssuedPerGroupFillsLikeTheGemmsInFlight) {
  const GpuSpec g = TestGpu();
  const FittedComputeParams p = DatasheetParams(g);
  ComputeOp batched = Gemm(2048, 1536, 2048, DType::kBf16, 16);
  ComputeOp grouped = batched;
  grouped.concurrency = 4;
  ComputeOp four = Gemm(2048, 1536, 2048, DType::kBf16, 4);
  EXPECT_EQ(GemmsInFlight(batched), 16);
  EXPECT_EQ(GemmsInFlight(grouped), 4);
  EXPECT_EQ(KernelLaunches(batched), 1);
  EXPECT_EQ(KernelLaunches(grouped), 4);
  EXPECT_DOUBLE_EQ(GemmCurveEfficiency(p, grouped), GemmCurveEfficiency(p, four));
  EXPECT_LT(GemmCurveEfficiency(p, grouped), GemmCurveEfficiency(p, batched));
  const double t_batched = RooflineSeconds(g, p, batched, 1.0);
  const double t_grouped = RooflineSeconds(g, p, grouped, 1.0);
  const double compute = batched.flops / (g.PeakFlopsPerS(DType::kBf16) * GemmCurveEfficiency(p, grouped));
  EXPECT_NEAR(t_grouped, compute + 4 * p.kernel_overhead_s, 1e-12);
  EXPECT_GT(t_grouped, t_batched);
  // Fewer groups than streams: all in flight, one wave, as one batched kernel.
  ComputeOp two = Gemm(2048, 1536, 2048, DType::kBf16, 2);
  two.concurrency = 4;
  EXPECT_DOUBLE_EQ(RooflineSeconds(g, p, two, 1.0),
                   RooflineSeconds(g, p, Gemm(2048, 1536, 2048, DType::kBf16, 2), 1.0));
}

TEST(KernelCalibrationTest, ClassesWithoutSamplesKeepDatasheet) {
  const GpuSpec gpu = TestGpu();
  KernelSample s;
  s.op = Memory("mlp.act.fwd", 1e8);
  s.median_us = 50;
  const FittedComputeParams fit = FitKernelSamples(gpu, {s});
  EXPECT_TRUE(fit.memory.fitted);
  EXPECT_FALSE(fit.gemm[0].fitted);
  EXPECT_EQ(fit.gemm[0].max_efficiency, gpu.gemm_max_efficiency_bf16);
  EXPECT_EQ(fit.attention_efficiency[1], gpu.attention_efficiency);
  // One size: the preset's overhead (2 us) and the bandwidth from the rest.
  EXPECT_NEAR(fit.memory.efficiency, 1e8 / (gpu.HbmBytesPerS() * 48e-6), 1e-9);
}

TEST(KernelCalibrationTest, DatasheetParamsReproduceTheDefaultModel) {
  const GpuSpec gpu = TestGpu();
  ComputeCostModel plain(gpu, 0.9);
  for (const ComputeOp& op : {Gemm(4096, 4096, 4096, DType::kBf16), Gemm(128, 8192, 1024, DType::kFp8),
                              Attention(4096, 128, 16, false), Memory("ln1.fwd", 3e7)}) {
    EXPECT_NEAR(RooflineSeconds(gpu, DatasheetParams(gpu), op, 0.9), DurationToSeconds(plain.Estimate(op)),
                1e-11);
  }
}

std::string CalibrationYaml(const std::string& extra_sample = "") {
  return StrCat(R"(# test calibration
kind: kernel_calibration
gpu: h100-sxm
device: "NVIDIA H100 80GB HBM3"
compute_capability: "9.0"
sm_count: 132
driver_version: "550.54"
cuda_runtime_version: "12.4"
measured_at: "2026-11-23T06:00:00Z"
clocks: {sm_mhz: 1980, max_sm_mhz: 1980, mem_mhz: 2619, locked: false}
method: {warmup: 5, repeats: 30, statistic: median, timer: cuda_event}
samples:
  - {name: "gemm", class: gemm, dtype: bf16, m: 4096, n: 4096, k: 4096, batch: 1, flops: 1.37e11, bytes: 1.0e8, median_us: 180.5, p10_us: 179.9, p90_us: 181.2, kernel: "cublasLt"}
  - {name: "ln1.fwd", class: memory_bound, dtype: bf16, m: 0, n: 0, k: 0, batch: 1, flops: 0, bytes: 33554432, median_us: 14.0}
)",
                extra_sample);
}

TEST(KernelCalibrationTest, ParsesTheContractFormat) {
  auto c = ParseKernelCalibration(CalibrationYaml(), "cal.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->gpu, "h100-sxm");
  EXPECT_EQ(c->device, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(c->sm_count, 132);
  EXPECT_EQ(c->sm_mhz, 1980);
  EXPECT_EQ(c->repeats, 30);
  ASSERT_EQ(c->samples.size(), 2u);
  EXPECT_EQ(c->samples[0].op.cls, OpClass::kGemm);
  EXPECT_EQ(c->samples[0].op.m, 4096);
  EXPECT_EQ(c->samples[0].kernel, "cublasLt");
  EXPECT_EQ(c->samples[0].line, 13);
  EXPECT_EQ(c->samples[1].op.cls, OpClass::kMemoryBound);
  EXPECT_EQ(c->Describe(), "cal.yaml (h100-sxm, NVIDIA H100 80GB HBM3, 2026-11-23T06:00:00Z)");
  EXPECT_TRUE(c->clocks_known);
  // Without NVML the harness writes `clocks: {known: false}` (with a comment).
  std::string no_nvml = CalibrationYaml();
  const std::string clocks = "clocks: {sm_mhz: 1980, max_sm_mhz: 1980, mem_mhz: 2619, locked: false}";
  no_nvml.replace(no_nvml.find(clocks), clocks.size(), "clocks: {known: false}   # NVML not available");
  auto n = ParseKernelCalibration(no_nvml, "cal.yaml");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_FALSE(n->clocks_known);
}

TEST(KernelCalibrationTest, ErrorsNameFileLineAndField) {
  struct Case {
    std::string text, want;
  };
  const std::vector<Case> cases = {
      {CalibrationYaml("  - {class: gemm, dtype: bf17, m: 1, n: 1, k: 1, median_us: 1}\n"),
       "cal.yaml:15: sample field 'dtype'"},
      {CalibrationYaml("  - {class: gemm, m: 1, n: 1, k: 1, median_us: -1}\n"),
       "cal.yaml:15: sample field 'median_us' must be a positive number"},
      {CalibrationYaml("  - {class: gemm, m: 1, n: 1, k: 1}\n"), "cal.yaml:15: sample needs field 'median_us'"},
      {CalibrationYaml("  - {class: gemm, m: x, n: 1, k: 1, median_us: 1}\n"), "cal.yaml:15: sample field 'm': bad value"},
      {CalibrationYaml("  - {class: gemm, m: 0, n: 1, k: 1, median_us: 1}\n"), "needs positive m, n, k"},
      {CalibrationYaml("  - {class: conv, median_us: 1}\n"), "valid choices"},
      {CalibrationYaml("  - {class: gemm, mm: 1, median_us: 1}\n"), "unknown sample field 'mm'"},
      {CalibrationYaml("  - {class: gemm, m: 8, n: 8, k: 8, median_us: 1}\n"),
       "cal.yaml:15: sample of class 'gemm' needs a positive 'flops' field"},
      {CalibrationYaml("  - {class: attention, m: 8, n: 8, k: 8, bytes: 64, median_us: 1}\n"),
       "cal.yaml:15: sample of class 'attention' needs a positive 'flops' field"},
      {CalibrationYaml("  - {class: memory_bound, name: ln.fwd, flops: 0, median_us: 1}\n"),
       "cal.yaml:15: sample of class 'memory_bound' needs a positive 'bytes' field"},
      {"kind: kernel_calibration\ngpu: x\nfoo: 1\n", "cal.yaml:3: unknown field 'foo'"},
      {"kind: nccl\n", "cal.yaml:1: field 'kind' must be 'kernel_calibration'"},
      {"gpu: x\nsamples: []\n", "field 'kind: kernel_calibration' is required"},
      {"kind: kernel_calibration\ngpu: x\nsamples: []\n", "at least one measured kernel"},
      {"kind: kernel_calibration\ngpu: [x\n", "cal.yaml:"},
      {"- 1\n", "must be a YAML map"},
  };
  for (const Case& c : cases) {
    auto r = ParseKernelCalibration(c.text, "cal.yaml");
    ASSERT_FALSE(r.ok()) << c.want;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
  }
}

TEST(KernelCalibrationTest, CostModelUsesExactSamplesThenTheFittedCurve) {
  const GpuSpec gpu = TestGpu();
  auto cal = ParseKernelCalibration(CalibrationYaml(), "cal.yaml");
  ASSERT_TRUE(cal.ok());
  auto cc = MakeComputeCalibration(gpu, *cal);
  ASSERT_TRUE(cc.ok());
  auto shared = std::make_shared<const ComputeCalibration>(*cc);
  ComputeCostModel m(gpu, 1.0, shared);
  // Exact shape: the measured median.
  EXPECT_NEAR(DurationToSeconds(m.Estimate(Gemm(4096, 4096, 4096, DType::kBf16))), 180.5e-6, 1e-12);
  EXPECT_NEAR(DurationToSeconds(m.Estimate(Memory("ln2.fwd", 33554432))), 14e-6, 1e-12);
  // Same bytes, another kernel family: not the norm's sample, the curve.
  const ComputeOp act = Memory("mlp.act.fwd", 33554432);
  EXPECT_NEAR(DurationToSeconds(m.Estimate(act)), RooflineSeconds(gpu, shared->params, act), 1e-12);
  // The sustained factor scales GEMM samples too.
  ComputeCostModel slow(gpu, 0.5, shared);
  EXPECT_NEAR(DurationToSeconds(slow.Estimate(Gemm(4096, 4096, 4096, DType::kBf16))), 361e-6, 1e-12);
  // A calibration of another GPU is refused.
  GpuSpec other = gpu;
  other.name = "a100-80gb";
  auto bad = MakeComputeCalibration(other, *cal);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("calibration is for gpu 'h100-sxm'"), std::string::npos);
}

TEST(KernelCalibrationTest, MeasuredTimesOverrideTheModel) {
  const GpuSpec gpu = TestGpu();
  auto measured = std::make_shared<MeasuredKernelTimes>();
  const ComputeOp g = Gemm(1024, 1024, 1024, DType::kBf16);
  measured->seconds[KernelShapeKey(g)] = 42e-6;
  ComputeCostModel m(gpu, 1.0, nullptr, measured);
  EXPECT_NEAR(DurationToSeconds(m.Estimate(g)), 42e-6, 1e-12);
  EXPECT_EQ(m.measured_misses(), 0);
  m.Estimate(Gemm(1024, 1024, 2048, DType::kBf16));
  EXPECT_EQ(m.measured_misses(), 1);
}

TEST(KernelCalibrationTest, ShapeKeysAndFamilies) {
  EXPECT_EQ(KernelShapeKey(Gemm(1, 2, 3, DType::kFp8, 4)), "gemm/fp8/1x2x3x4");
  // One GEMM per group over 2 streams is another kernel than one batched launch.
  ComputeOp grouped = Gemm(1, 2, 3, DType::kFp8, 4);
  grouped.concurrency = 2;
  EXPECT_EQ(KernelShapeKey(grouped), "gemm/fp8/1x2x3x4/s2");
  EXPECT_EQ(KernelFamily(Attention(8, 4, 2, true)), "bwd");
  ComputeOp decode = Attention(8, 4, 2, false);
  decode.name = "attn.decode";
  decode.n = 0;
  EXPECT_EQ(KernelFamily(decode), "decode");
  // The serving encoding keeps the context in the FLOPs: it is part of the shape.
  ComputeOp longer = decode;
  longer.flops *= 2;
  EXPECT_NE(KernelShapeKey(decode), KernelShapeKey(longer));
  EXPECT_TRUE(ComputeOpFromJson(ComputeOpToJson(decode), "x").ok());
  EXPECT_EQ(KernelFamily(Memory("attn.softmax.fwd", 1)), "softmax");
  EXPECT_EQ(KernelFamily(Memory("rope.fwd", 1)), "rope");
  EXPECT_EQ(KernelFamily(Memory("embedding.fwd", 1)), "embedding");
  EXPECT_EQ(KernelFamily(Memory("ln1.fwd", 1)), "norm");
  EXPECT_EQ(KernelFamily(Memory("mlp.act.bwd", 1)), "activation");
  EXPECT_EQ(KernelFamily(Memory("residual.add", 1)), "copy");
  EXPECT_NE(KernelShapeKey(Memory("ln1.fwd", 10)), KernelShapeKey(Memory("mlp.act.fwd", 10)));
}

TEST(KernelCalibrationTest, JsonRoundTripAndErrors) {
  const ComputeOp g = Gemm(128, 256, 512, DType::kFp16, 3);
  auto back = ComputeOpFromJson(ComputeOpToJson(g), "x");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(KernelShapeKey(*back), KernelShapeKey(g));
  EXPECT_EQ(back->flops, g.flops);
  ComputeOp grouped = Gemm(128, 256, 512, DType::kBf16, 16);
  grouped.concurrency = 4;
  auto grouped_back = ComputeOpFromJson(ComputeOpToJson(grouped), "x");
  ASSERT_TRUE(grouped_back.ok());
  EXPECT_EQ(grouped_back->concurrency, 4);
  EXPECT_EQ(ComputeOpToJson(g).find("concurrency"), std::string::npos);
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"{", "not valid JSON"},
           {"[1]", "expected a JSON object"},
           {R"({"m":1})", "field 'class' is missing"},
           {R"({"class":"gemm","m":"a"})", "field 'm' must be an integer"},
           {R"({"class":"gemm","m":1,"n":1,"k":1,"batch":0})", "field 'batch'"},
           {R"({"class":"gemm","m":1,"n":1,"k":1,"flops":-3})", "field 'flops'"},
           {R"({"class":"memory_bound","bytes":8,"concurrency":2})", "field 'concurrency'"},
           {R"({"class":"gemm","m":1,"n":1,"k":1,"concurrency":-1})", "field 'concurrency'"}}) {
    auto r = ComputeOpFromJson(text, "ops.jsonl:7");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find("ops.jsonl:7: "), std::string::npos);
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message();
  }
}

TEST(KernelCalibrationTest, BuiltInLookupAmongEmbeddedFiles) {
  const std::string yaml = CalibrationYaml();
  const EmbeddedFile files[] = {
      {"hardware/calibration/h100-sxm.yaml", yaml},
      {"hardware/calibration/training.yaml", "compute_sustained_factor: 1\n"},
  };
  auto c = BuiltInKernelCalibration("h100-sxm", files);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->source, "hardware/calibration/h100-sxm.yaml");
  auto none = BuiltInKernelCalibration("a100-80gb", files);
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  // The repository's own embedded files: whatever is there parses (none is an error).
  for (const std::string gpu : {"h100-sxm", "a100-80gb", "h200", "b200"}) {
    auto r = BuiltInKernelCalibration(gpu);
    EXPECT_TRUE(r.ok() || r.status().code() == StatusCode::kNotFound) << r.status().ToString();
  }
}

}  // namespace
}  // namespace echosim
