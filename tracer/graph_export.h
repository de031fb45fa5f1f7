// Exporting a synthesized workload (ExecutionGraphs of simulated ranks) as Chakra ET.
//
// Every simulated rank becomes one `prefix.<rank>.et` (chakra_io.h) and the folder gets
// a manifest.json (manifest.h) saying which ranks each file stands for, so
// `echosim run --trace DIR` / `echosim run-trace DIR` and ASTRA-sim read it:
//   - compute kernels: COMP_NODE with their duration (duration_micros, and exact
//     duration_ps), their stream and kernel class (`op_class`: gemm, attention,
//     memory_bound, optimizer); host delays: COMP_NODE with is_cpu_op;
//   - collectives: COMM_COLL_NODE with comm_type, comm_size (nccl-tests convention) and
//     pg_name; the communicator's members are listed in the metadata (`comm:<name>`) and
//     the manifest; names are "<dim>.<lowest member>" (e.g. "tp.8", "dp.0");
//   - pipeline transfers: COMM_SEND_NODE / COMM_RECV_NODE with comm_dst / comm_src
//     (global peer rank), comm_size and comm_tag;
//   - data_deps: every edge of the graph (stream order, cross-stream waits, data
//     dependencies), so the graph is rebuilt exactly; launch_order keeps stream order.
// Node ids are the graph's node ids. Errors name the file.
#ifndef ECHOSIM_TRACER_GRAPH_EXPORT_H_
#define ECHOSIM_TRACER_GRAPH_EXPORT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "simulator/graph/execution_graph.h"
#include "tracer/manifest.h"
#include "tracer/rank_trace.h"

namespace echosim {

struct ExportRank {
  int64_t rank = 0;                     // global rank
  const ExecutionGraph* graph = nullptr;
  std::vector<int64_t> stands_for;      // global ranks this rank's file stands for, ascending
  // Members (global ranks, communicator order) of this rank's group of kind `g`.
  std::function<std::vector<int64_t>(GroupKind g)> members;
  // Global rank that a send/recv with peer selector `peer` (CommInfo::peer) talks to.
  std::function<int64_t(int32_t peer)> peer;
};

struct ExportOptions {
  std::string prefix = "trace";
  int64_t world_size = 0;
  std::string gpu;                  // GPU preset the durations are for (metadata and manifest)
  int64_t tp = 0, pp = 0, dp = 0;   // layout for the manifest (0: not given)
  std::vector<std::string> command; // what produced the workload, for the manifest
};

// One rank's graph as a RankTrace.
StatusOr<RankTrace> GraphToRankTrace(const ExportRank& r, const ExportOptions& o);
// Writes DIR/prefix.<rank>.et for every rank and DIR/manifest.json (creates DIR).
// Returns the manifest written.
StatusOr<TraceManifest> ExportChakraSet(const std::vector<ExportRank>& ranks, const ExportOptions& o,
                                        const std::string& dir);

}  // namespace echosim

#endif  // ECHOSIM_TRACER_GRAPH_EXPORT_H_
