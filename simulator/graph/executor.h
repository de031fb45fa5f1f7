// Executor: runs execution-graph templates on per-rank streams inside an Engine.
//
// Each simulated rank instantiates the template of its class (no copy: per-rank
// state is one pending-dependency counter per node). A node is ready when all its
// predecessors completed; compute and delay nodes then run for their duration. A
// collective starts when the last member of its group instance has reached it
// (matched in O(1) by (group leader, template node)); a send and its receive
// start together when both are ready (matched by sender, receiver and tag). Both
// complete after their modelled duration. Equal-time events keep scheduling order,
// so runs are deterministic.
#ifndef ECHOSIM_SIMULATOR_GRAPH_EXECUTOR_H_
#define ECHOSIM_SIMULATOR_GRAPH_EXECUTOR_H_

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "simulator/core/engine.h"
#include "simulator/graph/execution_graph.h"

namespace echosim {

// How templates map onto the simulated ranks. Ranks here are simulated-rank
// indices 0..NumRanks()-1.
class RankMap {
 public:
  virtual ~RankMap() = default;
  virtual int64_t NumRanks() const = 0;
  virtual uint32_t ClassOf(int64_t rank) const = 0;
  // An id shared by exactly the members of `rank`'s group of kind `g` (e.g. its lowest rank).
  virtual int64_t GroupId(int64_t rank, GroupKind g) const = 0;
  // How many simulated ranks reach each instance of a `g` collective (1 when the
  // other members are symmetric images that are not simulated).
  virtual int64_t GroupArrivals(GroupKind g) const = 0;
  // The simulated rank a send/recv with peer selector `peer` talks to.
  virtual int64_t Peer(int64_t rank, int32_t peer) const = 0;
};

struct Span {
  Time start;
  Time end;
  NodeId node;
};

class Executor : public EventHandler {
 public:
  // `classes[c]` is the template of class c; pointers must outlive the executor.
  Executor(std::vector<const ExecutionGraph*> classes, const RankMap* ranks, Engine* engine);

  // Records spans of these simulated ranks (for timelines and breakdowns).
  void RecordRank(int64_t rank);
  // Runs to completion. Fails (naming a stuck rank, node and stream) if some node never
  // became ready: a deadlock or a collective whose members never all arrived.
  Status Run();

  Time finish_time() const { return finish_time_; }
  Time rank_finish_time(int64_t rank) const { return rank_finish_[rank]; }
  uint64_t nodes_completed() const { return nodes_completed_; }
  const std::vector<Span>& spans(int64_t rank) const;
  bool recorded(int64_t rank) const { return record_index_[rank] >= 0; }

  void OnEvent(Engine& engine, const Event& event) override;

 private:
  struct Rendezvous {
    uint32_t arrived = 0;
    uint32_t expected = 0;
    std::vector<std::pair<uint32_t, NodeId>> members;  // (rank, node)
  };

  void MakeReady(int64_t rank, NodeId node);
  void Complete(int64_t rank, NodeId node);
  void Arrive(uint64_t key, uint32_t expected, int64_t rank, NodeId node, Duration duration);
  static uint64_t Pack(int64_t rank, NodeId node) {
    return (static_cast<uint64_t>(rank) << 32) | node;
  }

  std::vector<const ExecutionGraph*> classes_;
  const RankMap* ranks_;
  Engine* engine_;
  uint32_t done_kind_;
  std::vector<const ExecutionGraph*> graph_of_rank_;
  std::vector<std::vector<uint32_t>> pending_;  // per rank, per node
  std::unordered_map<uint64_t, Rendezvous> collectives_;
  std::unordered_map<uint64_t, Rendezvous> p2p_;
  std::vector<Time> rank_finish_;
  std::vector<int32_t> record_index_;
  std::vector<std::vector<Span>> spans_;
  std::vector<std::vector<Time>> start_;  // recorded ranks: start time per node
  Time finish_time_ = 0;
  uint64_t nodes_completed_ = 0;
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_GRAPH_EXECUTOR_H_
