// NVLS and NVLS-Tree: NVLink SHARP, the reduction and multicast done inside the NVSwitch
// (Hopper and later GPUs on NVSwitch baseboards). NVLS reduces within a node (all_reduce; and
// all_gather/reduce_scatter from 2.21); NVLS-Tree adds a tree across nodes for all_reduce.
//
// Source: NVIDIA/nccl src/graph/tuning.cc (NVLS/NVLSTree branches), 2.18.3 / 2.21.5 / 2.30.7.
// Bandwidth per channel, by formula generation:
//   2.18  b = bwIntra (N <= 2) or bwInter; algBw = C b * 5/6 (NVLS), C b * 0.7 N / (2(N-1)) (NVLS-Tree)
//   2.21  b = min(bwIntra, bwInter) (NVLS-Tree: bwInter/2 beyond 2 nodes); algBw = C b * 5/6
//   2.27  as 2.21 for all_reduce; all_gather/reduce_scatter algBw = C min(bwIntra (ppn-1)/ppn, 0.9 bwInter)
//   2.30  intra = bwIntra * nvlsEfficiency * (C-1)/C, x2 for all_reduce (two operations
//         pipelined), x(ppn-1)/ppn otherwise; b = min(intra, bwInter [x2 for NVLS-Tree on 2
//         nodes], perChMaxNVLSTreeBw for NVLS-Tree); all_reduce algBw = C b * n / nsteps,
//         all_gather/reduce_scatter keep C b
// latency: 2.18  base (23 us) + hwLat[NET] on several nodes; NVLS-Tree base + 2(N-1) hwLat[NET]
//          2.21+ intraLat (+ interLat on several nodes); NVLS-Tree base + intraLat + 2 log2(N) interLat
// NVLS across nodes needs CollNet (SHARP switches); NVLS-Tree needs several nodes.
#include <algorithm>
#include <limits>

#include "simulator/core/strings.h"
#include "simulator/network/nccl/algorithms.h"

