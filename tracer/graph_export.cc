#include "tracer/graph_export.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "simulator/core/strings.h"
#include "tracer/chakra/chakra_io.h"

namespace echosim {
namespace fs = std::filesystem;
namespace {

// Chakra CollectiveCommType of a collective the training simulator issues.
StatusOr<int32_t> ChakraTypeOf(CollectiveKind k) {
  switch (k) {
    case CollectiveKind::kAllReduce: return static_cast<int32_t>(ChakraCommType::kAllReduce);
    case CollectiveKind::kAllGather: return static_cast<int32_t>(ChakraCommType::kAllGather);
    case CollectiveKind::kReduceScatter: return static_cast<int32_t>(ChakraCommType::kReduceScatter);
    case CollectiveKind::kAllToAll: return static_cast<int32_t>(ChakraCommType::kAllToAll);
    case CollectiveKind::kBroadcast: return static_cast<int32_t>(ChakraCommType::kBroadcast);
    case CollectiveKind::kSendRecv: break;
  }
  return InvalidArgument(StrCat("collective kind '", CollectiveKindName(k),
                                "' has no Chakra collective type"));
}

}  // namespace

StatusOr<RankTrace> GraphToRankTrace(const ExportRank& r, const ExportOptions& o) {
  if (r.graph == nullptr) return InvalidArgument(StrCat("rank ", r.rank, ": no graph to export"));
  const ExecutionGraph& g = *r.graph;
  RankTrace t;
  t.rank = r.rank;
  t.world_size = o.world_size;
  t.source = StrCat(o.prefix, ".", r.rank, ".et");
  t.schema = "0.0.4";
  t.gpu = o.gpu;
  t.blocking_sends = true;
  const size_t n = g.num_nodes();
  // Predecessors from the CSR successor lists.
  std::vector<std::vector<uint64_t>> preds(n);
  for (NodeId v = 0; v < n; ++v) {
    for (NodeId s : g.successors(v)) preds[s].push_back(v);
  }
  std::map<GroupKind, int32_t> comm_of_group;
  t.nodes.reserve(n);
  for (NodeId v = 0; v < n; ++v) {
    TraceNode tn;
    tn.id = v;
    tn.name = g.name(v);
    tn.stream = g.stream_names()[g.stream(v)];
    tn.duration = g.duration(v);
    tn.launch_order = v;
    tn.data_deps = std::move(preds[v]);
    switch (g.kind(v)) {
      case NodeKind::kCompute:
        tn.kind = TraceNodeKind::kCompute;
        tn.op_class = OpClassName(g.op_class(v));
        break;
      case NodeKind::kDelay:
        tn.kind = TraceNodeKind::kCompute;
        tn.on_cpu = true;
        break;
      case NodeKind::kCollective: {
        const CommInfo& ci = g.comm(v);
        tn.kind = TraceNodeKind::kCollective;
        auto type = ChakraTypeOf(ci.kind);
        if (!type.ok()) return type.status().WithContext(StrCat(t.source, ": node ", v, " '", tn.name, "'"));
        tn.comm_type = *type;
        tn.comm_bytes = std::llround(ci.bytes);
        auto it = comm_of_group.find(ci.group);
        if (it == comm_of_group.end()) {
          if (!r.members) return InvalidArgument(StrCat("rank ", r.rank, ": no group members to export"));
          std::vector<int64_t> members = r.members(ci.group);
          if (members.empty()) {
            return InvalidArgument(StrCat(t.source, ": node ", v, " '", tn.name, "': group '",
                                          GroupKindName(ci.group), "' has no members"));
          }
          const int64_t leader = *std::min_element(members.begin(), members.end());
          Communicator c;
          c.name = StrCat(GroupKindName(ci.group), ".", leader);
          c.ranks = std::move(members);
          it = comm_of_group.emplace(ci.group, static_cast<int32_t>(t.communicators.size())).first;
          t.communicators.push_back(std::move(c));
        }
        tn.communicator = it->second;
        break;
      }
      case NodeKind::kSend:
      case NodeKind::kRecv: {
        const CommInfo& ci = g.comm(v);
        tn.kind = g.kind(v) == NodeKind::kSend ? TraceNodeKind::kSend : TraceNodeKind::kRecv;
        if (!r.peer) return InvalidArgument(StrCat("rank ", r.rank, ": no peer mapping to export"));
        tn.peer = r.peer(ci.peer);
        tn.comm_bytes = std::llround(ci.bytes);
        tn.tag = ci.tag;
        break;
      }
    }
    t.nodes.push_back(std::move(tn));
  }
  return t;
}

StatusOr<TraceManifest> ExportChakraSet(const std::vector<ExportRank>& ranks, const ExportOptions& o,
                                        const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return InvalidArgument(StrCat("cannot create '", dir, "': ", ec.message()));
  TraceManifest m;
  m.world_size = o.world_size;
  m.tp = o.tp;
  m.pp = o.pp;
  m.dp = o.dp;
  m.gpu = o.gpu;
  m.command = o.command;
  std::set<std::string> comm_names;
  for (const ExportRank& r : ranks) {
    ECHOSIM_ASSIGN_OR_RETURN(RankTrace t, GraphToRankTrace(r, o));
    const std::string file = StrCat(o.prefix, ".", r.rank, ".et");
    ECHOSIM_RETURN_IF_ERROR(WriteChakraFile(t, (fs::path(dir) / file).string()));
    m.traces.push_back({r.rank, file, r.stands_for});
    for (const Communicator& c : t.communicators) {
      if (comm_names.insert(c.name).second) m.communicators.push_back(c);
    }
  }
  ECHOSIM_RETURN_IF_ERROR(ValidateManifest(m, (fs::path(dir) / "manifest.json").string()));
  const std::string path = (fs::path(dir) / "manifest.json").string();
  std::ofstream out(path, std::ios::binary);
  if (!out) return InvalidArgument(StrCat("cannot write '", path, "'"));
  out << ManifestToJson(m);
  if (!out) return Internal(StrCat("failed writing '", path, "'"));
  return m;
}

}  // namespace echosim
