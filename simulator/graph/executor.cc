#include "simulator/graph/executor.h"

#include <algorithm>

#include "simulator/core/strings.h"

namespace echosim {

Executor::Executor(std::vector<const ExecutionGraph*> classes, const RankMap* ranks,
                   Engine* engine)
    : classes_(std::move(classes)), ranks_(ranks), engine_(engine) {
  done_kind_ = engine_->RegisterHandler(this);
  const int64_t n = ranks_->NumRanks();
  graph_of_rank_.resize(n);
  pending_.resize(n);
  rank_finish_.assign(n, 0);
  record_index_.assign(n, -1);
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
    case NodeKind::kDelay:
      if (record_index_[rank] >= 0) start_[record_index_[rank]][node] = engine_->Now();
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
        for (const auto& [mr, mn] : rv.members) {
          if (record_index_[mr] >= 0) start_[record_index_[mr]][mn] = engine_->Now();
          engine_->ScheduleAfter(d, done_kind_, Pack(mr, mn));
        }
        p2p_.erase(key);
      }
      break;
    }
  }
}

void Executor::Arrive(uint64_t key, uint32_t expected, int64_t rank, NodeId node,
                      Duration duration) {
  if (expected <= 1) {
    if (record_index_[rank] >= 0) start_[record_index_[rank]][node] = engine_->Now();
    engine_->ScheduleAfter(duration, done_kind_, Pack(rank, node));
    return;
  }
  Rendezvous& rv = collectives_[key];
  rv.expected = expected;
  ++rv.arrived;
  rv.members.emplace_back(static_cast<uint32_t>(rank), node);
  if (rv.arrived < rv.expected) return;
  for (const auto& [mr, mn] : rv.members) {
    if (record_index_[mr] >= 0) start_[record_index_[mr]][mn] = engine_->Now();
    engine_->ScheduleAfter(duration, done_kind_, Pack(mr, mn));
  }
  collectives_.erase(key);
}

void Executor::OnEvent(Engine& engine, const Event& event) {
  (void)engine;
  const int64_t rank = static_cast<int64_t>(event.payload >> 32);
  const NodeId node = static_cast<NodeId>(event.payload & 0xffffffffu);
  Complete(rank, node);
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
