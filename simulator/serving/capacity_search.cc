#include "simulator/serving/capacity_search.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>

#include "policies/batch_scheduler.h"
#include "simulator/core/strings.h"
#include "simulator/serving/serving_simulation.h"

namespace echosim {
namespace {

struct Evaluation {
  Status status;
  double attainment = 0;
  double ttft_p99 = 0, tpot_p99 = 0, output_tps = 0;
};

Evaluation Evaluate(ServingConfig config, int32_t replicas) {
  config.replicas = replicas;
  config.out_dir.clear();
  Evaluation e;
  auto r = RunServing(std::move(config));
  if (!r.ok()) {
    e.status = r.status();
    return e;
  }
  const ServingMetrics& m = r->metrics;
  e.attainment = m.arrived() ? static_cast<double>(m.slo_met()) / m.arrived() : 0.0;
  e.ttft_p99 = m.ttft().Percentile(99);
  e.tpot_p99 = m.tpot().Percentile(99);
  e.output_tps = r->simulated_s > 0 ? m.output_tokens() / r->simulated_s : 0.0;
  return e;
}

void SearchCandidate(const CapacitySearchOptions& o, CapacityCandidate* c) {
  ServingConfig cfg = o.base;
  auto gpu = FindGpuPreset(c->gpu);
  if (!gpu.ok()) {
    c->reason = gpu.status().message();
    return;
  }
  cfg.replica.gpu = *gpu;
  cfg.replica.inference.tp = c->tp;
  cfg.replica.scheduler = c->scheduler;
  cfg.replica.max_batched_tokens = o.base.replica.max_batched_tokens;
  // Check the model fits before simulating.
  ServingConfig probe = cfg;
  Status st = ResolveServingConfig(&probe);
  if (st.ok()) st = SizeKvCache(probe.replica).status();
  if (!st.ok()) {
    c->reason = st.message();
    return;
  }
  // Binary search for the smallest replica count meeting the target.
  int32_t lo = 1, hi = o.max_replicas;
  Evaluation best;
  int32_t best_n = 0;
  Evaluation top = Evaluate(cfg, hi);
  ++c->simulations;
  if (!top.status.ok()) {
    c->reason = top.status.message();
    return;
  }
  if (top.attainment < o.target_attainment) {
    c->reason = StrCat("SLO attainment ", FormatDouble(100 * top.attainment, 4), "% < ",
                       FormatDouble(100 * o.target_attainment, 4), "% even with ", hi, " replicas");
    c->slo_attainment = top.attainment;
    return;
  }
  best = top;
  best_n = hi;
  hi -= 1;
  while (lo <= hi) {
    const int32_t mid = lo + (hi - lo) / 2;
    Evaluation e = Evaluate(cfg, mid);
    ++c->simulations;
    if (!e.status.ok()) {
      c->reason = e.status.message();
      return;
    }
    if (e.attainment >= o.target_attainment) {
      best = e;
      best_n = mid;
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  c->feasible = true;
  c->replicas = best_n;
  c->gpus = static_cast<int64_t>(best_n) * c->tp * cfg.replica.inference.pp;
  auto price = o.usd_per_gpu_hour.find(c->gpu);
  c->usd_per_hour = price == o.usd_per_gpu_hour.end() ? 0.0 : price->second * c->gpus;
  c->slo_attainment = best.attainment;
  c->ttft_p99_s = best.ttft_p99;
  c->tpot_p99_s = best.tpot_p99;
  c->output_tokens_per_s = best.output_tps;
}

}  // namespace

StatusOr<CapacitySearchResult> RunCapacitySearch(const CapacitySearchOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (o.gpus.empty() || o.tps.empty() || o.schedulers.empty()) {
    return InvalidArgument("serve-search needs at least one --gpus, --tp and --schedulers value");
  }
  if (o.max_replicas < 1 || o.max_replicas > 4096) {
    return InvalidArgument(StrCat("--max-replicas must be 1 to 4096, got ", o.max_replicas));
  }
  if (!(o.target_attainment > 0 && o.target_attainment <= 1)) {
    return InvalidArgument(StrCat("--slo-target must be in (0, 1], got ", o.target_attainment));
  }
  if (!(o.base.slo_ttft_ms > 0 || o.base.slo_tpot_ms > 0)) {
    return InvalidArgument("serve-search needs an SLO: --slo-ttft-ms and/or --slo-tpot-ms");
  }
  for (const std::string& g : o.gpus) {
    auto gpu = FindGpuPreset(g);
    if (!gpu.ok()) return InvalidArgument(StrCat("--gpus: ", gpu.status().message()));
  }
  for (const auto& [g, price] : o.usd_per_gpu_hour) {
    if (!(price > 0)) return InvalidArgument(StrCat("--usd-per-gpu-hour ", g, ": the price must be positive"));
  }
  // Names and the workload are shared by every candidate: check them once.
  for (const std::string& name : o.schedulers) {
    auto sched = MakeBatchScheduler(name);
    if (!sched.ok()) return InvalidArgument(StrCat("--schedulers: ", sched.status().message()));
  }
  for (int64_t tp : o.tps) {
    if (tp < 1 || tp > 1024) return InvalidArgument(StrCat("--tp: ", tp, " is not 1 to 1024"));
  }
  {
    auto src = MakeRequestSource(o.base.workload, o.base.workload_options);
    if (!src.ok()) return src.status();
  }
  CapacitySearchResult result;
  for (const std::string& g : o.gpus) {
    for (int64_t tp : o.tps) {
      for (const std::string& s : o.schedulers) {
        CapacityCandidate c;
        c.gpu = g;
        c.tp = tp;
        c.scheduler = s;
        result.candidates.push_back(c);
      }
    }
  }
  int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min<int>(threads, static_cast<int>(result.candidates.size()));
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    for (size_t i = next++; i < result.candidates.size(); i = next++) SearchCandidate(o, &result.candidates[i]);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  for (const CapacityCandidate& c : result.candidates) result.simulations += c.simulations;
  const bool priced = !o.usd_per_gpu_hour.empty();
  std::stable_sort(result.candidates.begin(), result.candidates.end(),
                   [&](const CapacityCandidate& a, const CapacityCandidate& b) {
                     if (a.feasible != b.feasible) return a.feasible;
                     if (!a.feasible) return false;
                     if (priced) {
                       // Unknown price ranks after every priced candidate.
                       const bool ap = a.usd_per_hour > 0, bp = b.usd_per_hour > 0;
                       if (ap != bp) return ap;
                       if (a.usd_per_hour != b.usd_per_hour) return a.usd_per_hour < b.usd_per_hour;
                     }
                     return a.gpus < b.gpus;
                   });
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

nlohmann::json CapacitySearchJson(const CapacitySearchResult& r) {
  nlohmann::json j;
  nlohmann::json arr = nlohmann::json::array();
  for (const CapacityCandidate& c : r.candidates) {
    nlohmann::json e = {{"gpu", c.gpu}, {"tp", c.tp}, {"scheduler", c.scheduler}, {"feasible", c.feasible}};
    if (c.feasible) {
      e["replicas"] = c.replicas;
      e["gpus"] = c.gpus;
      e["usd_per_hour"] = c.usd_per_hour;
      e["slo_attainment"] = c.slo_attainment;
      e["ttft_p99_s"] = c.ttft_p99_s;
      e["tpot_p99_s"] = c.tpot_p99_s;
      e["output_tokens_per_s"] = c.output_tokens_per_s;
    } else {
      e["reason"] = c.reason;
    }
    e["simulations"] = c.simulations;
    arr.push_back(e);
  }
  j["candidates"] = arr;
  if (!r.candidates.empty() && r.candidates.front().feasible) j["best"] = arr.front();
  j["simulations"] = r.simulations;
  j["sim_wall_s"] = r.wall_s;
  return j;
}

std::string CapacitySearchText(const CapacitySearchResult& r) {
  std::ostringstream o;
  o << "echosim serve-search: " << r.candidates.size() << " candidates, " << r.simulations << " simulations in "
    << FormatDouble(r.wall_s, 3) << " s\n";
  o << "  gpu         tp  scheduler  replicas  gpus  $/hour     attainment  TTFT p99 ms  TPOT p99 ms\n";
  for (const CapacityCandidate& c : r.candidates) {
    char line[512];
    if (c.feasible) {
      std::snprintf(line, sizeof(line), "  %-11s %2lld  %-9s  %8d  %4lld  %-9s  %9.2f%%  %11.4g  %11.4g\n",
                    c.gpu.c_str(), static_cast<long long>(c.tp), c.scheduler.c_str(), c.replicas,
                    static_cast<long long>(c.gpus),
                    c.usd_per_hour > 0 ? FormatDouble(c.usd_per_hour, 6).c_str() : "-", 100 * c.slo_attainment,
                    c.ttft_p99_s * 1e3, c.tpot_p99_s * 1e3);
    } else {
      std::snprintf(line, sizeof(line), "  %-11s %2lld  %-9s  infeasible: %s\n", c.gpu.c_str(),
                    static_cast<long long>(c.tp), c.scheduler.c_str(), c.reason.c_str());
    }
    o << line;
  }
  if (!r.candidates.empty() && r.candidates.front().feasible) {
    const CapacityCandidate& b = r.candidates.front();
    o << "  cheapest: " << b.replicas << " x " << b.gpu << " tp " << b.tp << " (" << b.gpus << " GPUs), scheduler "
      << b.scheduler << "\n";
  } else {
    o << "  no candidate meets the SLOs\n";
  }
  return o.str();
}

}  // namespace echosim
