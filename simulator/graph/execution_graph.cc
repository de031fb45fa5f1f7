#include "simulator/graph/execution_graph.h"

#include <algorithm>
#include <boost/graph/compressed_sparse_row_graph.hpp>

#include "simulator/core/strings.h"

namespace echosim {

const char* NodeKindName(NodeKind k) {
  switch (k) {
    case NodeKind::kCompute: return "compute";
    case NodeKind::kCollective: return "collective";
    case NodeKind::kSend: return "send";
    case NodeKind::kRecv: return "recv";
    case NodeKind::kDelay: return "delay";
  }
  return "?";
}

ExecutionGraph::Builder::Builder(std::vector<std::string> stream_names) {
  ECHOSIM_CHECK(!stream_names.empty() && stream_names.size() < 256);
  g_.stream_names_ = std::move(stream_names);
  last_on_stream_.assign(g_.stream_names_.size(), kNoNode);
}

uint32_t ExecutionGraph::Builder::Intern(const std::string& name) {
  // Consecutive nodes often share a name (a kernel and the host node that issues it).
  if (last_name_id_ != kNoNode && g_.names_[last_name_id_] == name) return last_name_id_;
  last_name_id_ = InternSorted(name);
  return last_name_id_;
}

uint32_t ExecutionGraph::Builder::InternSorted(const std::string& name) {
  auto it = std::lower_bound(name_lookup_.begin(), name_lookup_.end(), name,
                             [](const auto& a, const std::string& b) { return a.first < b; });
  if (it != name_lookup_.end() && it->first == name) return it->second;
  const uint32_t id = static_cast<uint32_t>(g_.names_.size());
  g_.names_.push_back(name);
  name_lookup_.insert(it, {name, id});
  return id;
}

NodeId ExecutionGraph::Builder::Add(NodeKind kind, NodeCategory cat, uint8_t stream,
                                    const std::string& name, Duration duration,
                                    const CommInfo* info, OpClass op_class) {
  ECHOSIM_CHECK(stream < g_.stream_names_.size());
  ECHOSIM_CHECK(duration >= 0);
  const NodeId id = static_cast<NodeId>(g_.kind_.size());
  g_.kind_.push_back(kind);
  g_.category_.push_back(cat);
  g_.stream_.push_back(stream);
  g_.duration_.push_back(duration);
  g_.name_.push_back(Intern(name));
  g_.layer_.push_back(layer_label_);
  g_.op_class_.push_back(op_class);
  g_.microbatch_.push_back(microbatch_label_);
  if (info != nullptr) {
    g_.comm_index_.push_back(static_cast<uint32_t>(g_.comm_.size()));
    g_.comm_.push_back(*info);
  } else {
    g_.comm_index_.push_back(0xffffffffu);
  }
  if (last_on_stream_[stream] != kNoNode) edges_.emplace_back(last_on_stream_[stream], id);
  last_on_stream_[stream] = id;
  return id;
}

NodeId ExecutionGraph::Builder::AddCompute(uint8_t stream, const std::string& name,
                                           Duration duration, NodeCategory category,
                                           OpClass op_class) {
  return Add(NodeKind::kCompute, category, stream, name, duration, nullptr, op_class);
}
NodeId ExecutionGraph::Builder::AddDelay(uint8_t stream, const std::string& name,
                                         Duration duration, NodeCategory category) {
  return Add(NodeKind::kDelay, category, stream, name, duration, nullptr);
}
NodeId ExecutionGraph::Builder::AddCollective(uint8_t stream, const std::string& name,
                                              const CommInfo& info, Duration duration) {
  return Add(NodeKind::kCollective, NodeCategory::kComm, stream, name, duration, &info);
}
NodeId ExecutionGraph::Builder::AddSend(uint8_t stream, const std::string& name,
                                        const CommInfo& info, Duration duration) {
  return Add(NodeKind::kSend, NodeCategory::kComm, stream, name, duration, &info);
}
NodeId ExecutionGraph::Builder::AddRecv(uint8_t stream, const std::string& name,
                                        const CommInfo& info, Duration duration) {
  return Add(NodeKind::kRecv, NodeCategory::kComm, stream, name, duration, &info);
}

void ExecutionGraph::Builder::AddDependency(NodeId from, NodeId to) {
  edges_.emplace_back(from, to);
}

StatusOr<ExecutionGraph> ExecutionGraph::Builder::Build() && {
  const size_t n = g_.kind_.size();
  for (const auto& [from, to] : edges_) {
    if (from >= n || to >= n) {
      const NodeId bad = from >= n ? from : to;
      const NodeId good = from >= n ? to : from;
      return InvalidArgument(StrCat("execution graph: dependency references node ", bad,
                                    " which does not exist (graph has ", n, " nodes)",
                                    good < n ? StrCat("; other end is node ", good, " '",
                                                      g_.names_[g_.name_[good]], "'")
                                             : std::string()));
    }
    if (from == to) {
      return InvalidArgument(StrCat("execution graph: node ", from, " '",
                                    g_.names_[g_.name_[from]], "' depends on itself"));
    }
  }
  for (NodeId v = 0; v < n; ++v) {
    if (g_.kind_[v] == NodeKind::kCollective || g_.kind_[v] == NodeKind::kSend ||
        g_.kind_[v] == NodeKind::kRecv) {
      const CommInfo& c = g_.comm_[g_.comm_index_[v]];
      if (!(c.bytes >= 0)) {
        return InvalidArgument(StrCat("execution graph: node ", v, " '", g_.names_[g_.name_[v]],
                                      "' has negative or NaN bytes"));
      }
      if (g_.kind_[v] == NodeKind::kCollective && c.group == GroupKind::kNone) {
        return InvalidArgument(StrCat("execution graph: collective node ", v, " '",
                                      g_.names_[g_.name_[v]], "' has no group"));
      }
      if (g_.kind_[v] != NodeKind::kCollective && c.peer == 0) {
        return InvalidArgument(StrCat("execution graph: point-to-point node ", v, " '",
                                      g_.names_[g_.name_[v]], "' has no peer"));
      }
    }
  }
  // CSR adjacency through Boost.Graph (sorts the edge list by source).
  using Csr = boost::compressed_sparse_row_graph<boost::directedS, boost::no_property,
                                                 boost::no_property, boost::no_property,
                                                 NodeId, uint32_t>;
  Csr csr(boost::edges_are_unsorted_multi_pass, edges_.begin(), edges_.end(), n);
  g_.rowstart_.assign(csr.m_forward.m_rowstart.begin(), csr.m_forward.m_rowstart.end());
  g_.column_.assign(csr.m_forward.m_column.begin(), csr.m_forward.m_column.end());
  if (g_.rowstart_.size() != n + 1) g_.rowstart_.assign(n + 1, 0);
  g_.in_degree_.assign(n, 0);
  for (NodeId v : g_.column_) ++g_.in_degree_[v];
  // Kahn's algorithm: whatever is left unvisited lies on or behind a cycle.
  std::vector<uint32_t> indeg = g_.in_degree_;
  std::vector<NodeId> stack;
  for (NodeId v = 0; v < n; ++v) {
    if (indeg[v] == 0) stack.push_back(v);
  }
  size_t visited = 0;
  while (!stack.empty()) {
    const NodeId v = stack.back();
    stack.pop_back();
    ++visited;
    for (uint32_t e = g_.rowstart_[v]; e < g_.rowstart_[v + 1]; ++e) {
      if (--indeg[g_.column_[e]] == 0) stack.push_back(g_.column_[e]);
    }
  }
  if (visited != n) {
    // Every unvisited node has an unvisited predecessor, so walking predecessors among
    // them must revisit a node: that node lies on a cycle.
    std::vector<NodeId> pred(n, Builder::kNoNode);
    for (NodeId u = 0; u < n; ++u) {
      for (uint32_t e = g_.rowstart_[u]; e < g_.rowstart_[u + 1]; ++e) {
        if (indeg[u] != 0 && indeg[g_.column_[e]] != 0) pred[g_.column_[e]] = u;
      }
    }
    NodeId v = 0;
    while (indeg[v] == 0) ++v;
    std::vector<bool> seen(n, false);
    while (!seen[v]) {
      seen[v] = true;
      v = pred[v];
    }
    return InvalidArgument(StrCat("execution graph: dependency cycle through node ", v, " '",
                                  g_.names_[g_.name_[v]], "' on stream '",
                                  g_.stream_names_[g_.stream_[v]], "'"));
  }
  edges_.clear();
  edges_.shrink_to_fit();
  return std::move(g_);
}

}  // namespace echosim
