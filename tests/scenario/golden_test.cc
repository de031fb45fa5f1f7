// The CI regression of predicted step time: every scenario in scenarios/ is run and its
// step time compared with tests/golden/step_times.json. A change that moves a prediction
// must update the golden file on purpose:
//   ECHOSIM_UPDATE_GOLDEN=1 build/bin/scenario_test --gtest_filter='Golden*'
// and say why in the commit message.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "simulator/scenario/simulation.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

std::map<std::string, double> RunAll() {
  std::map<std::string, double> out;
  for (const auto& entry : fs::directory_iterator(fs::path(ECHOSIM_SOURCE_DIR) / "scenarios")) {
    if (entry.path().extension() != ".yaml") continue;
    auto sc = LoadScenarioFile(entry.path().string());
    EXPECT_TRUE(sc.ok()) << entry.path() << ": " << sc.status().ToString();
    if (!sc.ok()) continue;
    if (sc->workload().has_serving()) continue;  // tests/serving/serving_golden_test.cc
    auto run = RunTrainingScenario(*sc);
    EXPECT_TRUE(run.ok()) << entry.path() << ": " << run.status().ToString();
    if (run.ok()) out[entry.path().filename().string()] = run->result.step_time_s;
  }
  return out;
}

TEST(GoldenTest, PredictedStepTimesMatchGolden) {
  const fs::path golden = fs::path(ECHOSIM_SOURCE_DIR) / "tests/golden/step_times.json";
  const std::map<std::string, double> now = RunAll();
  ASSERT_GE(now.size(), 3u);
  const char* update = std::getenv("ECHOSIM_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [name, t] : now) j[name] = {{"step_time_s", t}};
    std::ofstream(golden) << j.dump(2) << "\n";
    GTEST_SKIP() << "golden file rewritten: " << golden;
  }
  std::ifstream in(golden);
  ASSERT_TRUE(in) << "missing " << golden;
  const nlohmann::json j = nlohmann::json::parse(in);
  for (const auto& [name, t] : now) {
    ASSERT_TRUE(j.contains(name)) << name << " has no golden step time; regenerate the golden file";
    const double want = j[name]["step_time_s"].get<double>();
    // Tight: only floating-point summation order may move a prediction.
    EXPECT_NEAR(t, want, 1e-9 * want) << name << ": predicted step time moved";
  }
  for (const auto& [name, v] : j.items()) {
    EXPECT_TRUE(now.count(name)) << "golden entry " << name << " has no scenario file";
  }
}

}  // namespace
}  // namespace echosim
