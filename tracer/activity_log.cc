#include "tracer/activity_log.h"

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>
#include <unordered_map>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

constexpr uint32_t kNone = 0xffffffffu;

// Sort key of a node in launch order: (correlation, phase, sub, tie).
// phase 0: host node before the call; 1: device work of the call; 2: host wait after it.
using LaunchKey = std::tuple<uint64_t, int, int64_t, uint64_t>;

struct Pending {
  LaunchKey key;
  TraceNode node;
  std::vector<uint32_t> deps;  // indices into the pending list
};

class Builder {
 public:
  Builder(const ActivityLog& log, const ActivityOptions& o) : log_(log), o_(o) {}
  StatusOr<RankTrace> Build();

 private:
  struct Device {
    int64_t stream;
    LaunchKey key;
    uint32_t pending;  // index into nodes_
  };
  uint32_t Add(LaunchKey key, TraceNode n) {
    nodes_.push_back(Pending{key, std::move(n), {}});
    return static_cast<uint32_t>(nodes_.size() - 1);
  }
  // Last device op on `stream` launched strictly before correlation `corr`; kNone if none.
  uint32_t LastBefore(int64_t stream, uint64_t corr) const {
    auto it = by_stream_.find(stream);
    if (it == by_stream_.end()) return kNone;
    const std::vector<Device>& v = it->second;
    auto pos = std::lower_bound(v.begin(), v.end(), corr, [](const Device& d, uint64_t c) {
      return std::get<0>(d.key) < c;
    });
    if (pos == v.begin()) return kNone;
    return std::prev(pos)->pending;
  }
  // First device op on `stream` launched strictly after correlation `corr`.
  uint32_t FirstAfter(int64_t stream, uint64_t corr) const {
    auto it = by_stream_.find(stream);
    if (it == by_stream_.end()) return kNone;
    const std::vector<Device>& v = it->second;
    auto pos = std::upper_bound(v.begin(), v.end(), corr, [](uint64_t c, const Device& d) {
      return c < std::get<0>(d.key);
    });
    return pos == v.end() ? kNone : pos->pending;
  }
  // Where the event a sync waits on was recorded: (stream, record correlation).
  bool EventSource(const SyncRecord& s, int64_t* stream, uint64_t* corr) const {
    if (s.wait_on_stream >= 0 && s.record_correlation >= 0) {
      *stream = s.wait_on_stream;
      *corr = static_cast<uint64_t>(s.record_correlation);
      return true;
    }
    // The latest record of the event before the wait.
    auto it = events_.find(s.event_id);
    if (it == events_.end()) return false;
    const std::vector<std::pair<uint64_t, int64_t>>& v = it->second;  // (correlation, stream)
    auto pos = std::lower_bound(v.begin(), v.end(), std::make_pair(s.correlation, int64_t{-1}));
    if (pos == v.begin()) return false;
    --pos;
    *stream = pos->second;
    *corr = pos->first;
    return true;
  }
  void IndexEvents() {
    for (const EventRecord& e : log_.events) events_[e.event_id].emplace_back(e.correlation, e.stream);
    for (auto& [id, v] : events_) std::sort(v.begin(), v.end());
  }

  const ActivityLog& log_;
  const ActivityOptions& o_;
  std::vector<Pending> nodes_;
  std::map<int64_t, std::vector<Device>> by_stream_;
  std::unordered_map<uint64_t, std::vector<std::pair<uint64_t, int64_t>>> events_;
};

std::string StreamName(int64_t s) { return StrCat("stream ", s); }

