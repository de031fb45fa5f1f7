// Accuracy gate: predicted vs measured step time on the published training tables in
// ../shared/data/measured (echosim validate). Fails when a held-out error exceeds the
// ratchet in tests/golden/accuracy_ratchet.json, or when the shipped calibration constants
// are no longer what a refit on all rows gives (the model changed: refit and commit).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "simulator/validation/published.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

TEST(AccuracyTest, PublishedTablesWithinRatchet) {
  const fs::path data = fs::path(ECHOSIM_SOURCE_DIR) / ".." / "shared" / "data" / "measured";
  if (!fs::exists(data / "training")) GTEST_SKIP() << "no measured data at " << data;
  ValidationOptions opts;
  opts.data_dir = data.string();
  auto rep = RunPublishedValidation(opts);
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  std::ifstream in(fs::path(ECHOSIM_SOURCE_DIR) / "tests/golden/accuracy_ratchet.json");
  ASSERT_TRUE(in);
  const nlohmann::json ratchet = nlohmann::json::parse(in);
  int checked = 0;
  for (const ValidationSummary& s : rep->summaries) {
    if (s.shipped_constants) continue;
    ASSERT_TRUE(ratchet.contains(s.source)) << s.source;
    EXPECT_EQ(s.skipped, 0) << s.source;
    EXPECT_LE(s.median_abs_error, ratchet[s.source]["median_abs_error"].get<double>()) << s.source;
    EXPECT_LE(s.worst_abs_error, ratchet[s.source]["worst_abs_error"].get<double>())
        << s.source << " worst row: " << s.worst_label;
    ++checked;
  }
  EXPECT_EQ(checked, 4);
  EXPECT_EQ(rep->rows.size(), 27u);
  // The targets, independent of the ratchet: median <= 15 %, no row worse than 30 %.
  for (const ValidationRow& r : rep->rows) EXPECT_LE(std::fabs(r.error), 0.30) << r.label;
  const auto& tol = ratchet["refit_tolerance"];
  EXPECT_NEAR(rep->fit_all.compute_sustained_factor, rep->shipped.compute_sustained_factor,
              tol["compute_sustained_factor"].get<double>())
      << "refit the calibration: hardware/calibration/training.yaml";
  EXPECT_NEAR(rep->fit_all.host_overhead_per_step_ms, rep->shipped.host_overhead_per_step_ms,
              tol["host_overhead_per_step_ms"].get<double>())
      << "refit the calibration: hardware/calibration/training.yaml";
}

TEST(AccuracyTest, CsvReaderNamesFileAndLine) {
  const fs::path p = fs::temp_directory_path() / "echosim_bad.csv";
  std::ofstream(p) << "# comment\na,b\n1,2\n3\n";
  auto t = ReadCommentedCsv(p.string());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("echosim_bad.csv:4: expected 2 cells, got 1"), std::string::npos)
      << t.status().message();
  fs::remove(p);
}

}  // namespace
}  // namespace echosim
