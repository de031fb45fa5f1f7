#include "tracer/trace_graph.h"

#include <algorithm>
#include <map>
#include <optional>
#include <queue>
#include <string_view>
#include <unordered_map>

#include "simulator/core/strings.h"
#include "tracer/compute_scaling.h"

namespace echosim {
namespace {

constexpr size_t kMaxStreams = 255;
constexpr uint32_t kMaxTag = (1u << 24) - 1;
constexpr uint32_t kNone = 0xffffffffu;
// How many ancestors of a communication node are searched for a lane to reuse.
constexpr size_t kAncestorSearch = 64;

std::string NodeLabel(const RankTrace& t, uint32_t i) {
  return StrCat("node id ", t.nodes[i].id, " '", t.nodes[i].name, "'");
}

class StreamTable {
 public:
  uint32_t Intern(const std::string& name) {
    auto [it, inserted] = index_.emplace(name, static_cast<uint32_t>(names_.size()));
    if (inserted) names_.push_back(name);
    return it->second;
  }
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::unordered_map<std::string, uint32_t> index_;
  std::vector<std::string> names_;
};

}  // namespace

OpClass KernelClassOf(const TraceNode& node) {
  if (node.kind == TraceNodeKind::kMemory) return OpClass::kMemoryBound;
  std::optional<OpClass> c = node.op_class.empty() ? ClassifyKernelName(node.name) : ParseOpClass(node.op_class);
  return c.value_or(OpClass::kGemm);
}

StatusOr<TraceGraph> BuildTraceGraph(const RankTrace& t, const TraceGraphOptions& o) {
  const size_t n = t.nodes.size();
  if (n >= kNone) return InvalidArgument(StrCat(t.source, ": too many nodes (", n, ")"));
  TraceGraph out;

  // Ids -> positions.
  std::unordered_map<uint64_t, uint32_t> pos;
  pos.reserve(n * 2);
  for (uint32_t i = 0; i < n; ++i) {
    auto [it, inserted] = pos.emplace(t.nodes[i].id, i);
    if (!inserted) {
      return InvalidArgument(StrCat(t.source, ": node id ", t.nodes[i].id, " appears twice ('",
                                    t.nodes[it->second].name, "' and '", t.nodes[i].name, "')"));
    }
  }
  // Predecessors (deduplicated), in CSR form.
  std::vector<uint32_t> pred_start(n + 1, 0);
  std::vector<uint32_t> preds;
  std::vector<uint32_t> scratch;
  for (uint32_t i = 0; i < n; ++i) {
    scratch.clear();
    {
      for (uint64_t d : t.nodes[i].data_deps) {
        auto it = pos.find(d);
        if (it == pos.end()) {
          ++out.missing_deps;
        } else if (it->second == i) {
          ++out.self_deps;
        } else {
          scratch.push_back(it->second);
        }
      }
    }
    std::sort(scratch.begin(), scratch.end());
    scratch.erase(std::unique(scratch.begin(), scratch.end()), scratch.end());
    preds.insert(preds.end(), scratch.begin(), scratch.end());
    pred_start[i + 1] = static_cast<uint32_t>(preds.size());
  }
  std::vector<uint32_t> indeg(n, 0), succ_start(n + 1, 0), succs(preds.size());
  for (uint32_t v = 0; v < n; ++v) {
    indeg[v] = pred_start[v + 1] - pred_start[v];
    for (uint32_t e = pred_start[v]; e < pred_start[v + 1]; ++e) ++succ_start[preds[e] + 1];
  }
  for (size_t i = 0; i < n; ++i) succ_start[i + 1] += succ_start[i];
  {
    std::vector<uint32_t> fill(succ_start.begin(), succ_start.end() - 1);
    for (uint32_t v = 0; v < n; ++v) {
      for (uint32_t e = pred_start[v]; e < pred_start[v + 1]; ++e) succs[fill[preds[e]]++] = v;
    }
  }

  // Topological order: among ready nodes the earliest launched (then file order) first.
  auto key = [&](uint32_t i) {
    const int64_t lo = t.nodes[i].launch_order;
    return std::pair<int64_t, uint32_t>(lo >= 0 ? lo : static_cast<int64_t>(i), i);
  };
  using Key = std::pair<int64_t, uint32_t>;
  std::priority_queue<Key, std::vector<Key>, std::greater<Key>> ready;
  std::vector<uint32_t> remaining = indeg;
  for (uint32_t v = 0; v < n; ++v) {
    if (remaining[v] == 0) ready.push(key(v));
  }
  std::vector<uint32_t> order;
  order.reserve(n);
  while (!ready.empty()) {
    const uint32_t v = ready.top().second;
    ready.pop();
    order.push_back(v);
    for (uint32_t e = succ_start[v]; e < succ_start[v + 1]; ++e) {
      if (--remaining[succs[e]] == 0) ready.push(key(succs[e]));
    }
  }
  if (order.size() != n) {
    // Walk predecessors among the unfinished nodes until one repeats: it is on a cycle.
    uint32_t v = 0;
    while (remaining[v] == 0) ++v;
    std::vector<bool> seen(n, false);
    while (!seen[v]) {
      seen[v] = true;
      for (uint32_t e = pred_start[v]; e < pred_start[v + 1]; ++e) {
        if (remaining[preds[e]] != 0) {
          v = preds[e];
          break;
        }
      }
    }
    return InvalidArgument(StrCat(t.source, ": dependency cycle through ", NodeLabel(t, v)));
  }

  std::vector<uint32_t> topo_index(n);
  for (uint32_t k = 0; k < n; ++k) topo_index[order[k]] = k;

  // Control dependencies that agree with that order join the data dependencies (the
  // order stays topological); the others would close cycles and are dropped.
  if (o.follow_ctrl_deps) {
    std::vector<uint32_t> merged_start(n + 1, 0), merged;
    merged.reserve(preds.size());
    for (uint32_t v = 0; v < n; ++v) {
      scratch.assign(preds.begin() + pred_start[v], preds.begin() + pred_start[v + 1]);
      for (uint64_t d : t.nodes[v].ctrl_deps) {
        auto it = pos.find(d);
        if (it == pos.end() || it->second == v) continue;  // absent or self: ignored
        if (topo_index[it->second] < topo_index[v]) {
          scratch.push_back(it->second);
        } else {
          ++out.ctrl_deps_dropped;
        }
      }
      std::sort(scratch.begin(), scratch.end());
      scratch.erase(std::unique(scratch.begin(), scratch.end()), scratch.end());
      merged.insert(merged.end(), scratch.begin(), scratch.end());
      merged_start[v + 1] = static_cast<uint32_t>(merged.size());
    }
    preds = std::move(merged);
    pred_start = std::move(merged_start);
  }

  // Streams and lanes.
  StreamTable streams;
  std::vector<uint32_t> stream_of(n), send_stream_of(n, kNone);
  std::vector<uint32_t> lane_last;  // per lane: node position last placed on it
  std::vector<uint32_t> lane_stream;
  std::vector<uint32_t> ancestors, frontier;
  for (uint32_t v : order) {
    const TraceNode& node = t.nodes[v];
    if (!node.stream.empty()) {
      stream_of[v] = streams.Intern(node.stream);
    } else if (node.on_cpu) {
      stream_of[v] = streams.Intern("host");
    } else if (!node.is_comm()) {
      stream_of[v] = streams.Intern("gpu");
    } else {
      // A lane whose last node is an ancestor (searched a bounded distance back); else
      // a new lane.
      uint32_t chosen = kNone;
      ancestors.clear();
      frontier.assign(preds.begin() + pred_start[v], preds.begin() + pred_start[v + 1]);
      while (!frontier.empty() && ancestors.size() < kAncestorSearch) {
        const uint32_t u = frontier.back();
        frontier.pop_back();
        if (std::find(ancestors.begin(), ancestors.end(), u) != ancestors.end()) continue;
        ancestors.push_back(u);
        frontier.insert(frontier.end(), preds.begin() + pred_start[u], preds.begin() + pred_start[u + 1]);
      }
      for (uint32_t a : ancestors) {
        for (uint32_t l = 0; l < lane_last.size() && chosen == kNone; ++l) {
          if (lane_last[l] == a) chosen = l;
        }
        if (chosen != kNone) break;
      }
      if (chosen == kNone) {
        if (streams.names().size() < kMaxStreams - 8 || lane_last.empty()) {
          chosen = static_cast<uint32_t>(lane_last.size());
          lane_last.push_back(v);
          lane_stream.push_back(streams.Intern(StrCat("comm lane ", chosen)));
        } else {
          // Out of streams: share the lane whose last node came first (adds ordering).
          chosen = 0;
          for (uint32_t l = 1; l < lane_last.size(); ++l) {
            if (topo_index[lane_last[l]] < topo_index[lane_last[chosen]]) chosen = l;
          }
        }
      }
      lane_last[chosen] = v;
      stream_of[v] = lane_stream[chosen];
    }
    if (node.kind == TraceNodeKind::kSend && !t.blocking_sends) {
      send_stream_of[v] = streams.Intern(StrCat("send to ", node.peer));
    }
    if (streams.names().size() > kMaxStreams) {
      return InvalidArgument(StrCat(t.source, ": the trace uses more than ", kMaxStreams,
                                    " streams (at ", NodeLabel(t, v), ")"));
    }
  }

  // Nodes, in topological order (an empty trace still gets one stream).
  if (streams.names().empty()) streams.Intern("gpu");
  ExecutionGraph::Builder b(streams.names());
  std::vector<NodeId> graph_of(n, ExecutionGraph::Builder::kNoNode);
  std::map<std::pair<int64_t, int>, uint32_t> p2p_seq;  // (peer, send=1/recv=0) -> next tag
  std::unordered_map<std::string_view, OpClass> class_of_name;
  out.trace_node.reserve(n);
  for (uint32_t v : order) {
    const TraceNode& node = t.nodes[v];
    const uint8_t s = static_cast<uint8_t>(stream_of[v]);
    const std::string& name = node.name;
    NodeId id = ExecutionGraph::Builder::kNoNode;
    Duration d = node.duration;
    if (node.is_comm() && o.comm_duration) d = o.comm_duration(node);
    if (!node.is_comm() && o.compute_duration) d = o.compute_duration(node);
    if (d < 0) return InvalidArgument(StrCat(t.source, ": ", NodeLabel(t, v), " has a negative duration"));
    switch (node.kind) {
      case TraceNodeKind::kCompute:
      case TraceNodeKind::kMemory:
        if (node.on_cpu) {
          id = b.AddDelay(s, name, d);
        } else {
          // Classifying a name searches it for many words: once per distinct name.
          OpClass cls = OpClass::kGemm;
          if (!node.op_class.empty() || node.kind == TraceNodeKind::kMemory) {
            cls = KernelClassOf(node);
          } else {
            auto [it, inserted] = class_of_name.try_emplace(std::string_view(node.name), OpClass::kGemm);
            if (inserted) it->second = KernelClassOf(node);
            cls = it->second;
          }
          id = b.AddCompute(s, name, d, NodeCategory::kCompute, cls);
        }
        break;
      case TraceNodeKind::kCollective: {
        auto kind = CollectiveForChakra(node.comm_type);
        if (!kind.ok()) return kind.status().WithContext(StrCat(t.source, ": ", NodeLabel(t, v)));
        CommInfo info;
        info.kind = *kind;
        info.bytes = static_cast<double>(node.comm_bytes);
        info.group = node.communicator >= 0 &&
                             static_cast<size_t>(node.communicator) < o.communicator_group.size()
                         ? o.communicator_group[node.communicator]
                         : o.default_group;
        id = b.AddCollective(s, name, info, d);
        break;
      }
      case TraceNodeKind::kSend:
      case TraceNodeKind::kRecv: {
        const bool send = node.kind == TraceNodeKind::kSend;
        if (node.peer < 0 || node.peer >= (int64_t{1} << 30)) {
          return InvalidArgument(StrCat(t.source, ": ", NodeLabel(t, v), ": peer rank ", node.peer,
                                        " is out of range"));
        }
        uint32_t& seq = p2p_seq[{node.peer, send ? 1 : 0}];
        if (seq > kMaxTag) {
          return InvalidArgument(StrCat(t.source, ": ", NodeLabel(t, v), ": more than ", kMaxTag,
                                        " messages between ranks ", t.rank, " and ", node.peer));
        }
        CommInfo info;
        info.kind = CollectiveKind::kSendRecv;
        info.group = GroupKind::kPp;
        info.bytes = static_cast<double>(node.comm_bytes);
        info.peer = EncodePeer(node.peer);
        info.tag = seq++;
        if (t.blocking_sends) {
          id = send ? b.AddSend(s, name, info, d) : b.AddRecv(s, name, info, d);
        } else if (!send) {
          // The message arrived when the eager send's transfer ended.
          id = b.AddRecv(s, name, info, 0);
        } else {
          // Eager: the transfer runs in the send's place; when it ends the message is at
          // the receiver (a zero-length rendezvous with its receive, on its own stream).
          id = b.AddCompute(s, name, d, NodeCategory::kComm);
          const NodeId rv = b.AddSend(static_cast<uint8_t>(send_stream_of[v]), name, info, 0);
          b.AddDependency(id, rv);
          ++out.eager_sends;
        }
        break;
      }
    }
    graph_of[v] = id;
    // Graph ids are dense and increasing: every node added for `v` maps back to it.
    out.trace_node.resize(b.num_nodes(), v);
    for (uint32_t e = pred_start[v]; e < pred_start[v + 1]; ++e) {
      b.AddDependency(graph_of[preds[e]], id);
    }
  }
  auto g = std::move(b).Build();
  if (!g.ok()) return g.status().WithContext(t.source);
  out.graph = std::move(g).value();
  ECHOSIM_CHECK(out.trace_node.size() == out.graph.num_nodes());
  return out;
}

}  // namespace echosim
