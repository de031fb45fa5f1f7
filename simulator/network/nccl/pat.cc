// PAT (Parallel Aggregated Trees): NCCL's logarithmic all_gather / reduce_scatter for
// communicators with one GPU per node (added in NCCL 2.23; present in the 2.27 and 2.30 tables).
//
// Source: NVIDIA/nccl src/graph/tuning.cc (PAT branches, ncclPatEnable) at 2.27.7 and 2.30.7.
//   busBw = 0.75 * C * b on the tree graph (b = bwIntra when N <= 2, else bwInter), reported
//   unconverted (NCCL keeps non-ring all_gather/reduce_scatter bandwidth as is)
//   latency = base + log2(N) * interLat / 3.5 + 2.8 us * n
// Simple protocol only; needs sm >= 60 and exactly one rank per node.
#include "simulator/core/strings.h"
#include "simulator/network/nccl/algorithms.h"

namespace echosim {

AlgorithmCost PatCost(const AlgorithmInput& in) {
  const NcclComm& m = in.m();
  if (!in.IsAllGatherOrReduceScatter()) {
    return Unavailable(in, [&] {
      return StrCat("pat runs only all_gather and reduce_scatter, not ", NcclCollectiveName(in.collective));
    });
  }
  if (m.ranks_per_node != 1)
    return Unavailable(in, [&] { return std::string("pat needs exactly one GPU of the communicator per node"); });
  if (m.sm_arch < 60) return Unavailable(in, [&] { return std::string("pat needs sm60 or newer"); });
  if (in.protocol != NcclProtocol::kSimple)
    return Unavailable(in, [&] { return std::string("pat runs only the Simple protocol"); });
  const NcclGraph& g = m.tree;
  AlgorithmCost out;
  out.available = true;
  out.channels = g.channels;
  auto alg_bw = [&](const NcclGraph& gr) {
    return 0.75 * gr.channels * (m.nodes <= 2 ? gr.bw_intra_GBps : gr.bw_inter_GBps);
  };
  out.alg_bw_GBps = alg_bw(g);
  out.physical_alg_bw_GBps = alg_bw(g.Physical());
  out.latency_us = in.c().BaseLatencyUs(NcclAlgorithm::kPat, in.protocol) +
                   in.Log2Nodes() * in.InterLatency(NcclAlgorithm::kPat) / 3.5 + m.ranks * 2.8;
  out.intra_steps = 0;
  out.inter_steps = in.Log2Nodes();
  return out;
}

}  // namespace echosim
