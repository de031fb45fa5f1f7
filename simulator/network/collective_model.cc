#include "simulator/network/collective_model.h"

#include <algorithm>
#include <cmath>

namespace echosim {

double AnalyticCollectiveModel::BusBandwidth(const GroupShape& g) const {
  const TopologyConfig& c = topology_->config();
  if (g.intra_node()) return c.nvlink_bytes_per_s;
  return std::min(c.nvlink_bytes_per_s, static_cast<double>(g.per_node) * c.nic_bytes_per_s);
}

double AnalyticCollectiveModel::EstimateSeconds(CollectiveKind kind, double bytes,
                                                const GroupShape& g) const {
  const TopologyConfig& c = topology_->config();
  const double n = static_cast<double>(g.size);
  if (g.size <= 1 || bytes <= 0) return 0.0;
  const double a = g.intra_node() ? c.nvlink_latency_s : c.nic_latency_s;
  const double bw = BusBandwidth(g);
  double t = 0;
  switch (kind) {
    case CollectiveKind::kAllReduce: {
      const double ring = 2.0 * (n - 1) / n * bytes / bw + 2.0 * (n - 1) * a;
      const double tree = 2.0 * bytes / bw + 2.0 * std::ceil(std::log2(n)) * a;
      t = std::min(ring, tree);
      break;
    }
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kBroadcast:
      t = (n - 1) / n * bytes / bw + (n - 1) * a;
      break;
    case CollectiveKind::kAllToAll: {
      // Each member sends (n-1)/n of its buffer; the off-node share crosses its own NIC.
      const double per_node = static_cast<double>(g.per_node);
      const double intra = (per_node - 1) / n * bytes / c.nvlink_bytes_per_s;
      const double inter = (n - per_node) / n * bytes / c.nic_bytes_per_s;
      t = std::max(intra, inter) + (n - 1) * a;
      break;
    }
    case CollectiveKind::kSendRecv:
      t = bytes / (g.intra_node() ? c.nvlink_bytes_per_s : c.nic_bytes_per_s) + a;
      break;
  }
  return t + c.collective_overhead_s;
}

Duration AnalyticCollectiveModel::Estimate(CollectiveKind kind, double bytes,
                                           const GroupShape& g) const {
  return SecondsToDuration(EstimateSeconds(kind, bytes, g));
}

}  // namespace echosim
