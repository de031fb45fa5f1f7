// Capacity search: the cheapest serving cluster that meets the SLOs at a given traffic.
//
// For every candidate (GPU type, TP, scheduler) whose model fits, the smallest number of
// replicas in [1, max_replicas] whose simulated SLO attainment reaches `target_attainment`
// is found by binary search (attainment is taken to grow with replicas), each step a full
// simulation of the workload. Candidates run in parallel on `threads` worker threads; each
// simulation is deterministic and results are reported in a fixed order, so the output does
// not depend on the thread count. Cost per hour = replicas * GPUs per replica * $/GPU-hour
// of the GPU type; without a price for a GPU type candidates are ranked by GPU count.
#ifndef ECHOSIM_SIMULATOR_SERVING_CAPACITY_SEARCH_H_
#define ECHOSIM_SIMULATOR_SERVING_CAPACITY_SEARCH_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "simulator/core/status.h"
#include "simulator/serving/serving_config.h"

namespace echosim {

struct CapacitySearchOptions {
  ServingConfig base;                    // model, workload, SLOs, everything but the choices
  std::vector<std::string> gpus;         // GPU presets to try
  std::vector<int64_t> tps;              // TP degrees to try
  std::vector<std::string> schedulers;   // schedulers to try
  int32_t max_replicas = 16;
  double target_attainment = 0.99;       // fraction of requests meeting every SLO
  std::map<std::string, double> usd_per_gpu_hour;  // by GPU preset; missing = unknown
  int threads = 0;                       // 0 = hardware concurrency
};

struct CapacityCandidate {
  std::string gpu;
  int64_t tp = 1;
  std::string scheduler;
  bool feasible = false;     // some replica count within max_replicas meets the SLOs
  std::string reason;        // why not (model does not fit, SLO not reached, ...)
  int32_t replicas = 0;
  int64_t gpus = 0;
  double usd_per_hour = 0;   // 0 when the GPU type has no price
  double slo_attainment = 0;
  double ttft_p99_s = 0, tpot_p99_s = 0;
  double output_tokens_per_s = 0;
  int simulations = 0;
};

struct CapacitySearchResult {
  std::vector<CapacityCandidate> candidates;  // ranked: feasible by cost (or GPUs), then the rest
  int simulations = 0;
  double wall_s = 0;
};

StatusOr<CapacitySearchResult> RunCapacitySearch(const CapacitySearchOptions& options);
nlohmann::json CapacitySearchJson(const CapacitySearchResult& result);
std::string CapacitySearchText(const CapacitySearchResult& result);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SERVING_CAPACITY_SEARCH_H_
