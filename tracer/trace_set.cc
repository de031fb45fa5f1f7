#include "tracer/trace_set.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <set>

#include "hardware/gpu_spec.h"
#include "simulator/core/engine.h"
#include "simulator/core/strings.h"
#include "simulator/network/collective_model.h"
#include "simulator/network/topology.h"
#include "tracer/byte_stream.h"
#include "tracer/chakra/chakra_io.h"
#include "tracer/kineto/kineto_import.h"
#include "tracer/manifest.h"

namespace echosim {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kMaxWorld = int64_t{1} << 20;
constexpr GroupKind kFamilies[] = {GroupKind::kTp, GroupKind::kCp, GroupKind::kEp, GroupKind::kDp,
                                   GroupKind::kPp, GroupKind::kEdp};

// The last run of digits in a file name (e.g. "rank3.json.gz" -> 3); -1 if none.
int64_t TrailingNumber(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  int64_t value = -1;
  for (size_t i = 0; i < name.size();) {
    if (std::isdigit(static_cast<unsigned char>(name[i]))) {
      int64_t v = 0;
      while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) && v < kMaxWorld) {
        v = v * 10 + (name[i] - '0');
        ++i;
      }
      value = v;
    } else {
      ++i;
    }
  }
  return value;
}

std::string ChakraPrefix(const std::string& file) {
  std::string name = fs::path(file).filename().string();
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
  name.resize(name.size() - 3);  // ".et"
  return name.substr(0, name.find_last_of('.'));
}

// Renders the first ranks of a list for messages.
std::string RankList(const std::vector<int64_t>& ranks) {
  std::string s = "[";
  for (size_t i = 0; i < ranks.size() && i < 8; ++i) s += (i ? ", " : "") + std::to_string(ranks[i]);
  if (ranks.size() > 8) s += StrCat(", ... (", ranks.size(), " ranks)");
  return s + "]";
}

class TraceRankMap : public RankMap {
 public:
  int64_t NumRanks() const override { return static_cast<int64_t>(global_.size()); }
  uint32_t ClassOf(int64_t rank) const override { return static_cast<uint32_t>(rank); }
  int64_t GroupId(int64_t rank, GroupKind g) const override {
    if (!rendezvous_) return rank;
    return group_id_[static_cast<int>(g)][global_[rank]];
  }
  int64_t GroupArrivals(GroupKind g) const override {
    return rendezvous_ ? arrivals_[static_cast<int>(g)] : 1;
  }
  int64_t Peer(int64_t, int32_t peer) const override { return sim_of_global_[DecodePeer(peer)]; }

  std::vector<int64_t> global_;          // simulated rank -> global rank
  std::vector<int64_t> sim_of_global_;   // global rank -> simulated rank standing for it
  bool rendezvous_ = false;
  std::vector<int64_t> group_id_[kNumGroupKinds];  // per family: global rank -> lowest member
  int64_t arrivals_[kNumGroupKinds] = {1, 1, 1, 1, 1, 1, 1};
};

// Attributes every instant of [0, end) to the most important thing running.
void Breakdown(const ExecutionGraph& g, const std::vector<Span>& spans, Time end,
               TraceRankResult* r) {
  struct Edge {
    Time t;
    int cat;
    int delta;
  };
  std::vector<Edge> edges;
  edges.reserve(spans.size() * 2);
  for (const Span& s : spans) {
    if (s.end <= s.start) continue;
    const int cat = g.category(s.node) == NodeCategory::kCompute ? 0
                    : g.category(s.node) == NodeCategory::kComm  ? 2
                                                                 : 1;
    edges.push_back({s.start, cat, +1});
    edges.push_back({s.end, cat, -1});
  }
  std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.t < b.t; });
  Duration acc[4] = {0, 0, 0, 0};
  int active[3] = {0, 0, 0};
  Time prev = 0;
  for (const Edge& e : edges) {
    if (e.t > prev) {
      acc[active[0] > 0 ? 0 : active[2] > 0 ? 2 : active[1] > 0 ? 1 : 3] += e.t - prev;
      prev = e.t;
    }
    active[e.cat] += e.delta;
  }
  if (end > prev) acc[3] += end - prev;
  r->compute_s = DurationToSeconds(acc[0]);
  r->host_s = DurationToSeconds(acc[1]);
  r->exposed_comm_s = DurationToSeconds(acc[2]);
  r->idle_s = DurationToSeconds(acc[3]);
}


}  // namespace

