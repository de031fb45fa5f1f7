// BuildTraceGraph: one rank's RankTrace -> an ExecutionGraph the executor runs.
//
// Dependencies: the nodes' data_deps order the graph (they are what ASTRA-sim's trace
// feeder schedules by); nodes are added in a topological order of them, ties broken by
// recorded launch order, then file order, so the result does not depend on hash order.
// A cycle of data dependencies is an error naming a node on it. Control dependencies
// (ctrl_deps) are then followed where they agree with that order; those pointing
// backwards would close a cycle (PyTorch-converted traces have such parent/child
// pairs) and are dropped and counted, or all are ignored with follow_ctrl_deps off.
// Dependencies on ids the trace does not contain, and of a node on itself, are
// dropped and counted.
//
// Streams: a node runs on its recorded stream, in order. Nodes without one go to
// "host" (host ops), "gpu" (GPU compute and memory ops: one at a time, as ASTRA-sim
// runs a rank's compute) or, for communication, to a lane: a lane is reused only by
// a node that depends (directly or through up to 64 ancestors) on the lane's last
// node, so lanes add no ordering the trace does not have.
//
// Point-to-point: the executor matches a send with its receive by (sender,
// receiver, tag). Here the k-th send from rank a to rank b gets tag k and so does
// the k-th receive on b from a, which matches messages in order whatever tags the
// file used (ASTRA-sim examples use tag 0 throughout). In traces echosim wrote
// (RankTrace::blocking_sends), a send holds its stream until matched, as an NCCL
// send does. Elsewhere sends are eager, as ASTRA-sim runs them: the transfer runs in
// the send's place (a kComm compute node), so the sender goes on when it ends; then a
// zero-length rendezvous on a per-peer stream "send to N" meets the zero-length
// receive, which therefore completes at max(message arrival, receive posted).
//
// Peers are encoded for the RankMap as CommInfo::peer = global peer rank + 1.
#ifndef ECHOSIM_TRACER_TRACE_GRAPH_H_
#define ECHOSIM_TRACER_TRACE_GRAPH_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "simulator/graph/execution_graph.h"
#include "tracer/rank_trace.h"

namespace echosim {

struct TraceGraphOptions {
  // Duration of a communication node; when empty, the recorded duration is used.
  std::function<Duration(const TraceNode&)> comm_duration;
  // Duration of a compute or memory node (e.g. scaled to another GPU, compute_scaling.h);
  // when empty, the recorded duration is used.
  std::function<Duration(const TraceNode&)> compute_duration;
  // Rendezvous family of each communicator (index as in RankTrace::communicators);
  // communicators beyond the vector, and -1 (all ranks), use `default_group`.
  std::vector<GroupKind> communicator_group;
  GroupKind default_group = GroupKind::kDp;
  bool follow_ctrl_deps = true;
};

struct TraceGraph {
  ExecutionGraph graph;
  std::vector<uint32_t> trace_node;  // graph node -> index into RankTrace::nodes
  size_t missing_deps = 0;           // data dependencies on ids absent from the trace (dropped)
  size_t self_deps = 0;              // data dependencies of a node on itself (dropped)
  size_t ctrl_deps_dropped = 0;      // control dependencies against the data order
  size_t eager_sends = 0;            // sends split into local completion + rendezvous
};

StatusOr<TraceGraph> BuildTraceGraph(const RankTrace& trace, const TraceGraphOptions& options);

// Kernel class of a GPU compute node in the graph (what interference depends on): the
// `op_class` attribute, else from the kernel name (compute_scaling.h), else GEMM; memory
// operations are memory-bound.
OpClass KernelClassOf(const TraceNode& node);

// Encoding of a global peer rank into CommInfo::peer (never 0) and back.
inline int32_t EncodePeer(int64_t global_rank) { return static_cast<int32_t>(global_rank + 1); }
inline int64_t DecodePeer(int32_t peer) { return static_cast<int64_t>(peer) - 1; }

}  // namespace echosim

#endif  // ECHOSIM_TRACER_TRACE_GRAPH_H_