StatusOr<RankTrace> Builder::Build() {
  IndexEvents();
  // GPU work the NCCL shim launched itself is not the program's: drop it.
  std::vector<std::pair<uint64_t, uint64_t>> inner;
  for (const CommCall& c : log_.comms) {
    if (c.first_inner_correlation > 0 && c.last_inner_correlation >= c.first_inner_correlation) {
      inner.emplace_back(c.first_inner_correlation, c.last_inner_correlation);
    }
  }
  std::sort(inner.begin(), inner.end());
  auto is_inner = [&](uint64_t corr) {
    auto it = std::upper_bound(inner.begin(), inner.end(), std::make_pair(corr, ~uint64_t{0}));
    return it != inner.begin() && std::prev(it)->second >= corr;
  };
  std::unordered_map<uint64_t, const ApiCall*> api_by_corr;
  for (const ApiCall& a : log_.api_calls) api_by_corr.emplace(a.correlation, &a);

  // Device nodes.
  struct HostEvent {
    int64_t start_ns, end_ns;
    bool sync;
    uint64_t corr;
    LaunchKey key;
    std::string name;
    std::vector<uint32_t> launched;  // device nodes it launched
    const SyncRecord* sync_record = nullptr;
  };
  std::map<int64_t, std::vector<HostEvent>> host;  // thread -> events
  std::map<uint64_t, std::pair<int64_t, size_t>> host_by_corr;
  auto host_event = [&](int64_t thread, int64_t start, int64_t end, bool sync, uint64_t corr,
                        LaunchKey key, const std::string& name) -> HostEvent& {
    std::vector<HostEvent>& v = host[thread];
    v.push_back(HostEvent{start, end, sync, corr, key, name, {}, nullptr});
    return v.back();
  };
  for (size_t i = 0; i < log_.gpu_ops.size(); ++i) {
    const GpuOp& g = log_.gpu_ops[i];
    if (is_inner(g.correlation)) continue;
    if (g.end_ns < g.start_ns) {
      return InvalidArgument(StrCat(log_.source, ": GPU op '", g.name, "' (correlation ",
                                    g.correlation, ") ends before it starts"));
    }
    TraceNode n;
    n.name = g.name;
    n.kind = g.kind == GpuOpKind::kKernel ? TraceNodeKind::kCompute : TraceNodeKind::kMemory;
    n.stream = StreamName(g.stream);
    n.duration = (g.end_ns - g.start_ns) * kNanosecond;
    const LaunchKey key{g.correlation, 1, g.start_ns, i};
    const uint32_t id = Add(key, std::move(n));
    by_stream_[g.stream].push_back(Device{g.stream, key, id});
  }
  for (const CommCall& c : log_.comms) {
    TraceNode n;
    n.name = c.name;
    n.kind = c.kind;
    n.comm_type = c.comm_type;
    n.comm_bytes = c.bytes;
    n.communicator = c.communicator;
    n.peer = c.peer;
    n.stream = StreamName(c.stream);
    n.duration = c.duration_ns >= 0 ? c.duration_ns * kNanosecond : 0;
    const LaunchKey key{c.launch_correlation, 1, std::numeric_limits<int64_t>::max(), c.seq};
    const uint32_t id = Add(key, std::move(n));
    by_stream_[c.stream].push_back(Device{c.stream, key, id});
  }
  for (auto& [stream, v] : by_stream_) {
    std::sort(v.begin(), v.end(), [](const Device& a, const Device& b) { return a.key < b.key; });
  }

  // NCCL groups: calls of one group on one stream run side by side.
  std::map<std::pair<int64_t, int64_t>, std::vector<uint32_t>> groups;  // (stream, group)
  const size_t first_comm = nodes_.size() - log_.comms.size();
  for (size_t k = 0; k < log_.comms.size(); ++k) {
    const CommCall& c = log_.comms[k];
    if (c.group != 0) groups[{c.stream, c.group}].push_back(static_cast<uint32_t>(first_comm + k));
  }
  std::vector<uint32_t> lane_of(nodes_.size(), kNone);  // group lane index, or kNone
  for (auto& [sg, members] : groups) {
    if (members.size() < 2) continue;
    std::sort(members.begin(), members.end(),
              [&](uint32_t a, uint32_t b) { return nodes_[a].key < nodes_[b].key; });
    for (size_t k = 0; k < members.size(); ++k) {
      lane_of[members[k]] = static_cast<uint32_t>(k);
      nodes_[members[k]].node.stream = StrCat(StreamName(sg.first), " group lane ", k);
    }
  }
  // Stream order, made explicit (the graph builder orders by dependencies first).
  for (auto& [stream, v] : by_stream_) {
    std::vector<uint32_t> prev;  // nodes the next one on the stream waits for
    for (size_t k = 0; k < v.size(); ++k) {
      const uint32_t cur = v[k].pending;
      if (lane_of[cur] != kNone) {
        // A group: every member depends on what preceded the group; the first op after
        // the group depends on every member.
        std::vector<uint32_t> members;
        size_t j = k;
        while (j < v.size() && lane_of[v[j].pending] != kNone &&
               (j == k || lane_of[v[j].pending] != 0)) {
          members.push_back(v[j].pending);
          ++j;
        }
        for (uint32_t m : members) nodes_[m].deps.insert(nodes_[m].deps.end(), prev.begin(), prev.end());
        prev = members;
        k = j - 1;
        continue;
      }
      nodes_[cur].deps.insert(nodes_[cur].deps.end(), prev.begin(), prev.end());
      prev = {cur};
    }
  }

  // Host events: launches of kept device work, comm calls, synchronisations.
  for (const auto& [stream, v] : by_stream_) {
    for (const Device& d : v) {
      const uint64_t corr = std::get<0>(d.key);
      const Pending& p = nodes_[d.pending];
      const bool comm = p.node.is_comm();
      if (comm) {
        const CommCall* c = &log_.comms[d.pending - first_comm];
        if (c->thread >= 0 && c->host_ns >= 0) {
          HostEvent& h = host_event(c->thread, c->host_ns, c->host_ns, false, corr,
                                    LaunchKey{corr, 0, 1, c->seq}, c->name);
          h.launched.push_back(d.pending);
          continue;
        }
      }
      auto it = api_by_corr.find(corr);
      if (it == api_by_corr.end() || comm) continue;
      auto hb = host_by_corr.find(corr);
      if (hb != host_by_corr.end()) {
        host[hb->second.first][hb->second.second].launched.push_back(d.pending);
        continue;
      }
      const ApiCall& a = *it->second;
      host_event(a.thread, a.start_ns, a.end_ns, false, corr, LaunchKey{corr, 0, 0, 0}, a.name)
          .launched.push_back(d.pending);
      host_by_corr[corr] = {a.thread, host[a.thread].size() - 1};
    }
  }
  bool any_stream_wait = false;
  for (const SyncRecord& s : log_.syncs) {
    if (s.kind == SyncKind::kStreamWaitEvent) {
      any_stream_wait = true;
      int64_t src_stream;
      uint64_t rec_corr;
      if (!EventSource(s, &src_stream, &rec_corr)) continue;
      const uint32_t src = LastBefore(src_stream, rec_corr);
      const uint32_t dst = FirstAfter(s.stream, s.correlation);
      if (src != kNone && dst != kNone && src != dst) nodes_[dst].deps.push_back(src);
      continue;
    }
    auto it = api_by_corr.find(s.correlation);
    if (it == api_by_corr.end()) continue;
    const ApiCall& a = *it->second;
    HostEvent& h = host_event(a.thread, a.start_ns, a.end_ns, true, s.correlation,
                              LaunchKey{s.correlation, 0, 0, 0}, a.name);
    h.sync_record = &s;
  }
  if (!any_stream_wait && o_.collectives_wait_on_launch) {
    for (const auto& [stream, v] : by_stream_) {
      for (const Device& d : v) {
        if (!nodes_[d.pending].node.is_comm()) continue;
        for (const auto& [other, ov] : by_stream_) {
          if (other == stream) continue;
          const uint32_t src = LastBefore(other, std::get<0>(d.key));
          if (src != kNone) nodes_[d.pending].deps.push_back(src);
        }
      }
    }
  }

  // Host streams.
  if (o_.host_gaps) {
    for (auto& [thread, events] : host) {
      std::sort(events.begin(), events.end(), [](const HostEvent& a, const HostEvent& b) {
        return std::tie(a.start_ns, a.key) < std::tie(b.start_ns, b.key);
      });
      uint32_t prev = kNone;
      int64_t anchor = events.empty() ? 0 : events.front().start_ns;
      for (HostEvent& e : events) {
        TraceNode n;
        n.name = e.name;
        n.on_cpu = true;
        n.kind = TraceNodeKind::kCompute;
        n.stream = StrCat("host ", thread);
        n.duration = std::max<int64_t>(0, e.start_ns - anchor) * kNanosecond;
        const uint32_t h = Add(e.key, std::move(n));
        if (prev != kNone) nodes_[h].deps.push_back(prev);
        for (uint32_t d : e.launched) nodes_[d].deps.push_back(h);
        prev = h;
        anchor = e.start_ns;
        if (e.sync && e.sync_record != nullptr) {
          const SyncRecord& s = *e.sync_record;
          TraceNode w;
          w.name = StrCat(e.name, " wait");
          w.on_cpu = true;
          w.stream = StrCat("host ", thread);
          const uint32_t wn = Add(LaunchKey{e.corr, 2, 0, 0}, std::move(w));
          nodes_[wn].deps.push_back(h);
          auto wait_for = [&](uint32_t src) {
            if (src != kNone) nodes_[wn].deps.push_back(src);
          };
          if (s.kind == SyncKind::kStreamSync) {
            wait_for(LastBefore(s.stream, s.correlation));
          } else if (s.kind == SyncKind::kContextSync) {
            for (const auto& [st, v] : by_stream_) wait_for(LastBefore(st, s.correlation));
          } else if (s.kind == SyncKind::kEventSync) {
            int64_t src_stream;
            uint64_t rec_corr;
            if (EventSource(s, &src_stream, &rec_corr)) wait_for(LastBefore(src_stream, rec_corr));
          }
          prev = wn;
          anchor = e.end_ns;
        }
      }
    }
  }

  // Number nodes in launch order; ids are positions.
  std::vector<uint32_t> order(nodes_.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return std::tie(nodes_[a].key, a) < std::tie(nodes_[b].key, b); });
  std::vector<uint64_t> id_of(nodes_.size());
  for (uint32_t k = 0; k < order.size(); ++k) id_of[order[k]] = k;
  RankTrace t;
  t.rank = log_.rank;
  t.world_size = log_.world_size;
  t.source = log_.source;
  t.schema = "echosim-activity";
  t.blocking_sends = true;
  t.communicators = log_.communicators;
  t.nodes.reserve(nodes_.size());
  for (uint32_t k = 0; k < order.size(); ++k) {
    Pending& p = nodes_[order[k]];
    p.node.id = k;
    p.node.launch_order = k;
    std::sort(p.deps.begin(), p.deps.end());
    p.deps.erase(std::unique(p.deps.begin(), p.deps.end()), p.deps.end());
    for (uint32_t d : p.deps) p.node.data_deps.push_back(id_of[d]);
    t.nodes.push_back(std::move(p.node));
  }
  return t;
}

}  // namespace

StatusOr<RankTrace> BuildRankTrace(const ActivityLog& log, const ActivityOptions& options) {
  for (const CommCall& c : log.comms) {
    if (c.communicator >= static_cast<int32_t>(log.communicators.size())) {
      return InvalidArgument(StrCat(log.source, ": communication call #", c.seq, " '", c.name,
                                    "' names communicator ", c.communicator, " of ",
                                    log.communicators.size()));
    }
  }
  Builder b(log, options);
  return b.Build();
}

}  // namespace echosim
