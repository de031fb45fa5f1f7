// The EP token dispatch against the Megatron-Core MoE report's Table 7 (published HybridEP and
// NCCL all-to-all timings): the gates of `echosim validate-collectives`' EP section.
#include "simulator/validation/ep_dispatch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "hardware/calibration.h"
#include "simulator/core/stats.h"

namespace echosim {
namespace {

std::vector<double> AbsErrors(const std::vector<EpDispatchResult>& rs, bool flex, bool cross) {
  std::vector<double> e;
  for (const EpDispatchResult& r : rs) {
    if (r.cell.flex == flex && r.cross_domain == cross) e.push_back(std::fabs(r.error));
  }
  return e;
}

TEST(EpDispatchValidationTest, EveryCellIsSimulated) {
  auto rs = ValidateEpDispatch();
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  ASSERT_EQ(rs->size(), EpDispatchCells().size());
  EXPECT_EQ(EpDispatchCells().size(), 32u);
  for (const EpDispatchResult& r : *rs) {
    EXPECT_GT(r.predicted_us, 0) << r.cell.gpu << " ep" << r.cell.ep;
    // GB200 cells fit one NVL72 domain; H100 EP 16 and up cross 8-GPU nodes.
    EXPECT_EQ(r.cross_domain, std::string(r.cell.gpu) == "h100-sxm" && r.cell.ep > 8);
  }
}

// The NCCL all-to-all model (no constant fitted on these cells): within 15% inside one
// NVLink domain (median 3.6% when this gate was set) and 30% across H100 nodes (median 19.6%).
TEST(EpDispatchValidationTest, NcclAllToAllMatchesThePublishedTimings) {
  auto rs = ValidateEpDispatch();
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  for (const EpDispatchResult& r : *rs) {
    if (r.cell.flex) continue;
    EXPECT_LT(std::fabs(r.error), r.cross_domain ? 0.30 : 0.15)
        << r.cell.gpu << " ep" << r.cell.ep << " " << r.cell.op << ": " << r.predicted_us << " us vs "
        << r.cell.measured_us;
  }
  EXPECT_LT(Median(AbsErrors(*rs, false, false)), 0.06);
}

// HybridEP: the shipped traffic factor is the refit on the single-domain cells (it fails when
// the communication model moves and the factor is not refitted; the fit was 1.018 when set,
// shipped as 1), and every HybridEP cell sits within 20% (single domain: median 5.3%, worst
// 15.7%; across H100 nodes: median 11.4%, worst 14.9% when set).
TEST(EpDispatchValidationTest, FlexDispatcherMatchesThePublishedTimings) {
  auto at_one = ValidateEpDispatch(1.0);
  ASSERT_TRUE(at_one.ok()) << at_one.status().ToString();
  EXPECT_NEAR(FitFlexTrafficFactor(*at_one), DefaultTrainingCalibration().flex_dispatch_traffic_factor, 0.03)
      << "refit: hardware/calibration/training.yaml flex_dispatch_traffic_factor";

  auto rs = ValidateEpDispatch();
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  for (const EpDispatchResult& r : *rs) {
    if (!r.cell.flex) continue;
    EXPECT_LT(std::fabs(r.error), 0.20) << r.cell.gpu << " ep" << r.cell.ep << " " << r.cell.op << ": "
                                        << r.predicted_us << " us vs " << r.cell.measured_us;
  }
  EXPECT_LT(Median(AbsErrors(*rs, true, false)), 0.08);
  EXPECT_LT(Median(AbsErrors(*rs, true, true)), 0.15);
}

// The override reaches the simulation: a smaller factor moves less traffic, only for the flex
// dispatcher inside one NVLink domain.
TEST(EpDispatchValidationTest, TrafficFactorScalesOnlyTheFlexDispatcher) {
  auto half = ValidateEpDispatch(0.5);
  auto one = ValidateEpDispatch(1.0);
  ASSERT_TRUE(half.ok() && one.ok());
  for (size_t i = 0; i < one->size(); ++i) {
    const EpDispatchResult& a = (*half)[i];
    const EpDispatchResult& b = (*one)[i];
    if (b.cell.flex && !b.cross_domain) {
      EXPECT_LT(a.predicted_us, 0.6 * b.predicted_us) << b.cell.gpu << " ep" << b.cell.ep;
    } else {
      EXPECT_DOUBLE_EQ(a.predicted_us, b.predicted_us);
    }
  }
}

}  // namespace
}  // namespace echosim
