// The regression of serving predictions: every scenarios/serving-*.yaml is run and its key
// metrics compared with tests/golden/serving_metrics.json. A change that moves a prediction
// must update the golden file on purpose:
//   ECHOSIM_UPDATE_GOLDEN=1 build/bin/serving_test --gtest_filter='ServingGolden*'
// and say why in the commit message. Scenarios whose trace (in ../shared) is absent are skipped.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "simulator/scenario/simulation.h"
#include "simulator/serving/serving_scenario.h"
#include "simulator/serving/serving_simulation.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

nlohmann::json KeyMetrics(const ServingResult& r) {
  const nlohmann::json s = ServingSummaryJson(r);
  return {{"requests", s["requests"]},
          {"completed", s["completed"]},
          {"ttft_p50_s", s["ttft_s"]["p50"]},
          {"ttft_p99_s", s["ttft_s"]["p99"]},
          {"tpot_p50_s", s["tpot_s"]["p50"]},
          {"e2e_mean_s", s["e2e_s"]["mean"]},
          {"output_tokens_per_s", s["output_tokens_per_s"]},
          {"slo_attainment", s["slo_attainment"]},
          {"simulated_s", s["simulated_s"]}};
}

TEST(ServingGoldenTest, ScenarioMetricsMatchGolden) {
  const fs::path dir = fs::path(ECHOSIM_SOURCE_DIR) / "scenarios";
  std::map<std::string, nlohmann::json> now;
  std::vector<std::string> skipped;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("serving-", 0) != 0 || entry.path().extension() != ".yaml") continue;
    auto sc = LoadScenarioFile(entry.path().string());
    ASSERT_TRUE(sc.ok()) << name << ": " << sc.status().ToString();
    auto cfg = ServingConfigFromScenario(*sc, dir.string());
    ASSERT_TRUE(cfg.ok()) << name << ": " << cfg.status().ToString();
    if (cfg->workload.rfind("trace:", 0) == 0 && !fs::exists(cfg->workload.substr(6))) {
      skipped.push_back(name);
      continue;
    }
    auto r = RunServing(*cfg);
    ASSERT_TRUE(r.ok()) << name << ": " << r.status().ToString();
    now[name] = KeyMetrics(*r);
  }
  ASSERT_GE(now.size() + skipped.size(), 3u);
  const fs::path golden = fs::path(ECHOSIM_SOURCE_DIR) / "tests/golden/serving_metrics.json";
  const char* update = std::getenv("ECHOSIM_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [name, m] : now) j[name] = m;
    std::ofstream(golden) << j.dump(2) << "\n";
    GTEST_SKIP() << "golden file rewritten: " << golden;
  }
  std::ifstream in(golden);
  ASSERT_TRUE(in) << "missing " << golden;
  const nlohmann::json j = nlohmann::json::parse(in);
  for (const auto& [name, m] : now) {
    ASSERT_TRUE(j.contains(name)) << name << " has no golden metrics; regenerate the golden file";
    for (const auto& [key, v] : m.items()) {
      const double want = j[name][key].get<double>();
      // Tight: only floating-point summation order may move a prediction.
      EXPECT_NEAR(v.get<double>(), want, 1e-9 * std::max(1.0, std::fabs(want))) << name << " " << key;
    }
  }
}

}  // namespace
}  // namespace echosim
