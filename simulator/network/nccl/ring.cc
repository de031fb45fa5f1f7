// Ring: NCCL's ring algorithm for all_reduce, all_gather, reduce_scatter, broadcast and reduce.
//
// Source: NVIDIA/nccl src/graph/tuning.cc (ncclTopoTuneModel, Ring branches), versions 2.18.3,
// 2.21.5 and 2.30.7. A ring all_reduce of S bytes over n ranks moves 2(n-1)/n * S bytes through
// every rank in nsteps = 2(n-1) steps, so with C channels at b GB/s each:
//   busBw = C * b                      (b = bwIntra when N <= 2, bwInter beyond)
//   LL:      busBw = min(llMaxBw, busBw * f), f = 1/2 (1/4 or 1/3 in 2.18: LL moves 8 B of data
//            per 16 B line and polls flags)
//   LL128:   busBw = min(busBw * g, C * perChMaxRingLL128Bw), g = 120/128 ~ 0.92 (0.7 with one
//            rank per node before 2.27)
//   algBw = busBw * n / nsteps          (so nccl-tests' busbw equals busBw)
// latency = base + (nsteps - nInter) * max(intraLat, netOverhead) + nInter * interLat, with
// nInter = 2(N-1) (2N before 2.27) network steps for all_reduce, N-1 for all_gather and
// reduce_scatter, and netOverhead = 1 us (2 us on AMD hosts), x3 for Simple, on several nodes.
// broadcast and reduce pipeline a chain: on channels that follow the same path (the NVSwitch
// and rail-aligned case modelled here) they pay one hop of latency on top of the base.
#include <algorithm>

#include "simulator/core/strings.h"
#include "simulator/network/nccl/algorithms.h"

namespace echosim {

AlgorithmCost RingCost(const AlgorithmInput& in) {
  const NcclComm& m = in.m();
  const NcclConstants& c = in.c();
  const NcclCollective coll = in.collective;
  if (coll == NcclCollective::kAllToAll || coll == NcclCollective::kSendRecv) {
    return Unavailable(in, [&] {
      return StrCat("ring does not run ", NcclCollectiveName(coll), " (NCCL schedules it as point-to-point)");
    });
  }
  const NcclProtocol p = in.protocol;
  if (p == NcclProtocol::kLl128 && !Ll128Enabled(in)) {
    return Unavailable(in, [&] {
      return StrCat("LL128 is disabled by default on this system (NCCL ", c.version, ", sm", m.sm_arch, ")");
    });
  }
  const NcclGraph& g = m.ring;
  const int n = m.ranks;
  const int N = m.nodes;
  const int nsteps = in.NSteps();
  auto alg_bw = [&](const NcclGraph& gr) {
    const double bw = N <= 2 ? gr.bw_intra_GBps : gr.bw_inter_GBps;
    double bus = gr.channels * bw;
    if (p == NcclProtocol::kLl) {
      double f = 0.5;
      if (in.gen() == 218) {
        f = (N > 1 || coll == NcclCollective::kAllReduce || coll == NcclCollective::kReduce) ? 1.0 / 4.0 : 1.0 / 3.0;
      }
      bus = std::min(in.LlMaxBw(), bus * f);
    } else if (p == NcclProtocol::kLl128) {
      const double f = (in.gen() < 227 && m.ranks_per_node < 2) ? 0.7 : 0.92;
      bus = std::min(bus * f, gr.channels * c.ring_ll128_bw_per_channel_GBps[in.ArchIndex()][in.NodeIndex()]);
    }
    return bus * n / nsteps;
  };
  AlgorithmCost out;
  out.available = true;
  out.channels = g.channels;
  out.alg_bw_GBps = alg_bw(g);
  out.physical_alg_bw_GBps = alg_bw(g.Physical());

  const NcclLink hw = N == 1 ? in.IntraLink() : NcclLink::kNet;
  double lat = c.BaseLatencyUs(NcclAlgorithm::kRing, p);
  if (coll == NcclCollective::kBroadcast || coll == NcclCollective::kReduce) {
    lat += c.HwLatencyUs(hw, NcclAlgorithm::kRing, p);
    out.inter_steps = N - 1;
    out.intra_steps = nsteps - out.inter_steps;
  } else {
    double net_overhead = 0;
    if (N > 1) {
      net_overhead = m.amd_cpu ? c.net_overhead_amd_us : c.net_overhead_intel_us;
      if (p == NcclProtocol::kSimple) net_overhead *= 3;
    }
    const double intra_lat = std::max(in.IntraLatency(NcclAlgorithm::kRing), net_overhead);
    const double inter_lat = in.InterLatency(NcclAlgorithm::kRing);
    int n_inter = 0;
    if (N > 1) {
      if (coll == NcclCollective::kAllReduce) {
        n_inter = in.gen() >= 227 ? 2 * (N - 1) : 2 * N;
      } else {
        n_inter = N - 1;
      }
    }
    lat += (nsteps - n_inter) * intra_lat + n_inter * inter_lat;
    // Physical hops for the calibrated per-step latency.
    out.inter_steps = coll == NcclCollective::kAllReduce ? 2 * (N - 1) : N - 1;
    out.intra_steps = nsteps - out.inter_steps;
  }
  out.latency_us = lat;
  return out;
}

}  // namespace echosim
