// One function per NCCL algorithm (ring.cc, tree.cc, nvls.cc, collnet.cc, pat.cc) plus the
// point-to-point schedule of all_to_all and send/recv (p2p.cc). Each gives NCCL's modelled
// latency and algorithm bandwidth for one (collective, protocol) on one communicator, as
// ncclTopoTuneModel computes them, or says why the algorithm is not available there.
//
// Common notation (tuning.cc): n ranks, N nodes, ppn = n/N; nsteps = 2(n-1) for all_reduce,
// n-1 for all_gather/reduce_scatter, n otherwise; busBw = channels * per-channel bandwidth
// (bwIntra when N <= 2, else bwInter), then per-algorithm caps; algBw = busBw * ratio; NCCL's
// time for S bytes is latency + S / algBw (ncclTopoGetAlgoTime, with Tree's size correction
// and Ring's plateau factor applied by the caller, nccl_model.cc).
#ifndef ECHOSIM_SIMULATOR_NETWORK_NCCL_ALGORITHMS_H_
#define ECHOSIM_SIMULATOR_NETWORK_NCCL_ALGORITHMS_H_

#include <string>

#include "simulator/network/nccl/nccl_constants.h"
#include "simulator/network/nccl/nccl_system.h"

namespace echosim {

struct AlgorithmInput {
  const NcclConstants* constants = nullptr;
  const NcclComm* comm = nullptr;
  NcclCollective collective = NcclCollective::kAllReduce;
  NcclProtocol protocol = NcclProtocol::kSimple;
  // Format the reason of an unavailable algorithm (only worth it when one was forced).
  bool explain = false;

  const NcclConstants& c() const { return *constants; }
  const NcclComm& m() const { return *comm; }
  int gen() const { return constants->formula_generation; }
  int NSteps() const;     // NCCL's nsteps for the collective
  int NodeIndex() const;  // min(N-1, 2): column of the per-channel tables
  int ArchIndex() const { return static_cast<int>(comm->arch); }
  double LlMaxBw() const;  // llMaxBws row: GPU arch on one node, CPU vendor otherwise
  NcclLink IntraLink() const { return comm->intra_link; }
  double IntraLatency(NcclAlgorithm a) const { return c().HwLatencyUs(IntraLink(), a, protocol); }
  // hwLat[NET] (+ graph latencyInter, 0 for InfiniBand/RoCE); 2.27+ uses Tree's network latency
  // when each node holds a single rank.
  double InterLatency(NcclAlgorithm a) const;
  int Log2Nodes() const;  // log2i(N)
  bool IsAllGatherOrReduceScatter() const {
    return collective == NcclCollective::kAllGather || collective == NcclCollective::kReduceScatter;
  }
};

struct AlgorithmCost {
  bool available = false;
  std::string unavailable_reason;   // set when !available
  double latency_us = 0;            // NCCL's modelled latency (before the ring plateau factor)
  double alg_bw_GBps = 0;           // NCCL's modelled algorithm bandwidth
  double physical_alg_bw_GBps = 0;  // the same formula on the graph's real link speeds (NcclGraph::Physical)
  int channels = 0;
  // Hops of the latency model, for the calibrated extra per-step latency.
  int intra_steps = 0;
  int inter_steps = 0;
};

// "Not available here"; `reason` (a callable returning the text) runs only when in.explain, so
// the tuner's sweep over every algorithm allocates nothing.
template <typename F>
AlgorithmCost Unavailable(const AlgorithmInput& in, F&& reason) {
  AlgorithmCost c;
  if (in.explain) c.unavailable_reason = reason();
  return c;
}

AlgorithmCost RingCost(const AlgorithmInput& in);
AlgorithmCost TreeCost(const AlgorithmInput& in);
AlgorithmCost NvlsCost(const AlgorithmInput& in);
AlgorithmCost NvlsTreeCost(const AlgorithmInput& in);
AlgorithmCost CollNetDirectCost(const AlgorithmInput& in);
AlgorithmCost CollNetChainCost(const AlgorithmInput& in);
AlgorithmCost PatCost(const AlgorithmInput& in);
// all_to_all and send/recv (not tuned by NCCL: they are grouped point-to-point operations).
AlgorithmCost P2pCost(const AlgorithmInput& in);

AlgorithmCost CostOf(NcclAlgorithm a, const AlgorithmInput& in);

// LL128 is enabled by default on NVLink systems of one architecture generation NCCL has
// validated (tuning.cc: Volta/Ampere/Hopper in 2.18/2.21, sm70 and newer from 2.27).
bool Ll128Enabled(const AlgorithmInput& in);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_NCCL_ALGORITHMS_H_
