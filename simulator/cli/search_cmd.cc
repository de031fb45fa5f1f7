// `echosim search`: enumerate the parallel plans of a training job (policies/plan_search.h),
// drop those that do not fit in memory, simulate the rest on worker threads and rank them
// by step time. Output order is deterministic: plans are simulated in any order but ranked
// by (step time, enumeration index), and every printed field except the wall clock is a
// pure function of the input.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "policies/plan_search.h"
#include "simulator/cli/commands.h"
#include "simulator/core/strings.h"
#include "simulator/scenario/simulation.h"
#include "simulator/scenario/yaml_proto.h"

namespace echosim {
namespace {

constexpr const char* kSearchUsage = R"(usage:
  echosim search --model NAME --gpu NAME --gpus N --global-batch B [options]

Enumerates (tp, pp, vpp, cp, ep, micro-batch, ZeRO, recompute) plans, drops the invalid ones
and those that do not fit in GPU memory, simulates the rest and ranks them by step time.

job options (each sets the scenario field in parentheses, as in `echosim train`):
  --model NAME --layers L --hidden H --heads A --ffn F --vocab V --kv-heads K --head-dim D --experts E --top-k K
  --gpu NAME --gpus N --gpus-per-node N --global-batch N --seq-len N --dtype bf16|fp16|fp8
  --fp8-recipe delayed|current|mxfp8 --bf16-layers-at-start N --bf16-layers-at-end N
  --attention flash|unfused --nic-gbps X --nvlink-gbps X --host-overhead-ms X
  --optimizer adam|muon --optimizer-moments fp32|bf16 --moe-dispatcher alltoall|flex
  --moe-grouped-gemm multi_stream|single_kernel
  --moe-load-imbalance X  the busiest EP rank's routed tokens over the mean (default: random
                          routing's); applied to the plans with ep > 1, which need ep >= X
  --flex-traffic-factor X --flex-sms N
  --host-launch-us X      host time per kernel launch (0: no host model; default: the GPU preset's)
  --host-loop-launch-us X host time per kernel a C++ loop launches (per-expert grouped GEMMs)
  --cuda-graph-scope LIST parts captured in CUDA graphs (attn, mlp, moe, moe_router, moe_preprocess,
                          mamba, full_iteration)
  --account-for-embedding-in-pipeline-split --account-for-loss-in-pipeline-split
                          count the embedding / loss as a pipeline layer (parallelism.account_for_*)
  --set KEY=VALUE         any scenario field by dotted name
search space (comma-separated candidate lists; defaults in parentheses):
  --tp LIST               (powers of two up to gpus per node)
  --pp LIST               (divisors of the model's layers, + 1 or 2 with the split flags)
  --vpp LIST              (1..8)
  --cp LIST               (1,2,4,8)
  --ep LIST               (1; powers of two up to the experts for MoE models)
  --micro-batch LIST      (1,2,4,8)
  --zero LIST             (1)
  --recompute LIST        (none,selective,full)
  --all-recompute         keep plans with more recomputation than the least that fits
output:
  --top N                 plans to print, default 10 (0: all)
  --threads N             simulation threads, default: the machine's cores
  --json                  one JSON object: counts and the ranked plans
)";

int Usage(const std::string& msg) { return UsageError(msg, kSearchUsage); }

// Flags that describe the job: flag -> scenario dotted key.
const std::map<std::string, const char*>& JobFlags() {
  static const std::map<std::string, const char*> flags = {
      {"--model", "workload.training.model"},
      {"--layers", "workload.training.shape.layers"},
      {"--hidden", "workload.training.shape.hidden"},
      {"--heads", "workload.training.shape.heads"},
      {"--ffn", "workload.training.shape.ffn_hidden"},
      {"--vocab", "workload.training.shape.vocab"},
      {"--kv-heads", "workload.training.shape.kv_heads"},
      {"--head-dim", "workload.training.shape.head_dim"},
      {"--experts", "workload.training.shape.experts"},
      {"--top-k", "workload.training.shape.top_k"},
      {"--gpu", "cluster.gpu"},
      {"--gpus", "cluster.gpus"},
      {"--gpus-per-node", "cluster.gpus_per_node"},
      {"--global-batch", "workload.training.global_batch_seqs"},
      {"--seq-len", "workload.training.seq_len_tokens"},
      {"--dtype", "workload.training.dtype"},
      {"--attention", "workload.training.attention"},
      {"--nic-gbps", "cluster.network.nic_gbps"},
      {"--nvlink-gbps", "cluster.network.nvlink_gbps"},
      {"--host-overhead-ms", "simulation.host_overhead_per_step_ms"},
      {"--host-launch-us", "simulation.host_launch_us"},
      {"--host-loop-launch-us", "simulation.host_loop_launch_us"},
      {"--cuda-graph-scope", "parallelism.cuda_graph_scope"},
      {"--flex-traffic-factor", "simulation.flex_dispatch_traffic_factor"},
      {"--optimizer", "workload.training.optimizer"},
      {"--optimizer-moments", "workload.training.optimizer_moments"},
      {"--moe-dispatcher", "parallelism.moe_dispatcher"},
      {"--flex-sms", "parallelism.flex_dispatcher_sms"},
      {"--moe-grouped-gemm", "parallelism.moe_grouped_gemm"},
      {"--moe-load-imbalance", "workload.training.moe_load_imbalance"},
      {"--fp8-recipe", "workload.training.fp8_recipe"},
      {"--bf16-layers-at-start", "workload.training.bf16_layers_at_start"},
      {"--bf16-layers-at-end", "workload.training.bf16_layers_at_end"},
  };
  return flags;
}

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out(1);
  for (char c : text) {
    if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

// A non-negative integer (positive unless `allow_zero`).
StatusOr<int64_t> ParseCount(const std::string& flag, const std::string& item, bool allow_zero) {
  int64_t v = 0;
  const char* b = item.data();
  const char* e = b + item.size();
  auto [ptr, ec] = std::from_chars(b, e, v);
  if (item.empty() || ec != std::errc() || ptr != e || v < (allow_zero ? 0 : 1)) {
    return InvalidArgument(StrCat(flag, ": '", item, "' is not a ",
                                  allow_zero ? "non-negative" : "positive", " integer"));
  }
  return v;
}

StatusOr<std::vector<int64_t>> ParseIntList(const std::string& flag, const std::string& text) {
  std::vector<int64_t> out;
  for (const std::string& item : SplitCommas(text)) {
    ECHOSIM_ASSIGN_OR_RETURN(int64_t v, ParseCount(flag, item, false));
    out.push_back(v);
  }
  return out;
}

// Scenario of one candidate plan: the base job with the plan's parallelism fields set.
scenario::Scenario CandidateScenario(const scenario::Scenario& base, const ParallelPlan& p) {
  scenario::Scenario sc = base;
  auto* par = sc.mutable_parallelism();
  par->set_tp(static_cast<uint32_t>(p.tp));
  par->set_pp(static_cast<uint32_t>(p.pp));
  par->set_vpp(static_cast<uint32_t>(p.vpp));
  par->set_cp(static_cast<uint32_t>(p.cp));
  par->set_ep(static_cast<uint32_t>(p.ep));
  par->set_dp(static_cast<uint32_t>(p.dp));
  par->set_zero(static_cast<uint32_t>(p.zero));
  par->set_sequence_parallel(p.sequence_parallel);
  par->set_recompute(RecomputeModeName(p.recompute));
  par->set_pipeline_schedule(p.pipeline_schedule);
  sc.mutable_workload()->mutable_training()->set_micro_batch_seqs(static_cast<uint32_t>(p.micro_batch));
  // A routing imbalance is between EP ranks: a plan without EP has none to price.
  if (p.ep <= 1) sc.mutable_workload()->mutable_training()->clear_moe_load_imbalance();
  sc.clear_name();
  return sc;
}

struct Outcome {
  std::optional<TrainingRun> run;
  Status error;
};

}  // namespace

int CmdSearch(const std::vector<std::string>& args) {
  scenario::Scenario base;
  PlanSearchSpace space;
  std::vector<std::string> sets;
  bool json = false;
  int64_t top = 10;
  int64_t threads = std::max<int64_t>(1, std::thread::hardware_concurrency());
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kSearchUsage;
      return 0;
    }
    if (a == "--json") {
      json = true;
      continue;
    }
    if (a == "--all-recompute") {
      space.keep_dominated_recompute = true;
      continue;
    }
    if (a == "--account-for-embedding-in-pipeline-split" || a == "--account-for-loss-in-pipeline-split") {
      const bool embedding = a == "--account-for-embedding-in-pipeline-split";
      Status st = ApplyOverride(StrCat("parallelism.account_for_", embedding ? "embedding" : "loss",
                                       "_in_pipeline_split=true"),
                                &base);
      if (!st.ok()) return Fail(st);
      continue;
    }
    if (a.empty() || a[0] != '-') return Usage(StrCat("unexpected argument '", a, "'"));
    if (i + 1 >= args.size()) return Usage(StrCat(a, " needs a value"));
    const std::string& v = args[i + 1];
    if (auto it = JobFlags().find(a); it != JobFlags().end()) {
      // A list flag takes comma-separated names: the field is a YAML sequence.
      const std::string assignment =
          StrCat(it->second, "=", a == "--cuda-graph-scope" ? StrCat("[", v, "]") : v);
      Status st = ApplyOverride(assignment, &base);
      if (!st.ok()) {
        std::string msg = st.message();
        const std::string prefix = "--set " + assignment + ": ";
        if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
        return Fail(InvalidArgument(StrCat(a, ": ", msg)));
      }
    } else if (a == "--set") {
      sets.push_back(v);
    } else if (a == "--recompute") {
      for (const std::string& item : SplitCommas(v)) {
        auto m = ParseChoice<RecomputeMode>("--recompute (parallelism.recompute)", item,
                                            {{"none", RecomputeMode::kNone},
                                             {"selective", RecomputeMode::kSelective},
                                             {"full", RecomputeMode::kFull}});
        if (!m.ok()) return Fail(m.status());
        space.recompute.push_back(*m);
      }
    } else if (a == "--top" || a == "--threads") {
      auto n = ParseCount(a, v, a == "--top");
      if (!n.ok()) return Fail(n.status());
      (a == "--top" ? top : threads) = *n;
    } else {
      const std::map<std::string, std::vector<int64_t>*> lists = {
          {"--tp", &space.tp}, {"--pp", &space.pp}, {"--vpp", &space.vpp},
          {"--cp", &space.cp}, {"--ep", &space.ep}, {"--micro-batch", &space.micro_batch},
          {"--zero", &space.zero}};
      auto it = lists.find(a);
      if (it == lists.end()) return Usage(StrCat("unknown option '", a, "' for 'echosim search'"));
      auto n = ParseIntList(a, v);
      if (!n.ok()) return Fail(n.status());
      *it->second = *n;
    }
    ++i;
  }
  for (const std::string& s : sets) {
    Status st = ApplyOverride(s, &base);
    if (!st.ok()) return Fail(st);
  }

