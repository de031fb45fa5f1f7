// echosim import: read Chakra ET or Kineto JSON traces, validate them as execution
// graphs, and summarise them (optionally simulate, or re-export as Chakra ET).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "simulator/cli/commands.h"
#include "simulator/core/strings.h"
#include "tracer/chakra/chakra_io.h"
#include "tracer/trace_graph.h"
#include "tracer/trace_set.h"

namespace echosim {
namespace {

constexpr const char* kImportUsage = R"(usage:
  echosim import chakra|kineto PATH... [--json] [--timeline FILE] [--out DIR]

Reads each PATH (a file, a folder of traces, or a Chakra prefix DIR/prefix; gzip is
accepted) and checks it: every node becomes part of a valid execution graph (dependencies
exist, no cycles, communication consistent). Prints one line per rank.

options:
  --json            one JSON object instead of the table
  --timeline FILE   simulate the imported ranks with their recorded durations and write a
                    Chrome/Perfetto timeline
  --out DIR         write each rank as Chakra ET (DIR/trace.<rank>.et), e.g. Kineto -> Chakra
)";

int Usage(const std::string& msg) { return UsageError(msg, kImportUsage); }

}  // namespace

int CmdImport(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("echosim import needs a format (chakra or kineto) and paths");
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << kImportUsage;
    return 0;
  }
  const std::string format = args[0];
  if (format != "chakra" && format != "kineto") {
    return Usage(StrCat("echosim import: unknown format '", format, "'; valid: chakra, kineto"));
  }
  bool json = false;
  std::string timeline, out_dir;
  std::vector<std::string> paths;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--timeline" || a == "--out") {
      if (i + 1 >= args.size()) return Usage(StrCat(a, " needs a value"));
      (a == "--timeline" ? timeline : out_dir) = args[++i];
    } else if (!a.empty() && a[0] == '-') {
      return Usage(StrCat("unknown option '", a, "' for 'echosim import'"));
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) return Usage("echosim import needs at least one trace path");

  TraceSet all;
  all.format = format;
  all.origin = Join(paths, " ");
  for (const std::string& p : paths) {
    auto set = LoadTraceSet(p);
    if (!set.ok()) return Fail(set.status());
    if (set->format != format) {
      return Fail(InvalidArgument(StrCat(p, " holds ", set->format, " traces, not ", format)));
    }
    for (size_t i = 0; i < set->traces.size(); ++i) {
      for (const RankTrace& t : all.traces) {
        if (t.rank == set->traces[i].rank) {
          return Fail(InvalidArgument(StrCat(set->traces[i].source, " and ", t.source,
                                             " are both rank ", t.rank)));
        }
      }
      all.traces.push_back(std::move(set->traces[i]));
      all.stands_for.push_back(set->stands_for[i]);
    }
    all.world_size = std::max(all.world_size, set->world_size);
    for (const Communicator& c : set->communicators) all.communicators.push_back(c);
  }

  nlohmann::json j;
  j["format"] = format;
  nlohmann::json ranks = nlohmann::json::array();
  if (!json) {
    std::cout << "rank  nodes    compute  memory  host     comm   streams  dropped-deps  recorded-gpu-ms  source\n";
  }
  for (const RankTrace& t : all.traces) {
    auto g = BuildTraceGraph(t, TraceGraphOptions{});
    if (!g.ok()) return Fail(g.status());
    size_t compute = 0, memory = 0, host = 0, comm = 0;
    Duration gpu = 0;
    for (const TraceNode& n : t.nodes) {
      if (n.on_cpu) {
        ++host;
      } else if (n.kind == TraceNodeKind::kCompute) {
        ++compute;
        gpu += n.duration;
      } else if (n.kind == TraceNodeKind::kMemory) {
        ++memory;
        gpu += n.duration;
      } else {
        ++comm;
      }
    }
    const size_t dropped = g->missing_deps + g->self_deps + g->ctrl_deps_dropped;
    if (json) {
      ranks.push_back({{"rank", t.rank},
                       {"source", t.source},
                       {"schema", t.schema},
                       {"nodes", t.nodes.size()},
                       {"graph_nodes", g->graph.num_nodes()},
                       {"edges", g->graph.num_edges()},
                       {"compute_nodes", compute},
                       {"memory_nodes", memory},
                       {"host_nodes", host},
                       {"comm_nodes", comm},
                       {"streams", g->graph.stream_names()},
                       {"communicators", t.communicators.size()},
                       {"dropped_missing_deps", g->missing_deps},
                       {"dropped_self_deps", g->self_deps},
                       {"dropped_ctrl_deps", g->ctrl_deps_dropped},
                       {"recorded_gpu_s", DurationToSeconds(gpu)}});
    } else {
      char line[256];
      std::snprintf(line, sizeof(line), "%-5lld %-8zu %-8zu %-7zu %-8zu %-6zu %-8zu %-13zu %-16.4f ",
                    static_cast<long long>(t.rank), t.nodes.size(), compute, memory, host, comm,
                    g->graph.stream_names().size(), dropped, DurationToSeconds(gpu) * 1e3);
      std::cout << line << t.source << "\n";
    }
  }
  j["ranks"] = ranks;
  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) return Fail(InvalidArgument(StrCat("--out: cannot create '", out_dir, "': ", ec.message())));
    for (const RankTrace& t : all.traces) {
      const std::string file = (std::filesystem::path(out_dir) / StrCat("trace.", t.rank, ".et")).string();
      Status st = WriteChakraFile(t, file);
      if (!st.ok()) return Fail(st);
    }
    if (!json) std::cout << "wrote " << all.traces.size() << " Chakra trace(s) to " << out_dir << "\n";
  }
  if (!timeline.empty()) {
    TraceSimOptions o;
    o.keep_comm_durations = true;
    auto res = SimulateTraceSet(all, o);
    if (!res.ok()) return Fail(res.status());
    std::ofstream out(timeline, std::ios::binary);
    if (!out) return Fail(InvalidArgument(StrCat("--timeline: cannot write '", timeline, "'")));
    WriteTraceTimeline(*res, out);
    j["simulated_step_time_s"] = res->step_time_s;
    if (!json) {
      std::cout << "simulated with recorded durations: " << FormatDouble(res->step_time_s * 1e3, 6)
                << " ms; timeline written to " << timeline << "\n";
    }
  }
  if (json) std::cout << j.dump(2) << "\n";
  return 0;
}

}  // namespace echosim
