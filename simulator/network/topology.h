// Topology: GPUs in nodes joined by NVLink/NVSwitch, one NIC per GPU across
// nodes (a rail-optimised, non-blocking fabric at this level of detail), and the
// placement of ranks onto nodes (rank r lives on node r / gpus_per_node).
#ifndef ECHOSIM_SIMULATOR_NETWORK_TOPOLOGY_H_
#define ECHOSIM_SIMULATOR_NETWORK_TOPOLOGY_H_

#include <cstdint>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {

struct TopologyConfig {
  int64_t gpus = 1;
  int64_t gpus_per_node = 8;
  double nvlink_bytes_per_s = 450e9;   // per GPU per direction, after nvlink_efficiency
  double nic_bytes_per_s = 50e9;       // per GPU per direction, after nic_efficiency
  double nvlink_latency_s = 1e-6;      // per algorithm step inside a node
  double nic_latency_s = 5e-6;         // per algorithm step across nodes
  double collective_overhead_s = 5e-6; // fixed cost of launching one collective kernel
};

// How a communicator's members sit on the machine.
struct GroupShape {
  int64_t size = 1;      // members
  int64_t nodes = 1;     // distinct nodes they span
  int64_t per_node = 1;  // members per node (members / nodes; groups here are uniform)
  bool intra_node() const { return nodes == 1; }
};

class Topology {
 public:
  explicit Topology(TopologyConfig config) : config_(config) {}
  const TopologyConfig& config() const { return config_; }
  int64_t NodeOf(int64_t rank) const { return rank / config_.gpus_per_node; }
  // Shape of the group of `ranks` (any order).
  GroupShape ShapeOf(const std::vector<int64_t>& ranks) const;
  // Shape of the arithmetic group {first + i*stride : i < size}.
  GroupShape ShapeOfStrided(int64_t first, int64_t stride, int64_t size) const;

 private:
  TopologyConfig config_;
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_TOPOLOGY_H_