StatusOr<std::string> DetectTraceFormat(const std::string& path) {
  ECHOSIM_ASSIGN_OR_RETURN(std::unique_ptr<ByteStream> in, ByteStream::OpenFile(path));
  char buf[256];
  ECHOSIM_ASSIGN_OR_RETURN(const size_t n, in->Read(buf, sizeof(buf)));
  for (size_t i = 0; i < n; ++i) {
    const char c = buf[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return std::string(c == '{' || c == '[' ? "kineto" : "chakra");
  }
  return InvalidArgument(StrCat(path, ": empty file"));
}

StatusOr<RankTrace> ReadTraceFile(const std::string& path, int64_t rank) {
  ECHOSIM_ASSIGN_OR_RETURN(const std::string format, DetectTraceFormat(path));
  if (format == "kineto") return ReadKinetoFile(path, rank >= 0 ? rank : TrailingNumber(path));
  return ReadChakraFile(path, rank >= 0 ? rank : RankFromChakraFileName(path));
}

StatusOr<TraceSet> LoadStreamedTraces(const TraceSet& set) {
  TraceSet out = set;
  for (size_t i = 0; i < out.files.size() && i < out.traces.size(); ++i) {
    if (out.files[i].empty()) continue;
    ECHOSIM_ASSIGN_OR_RETURN(out.traces[i], ReadTraceFile(out.files[i], set.traces[i].rank));
    out.files[i].clear();
  }
  out.files.clear();
  return out;
}

StatusOr<TraceSet> LoadTraceSet(const std::string& path, bool stream) {
  // One trace file: its header only when streaming a Chakra file, else all of it.
  auto read = [stream](const std::string& file, int64_t rank, TraceSet* set) -> Status {
    ECHOSIM_ASSIGN_OR_RETURN(const std::string format, DetectTraceFormat(file));
    if (stream && format == "chakra") {
      ECHOSIM_ASSIGN_OR_RETURN(RankTrace t,
                               ReadChakraHeader(file, rank >= 0 ? rank : RankFromChakraFileName(file)));
      set->traces.push_back(std::move(t));
      set->files.push_back(file);
    } else {
      ECHOSIM_ASSIGN_OR_RETURN(RankTrace t, ReadTraceFile(file, rank));
      set->traces.push_back(std::move(t));
      set->files.emplace_back();
    }
    return Status::Ok();
  };
  TraceSet set;
  set.origin = path;
  std::vector<std::pair<std::string, int64_t>> files;  // (path, rank hint)
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "manifest.json", ec)) {
      ECHOSIM_ASSIGN_OR_RETURN(TraceManifest m, ReadManifest((p / "manifest.json").string()));
      set.world_size = m.world_size;
      set.communicators = m.communicators;
      set.gpu = m.gpu;
      for (const TraceManifest::Entry& e : m.traces) {
        ECHOSIM_RETURN_IF_ERROR(read((p / e.file).string(), e.rank, &set));
        const RankTrace& t = set.traces.back();
        if (t.rank != e.rank) {
          return InvalidArgument(StrCat((p / e.file).string(), ": holds rank ", t.rank,
                                        " but manifest.json lists it as rank ", e.rank));
        }
        std::vector<int64_t> sf = e.stands_for;
        std::sort(sf.begin(), sf.end());
        set.stands_for.push_back(std::move(sf));
      }
    } else {
      std::map<std::string, std::vector<std::string>> chakra;  // prefix -> files
      std::vector<std::string> json_files;
      std::vector<std::string> names;
      for (const fs::directory_entry& d : fs::directory_iterator(p, ec)) {
        if (d.is_regular_file()) names.push_back(d.path().string());
      }
      if (ec) return InvalidArgument(StrCat("cannot list '", path, "': ", ec.message()));
      std::sort(names.begin(), names.end());
      for (const std::string& f : names) {
        if (RankFromChakraFileName(f) >= 0) {
          chakra[ChakraPrefix(f)].push_back(f);
        } else {
          const std::string n = fs::path(f).filename().string();
          if (n.find(".json") != std::string::npos) json_files.push_back(f);
        }
      }
      if (chakra.size() > 1) {
        std::vector<std::string> prefixes;
        for (const auto& [k, v] : chakra) prefixes.push_back(k);
        return InvalidArgument(StrCat(path, ": holds traces of several prefixes (", Join(prefixes, ", "),
                                      "); give DIR/prefix"));
      }
      if (!chakra.empty() && !json_files.empty()) {
        return InvalidArgument(StrCat(path, ": holds both Chakra (.et) and JSON files; give a "
                                            "prefix or a file"));
      }
      if (chakra.empty() && json_files.empty()) {
        return NotFound(StrCat(path, ": no traces (prefix.<rank>.et, *.json or manifest.json)"));
      }
      for (const std::string& f : chakra.empty() ? json_files : chakra.begin()->second) {
        files.emplace_back(f, -1);
      }
    }
  } else if (fs::is_regular_file(p, ec)) {
    files.emplace_back(path, -1);
  } else {
    // A prefix: DIR/prefix.<rank>.et[.gz]
    const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    const std::string prefix = p.filename().string();
    std::vector<std::string> names;
    if (fs::is_directory(dir, ec)) {
      for (const fs::directory_entry& d : fs::directory_iterator(dir, ec)) {
        const std::string f = d.path().string();
        if (d.is_regular_file() && RankFromChakraFileName(f) >= 0 && ChakraPrefix(f) == prefix) {
          names.push_back(f);
        }
      }
    }
    if (names.empty()) {
      return NotFound(StrCat("'", path, "' is not a file, a folder or a prefix of ",
                             "prefix.<rank>.et files"));
    }
    std::sort(names.begin(), names.end());
    for (const std::string& f : names) files.emplace_back(f, -1);
  }
  for (const auto& [f, hint] : files) {
    ECHOSIM_RETURN_IF_ERROR(read(f, hint, &set));
    set.stands_for.push_back({set.traces.back().rank});
  }
  if (set.traces.empty()) return NotFound(StrCat(path, ": no traces"));
  set.format = set.traces.front().schema == "kineto" ? "kineto" : "chakra";
  // Ascending rank, no duplicates.
  std::vector<size_t> order(set.traces.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return set.traces[a].rank < set.traces[b].rank; });
  TraceSet sorted;
  sorted.origin = set.origin;
  sorted.format = set.format;
  sorted.world_size = set.world_size;
  sorted.communicators = std::move(set.communicators);
  sorted.gpu = set.gpu;
  sorted.traces.resize(order.size());
  sorted.stands_for.resize(order.size());
  sorted.files.resize(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    sorted.traces[i] = std::move(set.traces[order[i]]);
    sorted.stands_for[i] = std::move(set.stands_for[order[i]]);
    sorted.files[i] = std::move(set.files[order[i]]);
    if (i > 0 && sorted.traces[i].rank == sorted.traces[i - 1].rank) {
      return InvalidArgument(StrCat(sorted.traces[i].source, " and ", sorted.traces[i - 1].source,
                                    " are both rank ", sorted.traces[i].rank));
    }
  }
  for (const RankTrace& t : sorted.traces) {
    if (sorted.gpu.empty()) sorted.gpu = t.gpu;
  }
  int64_t world = sorted.world_size;
  for (const RankTrace& t : sorted.traces) {
    world = std::max({world, t.world_size, t.rank + 1});
  }
  if (world > kMaxWorld) return InvalidArgument(StrCat(path, ": world size ", world, " is too large"));
  sorted.world_size = world;
  return sorted;
}

