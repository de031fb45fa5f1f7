#include "simulator/network/topology.h"

#include <set>

namespace echosim {

GroupShape Topology::ShapeOf(const std::vector<int64_t>& ranks) const {
  std::set<int64_t> nodes;
  for (int64_t r : ranks) nodes.insert(NodeOf(r));
  GroupShape s;
  s.size = static_cast<int64_t>(ranks.size());
  s.nodes = static_cast<int64_t>(nodes.size());
  s.per_node = s.nodes > 0 ? (s.size + s.nodes - 1) / s.nodes : 1;
  return s;
}

FabricLinks Topology::AddLinks(FlowNetwork* net) const {
  FabricLinks f;
  f.first_nic = static_cast<LinkId>(net->num_links());
  for (int64_t g = 0; g < config_.gpus; ++g) {
    net->AddLink(config_.nic_bytes_per_s);
    net->AddLink(config_.nic_bytes_per_s);
  }
  f.first_leaf = static_cast<LinkId>(net->num_links());
  const int64_t nodes = (config_.gpus + config_.gpus_per_node - 1) / config_.gpus_per_node;
  const int64_t leaves = (nodes + config_.nodes_per_leaf - 1) / config_.nodes_per_leaf;
  const double uplink = static_cast<double>(config_.nodes_per_leaf * config_.gpus_per_node) *
                        config_.nic_bytes_per_s / config_.oversubscription;
  for (int64_t l = 0; l < leaves; ++l) {
    net->AddLink(uplink);
    net->AddLink(uplink);
  }
  return f;
}

void Topology::AppendPath(const FabricLinks& links, int64_t src, int64_t dst, double uplink_weight,
                          std::vector<LinkUse>* path) const {
  path->push_back({static_cast<LinkId>(links.first_nic + 2 * src), 1.0});
  path->push_back({static_cast<LinkId>(links.first_nic + 2 * dst + 1), 1.0});
  const int64_t ls = LeafOf(src), ld = LeafOf(dst);
  if (ls != ld) {
    path->push_back({static_cast<LinkId>(links.first_leaf + 2 * ls), uplink_weight});
    path->push_back({static_cast<LinkId>(links.first_leaf + 2 * ld + 1), uplink_weight});
  }
}

GroupShape Topology::ShapeOfStrided(int64_t first, int64_t stride, int64_t size) const {
  std::vector<int64_t> ranks;
  ranks.reserve(size);
  for (int64_t i = 0; i < size; ++i) ranks.push_back(first + i * stride);
  return ShapeOf(ranks);
}

}  // namespace echosim
