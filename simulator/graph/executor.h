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
//
// Rates (optional, ExecutorOptions): with an InterferenceModel, a compute kernel runs at
// a reduced rate while communication runs on its GPU and a communication kernel while
// compute runs, re-evaluated inside the event loop whenever either set changes (a
// kernel's remaining work is advanced at its old rate, then its finish is rescheduled).
// With CommResources, a communication instance that loads shared links (NICs, fabric)
// runs as a latency phase followed by a flow in a FlowNetwork: concurrent transfers
// share link bandwidth max-min fairly and are re-solved when one starts or ends.
#ifndef ECHOSIM_SIMULATOR_GRAPH_EXECUTOR_H_
#define ECHOSIM_SIMULATOR_GRAPH_EXECUTOR_H_

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "simulator/core/engine.h"
#include "simulator/graph/execution_graph.h"
#include "simulator/core/flow_network.h"

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

// What a communication instance needs from shared resources.
struct CommDemand {
  Duration latency = 0;          // fixed start-up part of the modelled duration
  double wire_bytes = 0;         // bytes each member moves through its bottleneck link
  double nominal_bytes_per_s = 0;  // rate alone: wire_bytes / (duration - latency)
  std::vector<LinkUse> path;     // links loaded (empty: none shared)
  int channels = 0;              // thread blocks the kernel occupies on each GPU
};

// Maps communication nodes to link loads (implemented by the workload layer, which
// knows the rank layout and topology).
class CommResources {
 public:
  virtual ~CommResources() = default;
  // Describes the instance that `rank`'s node starts (for a collective: the instance
  // of rank's group). Must be deterministic.
  virtual CommDemand Describe(int64_t rank, const ExecutionGraph& g, NodeId node) const = 0;
  virtual FlowNetwork* network() = 0;
};

// Speeds of kernels that share a GPU (implemented by simulator/interference).
class KernelInterference {
 public:
  virtual ~KernelInterference() = default;
  // Rate (fraction of stand-alone speed) of a compute kernel of class `cls` while
  // communication kernels occupying `channels` thread blocks run on its GPU.
  virtual double ComputeRate(OpClass cls, int channels) const = 0;
  // Rate of a communication kernel while a compute kernel runs on its GPU.
  virtual double CommRate(bool compute_running) const = 0;
};

struct ExecutorOptions {
  const KernelInterference* interference = nullptr;
  CommResources* comm = nullptr;
};

struct Span {
  Time start;
  Time end;
  NodeId node;
};

class Executor : public EventHandler {
 public:
  // `classes[c]` is the template of class c; pointers must outlive the executor.
  Executor(std::vector<const ExecutionGraph*> classes, const RankMap* ranks, Engine* engine,
           ExecutorOptions options = {});

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
  // A kernel or transfer whose speed may change (rate mode only).
  struct Activity {
    std::vector<std::pair<uint32_t, NodeId>> members;
    bool is_comm = false;
    bool in_latency = false;  // comm: still in its fixed start-up phase
    double remaining = 0;     // ps at full rate, or bytes for a flow
    double rate = 1;          // per ps of work, or bytes per ps
    Time last = 0;
    uint32_t generation = 0;
    int64_t flow = -1;
    double nominal = 0;       // flow: bytes per s alone
    int channels = 0;
    int busy_members = 0;     // comm: members whose GPU runs compute (as last propagated)
    OpClass cls = OpClass::kGemm;
    bool alive = false;
  };

  void MakeReady(int64_t rank, NodeId node);
  void Complete(int64_t rank, NodeId node);
  void Arrive(uint64_t key, uint32_t expected, int64_t rank, NodeId node, Duration duration);
  // Starts the transfer of a matched communication instance (all members arrived).
  void StartComm(const std::vector<std::pair<uint32_t, NodeId>>& members, Duration duration);
  void MarkStart(uint32_t rank, NodeId node);
  static uint64_t Pack(int64_t rank, NodeId node) {
    return (static_cast<uint64_t>(rank) << 32) | node;
  }
  bool rate_mode() const { return options_.interference != nullptr || options_.comm != nullptr; }
  // Rate mode.
  uint32_t NewActivity();
  void Advance(Activity& a);
  void Reschedule(uint32_t id);
  double DesiredRate(const Activity& a) const;
  void MarkDirty(uint32_t rank);
  // Propagates per-rank changes (compute busy, comm channels) made since the last flush
  // to the affected activities' rates; run once after each event, so a kernel ending and
  // its successor starting at the same instant cost nothing.
  void Flush();
  void Recap(uint32_t id);
  void FinishActivity(uint32_t id);

  std::vector<const ExecutionGraph*> classes_;
  const RankMap* ranks_;
  Engine* engine_;
  ExecutorOptions options_;
  uint32_t done_kind_;
  uint32_t activity_kind_;
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
  // Rate mode.
  std::vector<Activity> activities_;
  std::vector<uint32_t> free_activities_;
  std::vector<std::vector<uint32_t>> rank_activities_;  // live activities touching a rank
  std::vector<int32_t> compute_running_;                // per rank
  std::vector<int32_t> comm_channels_;                  // per rank, comm kernels running
  std::vector<char> seen_busy_;                         // propagated compute_running_ > 0
  std::vector<int32_t> seen_channels_;                  // propagated comm_channels_
  struct FastKernel {
    NodeId node;
    Time end;
  };
  std::vector<std::vector<FastKernel>> fast_;  // per rank: compute kernels on the fast path
  std::vector<uint32_t> dirty_;
  std::vector<uint32_t> scratch_;
  std::vector<uint32_t> unscheduled_;  // activities created in this event, not yet scheduled
  std::vector<std::pair<uint32_t, NodeId>> finishing_;
  std::vector<char> is_dirty_;
  std::unordered_map<int64_t, uint32_t> flow_owner_;
  std::unordered_map<uint32_t, std::vector<LinkUse>> pending_paths_;  // comm in latency phase
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_GRAPH_EXECUTOR_H_
