// Topology: GPUs in nodes joined by NVLink/NVSwitch, one NIC per GPU across
// nodes (a rail-optimised, non-blocking fabric at this level of detail), and the
// placement of ranks onto nodes (rank r lives on node r / gpus_per_node).
#ifndef ECHOSIM_SIMULATOR_NETWORK_TOPOLOGY_H_
#define ECHOSIM_SIMULATOR_NETWORK_TOPOLOGY_H_

#include <cstdint>
#include <vector>

#include "simulator/core/flow_network.h"
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
  int64_t nodes_per_leaf = 32;         // nodes under one leaf switch (one scalable unit)
  double oversubscription = 1.0;       // leaf downlink : uplink bandwidth ratio
};

// How a communicator's members sit on the machine.
struct GroupShape {
  int64_t size = 1;      // members
  int64_t nodes = 1;     // distinct nodes they span
  int64_t per_node = 1;  // members per node (members / nodes; groups here are uniform)
  bool intra_node() const { return nodes == 1; }
};

// Shared links of the fabric, for flow-level contention (NVSwitch inside a node is
// non-blocking and not modelled as shared): per GPU a NIC transmit and a NIC receive
// link; per leaf switch an uplink and a downlink to the spine, each carrying
// nodes_per_leaf * gpus_per_node * NIC bandwidth / oversubscription.
struct FabricLinks {
  LinkId first_nic = 0;   // GPU g: transmit first_nic + 2g, receive first_nic + 2g + 1
  LinkId first_leaf = 0;  // leaf l: up first_leaf + 2l, down first_leaf + 2l + 1
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
  int64_t LeafOf(int64_t rank) const { return NodeOf(rank) / config_.nodes_per_leaf; }
  // Adds the fabric's links to `net`.
  FabricLinks AddLinks(FlowNetwork* net) const;
  // Links a transfer from GPU src to GPU dst on another node loads; `uplink_weight`
  // is the number of identical transfers that share the leaf uplinks with it.
  void AppendPath(const FabricLinks& links, int64_t src, int64_t dst, double uplink_weight,
                  std::vector<LinkUse>* path) const;

 private:
  TopologyConfig config_;
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_TOPOLOGY_H_
