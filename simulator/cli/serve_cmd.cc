// `echosim serve`, `echosim serve-search` and `echosim validate-serving`.
//
//   echosim serve --model M --gpu G --tp N --replicas R --scheduler S --workload SPEC
//                 [--duration-s X] [--json] [--out DIR] ...     simulate a serving cluster
//   echosim serve SCENARIO.yaml [--set key=value] [flags]        a serving scenario file
//   echosim serve-search --model M --workload SPEC --slo-ttft-ms X --slo-tpot-ms Y
//                 [--gpus a,b] [--tp 1,2,4,8] [--schedulers vllm,sarathi] ...
//   echosim validate-serving [--data-dir DIR] [--json]
//
// Every flag of `serve` sets a scenario field (shown in the usage text), so flags, files and
// --set are one path, and --out writes the resolved scenario beside the results.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "policies/batch_scheduler.h"
#include "policies/request_router.h"
#include "simulator/cli/commands.h"
#include "simulator/core/strings.h"
#include "simulator/scenario/simulation.h"
#include "simulator/scenario/yaml_proto.h"
#include "simulator/serving/capacity_search.h"
#include "simulator/serving/serving_scenario.h"
#include "simulator/serving/serving_simulation.h"
#include "simulator/serving/serving_validation.h"

namespace echosim {
namespace {

constexpr const char* kServeUsage = R"(usage:
  echosim serve --model NAME --gpu NAME --workload SPEC [options]
  echosim serve SCENARIO.yaml [--set dotted.key=value ...] [options]
  echosim serve-search --model NAME --workload SPEC --slo-ttft-ms X --slo-tpot-ms Y [options]
  echosim validate-serving [--data-dir DIR] [--json]

serve options (each sets the scenario field in parentheses):
  --model NAME              model preset (workload.serving.model)
  --gpu NAME                GPU preset (cluster.gpu)
  --tp N --pp N             parallelism of one replica (parallelism.tp, parallelism.pp)
  --replicas N              identical replicas, default 1 (workload.serving.replicas)
  --prefill-replicas N --decode-replicas N
                            disaggregated prefill and decode pools (workload.serving.*_replicas)
  --scheduler NAME          vllm|sarathi|orca|static|vllm_v0, default vllm (workload.serving.scheduler)
  --router NAME             round_robin|least_outstanding|least_kv|prefix_affinity (workload.serving.router)
  --workload SPEC           trace:FILE | poisson:qps=Q,input=DIST,output=DIST | gamma:qps=Q,cv=C,... |
                            constant:qps=Q,...; DIST = fixed:N | uniform:A:B | lognormal:MEAN:SIGMA[:MAX] |
                            trace:FILE (workload.serving.workload)
  --duration-s X            arrivals stop at X s (workload.serving.duration_s)
  --max-requests N          at most N arrivals (workload.serving.max_requests)
  --time-scale X            multiply trace inter-arrival gaps by X (workload.serving.time_scale)
  --qps X                   rescale a trace to X requests/s (workload.serving.target_qps)
  --skip-bad-lines          skip malformed trace lines instead of stopping (workload.serving.skip_bad_lines)
  --seed N                  random seed, default 1 (seed)
  --max-batch-tokens N      token budget per iteration (workload.serving.max_batch_tokens)
  --max-num-seqs N          sequences per iteration, default 256 (workload.serving.max_num_seqs)
  --max-model-len N         prompt + output tokens, default: the model's (workload.serving.max_model_len)
  --block-size N            KV block size in tokens, default 16 (workload.serving.block_size_tokens)
  --gpu-memory-utilization X  default 0.9, as vLLM (workload.serving.gpu_memory_utilization)
  --kv-blocks N             KV blocks per replica instead of sizing from memory (workload.serving.kv_blocks)
  --prefix-caching          automatic prefix caching (workload.serving.prefix_caching)
  --dtype bf16|fp16|fp8     GEMM precision (workload.serving.dtype)
  --kv-dtype bf16|fp16|fp8  KV cache precision (workload.serving.kv_dtype)
  --cpu-overhead-us X       host time per iteration (workload.serving.cpu_overhead_per_iteration_us)
  --cpu-overhead-per-seq-us X  host time per sequence per iteration (workload.serving.cpu_overhead_per_seq_us)
  --cpu-overhead-per-new-request-us X  host time per request starting in an iteration
                            (workload.serving.cpu_overhead_per_new_request_us)
  --slo-ttft-ms X --slo-tpot-ms Y  SLOs for attainment and goodput (workload.serving.slo_*_ms)
  --usd-per-gpu-hour X      price for the cost report (workload.serving.usd_per_gpu_hour)
  --nic-gbps X --nvlink-gbps X  network bandwidths (cluster.network.*)
  --no-timeline             do not write timeline.json (output.timeline)
  --compute-backend model|gpu  kernel durations from the cost model, or measured on the local GPU
                            by echosim-kernels (workload.serving.compute_backend)
  --kernel-cache FILE       measured kernel times cache for --compute-backend gpu; 'none': no
                            cache (workload.serving.kernel_cache)
  --json                    print one JSON object
  --out DIR                 write summary.json, requests.csv, timeseries.csv, timeline.json and
                            scenario.resolved.yaml to DIR
serve-search options: the serve options, plus
  --gpus A,B                GPU presets to try (default: --gpu)
  --tp 1,2,4,8              TP degrees to try
  --schedulers A,B          schedulers to try (default: --scheduler)
  --max-replicas N          default 16
  --slo-target X            fraction of requests that must meet the SLOs, default 0.99
  --usd-per-gpu-hour G=X,.. price per GPU type (or one number for all)
  --threads N               parallel simulations, default: all cores
)";

int Usage(const std::string& msg) { return UsageError(msg, kServeUsage); }

struct FlagSpec {
  const char* key;
  bool takes_value;
};

const std::map<std::string, FlagSpec>& ServeFlags() {
  static const std::map<std::string, FlagSpec> flags = {
      {"--model", {"workload.serving.model", true}},
      {"--gpu", {"cluster.gpu", true}},
      {"--tp", {"parallelism.tp", true}},
      {"--pp", {"parallelism.pp", true}},
      {"--replicas", {"workload.serving.replicas", true}},
      {"--prefill-replicas", {"workload.serving.prefill_replicas", true}},
      {"--decode-replicas", {"workload.serving.decode_replicas", true}},
      {"--scheduler", {"workload.serving.scheduler", true}},
      {"--router", {"workload.serving.router", true}},
      {"--workload", {"workload.serving.workload", true}},
      {"--duration-s", {"workload.serving.duration_s", true}},
      {"--max-requests", {"workload.serving.max_requests", true}},
      {"--time-scale", {"workload.serving.time_scale", true}},
      {"--qps", {"workload.serving.target_qps", true}},
      {"--skip-bad-lines", {"workload.serving.skip_bad_lines", false}},
      {"--seed", {"seed", true}},
      {"--max-batch-tokens", {"workload.serving.max_batch_tokens", true}},
      {"--max-num-seqs", {"workload.serving.max_num_seqs", true}},
      {"--max-model-len", {"workload.serving.max_model_len", true}},
      {"--block-size", {"workload.serving.block_size_tokens", true}},
      {"--gpu-memory-utilization", {"workload.serving.gpu_memory_utilization", true}},
      {"--kv-blocks", {"workload.serving.kv_blocks", true}},
      {"--prefix-caching", {"workload.serving.prefix_caching", false}},
      {"--dtype", {"workload.serving.dtype", true}},
      {"--kv-dtype", {"workload.serving.kv_dtype", true}},
      {"--cpu-overhead-us", {"workload.serving.cpu_overhead_per_iteration_us", true}},
      {"--cpu-overhead-per-seq-us", {"workload.serving.cpu_overhead_per_seq_us", true}},
      {"--cpu-overhead-per-new-request-us", {"workload.serving.cpu_overhead_per_new_request_us", true}},
      {"--slo-ttft-ms", {"workload.serving.slo_ttft_ms", true}},
      {"--slo-tpot-ms", {"workload.serving.slo_tpot_ms", true}},
      {"--usd-per-gpu-hour", {"workload.serving.usd_per_gpu_hour", true}},
      {"--nic-gbps", {"cluster.network.nic_gbps", true}},
      {"--nvlink-gbps", {"cluster.network.nvlink_gbps", true}},
      {"--no-timeline", {"output.timeline", false}},
      {"--compute-backend", {"workload.serving.compute_backend", true}},
      {"--kernel-cache", {"workload.serving.kernel_cache", true}},
  };
  return flags;
}

// Applies one flag to the scenario, naming the flag (not the override) in errors.
Status ApplyFlag(const std::string& flag, const FlagSpec& spec, const std::string& value,
                 scenario::Scenario* sc) {
  const std::string assignment = StrCat(spec.key, "=", value);
  Status st = ApplyOverride(assignment, sc);
  if (st.ok()) return st;
  std::string msg = st.message();
  const std::string prefix = "--set " + assignment + ": ";
  if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
  return InvalidArgument(StrCat(flag, ": ", msg));
}

struct ServeArgs {
  scenario::Scenario scenario;
  bool json = false;
  std::string out_dir;
  std::string base_dir;  // folder of the scenario file (relative trace paths)
  // serve-search only (raw lists)
  std::string gpus, tps, schedulers, prices;
  int32_t max_replicas = 16;
  double slo_target = 0.99;
  int threads = 0;
};

// Parses serve / serve-search arguments. `search` accepts the list flags.
int ParseServeArgs(const std::vector<std::string>& args, bool search, ServeArgs* out) {
  std::vector<std::string> sets;
  std::vector<std::pair<std::string, std::string>> flags;
  std::string path;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* v) -> bool {
      if (i + 1 >= args.size()) return false;
      *v = args[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::cout << kServeUsage;
      return 0;
    } else if (a == "--json") {
      out->json = true;
    } else if (a == "--out") {
      if (!value(&out->out_dir)) return Usage("--out needs a value");
    } else if (a == "--set") {
      if (!value(&v)) return Usage("--set needs a value");
      sets.push_back(v);
    } else if (search && (a == "--gpus" || a == "--schedulers" || a == "--max-replicas" || a == "--slo-target" ||
                          a == "--threads" || a == "--tp" || a == "--usd-per-gpu-hour")) {
      if (!value(&v)) return Usage(StrCat(a, " needs a value"));
      if (a == "--gpus") out->gpus = v;
      if (a == "--schedulers") out->schedulers = v;
      if (a == "--tp") out->tps = v;
      if (a == "--usd-per-gpu-hour") out->prices = v;
      if (a == "--max-replicas" || a == "--threads") {
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (end == v.c_str() || *end != '\0' || n < (a == "--threads" ? 0 : 1) || n > 4096) {
          return Usage(StrCat(a, ": expected an integer from ", a == "--threads" ? 0 : 1, " to 4096, got '", v, "'"));
        }
        if (a == "--max-replicas") out->max_replicas = static_cast<int32_t>(n); else out->threads = static_cast<int>(n);
      }
      if (a == "--slo-target") {
        char* end = nullptr;
        out->slo_target = std::strtod(v.c_str(), &end);
        if (end == v.c_str() || *end != '\0' || !(out->slo_target > 0 && out->slo_target <= 1)) {
          return Usage(StrCat("--slo-target: expected a fraction in (0, 1], got '", v, "'"));
        }
      }
    } else if (ServeFlags().count(a)) {
      const FlagSpec& spec = ServeFlags().at(a);
      if (spec.takes_value) {
        if (!value(&v)) return Usage(StrCat(a, " needs a value"));
      } else {
        v = a.rfind("--no-", 0) == 0 ? "false" : "true";
      }
      flags.emplace_back(a, v);
    } else if (!a.empty() && a[0] == '-') {
      return Usage(StrCat("unknown option '", a, "' for 'echosim ", search ? "serve-search" : "serve", "'"));
    } else if (path.empty() && !search) {
      path = a;
    } else {
      return Usage(StrCat("unexpected argument '", a, "'"));
    }
  }
  if (!path.empty()) {
    auto sc = LoadScenarioFile(path);
    if (!sc.ok()) return Fail(sc.status());
    if (!sc->workload().has_serving()) {
      return Fail(InvalidArgument(StrCat(path, ": workload.serving is not set; run training scenarios with `echosim run`")));
    }
    out->scenario = *sc;
    out->base_dir = std::filesystem::path(path).parent_path().string();
    if (out->base_dir.empty()) out->base_dir = ".";
  }
  for (const auto& [flag, v] : flags) {
    Status st = ApplyFlag(flag, ServeFlags().at(flag), v, &out->scenario);
    if (!st.ok()) return Fail(st);
  }
  for (const std::string& s : sets) {
    Status st = ApplyOverride(s, &out->scenario);
    if (!st.ok()) return Fail(st);
  }
  // A scenario built from flags alone is a serving scenario even before --workload is given.
  out->scenario.mutable_workload()->mutable_serving();
  return -1;
}

