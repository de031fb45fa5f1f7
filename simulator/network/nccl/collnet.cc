// CollNet Direct and CollNet Chain: all_reduce offloaded to the network switches (SHARP) through
// NCCL's CollNet plugin; the GPUs of a node feed the switch directly (Direct, one NIC per GPU on
// NVSwitch nodes) or through an intra-node chain (Chain). Only where the fabric has SHARP.
//
// Source: NVIDIA/nccl src/graph/tuning.cc (CollNet branches), 2.18.3 / 2.21.5 / 2.30.7.
//   Direct all_reduce: busBw = C * bwIntra / f, f = ppn/C - (ppn/C - 1)/2 (GPU:NIC ratio
//     penalty), x0.85 on Hopper+; algBw = busBw / 2;
//     latency = base + 2 (min(1, ppn-1) intraLat + (ppn-1) * arity) + interLat, arity 0.5 us
//     (2.18) or 0.4 us (2.21+)
//   Direct all_gather/reduce_scatter (2.21+, needs one NIC per local GPU): busBw = ppn * b with
//     b = bwIntra * (0.95 .. 0.85 interpolated over ppn 1..8) in 2.21, min(bwIntra, 0.9 bwInter)
//     from 2.27; reported unconverted
//   Chain all_reduce: busBw = C * bwIntra; algBw = busBw / 2; latency = base + 2(ppn-1) intraLat + interLat
#include <algorithm>

#include "simulator/core/strings.h"
#include "simulator/network/nccl/algorithms.h"

namespace echosim {
namespace {

// Why CollNet cannot run here, or nullptr.
const char* CollNetBlocker(const AlgorithmInput& in) {
  if (!in.m().collnet) {
    if (in.m().nodes == 1) return "CollNet needs several nodes";
    return "CollNet needs a SHARP fabric (none declared for this cluster)";
  }
  if (in.protocol != NcclProtocol::kSimple) return "CollNet runs only the Simple protocol";
  return nullptr;
}

double InterLatencyWithFlush(const AlgorithmInput& in, NcclAlgorithm a) { return in.InterLatency(a); }

}  // namespace

AlgorithmCost CollNetDirectCost(const AlgorithmInput& in) {
  if (const char* why = CollNetBlocker(in)) return Unavailable(in, [&] { return StrCat("collnet_direct: ", why); });
  const NcclComm& m = in.m();
  const NcclConstants& c = in.c();
  const NcclGraph& g = m.collnet_graph;
  const int ppn = m.ranks_per_node;
  if (!(in.collective == NcclCollective::kAllReduce || (in.IsAllGatherOrReduceScatter() && in.gen() >= 221))) {
    return Unavailable(in, [&] {
      return StrCat("collnet_direct does not run ", NcclCollectiveName(in.collective), " in NCCL ", c.version);
    });
  }
  if (in.collective != NcclCollective::kAllReduce && ppn > g.channels) {
    return Unavailable(
        in, [&] { return std::string("collnet_direct all_gather/reduce_scatter needs one NIC per local GPU"); });
  }
  auto alg_bw = [&](const NcclGraph& gr) {
    if (in.collective == NcclCollective::kAllReduce) {
      double factor = static_cast<double>(ppn) / gr.channels;
      factor -= (factor - 1) / 2;
      double bus = gr.channels * gr.bw_intra_GBps / factor;
      if (m.sm_arch >= 90) bus *= 0.85;
      return bus * 0.5;
    }
    if (in.gen() < 227) {
      const double w = (ppn - 1) / 7.0;
      return ppn * gr.bw_intra_GBps * (w * 0.85 + (1 - w) * 0.95);
    }
    return ppn * std::min(gr.bw_intra_GBps, gr.bw_inter_GBps * 0.9);
  };
  AlgorithmCost out;
  out.channels = g.channels;
  out.alg_bw_GBps = alg_bw(g);
  out.physical_alg_bw_GBps = alg_bw(g.Physical());
  if (!(out.alg_bw_GBps > 0))
    return Unavailable(in, [&] { return std::string("collnet_direct has no bandwidth on this system"); });
  out.available = true;
  const double arity_us = in.gen() == 218 ? 0.5 : 0.4;
  out.latency_us =
      c.BaseLatencyUs(NcclAlgorithm::kCollNetDirect, in.protocol) +
      2.0 * (std::min(1, ppn - 1) * in.IntraLatency(NcclAlgorithm::kCollNetDirect) + (ppn - 1) * arity_us) +
      InterLatencyWithFlush(in, NcclAlgorithm::kCollNetDirect);
  out.intra_steps = 2 * std::min(1, ppn - 1);
  out.inter_steps = 1;
  return out;
}

AlgorithmCost CollNetChainCost(const AlgorithmInput& in) {
  if (const char* why = CollNetBlocker(in)) return Unavailable(in, [&] { return StrCat("collnet_chain: ", why); });
  if (in.collective != NcclCollective::kAllReduce) {
    return Unavailable(
        in, [&] { return StrCat("collnet_chain runs only all_reduce, not ", NcclCollectiveName(in.collective)); });
  }
  const NcclComm& m = in.m();
  const NcclGraph& g = m.collnet_graph;
  const int ppn = m.ranks_per_node;
  AlgorithmCost out;
  out.available = true;
  out.channels = g.channels;
  out.alg_bw_GBps = g.channels * g.bw_intra_GBps * 0.5;
  out.physical_alg_bw_GBps = g.Physical().channels * g.Physical().bw_intra_GBps * 0.5;
  out.latency_us = in.c().BaseLatencyUs(NcclAlgorithm::kCollNetChain, in.protocol) +
                   2.0 * (ppn - 1) * in.IntraLatency(NcclAlgorithm::kCollNetChain) +
                   InterLatencyWithFlush(in, NcclAlgorithm::kCollNetChain);
  out.intra_steps = 2 * (ppn - 1);
  out.inter_steps = 1;
  return out;
}

}  // namespace echosim
