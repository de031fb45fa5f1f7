#include "simulator/core/flow_network.h"

#include <algorithm>
#include <queue>

namespace echosim {

LinkId FlowNetwork::AddLink(double capacity_bytes_per_s) {
  ECHOSIM_CHECK(capacity_bytes_per_s > 0);
  capacity_.push_back(capacity_bytes_per_s);
  link_flows_.emplace_back();
  link_mark_.push_back(0);
  remaining_.push_back(0);
  weight_.push_back(0);
  return static_cast<LinkId>(capacity_.size() - 1);
}

FlowId FlowNetwork::AddFlow(const std::vector<LinkUse>& path, double cap) {
  const FlowId f = AddFlowDeferred(path, cap);
  SolveComponent(f);
  return f;
}

FlowId FlowNetwork::AddFlowDeferred(const std::vector<LinkUse>& path, double cap) {
  ECHOSIM_CHECK(cap > 0);
  FlowId f;
  if (!free_.empty()) {
    f = free_.back();
    free_.pop_back();
  } else {
    f = static_cast<FlowId>(flows_.size());
    flows_.emplace_back();
    flow_mark_.push_back(0);
    frozen_.push_back(0);
  }
  Flow& fl = flows_[f];
  fl.path = path;
  fl.cap = cap;
  fl.rate = cap;
  fl.alive = true;
  ++live_;
  for (const LinkUse& u : path) {
    ECHOSIM_CHECK(u.link < capacity_.size() && u.weight > 0);
    link_flows_[u.link].push_back(f);
  }
  return f;
}

void FlowNetwork::RemoveFlow(FlowId f) {
  ECHOSIM_CHECK(f < flows_.size() && flows_[f].alive);
  Flow& fl = flows_[f];
  fl.alive = false;
  --live_;
  // Neighbours (flows sharing a link) need a re-solve; collect one live neighbour per link.
  std::vector<FlowId> seeds;
  for (const LinkUse& u : fl.path) {
    auto& v = link_flows_[u.link];
    v.erase(std::find(v.begin(), v.end(), f));
    if (!v.empty()) seeds.push_back(v.front());
  }
  fl.path.clear();
  free_.push_back(f);
  // Re-solve each affected component once: a seed marked by a solve of this removal is done.
  const uint32_t first_epoch = epoch_ + 1;
  std::vector<FlowId> all_changed;
  for (FlowId s : seeds) {
    if (flow_mark_[s] >= first_epoch) continue;
    SolveComponent(s);
    all_changed.insert(all_changed.end(), changed_.begin(), changed_.end());
  }
  std::sort(all_changed.begin(), all_changed.end());
  changed_ = std::move(all_changed);
}

void FlowNetwork::SetCap(FlowId f, double cap) {
  ECHOSIM_CHECK(f < flows_.size() && flows_[f].alive && cap > 0);
  flows_[f].cap = cap;
  SolveComponent(f);
}

std::vector<FlowId> FlowNetwork::Component(FlowId seed) {
  ++epoch_;
  std::vector<FlowId> flows = {seed};
  flow_mark_[seed] = epoch_;
  for (size_t i = 0; i < flows.size(); ++i) {
    for (const LinkUse& u : flows_[flows[i]].path) {
      if (link_mark_[u.link] == epoch_) continue;
      link_mark_[u.link] = epoch_;
      for (FlowId g : link_flows_[u.link]) {
        if (flow_mark_[g] != epoch_) {
          flow_mark_[g] = epoch_;
          flows.push_back(g);
        }
      }
    }
  }
  std::sort(flows.begin(), flows.end());
  return flows;
}

void FlowNetwork::SolveComponent(FlowId seed) {
  // Breadth-first over flow -> link -> flow adjacency.
  ++epoch_;
  std::vector<FlowId> flows;
  std::vector<LinkId> links;
  flows.push_back(seed);
  flow_mark_[seed] = epoch_;
  for (size_t i = 0; i < flows.size(); ++i) {
    for (const LinkUse& u : flows_[flows[i]].path) {
      if (link_mark_[u.link] == epoch_) continue;
      link_mark_[u.link] = epoch_;
      links.push_back(u.link);
      for (FlowId g : link_flows_[u.link]) {
        if (flow_mark_[g] != epoch_) {
          flow_mark_[g] = epoch_;
          flows.push_back(g);
        }
      }
    }
  }
  Solve(flows, links);
}

void FlowNetwork::SolveAll() {
  ++epoch_;
  std::vector<FlowId> flows;
  std::vector<LinkId> links;
  for (FlowId f = 0; f < flows_.size(); ++f) {
    if (flows_[f].alive) {
      flows.push_back(f);
      flow_mark_[f] = epoch_;
    }
  }
  for (LinkId l = 0; l < capacity_.size(); ++l) links.push_back(l);
  Solve(flows, links);
}

void FlowNetwork::Solve(const std::vector<FlowId>& flows, const std::vector<LinkId>& links) {
  changed_.clear();
  for (LinkId l : links) {
    remaining_[l] = capacity_[l];
    weight_[l] = 0;
  }
  for (FlowId f : flows) {
    frozen_[f] = 0;
    for (const LinkUse& u : flows_[f].path) weight_[u.link] += u.weight;
  }
  std::vector<double> old(flows.size());
  for (size_t i = 0; i < flows.size(); ++i) old[i] = flows_[flows[i]].rate;
  // Flows ordered by cap: a flow whose cap is below the current fair level freezes at its cap.
  std::vector<FlowId> by_cap = flows;
  std::sort(by_cap.begin(), by_cap.end(), [&](FlowId a, FlowId b) {
    return flows_[a].cap != flows_[b].cap ? flows_[a].cap < flows_[b].cap : a < b;
  });
  size_t next_cap = 0;
  // Min-heap of (share, link) with lazy invalidation.
  using Entry = std::pair<double, LinkId>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  for (LinkId l : links) {
    if (weight_[l] > 0) heap.push({remaining_[l] / weight_[l], l});
  }
  auto freeze = [&](FlowId f, double rate) {
    frozen_[f] = 1;
    flows_[f].rate = rate;
    for (const LinkUse& u : flows_[f].path) {
      remaining_[u.link] = std::max(0.0, remaining_[u.link] - rate * u.weight);
      weight_[u.link] -= u.weight;
      if (weight_[u.link] > 1e-12) heap.push({remaining_[u.link] / weight_[u.link], u.link});
    }
  };
  size_t unfrozen = flows.size();
  while (unfrozen > 0) {
    // Skip stale heap entries.
    while (!heap.empty()) {
      const auto [share, l] = heap.top();
      if (weight_[l] <= 1e-12 || std::abs(share - remaining_[l] / weight_[l]) > 1e-9 * (1 + share)) {
        heap.pop();
        continue;
      }
      break;
    }
    while (next_cap < by_cap.size() && frozen_[by_cap[next_cap]]) ++next_cap;
    const double cap_level = next_cap < by_cap.size() ? flows_[by_cap[next_cap]].cap : 0;
    if (heap.empty() || (next_cap < by_cap.size() && cap_level <= heap.top().first)) {
      // The smallest cap binds before any link saturates.
      const FlowId f = by_cap[next_cap];
      freeze(f, flows_[f].cap);
      --unfrozen;
      continue;
    }
    const auto [share, l] = heap.top();
    heap.pop();
    for (FlowId f : link_flows_[l]) {
      if (flow_mark_[f] == epoch_ && !frozen_[f]) {
        freeze(f, share);
        --unfrozen;
      }
    }
  }
  for (size_t i = 0; i < flows.size(); ++i) {
    if (flows_[flows[i]].rate != old[i]) changed_.push_back(flows[i]);
  }
}

}  // namespace echosim