  // The job (model, GPU, batch, sequence) as the simulator will see it.
  scenario::Scenario resolved = base;
  Status st = ResolveScenario(&resolved);
  if (!st.ok()) return Fail(st);
  // The job is checked without a plan (ep 1): a routing imbalance is checked here for what it
  // can be checked without one, and by each plan with EP against its ep.
  const double imbalance = resolved.workload().training().moe_load_imbalance();
  resolved.mutable_workload()->mutable_training()->clear_moe_load_imbalance();
  auto setup = MakeTrainingSetup(resolved);
  if (!setup.ok()) return Fail(setup.status());
  if (imbalance != 0 && (!(imbalance >= 1) || !setup->model.is_moe())) {
    return Fail(InvalidArgument(StrCat("workload.training.moe_load_imbalance (--moe-load-imbalance) must be >= 1 "
                                       "(the busiest EP rank's routed tokens over the mean) for an MoE model; got ",
                                       imbalance, " for '", setup->model.name, "' (", setup->model.experts,
                                       " experts)")));
  }
  st = SetPlanSearchJob(*setup, &space);
  if (!st.ok()) return Fail(st);
  space.moe_load_imbalance = imbalance;
  auto plans = EnumerateTrainingPlans(setup->model, space);
  if (!plans.ok()) return Fail(plans.status());

