// TraceSet: the traced ranks of one job, and its simulation on a cluster.
//
// Loading (LoadTraceSet) accepts
//   - a folder with manifest.json (what `echosim trace` writes): the traces it lists,
//     which ranks each stands for, the communicators and the world size;
//   - a folder of Chakra files `prefix.<rank>.et[.gz]` (one prefix) or of Kineto
//     JSON files (`*.json[.gz]`, rank from distributedInfo or the file name);
//   - a prefix `DIR/prefix` of Chakra files; or a single trace file.
// The format of each file is detected from its content (JSON or protobuf), not its
// name. Without a manifest every trace stands for its own rank only.
//
// Simulation (SimulateTraceSet) rebuilds the whole job from the traced ranks:
//   - compute, memory and host nodes keep their recorded durations;
//   - collectives and transfers are re-timed by the network model
//     (AnalyticCollectiveModel) on the target topology from their bytes and their
//     communicator's members (a recorded duration is kept when the bytes are unknown,
//     or always with keep_comm_durations);
//   - ranks a trace stands for reuse its graph, as the training simulator's symmetric
//     mode does: one simulated rank per trace. A collective then completes when that
//     rank reaches it, after the time the whole communicator would take, and a send or
//     receive is matched with the rank that stands for the peer.
//   - When every rank of the world has its own trace, collectives rendezvous: each
//     starts when all members arrived. This needs each collective at the same node
//     position in every member's graph (true for symmetric traces); otherwise, or with
//     more than five communicator families, collectives complete independently and the
//     result says so.
// Before running, the collectives of every communicator are checked across the traced
// members (same count, type and size in the same order) and every peer must be a rank
// of the world; errors name the files and nodes.
#ifndef ECHOSIM_TRACER_TRACE_SET_H_
#define ECHOSIM_TRACER_TRACE_SET_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "simulator/graph/executor.h"
#include "simulator/network/topology.h"
#include "tracer/rank_trace.h"
#include "tracer/trace_graph.h"

namespace echosim {

struct TraceSet {
  std::string origin;   // what was loaded (folder, prefix or file)
  std::string format;   // "chakra" or "kineto"
  int64_t world_size = 0;
  std::vector<RankTrace> traces;                 // ascending rank
  std::vector<std::vector<int64_t>> stands_for;  // per trace, ascending
  std::vector<Communicator> communicators;       // from the manifest
  std::string gpu;  // GPU the traces were recorded on (manifest or trace metadata); empty: unknown
  // Streaming (LoadTraceSet with stream): per trace, the Chakra file whose nodes are read
  // only when SimulateTraceSet builds its graph (traces[i] then holds the file's metadata
  // and no nodes, and is freed again once the graph is built); an empty entry or an
  // empty vector: traces[i] holds its nodes.
  std::vector<std::string> files;
};

// "chakra" or "kineto", from the (decompressed) content of `path`.
StatusOr<std::string> DetectTraceFormat(const std::string& path);
// Reads one trace file of either format; `rank` as in the file name (-1: unknown).
StatusOr<RankTrace> ReadTraceFile(const std::string& path, int64_t rank);
// With `stream`, Chakra files are only opened for their metadata here; their nodes are
// read one file at a time while SimulateTraceSet builds the graphs, so memory holds the
// graphs and one file's nodes rather than every file's (Kineto JSON is read at once).
StatusOr<TraceSet> LoadTraceSet(const std::string& path, bool stream = false);
// Reads the nodes of every streamed trace of `set` (a set SimulateTraceSet or a writer
// that needs every node can use).
StatusOr<TraceSet> LoadStreamedTraces(const TraceSet& set);

struct TraceSimOptions {
  int64_t world_size = 0;      // 0: the traced world; larger: ranks beyond it repeat it
  std::string gpu = "h100-sxm";  // GPU preset giving NVLink / NIC bandwidths
  int64_t gpus_per_node = 8;
  double nvlink_gbps = 0;      // per GPU per direction, Gbit/s; 0: the GPU preset's
  double nic_gbps = 0;
  bool keep_comm_durations = false;
  double nvlink_latency_s = 2e-6;  // per hop (the scenario defaults)
  double nic_latency_s = 4e-6;
  double oversubscription = 1.0;
  int64_t nodes_per_leaf = 32;
  // Duration of a GPU compute / memory node on the target GPU (ComputeScaler); empty:
  // the recorded duration.
  std::function<Duration(const TraceNode&)> compute_duration;
  // Cost of a collective or transfer on the target topology: made once per run from the
  // topology (e.g. the NCCL model the training simulator uses). Empty: the analytic
  // latency-bandwidth model.
  using CommCostFn = std::function<StatusOr<Duration>(CollectiveKind, double bytes, const GroupShape&)>;
  std::function<StatusOr<CommCostFn>(const Topology&)> comm_model;
  // Build and check the graphs (the import) without running them: the result has the
  // graphs and node counts, no times.
  bool build_only = false;
  // Compute/communication interference on each GPU (the training simulator's model);
  // null: none. Each collective or transfer occupies 8 channels.
  const KernelInterference* interference = nullptr;
};

struct TraceRankResult {
  int64_t rank = 0;
  int64_t stands_for = 1;
  double finish_s = 0;
  uint64_t nodes = 0;
  double compute_s = 0;       // GPU compute or memory work running
  double exposed_comm_s = 0;  // communication with no compute beside it
  double host_s = 0;          // only host work (launch gaps, host ops) running
  double idle_s = 0;          // nothing running: waiting on other ranks
  size_t missing_deps = 0, self_deps = 0, ctrl_deps_dropped = 0;
};

struct TraceSimResult {
  double step_time_s = 0;
  int64_t world_size = 0;
  int64_t traced_ranks = 0;
  int64_t simulated_ranks = 0;
  bool rendezvous = false;    // collectives waited for all members
  std::string note;           // why collectives complete independently, if they do
  uint64_t nodes = 0;
  uint64_t events = 0;
  double sim_wall_s = 0;
  std::vector<TraceRankResult> ranks;  // per traced rank, ascending
  int64_t slowest_rank = 0;
  // For timelines: graphs and spans per simulated rank.
  std::vector<TraceGraph> graphs;
  std::vector<std::vector<Span>> spans;
};

StatusOr<TraceSimResult> SimulateTraceSet(const TraceSet& set, const TraceSimOptions& options);

nlohmann::json TraceSimJson(const TraceSimResult& r);
std::string TraceSimTable(const TraceSimResult& r);
// Chrome Trace Event JSON of the simulated ranks (one process per traced rank, one
// thread per stream); byte-identical across runs.
void WriteTraceTimeline(const TraceSimResult& r, std::ostream& out);

}  // namespace echosim

#endif  // ECHOSIM_TRACER_TRACE_SET_H_
