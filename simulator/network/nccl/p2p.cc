// Point-to-point schedules: all_to_all and send/recv. NCCL does not run these through its
// tuner; they are grouped ncclSend/ncclRecv over the P2P transport (NVLink / PCIe inside a
// node) and the network transport (one NIC path per GPU across nodes).
//
// Model (echosim's, built from the links' speeds):
//   send/recv of S bytes between two ranks: time = latency + S / B,
//     B = intra link capacity L (NCCL's figure) on one node, the GPU's NIC path P across nodes
//   all_to_all of S bytes per rank over n ranks (S/n to each peer): a rank sends
//     S (ppn-1)/n through NVLink and S (n-ppn)/n through the NICs of its node, which its ppn
//     GPUs share: time = latency + max(S (ppn-1)/n / (e_nvl V), S (n-ppn)/n / (e_net P nics_used / ppn))
//     with V the NVLink line rate per direction and e_nvl, e_net the measured all-to-all
//     efficiencies (alltoall_efficiency.h: on NVIDIA's published peaks NCCL's all_to_all reaches
//     about 0.71 of NVLink's line rate and 0.77 of the NIC path P). Over PCIe, L with e = 1.
//   latency = Ring Simple base + one hop of Ring Simple latency per link class crossed (the
//     peers are served concurrently); the calibration adds measured per-step costs.
// Reported algBw = S / bandwidth time.
#include <algorithm>

#include "simulator/core/strings.h"
#include "simulator/network/nccl/algorithms.h"

namespace echosim {

AlgorithmCost P2pCost(const AlgorithmInput& in) {
  const NcclComm& m = in.m();
  const NcclConstants& c = in.c();
  if (in.collective != NcclCollective::kAllToAll && in.collective != NcclCollective::kSendRecv) {
    return Unavailable(in, [&] {
      return StrCat("p2p schedules only all_to_all and send_recv, not ", NcclCollectiveName(in.collective));
    });
  }
  if (in.protocol != NcclProtocol::kSimple)
    return Unavailable(in, [&] { return std::string("p2p is modelled with the Simple protocol only"); });
  const double L = m.intra_capacity_GBps;
  const double P = m.nic_path_GBps;
  const int n = m.ranks;
  const int ppn = m.ranks_per_node;
  const int N = m.nodes;
  AlgorithmCost out;
  out.available = true;
  out.channels = m.ring.channels;
  const double base = c.BaseLatencyUs(NcclAlgorithm::kRing, NcclProtocol::kSimple);
  const double intra_hop = c.HwLatencyUs(m.intra_link, NcclAlgorithm::kRing, NcclProtocol::kSimple);
  const double net_hop = c.HwLatencyUs(NcclLink::kNet, NcclAlgorithm::kRing, NcclProtocol::kSimple);
  if (in.collective == NcclCollective::kSendRecv) {
    out.alg_bw_GBps = out.physical_alg_bw_GBps = N > 1 ? P : L;
    out.latency_us = base + (N > 1 ? net_hop : intra_hop);
    out.intra_steps = N > 1 ? 0 : 1;
    out.inter_steps = N > 1 ? 1 : 0;
    return out;
  }
  // Seconds per byte of the per-rank buffer, for each link class.
  const double intra_share = static_cast<double>(ppn - 1) / n;
  const double inter_share = static_cast<double>(n - ppn) / n;
  const AllToAllEfficiency& e = c.alltoall;
  const double intra_bw = m.intra_link == NcclLink::kNvlink ? e.nvlink * m.intra_line_GBps : L;
  const double per_gpu_nic = e.network * P * m.nics_used / ppn;  // the node's NIC paths shared by its ppn GPUs
  double t_per_byte = 0;
  if (intra_share > 0) t_per_byte = std::max(t_per_byte, intra_share / intra_bw);
  if (inter_share > 0) t_per_byte = std::max(t_per_byte, inter_share / per_gpu_nic);
  out.alg_bw_GBps = out.physical_alg_bw_GBps = t_per_byte > 0 ? 1.0 / t_per_byte : intra_bw;
  out.latency_us = base + (ppn > 1 ? intra_hop : 0.0) + (N > 1 ? net_hop : 0.0);
  out.intra_steps = ppn - 1;
  out.inter_steps = n - ppn;
  return out;
}

}  // namespace echosim