Status WriteText(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  if (!out) return InvalidArgument(StrCat("--out: cannot write '", p.string(), "'"));
  out << text;
  if (!out) return Internal(StrCat("failed writing '", p.string(), "'"));
  return Status::Ok();
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

int CmdServe(const std::vector<std::string>& args) {
  ServeArgs a;
  const int rc = ParseServeArgs(args, /*search=*/false, &a);
  if (rc != -1) return rc;
  auto cfg = ServingConfigFromScenario(a.scenario, a.base_dir);
  if (!cfg.ok()) return Fail(cfg.status());
  cfg->out_dir = a.out_dir;
  auto res = RunServing(*cfg);
  if (!res.ok()) return Fail(res.status());
  const nlohmann::json summary = ServingSummaryJson(*res);
  if (a.json) {
    std::cout << summary.dump(2) << "\n";
  } else {
    std::cout << ServingSummaryText(*res);
  }
  if (!a.out_dir.empty()) {
    const std::filesystem::path dir(a.out_dir);
    scenario::Scenario resolved = a.scenario;
    FillResolvedServingScenario(res->config, &resolved);
    Status st = WriteText(dir / "summary.json", summary.dump(2) + "\n");
    if (st.ok()) st = WriteText(dir / "scenario.resolved.yaml", ProtoToYaml(resolved));
    if (!st.ok()) return Fail(st);
    if (!a.json) {
      std::cout << "  wrote " << (dir / "summary.json").string()
                << ", requests.csv, timeseries.csv, scenario.resolved.yaml"
                << (res->config.timeline ? ", timeline.json" : "") << "\n";
    }
  }
  return 0;
}

int CmdServeSearch(const std::vector<std::string>& args) {
  ServeArgs a;
  const int rc = ParseServeArgs(args, /*search=*/true, &a);
  if (rc != -1) return rc;
  if (a.scenario.cluster().gpu().empty() && !a.gpus.empty()) {
    a.scenario.mutable_cluster()->set_gpu(SplitList(a.gpus).front());
  }
  auto cfg = ServingConfigFromScenario(a.scenario);
  if (!cfg.ok()) return Fail(cfg.status());
  CapacitySearchOptions o;
  o.base = *cfg;
  o.gpus = a.gpus.empty() ? std::vector<std::string>{cfg->replica.gpu.name} : SplitList(a.gpus);
  o.schedulers = a.schedulers.empty() ? std::vector<std::string>{cfg->replica.scheduler} : SplitList(a.schedulers);
  if (a.tps.empty()) {
    o.tps = {1, 2, 4, 8};
  } else {
    for (const std::string& t : SplitList(a.tps)) {
      char* end = nullptr;
      const long v = std::strtol(t.c_str(), &end, 10);
      if (end == t.c_str() || *end != '\0') return Usage(StrCat("--tp: '", t, "' is not an integer"));
      o.tps.push_back(v);
    }
  }
  o.max_replicas = a.max_replicas;
  o.target_attainment = a.slo_target;
  o.threads = a.threads;
  if (!a.prices.empty()) {
    for (const std::string& item : SplitList(a.prices)) {
      const size_t eq = item.find('=');
      const std::string num = eq == std::string::npos ? item : item.substr(eq + 1);
      char* end = nullptr;
      const double price = std::strtod(num.c_str(), &end);
      if (end == num.c_str() || *end != '\0' || !(price > 0)) {
        return Usage(StrCat("--usd-per-gpu-hour: expected GPU=PRICE or a positive number, got '", item, "'"));
      }
      if (eq == std::string::npos) {
        for (const std::string& g : o.gpus) o.usd_per_gpu_hour[g] = price;
      } else {
        o.usd_per_gpu_hour[item.substr(0, eq)] = price;
      }
    }
  }
  auto res = RunCapacitySearch(o);
  if (!res.ok()) return Fail(res.status());
  if (a.json) {
    std::cout << CapacitySearchJson(*res).dump(2) << "\n";
  } else {
    std::cout << CapacitySearchText(*res);
  }
  return 0;
}

int CmdValidateServing(const std::vector<std::string>& args) {
  std::string data_dir;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--data-dir") {
      if (i + 1 >= args.size()) return Usage("--data-dir needs a value");
      data_dir = args[++i];
    } else {
      return Usage(StrCat("unknown option '", args[i], "' for 'echosim validate-serving'"));
    }
  }
  if (data_dir.empty()) {
    for (const char* candidate : {"../shared/data/measured", "shared/data/measured"}) {
      if (std::filesystem::exists(std::filesystem::path(candidate) / "serving")) {
        data_dir = candidate;
        break;
      }
    }
    if (data_dir.empty()) return Usage("no measured data found at ../shared/data/measured; pass --data-dir DIR");
  }
  auto rep = RunServingValidation(data_dir);
  if (!rep.ok()) return Fail(rep.status());
  if (json) {
    std::cout << ServingValidationJson(*rep).dump(2) << "\n";
  } else {
    std::cout << ServingValidationText(*rep);
  }
  return 0;
}

}  // namespace echosim
