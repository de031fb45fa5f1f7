// The whole published-data validation (echosim validate): every row of the four measured
// training tables rebuilt, simulated at the held-out and shipped constants. Target (issue
// "Accuracy you can trust"): under 60 s on a 2-core development machine. Reads the tables
// from ../shared/data/measured (or ECHOSIM_DATA_DIR); skips when they are absent. Reports the
// simulated rows, distinct configurations, simulations and peak RSS as counters.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "simulator/validation/published.h"

namespace echosim {
namespace {

void BM_PublishedValidation(benchmark::State& state) {
  const char* env = std::getenv("ECHOSIM_DATA_DIR");
  const std::string dir =
      env != nullptr ? env : std::string(ECHOSIM_SOURCE_DIR) + "/../shared/data/measured";
  if (!std::filesystem::exists(std::filesystem::path(dir) / "training")) {
    state.SkipWithError(("no measured tables under " + dir).c_str());
    return;
  }
  ValidationOptions o;
  o.data_dir = dir;
  o.threads = static_cast<int>(state.range(0));
  int rows = 0, configs = 0, simulations = 0;
  for (auto _ : state) {
    auto rep = RunPublishedValidation(o);
    if (!rep.ok()) {
      state.SkipWithError(rep.status().message().c_str());
      return;
    }
    rows = 0;
    for (const ValidationRow& r : rep->rows) rows += r.skipped ? 0 : 1;
    configs = rep->distinct_configs;
    simulations = rep->simulations;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  state.counters["simulated_rows"] = rows;
  state.counters["distinct_configs"] = configs;
  state.counters["simulations"] = simulations;
  state.counters["peak_rss_gib"] = static_cast<double>(ru.ru_maxrss) / (1024.0 * 1024.0);
}
BENCHMARK(BM_PublishedValidation)->ArgName("threads")->Arg(2)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace
}  // namespace echosim