  const auto wall_start = std::chrono::steady_clock::now();
  const size_t n = plans->plans.size();
  std::vector<Outcome> outcomes(n);
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    for (size_t k = next++; k < n; k = next++) {
      auto run = RunTrainingScenario(CandidateScenario(base, plans->plans[k].plan));
      if (run.ok()) {
        outcomes[k].run = std::move(*run);
        // Keep the summary only: graphs and spans are not needed for ranking.
        outcomes[k].run->result.tracks.clear();
        outcomes[k].run->result.graphs.clear();
      } else {
        outcomes[k].error = run.status();
      }
    }
  };
  const int64_t nthreads = std::min<int64_t>(threads, std::max<size_t>(n, 1));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < nthreads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

  std::vector<size_t> order;
  std::vector<size_t> failed;
  for (size_t k = 0; k < n; ++k) (outcomes[k].run ? order : failed).push_back(k);
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return outcomes[x].run->result.step_time_s < outcomes[y].run->result.step_time_s;
  });
  const size_t shown = top == 0 ? order.size() : std::min<size_t>(order.size(), top);

  if (json) {
    nlohmann::json j;
    j["model"] = setup->model.name;
    j["gpu"] = setup->gpu.name;
    j["gpus"] = space.gpus;
    j["global_batch"] = space.global_batch;
    j["seq_len"] = space.seq_len;
    j["considered"] = plans->considered;
    j["invalid"] = plans->invalid;
    j["over_memory"] = plans->over_memory;
    j["dominated"] = plans->dominated;
    j["simulated"] = n;
    j["threads"] = nthreads;
    j["search_wall_s"] = wall_s;
    nlohmann::json ranked = nlohmann::json::array();
    for (size_t r = 0; r < shown; ++r) {
      const TrainingRun& run = *outcomes[order[r]].run;
      const ParallelPlan& p = run.setup.plan;
      nlohmann::json s = SummaryJson(run);
      s.erase("sim_wall_s");  // the only non-deterministic field
      s["rank"] = r + 1;
      s["micro_batch"] = p.micro_batch;
      s["zero"] = p.zero;
      s["recompute"] = RecomputeModeName(p.recompute);
      s["sequence_parallel"] = p.sequence_parallel;
      s["pipeline_schedule"] = p.pipeline_schedule;
      ranked.push_back(std::move(s));
    }
    j["plans"] = ranked;
    nlohmann::json errs = nlohmann::json::array();
    for (size_t k : failed) {
      const ParallelPlan& p = plans->plans[k].plan;
      errs.push_back({{"tp", p.tp}, {"pp", p.pp}, {"vpp", p.vpp}, {"cp", p.cp}, {"ep", p.ep},
                      {"micro_batch", p.micro_batch}, {"zero", p.zero},
                      {"recompute", RecomputeModeName(p.recompute)},
                      {"error", outcomes[k].error.message()}});
    }
    j["failed"] = errs;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "echosim plan search: " << setup->model.name << " on " << space.gpus << " x "
            << setup->gpu.name << ", global batch " << space.global_batch << " x " << space.seq_len
            << " tokens\n";
  std::cout << "  " << plans->considered << " combinations: " << plans->invalid << " invalid, "
            << plans->over_memory << " over memory, " << plans->dominated
            << " dominated (more recompute than needed), " << n << " simulated in "
            << FormatDouble(wall_s, 3) << " s on " << nthreads << " threads\n";
  if (!failed.empty()) std::cout << "  " << failed.size() << " plans failed to simulate\n";
  std::cout << "  rank  tp  pp vpp  cp  ep    dp  mb zero recompute  step_s     MFU     tok/s/GPU  mem GiB\n";
  for (size_t r = 0; r < shown; ++r) {
    const TrainingRun& run = *outcomes[order[r]].run;
    const ParallelPlan& p = run.setup.plan;
    char line[256];
    std::snprintf(line, sizeof(line),
                  "  %4zu %3lld %3lld %3lld %3lld %3lld %5lld %3lld %4lld %-9s %8.4f %6.2f%% %10.1f %8.2f\n",
                  r + 1, (long long)p.tp, (long long)p.pp, (long long)p.vpp, (long long)p.cp,
                  (long long)p.ep, (long long)p.dp, (long long)p.micro_batch, (long long)p.zero,
                  RecomputeModeName(p.recompute), run.result.step_time_s, 100.0 * run.result.mfu,
                  run.result.tokens_per_s_per_gpu,
                  run.result.peak_memory_bytes / (1024.0 * 1024.0 * 1024.0));
    std::cout << line;
  }
  if (n == 0) std::cout << "  no plan is valid and fits in memory\n";
  return 0;
}

}  // namespace echosim
