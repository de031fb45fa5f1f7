// The serving simulation: requests arrive, a router sends each to a replica, every replica
// runs iterations chosen by its batch scheduler, and each iteration takes the time the
// IterationCostModel gives. One Engine drives it all; events are arrivals (one pending at a
// time, read from the workload stream), iteration ends, KV transfers (disaggregation) and
// periodic samples of KV use and queues.
//
// Contract: every arrival is either completed or reported as rejected (with a reason); the
// KV cache never hands out more blocks than it has; the same config gives the same result
// (only sim_wall_s differs). Memory is proportional to the requests alive at once.
#ifndef ECHOSIM_SIMULATOR_SERVING_SERVING_SIMULATION_H_
#define ECHOSIM_SIMULATOR_SERVING_SERVING_SIMULATION_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "simulator/core/status.h"
#include "simulator/serving/metrics.h"
#include "simulator/serving/serving_config.h"

namespace echosim {

struct ServingResult {
  ServingConfig config;  // resolved
  KvSizing kv;
  ServingMetrics metrics{SloSpec{}};
  double simulated_s = 0;   // time of the last completion
  double sim_wall_s = 0;
  uint64_t events = 0;
  int64_t truncated_outputs = 0;  // outputs cut to max_model_len - prompt
  int64_t skipped_lines = 0;
  std::vector<std::string> skip_messages;
  int64_t kv_transfers = 0;
  double kv_transfer_s_sum = 0;
  int64_t kv_evictions = 0;
  double gpu_hours = 0;
  double cost_usd = 0;
  // Iteration time of a decode-only batch of one sequence with a one-token context, and the
  // prefill of a one-token prompt: the floors of TPOT and TTFT on this replica.
  double min_decode_iteration_s = 0;
  double min_prefill_s = 0;
  // compute_backend gpu: the device measured and where the kernel times came from.
  std::string measured_device;
  int64_t kernel_shapes = 0, kernels_measured = 0, kernels_from_cache = 0;
};

// Optional observer of every finished or rejected request (tests, the CLI's CSV).
using RequestObserver = std::function<void(const RequestRecord&)>;

// Resolves `config` (ResolveServingConfig), sizes the KV cache, checks the SLOs can be met
// at all, and simulates the workload to its end.
StatusOr<ServingResult> RunServing(ServingConfig config, const RequestObserver& observer = nullptr);

// The --json summary: requests, ttft_s/tpot_s/e2e_s/itl_s/queue_s {p50,p90,p99,mean,max},
// throughput_tokens_per_s (input + output), output/input tokens per s, requests_per_s,
// slo_attainment, goodput_requests_per_s, kv_utilization, batch_size, gpu_hours, cost_usd,
// sim_wall_s, simulated_s and the configuration.
nlohmann::json ServingSummaryJson(const ServingResult& result);
std::string ServingSummaryText(const ServingResult& result);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SERVING_SERVING_SIMULATION_H_
