// echosim run-trace: simulate a traced or imported job (tracer/trace_set.h); and the
// reporting of `echosim run --trace DIR` (a scenario with a trace workload,
// simulator/scenario/trace_workload.h).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "simulator/cli/commands.h"
#include "simulator/core/strings.h"
#include "simulator/scenario/trace_workload.h"
#include "simulator/scenario/yaml_proto.h"
#include "tracer/trace_set.h"

namespace echosim {
namespace {

constexpr const char* kRunTraceUsage = R"(usage:
  echosim run-trace DIR|PREFIX|FILE [options]

Rebuilds the whole job from its traced ranks (echosim trace output, Chakra ET files
prefix.<rank>.et, or Kineto JSON files; the format is detected from the content) and
prints the predicted step time. Compute keeps its recorded durations; collectives and
transfers are re-timed by the network model on the target cluster.

options:
  --world-size N        simulate a world of N ranks (default: the traced world; larger
                        worlds repeat it, the all-ranks communicator grows with it)
  --gpu NAME            GPU preset giving NVLink and NIC bandwidth (default h100-sxm)
  --gpus-per-node N     default 8
  --nvlink-gbps X       per-GPU NVLink bandwidth, Gbit/s per direction (default: the GPU's)
  --nic-gbps X          per-GPU NIC bandwidth, Gbit/s per direction (default: the GPU's)
  --keep-comm-durations use recorded communication times instead of the network model
  --json                one JSON object instead of the table
  --timeline FILE       Chrome/Perfetto timeline of the simulated ranks
  --kineto DIR          Kineto-layout JSON of the simulated ranks (DIR/rank<r>.json)
)";

int Usage(const std::string& msg) { return UsageError(msg, kRunTraceUsage); }

}  // namespace

int CmdRunTrace(const std::vector<std::string>& args) {
  TraceSimOptions o;
  std::string path, timeline, kineto;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kRunTraceUsage;
      return 0;
    }
    if (a == "--json") {
      json = true;
    } else if (a == "--keep-comm-durations") {
      o.keep_comm_durations = true;
    } else if (a == "--world-size" || a == "--gpu" || a == "--gpus-per-node" ||
               a == "--nvlink-gbps" || a == "--nic-gbps" || a == "--timeline" || a == "--kineto") {
      if (i + 1 >= args.size()) return Usage(StrCat(a, " needs a value"));
      const std::string& v = args[++i];
      if (a == "--gpu") {
        o.gpu = v;
      } else if (a == "--timeline") {
        timeline = v;
      } else if (a == "--kineto") {
        kineto = v;
      } else {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (end == v.c_str() || *end != '\0' || !(x > 0)) {
          return Usage(StrCat(a, " '", v, "' must be a positive number"));
        }
        const bool integral = a == "--world-size" || a == "--gpus-per-node";
        if (integral && (x != static_cast<double>(static_cast<int64_t>(x)) || x > (1 << 20))) {
          return Usage(StrCat(a, " '", v, "' must be a positive integer up to 1048576"));
        }
        if (a == "--world-size") o.world_size = static_cast<int64_t>(x);
        if (a == "--gpus-per-node") o.gpus_per_node = static_cast<int64_t>(x);
        if (a == "--nvlink-gbps") o.nvlink_gbps = x;
        if (a == "--nic-gbps") o.nic_gbps = x;
      }
    } else if (!a.empty() && a[0] == '-') {
      return Usage(StrCat("unknown option '", a, "' for 'echosim run-trace'"));
    } else if (path.empty()) {
      path = a;
    } else {
      return Usage(StrCat("unexpected argument '", a, "': one trace folder, prefix or file"));
    }
  }
  if (path.empty()) return Usage("echosim run-trace needs a trace folder, prefix or file");
  auto set = LoadTraceSet(path, /*stream=*/true);
  if (!set.ok()) return Fail(set.status());
  auto res = SimulateTraceSet(*set, o);
  if (!res.ok()) return Fail(res.status());
  if (json) {
    nlohmann::json j = TraceSimJson(*res);
    j["format"] = set->format;
    j["source"] = path;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "trace set          " << path << " (" << set->format << ")\n" << TraceSimTable(*res);
  }
  if (!timeline.empty()) {
    std::ofstream out(timeline, std::ios::binary);
    if (!out) return Fail(InvalidArgument(StrCat("--timeline: cannot write '", timeline, "'")));
    WriteTraceTimeline(*res, out);
    if (!out) return Fail(Internal(StrCat("failed writing '", timeline, "'")));
  }
  if (!kineto.empty()) {
    Status st = WriteTraceKineto(*set, *res, o.gpu, kineto);
    if (!st.ok()) return Fail(st.WithContext("--kineto"));
  }
  return 0;
}

int RunTraceScenarioAndReport(scenario::Scenario sc, bool json, const std::string& timeline_file,
                              const std::string& out_dir, const std::string& kineto_dir) {
  auto run = RunTraceScenario(std::move(sc));
  if (!run.ok()) return Fail(run.status());
  const nlohmann::json summary = TraceRunSummaryJson(*run);
  if (json) {
    std::cout << summary.dump(2) << "\n";
  } else {
    std::cout << TraceRunSummaryTable(*run);
  }
  auto write = [](const std::string& path, const std::string& data) -> Status {
    std::ofstream out(path, std::ios::binary);
    if (!out) return InvalidArgument(StrCat("cannot write '", path, "'"));
    out << data;
    if (!out) return Internal(StrCat("failed writing '", path, "'"));
    return Status::Ok();
  };
  auto timeline = [&]() {
    std::ostringstream os;
    WriteTraceTimeline(run->result, os);
    return os.str();
  };
  if (!timeline_file.empty()) {
    Status st = write(timeline_file, timeline());
    if (!st.ok()) return Fail(st);
  }
  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) return Fail(InvalidArgument(StrCat("--out: cannot create '", out_dir, "': ", ec.message())));
    const std::filesystem::path dir(out_dir);
    Status st = write((dir / "summary.json").string(), summary.dump(2) + "\n");
    if (st.ok()) st = write((dir / "scenario.resolved.yaml").string(), ProtoToYaml(run->resolved));
    if (st.ok() && (!run->resolved.output().has_timeline() || run->resolved.output().timeline())) {
      st = write((dir / "timeline.json").string(), timeline());
    }
    if (!st.ok()) return Fail(st);
    if (!json) std::cout << "  wrote " << (dir / "summary.json").string() << ", timeline.json, scenario.resolved.yaml\n";
  }
  if (!kineto_dir.empty()) {
    Status st = WriteTraceKineto(run->set, run->result, run->resolved.cluster().gpu(), kineto_dir);
    if (!st.ok()) return Fail(st.WithContext("--kineto"));
  }
  return 0;
}

}  // namespace echosim
