// IterationCostModel with measured kernels (`echosim serve --compute-backend gpu`): "measured"
// times made from the roofline scaled by a known factor must come back at the grid points,
// interpolate linearly between them, and set the attention rates.
#include <gtest/gtest.h>

#include <cmath>

#include "hardware/compute_cost_model.h"
#include "hardware/gpu_spec.h"
#include "models/model_spec.h"
#include "simulator/serving/iteration_cost.h"

namespace echosim {
namespace {

struct Fixture {
  ModelSpec model = *FindModelPreset("llama3-8b");
  GpuSpec gpu = *FindGpuPreset("h100-sxm");
  InferenceConfig config;
  TopologyConfig topo;
  std::unique_ptr<IterationCostModel> Make() {
    return std::make_unique<IterationCostModel>(model, gpu, config, topo, 0, 0, 0);
  }
};

TEST(IterationCostMeasuredTest, GridPointsInterpolationAndAttention) {
  Fixture f;
  auto ref = f.Make();
  auto meas = f.Make();
  const std::vector<int64_t> grid = IterationCostModel::MeasurementTokens(512);
  ASSERT_EQ(grid.front(), 1);
  ASSERT_EQ(grid.back(), 512);
  constexpr double kFactor = 1.5;
  auto times = std::make_shared<MeasuredKernelTimes>();
  times->device = "test";
  ComputeCostModel roofline(f.gpu, 1.0);
  // One time per kernel shape, as measuring gives (GEMMs of fewer tokens than a tile share a
  // shape: the first one's time stands for them).
  for (const ComputeOp& op : meas->MeasurementOps(grid, 4096)) {
    times->seconds.emplace(KernelShapeKey(op), kFactor * DurationToSeconds(roofline.Estimate(op)));
  }
  ASSERT_TRUE(meas->UseMeasuredKernels(times, grid, 4096).ok());
  auto s = [](Duration d) { return DurationToSeconds(d); };
  for (int64_t t : {128, 256, 512}) {
    EXPECT_NEAR(s(meas->LinearLayerTime(t)), kFactor * s(ref->LinearLayerTime(t)), 1e-9) << t;
    EXPECT_NEAR(s(meas->HeadTime(t)), kFactor * s(ref->HeadTime(t)), 1e-9) << t;
  }
  // Between grid points: the straight line through the neighbours; beyond: extrapolated.
  const double y256 = s(meas->LinearLayerTime(256)), y512 = s(meas->LinearLayerTime(512));
  EXPECT_NEAR(s(meas->LinearLayerTime(320)), y256 + (y512 - y256) * 64.0 / 256.0, 1e-9);
  EXPECT_NEAR(s(meas->LinearLayerTime(1024)), y512 + (y512 - y256) * 2.0, 1e-9);
  // Attention: decode (bandwidth-bound) and prefill (compute-bound) scale with the kernels.
  AttentionWork decode;
  decode.decode_tokens = 64;
  decode.decode_context_tokens = 64.0 * 2048;
  EXPECT_NEAR(s(meas->AttentionLayerTime(decode)) / s(ref->AttentionLayerTime(decode)), kFactor, 0.02);
  AttentionWork prefill;
  prefill.prefill_tokens = 512;
  prefill.prefill_pairs = 512.0 * 513 / 2;
  prefill.prefill_kv_tokens = 512;
  EXPECT_NEAR(s(meas->AttentionLayerTime(prefill)) / s(ref->AttentionLayerTime(prefill)), kFactor, 0.05);
}

TEST(IterationCostMeasuredTest, MissingKernelIsAnError) {
  Fixture f;
  auto m = f.Make();
  const std::vector<int64_t> grid = IterationCostModel::MeasurementTokens(64);
  auto times = std::make_shared<MeasuredKernelTimes>();
  const Status st = m->UseMeasuredKernels(times, grid, 1024);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("measured kernels lack op"), std::string::npos) << st.message();
  EXPECT_FALSE(m->UseMeasuredKernels(times, {}, 1024).ok());
}

}  // namespace
}  // namespace echosim
