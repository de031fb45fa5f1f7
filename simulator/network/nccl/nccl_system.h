// NcclComm: what NCCL's topology detection and graph search produce for one communicator,
// the input of its tuning model (src/graph/search.cc, src/graph/tuning.cc).
//
// NCCL searches, per pattern (ring, tree, NVLS, CollNet), for the largest number of channels
// that fit the links at one speed taken from a per-architecture ladder (speed_intra_GBps inside
// a node, speed_inter_GBps through the NICs), keeps the best channels * speed, lets trees on two
// nodes raise their intra-node speed up to twice the inter-node one, and finally duplicates
// channels running at >= 25 GB/s (halving their speed). echosim reproduces the outcome of that
// search on the node shapes it models -- GPUs that meet at NVSwitches (or a PCIe switch), NICs
// behind PCIe x16 -- rather than walking NCCL's path graph:
//   intra link capacity  L = nvlink_links * nvlink_bw_per_link (PCIe x16 without NVLink)
//   NIC path capacity    P = min(NIC line rate, PCIe x16 of the GPU)
//   ring, one node:      channels(s) = floor(L / s), up to ring_max_channels
//   ring, several nodes: channels(s) = min(floor(L / s), nics_used * floor(P / s)),
//                        nics_used = min(NICs per node, GPUs of the communicator per node)
//   tree:                as ring with L * ppn/(ppn-1) on one node, channels <= the ring's
//   NVLS:                one channel per local GPU (NVLS pulls from every GPU)
//   CollNet:             the ring's graph
// The speed is the first rung with channels >= 1, then lower rungs are tried while they stay
// above 0.49x the best one (SRCH "speedArray[i+1]/bw > .49"). Worked examples (tests):
// DGX A100 single node 12 x 20 = 240 GB/s -> 6 channels x 40 -> duplicated to 12 x 20;
// DGX A100 over 8 HDR NICs (25 GB/s, PCIe Gen4 24 GB/s) -> 8 channels x 24 GB/s = 192 GB/s,
// the 192 GB/s NVIDIA quotes for 8x200Gb DGX A100 all_reduce.
// Each graph also records the capacity its channels share (L, L * ppn/(ppn-1), ppn * L/(ppn+1)
// for NVLS, nics_used * P across nodes): NCCL chooses with the quantised speeds, the achieved
// time follows the capacity (NcclGraph::Physical, used by the calibrated time).
#ifndef ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_SYSTEM_H_
#define ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_SYSTEM_H_

#include <cstdint>

#include "simulator/core/status.h"
#include "simulator/network/nccl/nccl_constants.h"

namespace echosim {

// The machine as NCCL's topology detection sees it.
struct NcclHardware {
  int sm_arch = 80;
  int nvlink_links = 0;       // per GPU; 0: GPUs of a node talk over PCIe
  double nvlink_scale = 1.0;  // user NVLink bandwidth / the GPU preset's (scales NCCL's per-link bw)
  double nvlink_GBps = 0;     // NVLink line rate per GPU and direction; 0: NCCL's per-link figure
  bool nvswitch = false;
  int pcie_gen = 4;
  int gpus_per_node = 8;
  int nics_per_node = 8;
  double nic_GBps = 25.0;  // line rate of one NIC, GB/s (Gbit/s / 8)
  bool collnet = false;    // SHARP-capable fabric with NCCL's CollNet plugin
  bool amd_cpu = false;    // selects NCCL's per-vendor network overhead and LL rows
};

struct NcclGraph {
  int channels = 0;
  double bw_intra_GBps = 0;  // per channel, a rung of NCCL's speed ladder
  double bw_inter_GBps = 0;  // per channel
  // What the links carrying all channels can really move (GB/s, 0: the same as NCCL's figure).
  // NCCL's tuner sees channels * rung; the hardware is not quantised to the ladder.
  double capacity_intra_GBps = 0;
  double capacity_inter_GBps = 0;
  // The same graph at the links' real speed (per-channel speeds scaled up to the capacities).
  NcclGraph Physical() const;
};

struct NcclComm {
  NcclArch arch = NcclArch::kAmpere;
  int sm_arch = 80;
  int ranks = 1;
  int nodes = 1;
  int ranks_per_node = 1;
  NcclLink intra_link = NcclLink::kNvlink;  // NVLink or PCIe between the GPUs of a node
  bool nvls = false;                        // NVLink SHARP usable: Hopper+, NVSwitch, >= 2 GPUs per node
  bool collnet = false;                     // CollNet usable: SHARP fabric, several nodes
  bool amd_cpu = false;
  double intra_capacity_GBps = 0;  // L above
  double intra_line_GBps = 0;      // the intra-node link's line rate per direction (NVLink: the preset's)
  double nic_path_GBps = 0;        // P above
  int nics_used = 1;               // min(NICs per node, ranks per node)
  NcclGraph ring, tree, nvls_graph, collnet_graph;
};

// The communicator of `ranks` GPUs spread evenly over `nodes` nodes. Checks the shape is whole
// (ranks a multiple of nodes, at most gpus_per_node per node).
StatusOr<NcclComm> BuildNcclComm(const NcclHardware& hw, const NcclConstants& c, int64_t ranks, int64_t nodes);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_SYSTEM_H_
