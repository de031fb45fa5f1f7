// AnalyticCollectiveModel: first-order collective costs (latency + bandwidth).
//
// For a group of n members at bus bandwidth B (nccl-tests' busbw) and per-step
// latency a (Thakur, Rabenseifner & Gropp 2005; NCCL's ring algorithm):
//   ring all_reduce      2(n-1)/n * S / B + 2(n-1) a
//   tree all_reduce      2 * S / B + 2 ceil(log2 n) a      (chosen when faster)
//   all_gather, reduce_scatter   (n-1)/n * S / B + (n-1) a
//   all_to_all           (n-1)/n * S / B_a2a + (n-1) a, where traffic leaving the node
//                        crosses the members' NICs
//   send_recv            S / B_link + a
// B is the NVLink bandwidth inside a node; across nodes each member's NIC carries
// one ring, so B = min(NVLink, per_node * NIC). Every collective adds a fixed launch
// overhead. The communication issue replaces this with an NCCL-faithful model.
#ifndef ECHOSIM_SIMULATOR_NETWORK_COLLECTIVE_MODEL_H_
#define ECHOSIM_SIMULATOR_NETWORK_COLLECTIVE_MODEL_H_

#include "models/ops.h"
#include "simulator/core/time.h"
#include "simulator/network/topology.h"

namespace echosim {

class AnalyticCollectiveModel {
 public:
  explicit AnalyticCollectiveModel(const Topology* topology) : topology_(topology) {}
  // Duration of one collective of `bytes` (nccl-tests size convention) over `group`.
  Duration Estimate(CollectiveKind kind, double bytes, const GroupShape& group) const;
  double EstimateSeconds(CollectiveKind kind, double bytes, const GroupShape& group) const;
  // The same time split into its fixed start-up part (latency terms and launch overhead)
  // and its bandwidth part; latency_s + bandwidth_s == EstimateSeconds(...).
  struct Parts {
    double latency_s = 0;
    double bandwidth_s = 0;
    const char* algorithm = "ring";
  };
  Parts EstimateParts(CollectiveKind kind, double bytes, const GroupShape& group) const;
  // Bus bandwidth (bytes/s) the model uses for a group.
  double BusBandwidth(const GroupShape& group) const;

 private:
  const Topology* topology_;
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_COLLECTIVE_MODEL_H_
