// Accuracy gate of the serving simulator against measured vLLM results
// (../shared/data/measured/serving; `echosim validate-serving`). Fails when the
// leave-one-out median error of output throughput or median TPOT exceeds the gate, or when
// a refit of the host-overhead constants on all rows no longer gives the shipped values
// (simulator/serving/serving_calibration.h: the model changed, refit and commit).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "simulator/serving/serving_validation.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

// The gate: the target is 15% median error; these are the leave-one-out values
// reached (8.3% and 11.0% in the validate-serving report), rounded up, so a regression fails.
constexpr double kMedianThroughputError = 0.09;
constexpr double kMedianTpotError = 0.12;

TEST(ServingAccuracyTest, MeasuredVllmResultsWithinGate) {
  const fs::path data = fs::path(ECHOSIM_SOURCE_DIR) / ".." / "shared" / "data" / "measured";
  if (!fs::exists(data / "serving")) GTEST_SKIP() << "no measured data at " << data;
  auto rep = RunServingValidation(data.string());
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_GE(rep->represented, 20);
  EXPECT_LE(rep->median_abs_error_tokens_per_s, kMedianThroughputError);
  EXPECT_LE(rep->median_abs_error_tpot, kMedianTpotError);
  EXPECT_EQ(rep->fit.size(), 2u);  // a100-80gb and h100-sxm
  for (const auto& [gpu, f] : rep->fit) {
    const auto& s = rep->shipped.at(gpu);
    EXPECT_DOUBLE_EQ(f.base_us, s.base_us) << gpu << ": refit simulator/serving/serving_calibration.h";
    EXPECT_DOUBLE_EQ(f.per_seq_us, s.per_seq_us) << gpu << ": refit simulator/serving/serving_calibration.h";
    EXPECT_DOUBLE_EQ(f.new_request_us, s.new_request_us) << gpu << ": refit simulator/serving/serving_calibration.h";
  }
  for (const ServingValidationRow& r : rep->rows) {
    if (!r.represented) EXPECT_FALSE(r.reason.empty()) << "line " << r.line;
  }
}

}  // namespace
}  // namespace echosim
