// Accuracy gate of the NCCL collective model against ../shared/data/measured/collectives/:
// on every system with a known topology (hardware/nccl/measured-systems.yaml), predicted bus
// bandwidth within 10% of measured from 64 MiB and within 25% from 1 MiB. Skipped when the
// measurements are not there.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "simulator/network/nccl/collective_measurements.h"

namespace echosim {
namespace {

TEST(NcclAccuracyTest, KnownTopologySystemsMeetTheGate) {
  const std::string dir = std::string(ECHOSIM_SOURCE_DIR) + "/../shared/data/measured/collectives";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no measurements at " << dir;
  auto v = ValidateCollectives(dir);
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_GE(v->systems.size(), 8u);
  for (const SystemReport& r : v->systems) {
    std::printf(
        "%-22s %3d sizes  max |err| from 1 MiB %5.1f%%  from 64 MiB %5.1f%%  (NCCL's own model %6.1f%% / %6.1f%%)\n",
        r.system.id.c_str(), r.calibrated.points, r.calibrated.max_error_from_1mib * 100,
        r.calibrated.max_error_from_64mib * 100, r.uncalibrated.max_error_from_1mib * 100,
        r.uncalibrated.max_error_from_64mib * 100);
    EXPECT_GT(r.calibrated.points, 0) << r.system.id;
    EXPECT_LE(r.calibrated.max_error_from_1mib, kGateFrom1MiB) << r.system.id;
    EXPECT_LE(r.calibrated.max_error_from_64mib, kGateFrom64MiB) << r.system.id;
  }
  EXPECT_TRUE(v->all_pass);
  // Every row that is not compared says why.
  for (const ExcludedRow& e : v->excluded) EXPECT_FALSE(e.why.empty()) << e.source;
}

// hardware/nccl/alltoall-efficiency.yaml is what `echosim calibrate alltoall` fits today: the
// embedded constants come from the measured rows, not from a hand edit.
TEST(NcclAccuracyTest, AllToAllEfficiencyFileMatchesItsFit) {
  const std::string dir = std::string(ECHOSIM_SOURCE_DIR) + "/../shared/data/measured/collectives";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no measurements at " << dir;
  auto cat = LoadMeasuredSystems();
  ASSERT_TRUE(cat.ok()) << cat.status().message();
  auto fit = FitAllToAllEfficiency(*cat, dir);
  ASSERT_TRUE(fit.ok()) << fit.status().message();
  auto file = LoadAllToAllEfficiency();
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_NEAR(file->nvlink, fit->efficiency.nvlink, 1e-3);
  EXPECT_NEAR(file->network, fit->efficiency.network, 1e-3);
  EXPECT_GE(fit->rows.size(), 6u);
  // One efficiency per link class describes every row within 5%, and predicts each row from
  // the others of its class within 5%.
  EXPECT_LT(fit->max_residual, 0.05);
  EXPECT_EQ(fit->held_out_rows, static_cast<int>(fit->rows.size()));
  EXPECT_LT(fit->max_held_out_error, 0.05);
}

}  // namespace
}  // namespace echosim
