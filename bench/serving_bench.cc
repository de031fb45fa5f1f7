// Serving simulation speed: one hour of the Azure LLM inference trace 2023 (conversation
// service, ../shared/traces/serving/azure_llm_2023_conv.csv, 19,366 requests) on 8 replicas
// of Llama-2-70B with TP4 on H100, vLLM V1 scheduler, least-outstanding routing. Target: at
// most 3.6 s on one core (1,000x faster than real time). A synthetic hour at the trace's
// rate (5.4 req/s, its mean prompt and output lengths) runs without ../shared.
// Reports simulated_s, requests, events, wall seconds per simulated hour and peak RSS.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <filesystem>

#include "simulator/serving/serving_simulation.h"

namespace echosim {
namespace {

ServingConfig Llama70bTp4x8(const std::string& workload) {
  ServingConfig c;
  c.replica.model = *FindModelPreset("llama2-70b");
  c.replica.gpu = *FindGpuPreset("h100-sxm");
  c.replica.inference.tp = 4;
  c.replica.scheduler = "vllm";
  c.replicas = 8;
  c.router = "least_outstanding";
  c.workload = workload;
  c.workload_options.duration_s = 3600;
  c.slo_ttft_ms = 2000;
  c.slo_tpot_ms = 100;
  return c;
}

void Run(benchmark::State& state, const ServingConfig& config) {
  double simulated = 0, wall = 0;
  int64_t requests = 0;
  uint64_t events = 0;
  for (auto _ : state) {
    auto r = RunServing(config);
    if (!r.ok()) {
      state.SkipWithError(r.status().message().c_str());
      return;
    }
    simulated = r->simulated_s;
    wall = r->sim_wall_s;
    requests = r->metrics.arrived();
    events = r->events;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  state.counters["simulated_s"] = simulated;
  state.counters["requests"] = static_cast<double>(requests);
  state.counters["events"] = static_cast<double>(events);
  state.counters["wall_s_per_sim_hour"] = simulated > 0 ? wall * 3600.0 / simulated : 0;
  state.counters["peak_rss_mib"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
}

void BM_AzureConvHour8xLlama2_70bTp4(benchmark::State& state) {
  const std::filesystem::path trace = std::filesystem::path(ECHOSIM_SOURCE_DIR) / ".." / "shared" / "traces" /
                                      "serving" / "azure_llm_2023_conv.csv";
  if (!std::filesystem::exists(trace)) {
    state.SkipWithError(("no trace at " + trace.string()).c_str());
    return;
  }
  Run(state, Llama70bTp4x8("trace:" + trace.string()));
}
BENCHMARK(BM_AzureConvHour8xLlama2_70bTp4)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_SyntheticHour8xLlama2_70bTp4(benchmark::State& state) {
  Run(state, Llama70bTp4x8("poisson:qps=5.4,input=lognormal:1155:1.0:4000,output=lognormal:211:0.8:1000"));
}
BENCHMARK(BM_SyntheticHour8xLlama2_70bTp4)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace echosim
