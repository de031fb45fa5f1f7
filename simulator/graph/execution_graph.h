// ExecutionGraph: the per-rank DAG of a training step for one class of ranks.
//
// Nodes are GPU work items (compute kernels, collectives, point-to-point sends and
// receives, host delays) in struct-of-arrays form, indexed by dense uint32 ids.
// Edges are stream order (added automatically between consecutive nodes of one
// stream), cross-stream waits and data dependencies. After Build() the graph is
// immutable; successors are stored in CSR form (built with Boost.Graph's
// compressed_sparse_row_graph) so the executor's hot loop walks flat arrays.
//
// A graph is a template: ranks that behave alike share one graph and the
// executor instantiates it per rank (rank-specific peers and groups are resolved
// through a RankMap at run time). Build() validates: every edge names existing
// nodes, no self-edges, acyclic (the error names a node on the cycle), and every
// communication node carries consistent data.
#ifndef ECHOSIM_SIMULATOR_GRAPH_EXECUTION_GRAPH_H_
#define ECHOSIM_SIMULATOR_GRAPH_EXECUTION_GRAPH_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "models/ops.h"
#include "simulator/core/status.h"
#include "simulator/core/time.h"

namespace echosim {

using NodeId = uint32_t;

enum class NodeKind : uint8_t {
  kCompute,     // runs for its duration once ready
  kCollective,  // starts when every member of its group has reached it
  kSend,        // rendezvous with the matching kRecv on the peer rank
  kRecv,
  kDelay,       // host-side time (launch gaps, data loading, logging)
};
const char* NodeKindName(NodeKind k);

// What a node counts as in the step-time breakdown. kHost: the host (CPU) issuing work, not
// GPU time (the breakdown counts a kernel held back by its host node as host-bound time).
enum class NodeCategory : uint8_t { kCompute, kComm, kOther, kHost };

struct CommInfo {
  CollectiveKind kind = CollectiveKind::kAllReduce;
  GroupKind group = GroupKind::kNone;
  double bytes = 0;
  int32_t peer = 0;   // send/recv: peer selector resolved by the RankMap (e.g. +1 / -1 stage)
  uint32_t tag = 0;   // send/recv: matches a send with its receive on the same channel
  std::string algorithm = "";  // as the collective model chose it (timeline annotation)
  std::string protocol = "";
  int channels = 0;
};

class ExecutionGraph {
 public:
  class Builder;

  size_t num_nodes() const { return kind_.size(); }
  size_t num_edges() const { return column_.size(); }
  NodeKind kind(NodeId n) const { return kind_[n]; }
  NodeCategory category(NodeId n) const { return category_[n]; }
  uint8_t stream(NodeId n) const { return stream_[n]; }
  Duration duration(NodeId n) const { return duration_[n]; }
  const std::string& name(NodeId n) const { return names_[name_[n]]; }
  // Labels for timelines: transformer layer (-1: none) and micro-batch (-1: none).
  int32_t layer(NodeId n) const { return layer_[n]; }
  // Kernel class of a compute node (what interference depends on).
  OpClass op_class(NodeId n) const { return op_class_[n]; }
  int32_t microbatch(NodeId n) const { return microbatch_[n]; }
  // Communication data of a kCollective/kSend/kRecv node.
  const CommInfo& comm(NodeId n) const { return comm_[comm_index_[n]]; }
  uint32_t in_degree(NodeId n) const { return in_degree_[n]; }
  std::span<const NodeId> successors(NodeId n) const {
    return {column_.data() + rowstart_[n], column_.data() + rowstart_[n + 1]};
  }
  const std::vector<std::string>& stream_names() const { return stream_names_; }
  const std::vector<uint32_t>& in_degrees() const { return in_degree_; }

 private:
  std::vector<NodeKind> kind_;
  std::vector<NodeCategory> category_;
  std::vector<uint8_t> stream_;
  std::vector<Duration> duration_;
  std::vector<uint32_t> name_;
  std::vector<int32_t> layer_;
  std::vector<OpClass> op_class_;
  std::vector<int32_t> microbatch_;
  std::vector<uint32_t> comm_index_;
  std::vector<CommInfo> comm_;
  std::vector<std::string> names_;
  std::vector<std::string> stream_names_;
  std::vector<uint32_t> in_degree_;
  std::vector<uint32_t> rowstart_;
  std::vector<NodeId> column_;
};

class ExecutionGraph::Builder {
 public:
  explicit Builder(std::vector<std::string> stream_names);

  // Adds a node at the end of `stream`; it depends on the previous node of that stream.
  NodeId AddCompute(uint8_t stream, const std::string& name, Duration duration,
                    NodeCategory category = NodeCategory::kCompute,
                    OpClass op_class = OpClass::kGemm);
  NodeId AddDelay(uint8_t stream, const std::string& name, Duration duration,
                  NodeCategory category = NodeCategory::kOther);
  // `duration` is the transfer time once every member (or both peers) arrived.
  NodeId AddCollective(uint8_t stream, const std::string& name, const CommInfo& info,
                       Duration duration);
  NodeId AddSend(uint8_t stream, const std::string& name, const CommInfo& info, Duration duration);
  NodeId AddRecv(uint8_t stream, const std::string& name, const CommInfo& info, Duration duration);
  // Labels given to the nodes added from now on.
  void SetLabels(int32_t layer, int32_t microbatch) {
    layer_label_ = layer;
    microbatch_label_ = microbatch;
  }
  // `to` may start only after `from` completes.
  void AddDependency(NodeId from, NodeId to);
  // Last node added to `stream`, or kNoNode.
  NodeId LastOn(uint8_t stream) const { return last_on_stream_[stream]; }
  // The interned name of node `id` (an index into the built graph's names).
  uint32_t NameIdOf(NodeId id) const { return g_.name_[id]; }
  size_t num_nodes() const { return g_.kind_.size(); }

  StatusOr<ExecutionGraph> Build() &&;

  static constexpr NodeId kNoNode = 0xffffffffu;

 private:
  NodeId Add(NodeKind kind, NodeCategory cat, uint8_t stream, const std::string& name,
             Duration duration, const CommInfo* info, OpClass op_class = OpClass::kGemm);
  uint32_t Intern(const std::string& name);
  uint32_t InternSorted(const std::string& name);

  ExecutionGraph g_;
  std::vector<std::pair<NodeId, NodeId>> edges_;
  std::vector<NodeId> last_on_stream_;
  int32_t layer_label_ = -1;
  int32_t microbatch_label_ = -1;
  std::vector<std::pair<std::string, uint32_t>> name_lookup_;  // sorted for binary search
  uint32_t last_name_id_ = kNoNode;  // the name interned last
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_GRAPH_EXECUTION_GRAPH_H_
