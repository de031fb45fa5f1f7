// FlowNetwork: flow-level bandwidth sharing on shared links (max-min fairness).
//
// Links have capacities (bytes/s); a flow crosses a set of links, each with a weight
// (how many identical streams of this flow the link carries: 1 normally, more when one
// simulated flow stands for several symmetric ones), and has a demand cap (bytes/s, the
// rate it would reach alone). Rates are the weighted max-min fair allocation
// (Bertsekas & Gallager, Data Networks, Sec. 6.5.2, progressive filling): repeatedly the
// most constrained link (least remaining capacity per unit of unfrozen weight) fixes
// the rate of every unfrozen flow through it; a flow whose cap is below the fair share is
// frozen at its cap first. Rates are recomputed only for the flows connected (through
// shared links) to one that started, ended or changed cap, as SimGrid does.
//
// Complexity per re-solve: O(F_c * L_f * log L_c) for the affected component of F_c flows
// and L_c links. Deterministic: ties break by link id.
#ifndef ECHOSIM_SIMULATOR_CORE_FLOW_NETWORK_H_
#define ECHOSIM_SIMULATOR_CORE_FLOW_NETWORK_H_

#include <cstdint>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {

using LinkId = uint32_t;
using FlowId = uint32_t;

struct LinkUse {
  LinkId link;
  double weight = 1.0;
};

class FlowNetwork {
 public:
  // Adds a link; returns its id.
  LinkId AddLink(double capacity_bytes_per_s);
  size_t num_links() const { return capacity_.size(); }
  double capacity(LinkId l) const { return capacity_[l]; }

  // Starts a flow; rates of the affected component are re-solved. `cap` > 0.
  FlowId AddFlow(const std::vector<LinkUse>& path, double cap_bytes_per_s);
  void RemoveFlow(FlowId f);
  // AddFlow in two steps, so a caller can look at the component (and bring its own
  // accounting up to date) before rates change: the flow is linked in with rate 0,
  // then SolveFlow re-solves its component (filling changed()).
  FlowId AddFlowDeferred(const std::vector<LinkUse>& path, double cap_bytes_per_s);
  void SolveFlow(FlowId f) { SolveComponent(f); }
  void SetCap(FlowId f, double cap_bytes_per_s);
  // Current allocated rate (bytes/s) of a live flow.
  double rate(FlowId f) const { return flows_[f].rate; }
  bool alive(FlowId f) const { return flows_[f].alive; }
  size_t live_flows() const { return live_; }
  // Flows whose rate changed in the last Add/Remove/SetCap (for rescheduling).
  const std::vector<FlowId>& changed() const { return changed_; }

  // Live flows connected to `f` through shared links (f included), ascending.
  std::vector<FlowId> Component(FlowId f);
  // Re-solves every live flow from scratch (tests and benchmarks).
  void SolveAll();

 private:
  struct Flow {
    std::vector<LinkUse> path;
    double cap = 0;
    double rate = 0;
    bool alive = false;
  };
  void SolveComponent(FlowId seed);
  void Solve(const std::vector<FlowId>& flows, const std::vector<LinkId>& links);

  std::vector<double> capacity_;
  std::vector<std::vector<FlowId>> link_flows_;  // live flows per link
  std::vector<Flow> flows_;
  std::vector<FlowId> free_;
  size_t live_ = 0;
  std::vector<FlowId> changed_;
  // Scratch, reused across solves.
  std::vector<uint32_t> flow_mark_, link_mark_;
  uint32_t epoch_ = 0;
  std::vector<double> remaining_, weight_;
  std::vector<char> frozen_;
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_CORE_FLOW_NETWORK_H_
