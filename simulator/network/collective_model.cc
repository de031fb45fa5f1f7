#include "simulator/network/collective_model.h"

#include <algorithm>
#include <cmath>

namespace echosim {

double AnalyticCollectiveModel::BusBandwidth(const GroupShape& g) const {
  const TopologyConfig& c = topology_->config();
  if (g.intra_node()) return c.nvlink_bytes_per_s;
  return std::min(c.nvlink_bytes_per_s, static_cast<double>(g.per_node) * c.nic_bytes_per_s);
}

AnalyticCollectiveModel::Parts AnalyticCollectiveModel::EstimateParts(
    CollectiveKind kind, double bytes, const GroupShape& g) const {
  const TopologyConfig& c = topology_->config();
  const double n = static_cast<double>(g.size);
  Parts p;
  if (g.size <= 1 || bytes <= 0) return p;
  const double a = g.intra_node() ? c.nvlink_latency_s : c.nic_latency_s;
  const double bw = BusBandwidth(g);
  switch (kind) {
    case CollectiveKind::kAllReduce: {
      const double ring_bw = 2.0 * (n - 1) / n * bytes / bw, ring_lat = 2.0 * (n - 1) * a;
      const double tree_bw = 2.0 * bytes / bw, tree_lat = 2.0 * std::ceil(std::log2(n)) * a;
      if (tree_bw + tree_lat < ring_bw + ring_lat) {
        p = {tree_lat, tree_bw, "tree"};
      } else {
        p = {ring_lat, ring_bw, "ring"};
      }
      break;
    }
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kBroadcast:
      p = {(n - 1) * a, (n - 1) / n * bytes / bw, "ring"};
      break;
    case CollectiveKind::kAllToAll: {
      // Each member sends (n-1)/n of its buffer; the off-node share crosses its own NIC.
      const double per_node = static_cast<double>(g.per_node);
      const double intra = (per_node - 1) / n * bytes / c.nvlink_bytes_per_s;
      const double inter = (n - per_node) / n * bytes / c.nic_bytes_per_s;
      p = {(n - 1) * a, std::max(intra, inter), "pairwise"};
      break;
    }
    case CollectiveKind::kSendRecv:
      p = {a, bytes / (g.intra_node() ? c.nvlink_bytes_per_s : c.nic_bytes_per_s), "p2p"};
      break;
  }
  p.latency_s += c.collective_overhead_s;
  return p;
}

double AnalyticCollectiveModel::EstimateSeconds(CollectiveKind kind, double bytes,
                                                const GroupShape& g) const {
  const Parts p = EstimateParts(kind, bytes, g);
  return p.latency_s + p.bandwidth_s;
}

Duration AnalyticCollectiveModel::Estimate(CollectiveKind kind, double bytes,
                                           const GroupShape& g) const {
  return SecondsToDuration(EstimateSeconds(kind, bytes, g));
}

}  // namespace echosim