namespace echosim {
namespace {

// Why NVLS cannot run here, or nullptr.
const char* NvlsBlocker(const AlgorithmInput& in) {
  const NcclComm& m = in.m();
  if (!m.nvls) {
    if (m.arch < NcclArch::kHopper) return "NVLS needs Hopper or newer GPUs";
    if (m.ranks_per_node < 2) return "NVLS needs at least 2 GPUs of the communicator per node";
    return "NVLS needs GPUs connected by NVSwitch";
  }
  if (in.protocol != NcclProtocol::kSimple) return "NVLS runs only the Simple protocol";
  return nullptr;
}

std::string BlockerText(const AlgorithmInput& in, const char* why) {
  return in.m().arch < NcclArch::kHopper ? StrCat(why, " (this GPU is sm", in.m().sm_arch, ")") : std::string(why);
}

}  // namespace

AlgorithmCost NvlsCost(const AlgorithmInput& in) {
  if (const char* why = NvlsBlocker(in)) return Unavailable(in, [&] { return BlockerText(in, why); });
  const NcclComm& m = in.m();
  const NcclConstants& c = in.c();
  const NcclCollective coll = in.collective;
  const bool agrs = in.IsAllGatherOrReduceScatter();
  if (coll != NcclCollective::kAllReduce && !(agrs && in.gen() >= 221)) {
    return Unavailable(in,
                       [&] { return StrCat("nvls does not run ", NcclCollectiveName(coll), " in NCCL ", c.version); });
  }
  if (m.nodes > 1 && !m.collnet)
    return Unavailable(in, [&] { return std::string("nvls across nodes needs CollNet (SHARP switches)"); });
  if (m.nodes > 1 && agrs)
    return Unavailable(in, [&] { return StrCat("nvls runs ", NcclCollectiveName(coll), " only within one node"); });
  const NcclGraph& g = m.nvls_graph;
  const int C = g.channels;
  const int n = m.ranks;
  if (in.gen() >= 230 && C < 2) return Unavailable(in, [&] { return std::string("nvls needs at least 2 channels"); });
  auto alg_bw = [&](const NcclGraph& gr) {
    if (in.gen() == 218) return C * (m.nodes <= 2 ? gr.bw_intra_GBps : gr.bw_inter_GBps) * 5.0 / 6.0;
    if (in.gen() == 221) return C * std::min(gr.bw_intra_GBps, gr.bw_inter_GBps) * 5.0 / 6.0;
    const double ppn = m.ranks_per_node;
    if (in.gen() == 227) {
      if (coll == NcclCollective::kAllReduce) return C * std::min(gr.bw_intra_GBps, gr.bw_inter_GBps) * 5.0 / 6.0;
      return C * std::min(gr.bw_intra_GBps * (ppn - 1) / ppn, gr.bw_inter_GBps * 0.9);
    }
    double intra = gr.bw_intra_GBps * c.nvls_efficiency[in.ArchIndex()] * (C - 1) / C;
    intra *= coll == NcclCollective::kAllReduce ? 2.0 : (ppn - 1) / ppn;
    const double bus = C * std::min(intra, gr.bw_inter_GBps);
    return coll == NcclCollective::kAllReduce ? bus * n / in.NSteps() : bus;
  };
  AlgorithmCost out;
  out.channels = C;
  out.alg_bw_GBps = alg_bw(g);
  out.physical_alg_bw_GBps = alg_bw(g.Physical());
  if (!(out.alg_bw_GBps > 0))
    return Unavailable(in, [&] { return std::string("nvls has no bandwidth on this system"); });
  out.available = true;
  if (in.gen() == 218) {
    out.latency_us = c.BaseLatencyUs(NcclAlgorithm::kNvls, in.protocol) +
                     (m.nodes > 1 ? c.HwLatencyUs(NcclLink::kNet, NcclAlgorithm::kNvls, in.protocol) : 0.0);
  } else {
    out.latency_us =
        in.IntraLatency(NcclAlgorithm::kNvls) + (m.nodes > 1 ? in.InterLatency(NcclAlgorithm::kNvls) : 0.0);
  }
  out.intra_steps = 1;
  out.inter_steps = m.nodes > 1 ? 1 : 0;
  return out;
}

AlgorithmCost NvlsTreeCost(const AlgorithmInput& in) {
  const NcclComm& m = in.m();
  const NcclConstants& c = in.c();
  if (in.collective != NcclCollective::kAllReduce) {
    return Unavailable(
        in, [&] { return StrCat("nvls_tree runs only all_reduce, not ", NcclCollectiveName(in.collective)); });
  }
  if (m.nodes == 1)
    return Unavailable(in, [&] { return std::string("nvls_tree needs several nodes (NCCL disables it on one node)"); });
  if (const char* why = NvlsBlocker(in))
    return Unavailable(in, [&] { return StrCat("nvls_tree: ", BlockerText(in, why)); });
  const NcclGraph& g = m.nvls_graph;
  const int C = g.channels;
  const int N = m.nodes;
  const int n = m.ranks;
  if (in.gen() >= 230 && C < 2)
    return Unavailable(in, [&] { return std::string("nvls_tree needs at least 2 channels"); });
  auto alg_bw = [&](const NcclGraph& gr) {
    if (in.gen() == 218) return C * (N <= 2 ? gr.bw_intra_GBps : gr.bw_inter_GBps) * 0.70 * N / (2.0 * (N - 1));
    if (in.gen() < 230) {
      return C * std::min(gr.bw_intra_GBps, N <= 2 ? gr.bw_inter_GBps : gr.bw_inter_GBps / 2) * 5.0 / 6.0;
    }
    const double intra = gr.bw_intra_GBps * c.nvls_efficiency[in.ArchIndex()] * (C - 1) / C * 2.0;
    const double inter = gr.bw_inter_GBps * (N <= 2 ? 2.0 : 1.0);
    const double cap = c.nvls_tree_bw_per_channel_GBps[in.ArchIndex()][in.NodeIndex()];
    return C * std::min({intra, inter, cap}) * n / in.NSteps();
  };
  AlgorithmCost out;
  out.channels = C;
  out.alg_bw_GBps = alg_bw(g);
  out.physical_alg_bw_GBps = alg_bw(g.Physical());
  if (!(out.alg_bw_GBps > 0))
    return Unavailable(in, [&] { return std::string("nvls_tree has no bandwidth on this system"); });
  out.available = true;
  const double base = c.BaseLatencyUs(NcclAlgorithm::kNvlsTree, in.protocol);
  if (in.gen() == 218) {
    out.latency_us = base + 2.0 * (N - 1) * c.HwLatencyUs(NcclLink::kNet, NcclAlgorithm::kNvlsTree, in.protocol);
  } else {
    out.latency_us = base + in.IntraLatency(NcclAlgorithm::kNvlsTree) +
                     2.0 * in.Log2Nodes() * in.InterLatency(NcclAlgorithm::kNvlsTree);
  }
  out.intra_steps = 1;
  out.inter_steps = 2 * in.Log2Nodes();
  return out;
}

}  // namespace echosim
