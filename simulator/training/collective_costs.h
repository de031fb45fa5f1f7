// CollectiveCosts: the communication cost model the training simulator uses, memoised.
//
// By default the NCCL-faithful model (simulator/network/nccl: NCCL's algorithm and
// protocol choice for the size and the group's shape, with the GPU's fitted calibration);
// the first-order latency-bandwidth model (AnalyticCollectiveModel) on request. Each cost is
// split into a fixed start-up part and a bandwidth part, so transfers that share links
// can be slowed in their bandwidth part only.
#ifndef ECHOSIM_SIMULATOR_TRAINING_COLLECTIVE_COSTS_H_
#define ECHOSIM_SIMULATOR_TRAINING_COLLECTIVE_COSTS_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "hardware/gpu_spec.h"
#include "simulator/network/collective_model.h"
#include "simulator/network/nccl/nccl_model.h"

namespace echosim {

struct CommCost {
  double latency_s = 0;
  double bandwidth_s = 0;
  std::string algorithm;
  std::string protocol;
  int channels = 0;
};

class CollectiveCosts {
 public:
  // model: "nccl" or "analytic"; nccl_version may be empty (the calibration's, else 2.21);
  // calibration_path may be empty (the GPU's built-in calibration).
  static StatusOr<std::shared_ptr<CollectiveCosts>> Create(const GpuSpec& gpu, const Topology* topo,
                                                           const std::string& model,
                                                           const std::string& nccl_version,
                                                           const std::string& calibration_path);
  StatusOr<CommCost> Cost(CollectiveKind kind, double bytes, const GroupShape& group) const;

 private:
  CollectiveCosts(const Topology* topo) : analytic_(topo) {}
  AnalyticCollectiveModel analytic_;
  std::optional<NcclModel> nccl_;
  mutable std::map<std::tuple<int, double, int64_t, int64_t, int64_t>, CommCost> memo_;
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_TRAINING_COLLECTIVE_COSTS_H_
