#include "simulator/graph/executor.h"

#include <algorithm>
#include <cmath>

#include "simulator/core/strings.h"

namespace echosim {

Executor::Executor(std::vector<const ExecutionGraph*> classes, const RankMap* ranks,
                   Engine* engine, ExecutorOptions options)
    : classes_(std::move(classes)), ranks_(ranks), engine_(engine), options_(options) {
  done_kind_ = engine_->RegisterHandler(this);
  activity_kind_ = engine_->RegisterHandler(this);
  const int64_t n = ranks_->NumRanks();
  graph_of_rank_.resize(n);
  pending_.resize(n);
  rank_finish_.assign(n, 0);
  record_index_.assign(n, -1);
  collectives_.reserve(1 << 12);
  p2p_.reserve(1 << 12);
  if (rate_mode()) {
    rank_activities_.resize(n);
    compute_running_.assign(n, 0);
    comm_channels_.assign(n, 0);
    seen_busy_.assign(n, 0);
    fast_.resize(n);
    seen_channels_.assign(n, 0);
    is_dirty_.assign(n, 0);
  }
  for (int64_t r = 0; r < n; ++r) {
    const uint32_t c = ranks_->ClassOf(r);
    ECHOSIM_CHECK(c < classes_.size());
    graph_of_rank_[r] = classes_[c];
    pending_[r] = classes_[c]->in_degrees();
  }
}

void Executor::RecordRank(int64_t rank) {
  ECHOSIM_CHECK(rank >= 0 && rank < ranks_->NumRanks());
  if (record_index_[rank] >= 0) return;
  record_index_[rank] = static_cast<int32_t>(spans_.size());
  spans_.emplace_back();
  start_.emplace_back(graph_of_rank_[rank]->num_nodes(), Time{-1});
}

const std::vector<Span>& Executor::spans(int64_t rank) const {
  ECHOSIM_CHECK(record_index_[rank] >= 0);
  return spans_[record_index_[rank]];
}

Status Executor::Run() {
  uint64_t total = 0;
  for (int64_t r = 0; r < ranks_->NumRanks(); ++r) {
    const ExecutionGraph* g = graph_of_rank_[r];
    total += g->num_nodes();
    for (NodeId v = 0; v < g->num_nodes(); ++v) {
      if (g->in_degree(v) == 0) MakeReady(r, v);
    }
  }
  if (!dirty_.empty() || !unscheduled_.empty()) Flush();
  engine_->Run();
  if (nodes_completed_ != total) {
    // Report the first rank with an unfinished node whose predecessors all finished
    // (it is waiting on a peer), else the first unfinished node.
    for (int64_t r = 0; r < ranks_->NumRanks(); ++r) {
      const ExecutionGraph* g = graph_of_rank_[r];
      for (NodeId v = 0; v < g->num_nodes(); ++v) {
        if (pending_[r][v] == 0) {
          const NodeKind k = g->kind(v);
          if (k == NodeKind::kCollective || k == NodeKind::kSend || k == NodeKind::kRecv) {
            return FailedPrecondition(StrCat(
                "simulation deadlock: rank ", r, " waits forever at ", NodeKindName(k), " node ", v,
                " '", g->name(v), "' on stream '", g->stream_names()[g->stream(v)],
                "' (its peers never reached the matching operation); ", nodes_completed_, " of ",
                total, " nodes completed"));
          }
        }
      }
    }
    return Internal(StrCat("simulation stopped with ", total - nodes_completed_,
                           " nodes never run"));
  }
  return Status::Ok();
}

void Executor::MakeReady(int64_t rank, NodeId node) {
  const ExecutionGraph& g = *graph_of_rank_[rank];
  // Mark "ready and not yet complete" so the deadlock report can find waiting nodes.
  pending_[rank][node] = 0;
  switch (g.kind(node)) {
    case NodeKind::kCompute:
      if (options_.interference != nullptr && comm_channels_[rank] == 0) {
        // Fast path: nothing slows it now. It runs at full rate unless communication
        // starts on this GPU before it ends (Flush then turns it into a rate-tracked
        // activity and this event is ignored).
        MarkStart(static_cast<uint32_t>(rank), node);
        const Time end = engine_->Now() + g.duration(node);
        fast_[rank].push_back(FastKernel{node, end});
        ++compute_running_[rank];
        // Busy state only matters to communication on this GPU; a rank without any is
        // brought up to date when communication starts there (StartComm marks it).
        if (!rank_activities_[rank].empty()) MarkDirty(static_cast<uint32_t>(rank));
        engine_->ScheduleAt(end, done_kind_, Pack(rank, node), 1);
        break;
      }
      if (options_.interference != nullptr) {
        MarkStart(static_cast<uint32_t>(rank), node);
        const uint32_t id = NewActivity();
        Activity& a = activities_[id];
        a.members.emplace_back(static_cast<uint32_t>(rank), node);
        a.remaining = static_cast<double>(g.duration(node));
        a.cls = g.op_class(node);
        a.last = engine_->Now();
        a.rate = 0;  // forces the first schedule
        rank_activities_[rank].push_back(id);
        ++compute_running_[rank];
        MarkDirty(static_cast<uint32_t>(rank));
        unscheduled_.push_back(id);  // first rate once this event's changes are in (Flush)
        break;
      }
      [[fallthrough]];
    case NodeKind::kDelay:
      MarkStart(static_cast<uint32_t>(rank), node);
      engine_->ScheduleAfter(g.duration(node), done_kind_, Pack(rank, node));
      break;
    case NodeKind::kCollective: {
      const CommInfo& c = g.comm(node);
      const int64_t group = ranks_->GroupId(rank, c.group);
      const uint64_t key = (static_cast<uint64_t>(group) << 32) | node;
      Arrive(key + (static_cast<uint64_t>(c.group) << 60), 
             static_cast<uint32_t>(ranks_->GroupArrivals(c.group)), rank, node, g.duration(node));
      break;
    }
    case NodeKind::kSend:
    case NodeKind::kRecv: {
      const CommInfo& c = g.comm(node);
      const int64_t peer = ranks_->Peer(rank, c.peer);
      const int64_t sender = g.kind(node) == NodeKind::kSend ? rank : peer;
      const int64_t receiver = g.kind(node) == NodeKind::kSend ? peer : rank;
      const uint64_t key = (static_cast<uint64_t>(sender) << 44) ^
                           (static_cast<uint64_t>(receiver) << 24) ^ c.tag;
      ECHOSIM_CHECK(c.tag < (1u << 24) && sender < (1 << 20) && receiver < (1 << 20));
      Rendezvous& rv = p2p_[key];
      rv.expected = 2;
      ++rv.arrived;
      rv.members.emplace_back(static_cast<uint32_t>(rank), node);
      if (rv.arrived == rv.expected) {
        // The receive's modelled duration is the transfer time.
        Duration d = 0;
        for (const auto& [mr, mn] : rv.members) d = std::max(d, graph_of_rank_[mr]->duration(mn));
        const auto members = std::move(rv.members);
        p2p_.erase(key);
        StartComm(members, d);
      }
      break;
    }
  }
}

void Executor::Arrive(uint64_t key, uint32_t expected, int64_t rank, NodeId node,
                      Duration duration) {
  if (expected <= 1) {
    StartComm({{static_cast<uint32_t>(rank), node}}, duration);
    return;
  }
  Rendezvous& rv = collectives_[key];
  rv.expected = expected;
  ++rv.arrived;
  rv.members.emplace_back(static_cast<uint32_t>(rank), node);
  if (rv.arrived < rv.expected) return;
  const auto members = std::move(rv.members);
  collectives_.erase(key);
  StartComm(members, duration);
}

void Executor::MarkStart(uint32_t rank, NodeId node) {
  if (record_index_[rank] >= 0) start_[record_index_[rank]][node] = engine_->Now();
}

void Executor::StartComm(const std::vector<std::pair<uint32_t, NodeId>>& members,
                         Duration duration) {
  for (const auto& [mr, mn] : members) MarkStart(mr, mn);
  if (!rate_mode()) {
    for (const auto& [mr, mn] : members) engine_->ScheduleAfter(duration, done_kind_, Pack(mr, mn));
    return;
  }
  const uint32_t id = NewActivity();
  Activity& a = activities_[id];
  a.members.assign(members.begin(), members.end());
  a.is_comm = true;
  a.last = engine_->Now();
  a.rate = 0;
  a.remaining = static_cast<double>(duration);
  a.channels = 8;
  Duration latency = 0;
  if (options_.comm != nullptr) {
    const auto& [r0, n0] = members.front();
    CommDemand d = options_.comm->Describe(r0, *graph_of_rank_[r0], n0);
    if (d.channels > 0) a.channels = d.channels;
    if (!d.path.empty() && d.wire_bytes > 0 && d.nominal_bytes_per_s > 0) {
      latency = d.latency;
      a.in_latency = true;
      a.remaining = d.wire_bytes;
      a.nominal = d.nominal_bytes_per_s;
      // The path is attached when the latency phase ends (StartFlow below).
      pending_paths_[id] = std::move(d.path);
    }
  }
  for (const auto& [mr, mn] : members) {
    rank_activities_[mr].push_back(id);
    comm_channels_[mr] += a.channels;
    a.busy_members += seen_busy_[mr];
    MarkDirty(mr);
  }
  if (a.in_latency) {
    ++a.generation;
    engine_->ScheduleAfter(latency, activity_kind_, id, a.generation);
  } else {
    unscheduled_.push_back(id);  // first rate once this event's changes are in (Flush)
  }
}

uint32_t Executor::NewActivity() {
  uint32_t id;
  if (!free_activities_.empty()) {
    id = free_activities_.back();
    free_activities_.pop_back();
  } else {
    id = static_cast<uint32_t>(activities_.size());
    activities_.emplace_back();
  }
  Activity& a = activities_[id];
  const uint32_t gen = a.generation;
  std::vector<std::pair<uint32_t, NodeId>> members = std::move(a.members);
  members.clear();  // keep the capacity: no allocation per kernel
  a = Activity();
  a.members = std::move(members);
  a.generation = gen + 1;  // stale events of a previous use never match
  a.alive = true;
  return id;
}

void Executor::Advance(Activity& a) {
  const Time now = engine_->Now();
  if (!a.in_latency && a.rate > 0) {
    a.remaining = std::max(0.0, a.remaining - static_cast<double>(now - a.last) * a.rate);
  }
  a.last = now;
}

double Executor::DesiredRate(const Activity& a) const {
  if (!a.is_comm) {
    if (options_.interference == nullptr) return 1.0;
    return options_.interference->ComputeRate(a.cls, seen_channels_[a.members.front().first]);
  }
  const double factor = options_.interference != nullptr
                            ? options_.interference->CommRate(a.busy_members > 0)
                            : 1.0;
  if (a.flow >= 0) return options_.comm->network()->rate(static_cast<FlowId>(a.flow)) * 1e-12;
  return factor;
}

void Executor::Reschedule(uint32_t id) {
  Activity& a = activities_[id];
  if (a.in_latency) return;
  Advance(a);
  const double rate = DesiredRate(a);
  if (rate == a.rate) return;  // its pending finish event stays valid
  ECHOSIM_CHECK(rate > 0);
  a.rate = rate;
  ++a.generation;
  const double left = std::ceil(a.remaining / rate);
  engine_->ScheduleAfter(static_cast<Duration>(left), activity_kind_, id, a.generation);
}

void Executor::MarkDirty(uint32_t rank) {
  if (is_dirty_[rank]) return;
  is_dirty_[rank] = 1;
  dirty_.push_back(rank);
}


// A flow's cap follows its interference factor; the network re-solves and every flow
// whose share moved is rescheduled (all were advanced at their old rates first).
void Executor::Recap(uint32_t id) {
  Activity& a = activities_[id];
  const double factor = options_.interference != nullptr
                            ? options_.interference->CommRate(a.busy_members > 0)
                            : 1.0;
  FlowNetwork* net = options_.comm->network();
  // No need to advance the component first: each activity keeps its own copy of its rate,
  // and Reschedule advances it at that old rate before taking the network's new one.
  net->SetCap(static_cast<FlowId>(a.flow), a.nominal * factor);
  for (FlowId f : net->changed()) Reschedule(flow_owner_[f]);
}

void Executor::Flush() {
  std::vector<uint32_t>& comm_touched = scratch_;
  comm_touched.clear();
  for (size_t i = 0; i < dirty_.size(); ++i) {
    const uint32_t r = dirty_[i];
    is_dirty_[r] = 0;
    const char busy = compute_running_[r] > 0;
    const bool busy_changed = busy != seen_busy_[r];
    const bool channels_changed = comm_channels_[r] != seen_channels_[r];
    seen_busy_[r] = busy;
    seen_channels_[r] = comm_channels_[r];
    if (!busy_changed && !channels_changed) continue;
    if (comm_channels_[r] > 0 && !fast_[r].empty()) {
      // Communication started beside fast-path kernels: track them from here on.
      const Time now = engine_->Now();
      for (const FastKernel& k : fast_[r]) {
        const uint32_t id = NewActivity();
        Activity& a = activities_[id];
        a.members.emplace_back(r, k.node);
        a.remaining = static_cast<double>(k.end - now);
        a.cls = graph_of_rank_[r]->op_class(k.node);
        a.last = now;
        a.rate = 0;  // forces its first schedule below, whatever else changed
        rank_activities_[r].push_back(id);
        Reschedule(id);
      }
      fast_[r].clear();
    }
    for (uint32_t id : rank_activities_[r]) {
      Activity& a = activities_[id];
      if (a.is_comm) {
        if (busy_changed) {
          a.busy_members += busy ? 1 : -1;
          comm_touched.push_back(id);
        }
      } else if (channels_changed) {
        Reschedule(id);
      }
    }
  }
  dirty_.clear();
  std::sort(comm_touched.begin(), comm_touched.end());
  comm_touched.erase(std::unique(comm_touched.begin(), comm_touched.end()), comm_touched.end());
  for (uint32_t id : comm_touched) {
    Activity& a = activities_[id];
    if (!a.alive || a.in_latency) continue;
    if (a.flow >= 0) {
      Recap(id);
    } else {
      Reschedule(id);
    }
  }
  for (uint32_t id : unscheduled_) {
    if (activities_[id].alive) Reschedule(id);
  }
  unscheduled_.clear();
}

void Executor::FinishActivity(uint32_t id) {
  Activity& a = activities_[id];
  std::vector<std::pair<uint32_t, NodeId>>& members = finishing_;
  members.assign(a.members.begin(), a.members.end());
  const bool is_comm = a.is_comm;
  const int channels = a.channels;
  const int64_t flow = a.flow;
  a.alive = false;
  ++a.generation;
  free_activities_.push_back(id);
  for (const auto& [mr, mn] : members) {
    auto& v = rank_activities_[mr];
    v.erase(std::find(v.begin(), v.end(), id));
    if (is_comm) {
      comm_channels_[mr] -= channels;
    } else {
      --compute_running_[mr];
    }
    MarkDirty(mr);
  }
  if (flow >= 0) {
    FlowNetwork* net = options_.comm->network();
    net->RemoveFlow(static_cast<FlowId>(flow));
    flow_owner_.erase(flow);
    for (FlowId f : net->changed()) Reschedule(flow_owner_[f]);
  }
  for (const auto& [mr, mn] : members) Complete(mr, mn);
}



void Executor::OnEvent(Engine& engine, const Event& event) {
  (void)engine;
  if (event.kind == activity_kind_) {
    const uint32_t id = static_cast<uint32_t>(event.payload);
    Activity& a = activities_[id];
    if (!a.alive || event.aux != a.generation) return;  // superseded by a rate change
    if (a.in_latency) {
      // Start-up done: the transfer joins the network.
      a.in_latency = false;
      a.last = engine_->Now();
      a.rate = 0;
      FlowNetwork* net = options_.comm->network();
      const double factor = options_.interference != nullptr
                                ? options_.interference->CommRate(a.busy_members > 0)
                                : 1.0;
      auto it = pending_paths_.find(id);
      // Flows sharing its links are advanced at their old rates before the re-solve.
      a.flow = net->AddFlow(it->second, a.nominal * factor);
      pending_paths_.erase(it);
      flow_owner_[a.flow] = id;
      for (FlowId f : net->changed()) {
        if (static_cast<int64_t>(f) != a.flow) Reschedule(flow_owner_[f]);
      }
      Reschedule(id);
      return;
    }
    FinishActivity(id);
    if (!dirty_.empty() || !unscheduled_.empty()) Flush();
    return;
  }
  const int64_t rank = static_cast<int64_t>(event.payload >> 32);
  const NodeId node = static_cast<NodeId>(event.payload & 0xffffffffu);
  if (event.aux == 1) {
    // A fast-path compute kernel: ignored if it was converted to an activity meanwhile.
    auto& v = fast_[rank];
    auto it = std::find_if(v.begin(), v.end(), [&](const FastKernel& k) { return k.node == node; });
    if (it == v.end()) return;
    v.erase(it);
    --compute_running_[rank];
    if (!rank_activities_[rank].empty()) MarkDirty(static_cast<uint32_t>(rank));
  }
  Complete(rank, node);
  if (!dirty_.empty() || !unscheduled_.empty()) Flush();
}

void Executor::Complete(int64_t rank, NodeId node) {
  const Time now = engine_->Now();
  ++nodes_completed_;
  rank_finish_[rank] = std::max(rank_finish_[rank], now);
  finish_time_ = std::max(finish_time_, now);
  const int32_t ri = record_index_[rank];
  if (ri >= 0) spans_[ri].push_back(Span{start_[ri][node], now, node});
  const ExecutionGraph& g = *graph_of_rank_[rank];
  uint32_t* pending = pending_[rank].data();
  pending[node] = 0xffffffffu;  // completed
  for (NodeId s : g.successors(node)) {
    if (--pending[s] == 0) MakeReady(rank, s);
  }
}

}  // namespace echosim
