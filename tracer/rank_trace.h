// RankTrace: one rank's recorded operations, as every trace format sees them.
//
// The importers (Chakra ET, Kineto JSON, echosim's own activity records) produce a
// RankTrace; the Chakra writer consumes one; BuildTraceGraph (trace_graph.h) turns
// one into an ExecutionGraph. Nodes keep the identifiers and dependencies of the
// file they came from, so errors can name them. Durations are picoseconds.
#ifndef ECHOSIM_TRACER_RANK_TRACE_H_
#define ECHOSIM_TRACER_RANK_TRACE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "models/ops.h"
#include "simulator/core/status.h"
#include "simulator/core/time.h"

namespace echosim {

enum class TraceNodeKind : uint8_t {
  kCompute,     // GPU kernel, or a host (CPU) operation when on_cpu
  kMemory,      // memcpy / memset / Chakra MEM_LOAD / MEM_STORE
  kCollective,  // runs on a communicator
  kSend,        // point-to-point to `peer`
  kRecv,        // point-to-point from `peer`
};
const char* TraceNodeKindName(TraceNodeKind k);

// Chakra CollectiveCommType values (the wire values of chakra_et.proto).
enum class ChakraCommType : int32_t {
  kAllReduce = 0,
  kReduce = 1,
  kAllGather = 2,
  kGather = 3,
  kScatter = 4,
  kBroadcast = 5,
  kAllToAll = 6,
  kReduceScatter = 7,
  kReduceScatterBlock = 8,
  kBarrier = 9,
};
const char* ChakraCommTypeName(int32_t comm_type);
// The collective the network model times for a Chakra collective type: reduce and
// gather/scatter are timed like reduce-scatter / all-gather (one ring pass, the same
// (n-1)/n * S traffic), a barrier like a zero-byte all-reduce. Fails on values
// outside the enum, naming the valid ones.
StatusOr<CollectiveKind> CollectiveForChakra(int32_t comm_type);

struct TraceNode {
  uint64_t id = 0;
  std::string name;
  TraceNodeKind kind = TraceNodeKind::kCompute;
  bool on_cpu = false;       // host-side operation
  std::string stream;        // stream or thread it ran on; empty: not recorded
  Duration duration = 0;     // picoseconds
  int64_t launch_order = -1; // position in the rank's launch order; -1: not recorded
  // Communication (kCollective, kSend, kRecv).
  int32_t comm_type = 0;     // ChakraCommType of a collective
  int64_t comm_bytes = 0;    // collectives: nccl-tests size convention; p2p: message
  int32_t communicator = -1; // index into RankTrace::communicators; -1: all ranks
  int64_t peer = -1;         // send: destination rank; recv: source rank (global)
  int64_t tag = 0;           // as recorded
  // Kernel class of GPU compute ("gemm", "attention", "memory_bound", "optimizer"), as
  // echosim's exporter writes it (attribute `op_class`); empty: not recorded.
  std::string op_class;
  std::vector<uint64_t> data_deps;
  std::vector<uint64_t> ctrl_deps;

  bool is_comm() const {
    return kind == TraceNodeKind::kCollective || kind == TraceNodeKind::kSend ||
           kind == TraceNodeKind::kRecv;
  }
  friend bool operator==(const TraceNode&, const TraceNode&) = default;
};

// A communicator (process group). `ranks` are global ranks in communicator-rank
// order; empty when the trace does not say (then it is resolved by the trace set).
struct Communicator {
  std::string name;
  std::vector<int64_t> ranks;
  friend bool operator==(const Communicator&, const Communicator&) = default;
};

struct RankTrace {
  int64_t rank = 0;
  int64_t world_size = 0;  // 0: not recorded
  std::string source;      // file name, for messages
  std::string schema;      // format version recorded in the file
  std::string gpu;         // GPU the trace was recorded on (preset name); empty: unknown
  // Written by echosim's tracer: sends block their stream until matched (NCCL). In
  // foreign Chakra traces sends are eager, as ASTRA-sim runs them.
  bool blocking_sends = false;
  std::vector<Communicator> communicators;
  std::vector<TraceNode> nodes;

  // Index of the communicator named `name`, adding it (with unknown ranks) if new.
  int32_t InternCommunicator(const std::string& name);
  friend bool operator==(const RankTrace&, const RankTrace&) = default;
};

}  // namespace echosim

#endif  // ECHOSIM_TRACER_RANK_TRACE_H_
