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

GroupShape Topology::ShapeOfStrided(int64_t first, int64_t stride, int64_t size) const {
  std::vector<int64_t> ranks;
  ranks.reserve(size);
  for (int64_t i = 0; i < size; ++i) ranks.push_back(first + i * stride);
  return ShapeOf(ranks);
}

}  // namespace echosim
