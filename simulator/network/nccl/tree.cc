// Tree: NCCL's double binary tree all_reduce (a chain inside each node, a binary tree across
// nodes, reduce up then broadcast down, pipelined).
//
// Source: NVIDIA/nccl src/graph/tuning.cc (Tree branches), 2.18.3 / 2.21.5 / 2.30.7.
//   busBw = min(0.92 * C * b, C * perChMaxTreeBw)      (b = bwIntra when N <= 2, else bwInter)
//   LL:     busBw = min(busBw / 3.8, llMaxBw)
//   LL128:  busBw = min(busBw * (7/9 on one node, 120/128 otherwise), C * perChMaxTreeLL128Bw)
//   algBw = busBw / 2   (every byte goes up and down the tree)
//   latency = base + 2 ((ppn-1) * intraLat + log2(N) * interLat)
// ncclTopoGetAlgoTime then scales Tree bandwidth by treeCorrectionFactor[protocol][log2(S/64)]
// for S < 2^23 * 64 B (applied in nccl_model.cc). Only all_reduce runs on Tree.
#include <algorithm>

#include "simulator/core/strings.h"
#include "simulator/network/nccl/algorithms.h"

namespace echosim {

AlgorithmCost TreeCost(const AlgorithmInput& in) {
  if (in.collective != NcclCollective::kAllReduce) {
    return Unavailable(in,
                       [&] { return StrCat("tree runs only all_reduce, not ", NcclCollectiveName(in.collective)); });
  }
  const NcclComm& m = in.m();
  const NcclConstants& c = in.c();
  const NcclProtocol p = in.protocol;
  if (p == NcclProtocol::kLl128 && !Ll128Enabled(in)) {
    return Unavailable(in, [&] {
      return StrCat("LL128 is disabled by default on this system (NCCL ", c.version, ", sm", m.sm_arch, ")");
    });
  }
  const NcclGraph& g = m.tree;
  const int N = m.nodes;
  const int a = in.ArchIndex();
  const int i2 = in.NodeIndex();
  auto alg_bw = [&](const NcclGraph& gr) {
    const double bw = N <= 2 ? gr.bw_intra_GBps : gr.bw_inter_GBps;
    double bus = std::min(gr.channels * bw * 0.92, gr.channels * c.tree_bw_per_channel_GBps[a][i2]);
    if (p == NcclProtocol::kLl) bus = std::min(bus / 3.8, in.LlMaxBw());
    if (p == NcclProtocol::kLl128) {
      bus = std::min(bus * (N == 1 ? 7.0 / 9.0 : 120.0 / 128.0), gr.channels * c.tree_ll128_bw_per_channel_GBps[a][i2]);
    }
    return bus * 0.5;
  };
  AlgorithmCost out;
  out.available = true;
  out.channels = g.channels;
  out.alg_bw_GBps = alg_bw(g);
  out.physical_alg_bw_GBps = alg_bw(g.Physical());
  const int ppn = m.ranks_per_node;
  out.latency_us =
      c.BaseLatencyUs(NcclAlgorithm::kTree, p) + 2.0 * ((ppn - 1) * in.IntraLatency(NcclAlgorithm::kTree) +
                                                        in.Log2Nodes() * in.InterLatency(NcclAlgorithm::kTree));
  out.intra_steps = 2 * (ppn - 1);
  out.inter_steps = 2 * in.Log2Nodes();
  return out;
}

}  // namespace echosim
