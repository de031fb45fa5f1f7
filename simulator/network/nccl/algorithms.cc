// Shared helpers of the per-algorithm cost functions (algorithms.h) and the dispatch.
#include "simulator/network/nccl/algorithms.h"

#include <algorithm>

#include "simulator/core/strings.h"

namespace echosim {

int AlgorithmInput::NSteps() const {
  const int n = comm->ranks;
  switch (collective) {
    case NcclCollective::kAllReduce:
      return 2 * (n - 1);
    case NcclCollective::kAllGather:
    case NcclCollective::kReduceScatter:
      return n - 1;
    default:
      return n;
  }
}

int AlgorithmInput::NodeIndex() const { return std::min(comm->nodes - 1, 2); }

double AlgorithmInput::LlMaxBw() const {
  const int row = comm->nodes == 1 ? ArchIndex() : (comm->amd_cpu ? 1 : 0);
  return constants->ll_max_bw_GBps[row][NodeIndex()];
}

double AlgorithmInput::InterLatency(NcclAlgorithm a) const {
  if (gen() >= 227 && comm->ranks_per_node == 1) return c().HwLatencyUs(NcclLink::kNet, NcclAlgorithm::kTree, protocol);
  return c().HwLatencyUs(NcclLink::kNet, a, protocol);
}

int AlgorithmInput::Log2Nodes() const {
  int l = 0;
  while ((2 << l) <= comm->nodes) ++l;
  return l;
}

bool Ll128Enabled(const AlgorithmInput& in) {
  if (in.IntraLink() != NcclLink::kNvlink && in.m().ranks_per_node > 1) return false;
  if (in.gen() >= 227) return in.m().sm_arch >= 70;
  return in.m().arch != NcclArch::kBlackwell && in.m().sm_arch >= 70;
}

AlgorithmCost CostOf(NcclAlgorithm a, const AlgorithmInput& in) {
  if (!in.c().has_algorithm[static_cast<int>(a)]) {
    return Unavailable(in, [&] { return StrCat(NcclAlgorithmName(a), " does not exist in NCCL ", in.c().version); });
  }
  switch (a) {
    case NcclAlgorithm::kTree:
      return TreeCost(in);
    case NcclAlgorithm::kRing:
      return RingCost(in);
    case NcclAlgorithm::kCollNetDirect:
      return CollNetDirectCost(in);
    case NcclAlgorithm::kCollNetChain:
      return CollNetChainCost(in);
    case NcclAlgorithm::kNvls:
      return NvlsCost(in);
    case NcclAlgorithm::kNvlsTree:
      return NvlsTreeCost(in);
    case NcclAlgorithm::kPat:
      return PatCost(in);
  }
  return Unavailable(in, [] { return std::string("unknown algorithm"); });
}

}  // namespace echosim