StatusOr<TraceSimResult> SimulateTraceSet(const TraceSet& set, const TraceSimOptions& o) {
  const auto wall_start = std::chrono::steady_clock::now();
  const int64_t traced_world = set.world_size;
  const int64_t world = o.world_size > 0 ? o.world_size : traced_world;
  if (world < traced_world) {
    return InvalidArgument(StrCat("--world-size ", world, " is smaller than the traced world of ",
                                  traced_world));
  }
  if (world > kMaxWorld) return InvalidArgument(StrCat("--world-size ", world, " is too large"));
  const size_t n = set.traces.size();
  ECHOSIM_CHECK(set.stands_for.size() == n);

  // Who stands for whom.
  std::vector<int64_t> rep(static_cast<size_t>(world), -1);
  for (size_t i = 0; i < n; ++i) {
    for (int64_t r : set.stands_for[i]) {
      if (r >= 0 && r < traced_world) rep[r] = static_cast<int64_t>(i);
    }
  }
  for (int64_t g = traced_world; g < world; ++g) rep[g] = rep[g % traced_world];

  // Cluster and network model.
  ECHOSIM_ASSIGN_OR_RETURN(const GpuSpec gpu, FindGpuPreset(o.gpu));
  if (o.gpus_per_node < 1) return InvalidArgument("--gpus-per-node must be at least 1");
  TopologyConfig tc;
  tc.gpus = world;
  tc.gpus_per_node = o.gpus_per_node;
  tc.nvlink_bytes_per_s = (o.nvlink_gbps > 0 ? o.nvlink_gbps : gpu.nvlink_gbps) / 8.0 * 1e9 *
                          gpu.nvlink_efficiency;
  tc.nic_bytes_per_s = (o.nic_gbps > 0 ? o.nic_gbps : gpu.nic_gbps) / 8.0 * 1e9 * gpu.nic_efficiency;
  tc.nvlink_latency_s = o.nvlink_latency_s;
  tc.nic_latency_s = o.nic_latency_s;
  tc.oversubscription = o.oversubscription;
  tc.nodes_per_leaf = o.nodes_per_leaf;
  if (!(tc.nvlink_bytes_per_s > 0) || !(tc.nic_bytes_per_s > 0)) {
    return InvalidArgument(StrCat("GPU '", o.gpu, "' has no NVLink/NIC bandwidth; give "
                                  "--nvlink-gbps and --nic-gbps"));
  }
  const Topology topo(tc);
  const AnalyticCollectiveModel model(&topo);
  TraceSimOptions::CommCostFn comm_cost;
  if (o.comm_model) {
    ECHOSIM_ASSIGN_OR_RETURN(comm_cost, o.comm_model(topo));
  } else {
    comm_cost = [&model](CollectiveKind k, double bytes, const GroupShape& shape) -> StatusOr<Duration> {
      return model.Estimate(k, bytes, shape);
    };
  }
  Status comm_error;

  // Members of every communicator each trace uses, as global ranks.
  std::vector<int64_t> whole(static_cast<size_t>(world));
  for (int64_t g = 0; g < world; ++g) whole[g] = g;
  auto members_of = [&](const RankTrace& t, int32_t local) -> std::vector<int64_t> {
    if (local < 0 || static_cast<size_t>(local) >= t.communicators.size()) return whole;
    const Communicator& c = t.communicators[local];
    std::vector<int64_t> ranks = c.ranks;
    if (ranks.empty()) {
      for (const Communicator& m : set.communicators) {
        if (m.name == c.name) ranks = m.ranks;
      }
    }
    if (ranks.empty()) return whole;  // members unknown: all ranks
    if (static_cast<int64_t>(ranks.size()) == traced_world && world > traced_world) {
      std::vector<int64_t> sorted = ranks;
      std::sort(sorted.begin(), sorted.end());
      bool all = true;
      for (int64_t g = 0; g < traced_world; ++g) all = all && sorted[g] == g;
      if (all) return whole;  // the traced world grows to the simulated one
    }
    return ranks;
  };
  std::map<std::vector<int64_t>, int32_t> global_comm;  // sorted members -> id
  std::vector<std::vector<int64_t>> comm_members;
  std::vector<std::vector<int32_t>> comm_of_local(n);  // trace, local (+1) -> global id
  // Maps the communicators of trace i not mapped yet (a streamed trace names more once
  // its nodes are read); *added: a communicator no trace used before.
  auto map_comms = [&](size_t i, const RankTrace& t, bool* added) -> Status {
    for (int32_t local = static_cast<int32_t>(comm_of_local[i].size()) - 1;
         local < static_cast<int32_t>(t.communicators.size()); ++local) {
      std::vector<int64_t> key = members_of(t, local);
      std::sort(key.begin(), key.end());
      key.erase(std::unique(key.begin(), key.end()), key.end());
      for (int64_t r : key) {
        if (r < 0 || r >= world) {
          return InvalidArgument(StrCat(t.source, ": communicator '",
                                        local < 0 ? "world" : t.communicators[local].name,
                                        "' has rank ", r, " outside the world of ", world));
        }
      }
      auto [it, inserted] = global_comm.emplace(key, static_cast<int32_t>(comm_members.size()));
      if (inserted) comm_members.push_back(key);
      if (inserted && added != nullptr) *added = true;
      comm_of_local[i].push_back(it->second);
    }
    return Status::Ok();
  };
  for (size_t i = 0; i < n; ++i) ECHOSIM_RETURN_IF_ERROR(map_comms(i, set.traces[i], nullptr));

  TraceSimResult res;
  res.world_size = world;
  res.traced_ranks = static_cast<int64_t>(n);
  res.simulated_ranks = static_cast<int64_t>(n);
  bool rendezvous = world == traced_world && static_cast<int64_t>(n) == world;
  if (!rendezvous) {
    res.note = "collectives complete independently: ranks without a trace reuse the graph of "
               "the rank that stands for them";
  }
  // Communicator families (disjoint communicators of equal size) for rendezvous.
  std::vector<int> family_of(comm_members.size(), -1);
  std::vector<std::pair<int64_t, std::vector<bool>>> families;  // (size, covered ranks)
  if (rendezvous) {
    for (size_t c = 0; c < comm_members.size(); ++c) {
      const std::vector<int64_t>& m = comm_members[c];
      int chosen = -1;
      for (size_t f = 0; f < families.size() && chosen < 0; ++f) {
        if (families[f].first != static_cast<int64_t>(m.size())) continue;
        bool disjoint = true;
        for (int64_t r : m) disjoint = disjoint && !families[f].second[r];
        if (disjoint) chosen = static_cast<int>(f);
      }
      if (chosen < 0) {
        chosen = static_cast<int>(families.size());
        families.emplace_back(static_cast<int64_t>(m.size()), std::vector<bool>(world, false));
      }
      for (int64_t r : m) families[chosen].second[r] = true;
      family_of[c] = chosen;
    }
    if (families.size() > std::size(kFamilies)) {
      rendezvous = false;
      res.note = StrCat("collectives complete independently: ", families.size(),
                        " communicator families, the executor matches at most ",
                        std::size(kFamilies));
    }
  }

  // Graphs.
  res.graphs.resize(n);
  // What the checks below need of each communication node (streamed traces are gone).
  struct CommRef {
    NodeId node;
    uint64_t id;
    std::string name;
    int32_t comm_type;
    int64_t comm_bytes;
    int32_t communicator;
  };
  std::vector<std::vector<CommRef>> comm_refs(n);
  // Streamed traces are read one ahead on a second thread (so at most two files' nodes
  // are in memory), and each is freed once its graph is built.
  auto is_streamed = [&](size_t i) { return i < set.files.size() && !set.files[i].empty(); };
  auto read_async = [&](size_t i) {
    return std::async(std::launch::async, [&set, i]() { return ReadTraceFile(set.files[i], set.traces[i].rank); });
  };
  std::future<StatusOr<RankTrace>> next;
  size_t next_index = 0;
  auto prefetch = [&](size_t from) {
    for (size_t j = from; j < n; ++j) {
      if (is_streamed(j)) {
        next = read_async(j);
        next_index = j;
        return;
      }
    }
  };
  prefetch(0);
  for (size_t i = 0; i < n; ++i) {
    RankTrace loaded;
    const bool streamed = is_streamed(i);
    if (streamed) {
      ECHOSIM_CHECK(next.valid() && next_index == i);
      StatusOr<RankTrace> got = next.get();
      prefetch(i + 1);
      if (!got.ok()) return got.status();
      loaded = std::move(got).value();
      bool added = false;
      ECHOSIM_RETURN_IF_ERROR(map_comms(i, loaded, &added));
      if (added && rendezvous) {
        // A communicator the headers did not name changes the rendezvous families:
        // load every trace first.
        ECHOSIM_ASSIGN_OR_RETURN(TraceSet full, LoadStreamedTraces(set));
        return SimulateTraceSet(full, o);
      }
    }
    const RankTrace& t = streamed ? loaded : set.traces[i];
    TraceGraphOptions go;
    for (size_t local = 0; local < t.communicators.size(); ++local) {
      const int32_t gc = comm_of_local[i][local + 1];
      go.communicator_group.push_back(rendezvous ? kFamilies[family_of[gc]] : GroupKind::kDp);
    }
    go.default_group = rendezvous ? kFamilies[family_of[comm_of_local[i][0]]] : GroupKind::kDp;
    go.comm_duration = [&, i](const TraceNode& node) -> Duration {
      if (o.keep_comm_durations || (node.comm_bytes == 0 && node.duration > 0)) return node.duration;
      const double bytes = static_cast<double>(node.comm_bytes);
      // A failed cost prices the node at 0 and keeps the first error, naming the node.
      auto cost_or_zero = [&](const StatusOr<Duration>& d) -> Duration {
        if (d.ok()) return *d;
        if (comm_error.ok()) {
          comm_error = d.status().WithContext(StrCat(set.traces[i].source, ": node id ", node.id, " '",
                                                    node.name, "'"));
        }
        return 0;
      };
      if (node.kind == TraceNodeKind::kCollective) {
        const std::vector<int64_t>& m = comm_members[comm_of_local[i][node.communicator + 1]];
        auto kind = CollectiveForChakra(node.comm_type);
        if (!kind.ok() || m.size() < 2) return 0;
        return cost_or_zero(comm_cost(*kind, bytes, topo.ShapeOf(m)));
      }
      const int64_t peer = std::clamp<int64_t>(node.peer, 0, world - 1);
      return cost_or_zero(comm_cost(CollectiveKind::kSendRecv, bytes, topo.ShapeOf({set.traces[i].rank, peer})));
    };
    go.compute_duration = o.compute_duration;
    auto g = BuildTraceGraph(t, go);
    if (!g.ok()) return g.status();
    ECHOSIM_RETURN_IF_ERROR(comm_error);
    res.graphs[i] = std::move(g).value();
    const ExecutionGraph& graph = res.graphs[i].graph;
    for (NodeId v = 0; v < graph.num_nodes(); ++v) {
      const NodeKind k = graph.kind(v);
      if (k != NodeKind::kCollective && k != NodeKind::kSend && k != NodeKind::kRecv) continue;
      const TraceNode& tn = t.nodes[res.graphs[i].trace_node[v]];
      comm_refs[i].push_back({v, tn.id, tn.name, tn.comm_type, tn.comm_bytes, tn.communicator});
    }
  }

  // Peers must be ranks of the world; collectives must agree across traced members.
  struct CollRef {
    size_t trace;
    NodeId node;
    const CommRef* ref;
  };
  std::vector<std::vector<std::vector<CollRef>>> colls(comm_members.size());  // comm -> member trace -> refs
  for (size_t i = 0; i < n; ++i) {
    const RankTrace& t = set.traces[i];
    const ExecutionGraph& g = res.graphs[i].graph;
    for (const CommRef& tn : comm_refs[i]) {
      const NodeId v = tn.node;
      const NodeKind k = g.kind(v);
      if (k == NodeKind::kSend || k == NodeKind::kRecv) {
        const int64_t peer = DecodePeer(g.comm(v).peer);
        if (peer < 0 || peer >= world) {
          return InvalidArgument(StrCat(t.source, ": node id ", tn.id, " '", tn.name, "': peer rank ",
                                        peer, " is outside the world of ", world));
        }
      } else if (k == NodeKind::kCollective) {
        const int32_t gc = comm_of_local[i][tn.communicator + 1];
        const std::vector<int64_t>& m = comm_members[gc];
        if (!std::binary_search(m.begin(), m.end(), t.rank)) {
          return InvalidArgument(StrCat(t.source, ": node id ", tn.id, " '", tn.name,
                                        "': rank ", t.rank, " is not a member of its communicator ",
                                        RankList(m)));
        }
        auto& per_member = colls[gc];
        if (per_member.empty() || per_member.back().empty() || per_member.back().front().trace != i) {
          per_member.emplace_back();
        }
        per_member.back().push_back(CollRef{i, v, &tn});
      }
    }
  }
  for (size_t c = 0; c < colls.size(); ++c) {
    const auto& members = colls[c];
    for (size_t m = 1; m < members.size(); ++m) {
      const auto& a = members[0];
      const auto& b = members[m];
      const RankTrace& ta = set.traces[a.front().trace];
      const RankTrace& tb = set.traces[b.front().trace];
      const size_t k_max = std::max(a.size(), b.size());
      for (size_t k = 0; k < k_max; ++k) {
        auto describe = [&](const std::vector<CollRef>& refs, const RankTrace& t) {
          if (k >= refs.size()) return StrCat("rank ", t.rank, " (", t.source, ") has only ", refs.size());
          const CommRef& tn = *refs[k].ref;
          return StrCat("rank ", t.rank, " has ", ChakraCommTypeName(tn.comm_type), " of ",
                        tn.comm_bytes, " bytes (", t.source, " node id ", tn.id, " '", tn.name, "')");
        };
        bool same = k < a.size() && k < b.size();
        if (same) {
          const CommRef& x = *a[k].ref;
          const CommRef& y = *b[k].ref;
          same = x.comm_type == y.comm_type && x.comm_bytes == y.comm_bytes;
        }
        if (!same) {
          return InvalidArgument(StrCat("collectives do not match on communicator ",
                                        RankList(comm_members[c]), " at call #", k, ": ",
                                        describe(a, ta), ", but ", describe(b, tb)));
        }
        if (rendezvous && a[k].node != b[k].node) {
          rendezvous = false;
          res.note = StrCat("collectives complete independently: call #", k, " on communicator ",
                            RankList(comm_members[c]), " is node ", a[k].node, " on rank ", ta.rank,
                            " but node ", b[k].node, " on rank ", tb.rank);
        }
      }
    }
  }
  // The graphs carry the family kinds either way; independent mode ignores them.
  res.rendezvous = rendezvous;
  if (o.build_only) {
    for (const TraceGraph& g : res.graphs) res.nodes += g.graph.num_nodes();
    res.sim_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    return res;
  }

  TraceRankMap map;
  map.global_.resize(n);
  for (size_t i = 0; i < n; ++i) map.global_[i] = set.traces[i].rank;
  map.sim_of_global_ = rep;
  for (int64_t g = 0; g < world; ++g) {
    if (map.sim_of_global_[g] < 0) {
      // A rank no trace stands for: only an error if someone talks to it.
      map.sim_of_global_[g] = 0;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    for (const CommRef& tn : comm_refs[i]) {
      const NodeId v = tn.node;
      const NodeKind k = res.graphs[i].graph.kind(v);
      if ((k == NodeKind::kSend || k == NodeKind::kRecv) && rep[DecodePeer(res.graphs[i].graph.comm(v).peer)] < 0) {
        return InvalidArgument(StrCat(set.traces[i].source, ": node id ", tn.id, " '", tn.name,
                                      "': no trace stands for peer rank ",
                                      DecodePeer(res.graphs[i].graph.comm(v).peer)));
      }
    }
  }
  map.rendezvous_ = rendezvous;
  if (rendezvous) {
    for (size_t f = 0; f < families.size(); ++f) {
      const int kind = static_cast<int>(kFamilies[f]);
      map.group_id_[kind].assign(static_cast<size_t>(world), -1);
      map.arrivals_[kind] = families[f].first;
    }
    for (size_t c = 0; c < comm_members.size(); ++c) {
      const int kind = static_cast<int>(kFamilies[family_of[c]]);
      for (int64_t r : comm_members[c]) map.group_id_[kind][r] = comm_members[c].front();
    }
  }

  std::vector<const ExecutionGraph*> classes;
  for (const TraceGraph& g : res.graphs) classes.push_back(&g.graph);
  Engine engine;
  ExecutorOptions exec_options;
  exec_options.interference = o.interference;
  Executor exec(classes, &map, &engine, exec_options);
  for (size_t i = 0; i < n; ++i) exec.RecordRank(static_cast<int64_t>(i));
  Status st = exec.Run();
  if (!st.ok()) {
    // Name traced ranks rather than simulated indices.
    return st.WithContext(StrCat("simulating ", set.origin, " (simulated rank k is the k-th trace: ranks ",
                                 RankList(map.global_), ")"));
  }
  res.step_time_s = DurationToSeconds(exec.finish_time());
  res.events = engine.events_processed();
  res.nodes = exec.nodes_completed();
  res.spans.resize(n);
  Time slowest = -1;
  for (size_t i = 0; i < n; ++i) {
    TraceRankResult r;
    r.rank = set.traces[i].rank;
    r.stands_for = 0;
    for (int64_t g = 0; g < world; ++g) r.stands_for += rep[g] == static_cast<int64_t>(i);
    r.finish_s = DurationToSeconds(exec.rank_finish_time(static_cast<int64_t>(i)));
    r.nodes = res.graphs[i].graph.num_nodes();
    r.missing_deps = res.graphs[i].missing_deps;
    r.self_deps = res.graphs[i].self_deps;
    r.ctrl_deps_dropped = res.graphs[i].ctrl_deps_dropped;
    res.spans[i] = exec.spans(static_cast<int64_t>(i));
    Breakdown(res.graphs[i].graph, res.spans[i], exec.finish_time(), &r);
    if (exec.rank_finish_time(static_cast<int64_t>(i)) > slowest) {
      slowest = exec.rank_finish_time(static_cast<int64_t>(i));
      res.slowest_rank = r.rank;
    }
    res.ranks.push_back(r);
  }
  res.sim_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return res;
}

nlohmann::json TraceSimJson(const TraceSimResult& r) {
  nlohmann::json j;
  j["step_time_s"] = r.step_time_s;
  j["world_size"] = r.world_size;
  j["traced_ranks"] = r.traced_ranks;
  j["simulated_ranks"] = r.simulated_ranks;
  j["collectives"] = r.rendezvous ? "rendezvous" : "independent";
  if (!r.note.empty()) j["note"] = r.note;
  j["nodes"] = r.nodes;
  j["events"] = r.events;
  j["slowest_rank"] = r.slowest_rank;
  nlohmann::json ranks = nlohmann::json::array();
  for (const TraceRankResult& x : r.ranks) {
    ranks.push_back({{"rank", x.rank},
                     {"stands_for", x.stands_for},
                     {"finish_s", x.finish_s},
                     {"nodes", x.nodes},
                     {"compute_s", x.compute_s},
                     {"exposed_comm_s", x.exposed_comm_s},
                     {"host_s", x.host_s},
                     {"idle_s", x.idle_s},
                     {"dropped_missing_deps", x.missing_deps},
                     {"dropped_self_deps", x.self_deps},
                     {"dropped_ctrl_deps", x.ctrl_deps_dropped}});
  }
  j["ranks"] = ranks;
  j["sim_wall_s"] = r.sim_wall_s;
  return j;
}

std::string TraceSimTable(const TraceSimResult& r) {
  std::string s;
  s += StrCat("step time           ", FormatDouble(r.step_time_s * 1e3, 6), " ms\n");
  s += StrCat("world size          ", r.world_size, " (", r.traced_ranks, " traced rank",
              r.traced_ranks == 1 ? "" : "s", ")\n");
  s += StrCat("collectives         ", r.rendezvous ? "rendezvous of all members" : "independent",
              "\n");
  if (!r.note.empty()) s += StrCat("  note: ", r.note, "\n");
  s += StrCat("nodes               ", r.nodes, " (", r.events, " events, ",
              FormatDouble(r.sim_wall_s, 3), " s)\n");
  s += "rank  stands-for  finish ms   compute ms  exposed-comm ms  host ms     idle ms\n";
  for (const TraceRankResult& x : r.ranks) {
    char line[200];
    std::snprintf(line, sizeof(line), "%-5lld %-11lld %-11.4f %-11.4f %-16.4f %-11.4f %-.4f\n",
                  static_cast<long long>(x.rank), static_cast<long long>(x.stands_for),
                  x.finish_s * 1e3, x.compute_s * 1e3, x.exposed_comm_s * 1e3, x.host_s * 1e3,
                  x.idle_s * 1e3);
    s += line;
  }
  return s;
}

void WriteTraceTimeline(const TraceSimResult& r, std::ostream& out) {
  out << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  bool first = true;
  auto sep = [&]() {
    if (!first) out << ",\n";
    first = false;
  };
  for (size_t i = 0; i < r.graphs.size(); ++i) {
    const int64_t pid = r.ranks[i].rank;
    sep();
    out << "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":" << pid
        << ",\"args\":{\"name\":\"rank " << pid << "\"}}";
    const auto& streams = r.graphs[i].graph.stream_names();
    for (size_t s = 0; s < streams.size(); ++s) {
      sep();
      out << "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":" << pid << ",\"tid\":" << s
          << ",\"args\":{\"name\":\"" << JsonEscape(streams[s]) << "\"}}";
    }
  }
  for (size_t i = 0; i < r.graphs.size(); ++i) {
    const ExecutionGraph& g = r.graphs[i].graph;
    const int64_t pid = r.ranks[i].rank;
    for (const Span& s : r.spans[i]) {
      sep();
      const NodeKind kind = g.kind(s.node);
      const char* cat = kind == NodeKind::kCollective                        ? "collective"
                        : kind == NodeKind::kSend || kind == NodeKind::kRecv ? "p2p"
                        : kind == NodeKind::kDelay                           ? "host"
                                                                             : "kernel";
      out << "{\"ph\":\"X\",\"cat\":\"" << cat << "\",\"name\":\"" << JsonEscape(g.name(s.node))
          << "\",\"pid\":" << pid << ",\"tid\":" << static_cast<int>(g.stream(s.node))
          << ",\"ts\":" << FormatMicros(s.start) << ",\"dur\":" << FormatMicros(s.end - s.start) << "}";
    }
  }
  out << "\n]}\n";
}

}  // namespace echosim
