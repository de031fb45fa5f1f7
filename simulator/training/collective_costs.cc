#include "simulator/training/collective_costs.h"

#include "simulator/core/strings.h"
#include "simulator/network/nccl/nccl_calibration.h"

namespace echosim {

StatusOr<std::shared_ptr<CollectiveCosts>> CollectiveCosts::Create(
    const GpuSpec& gpu, const Topology* topo, const std::string& model,
    const std::string& nccl_version, const std::string& calibration_path) {
  std::shared_ptr<CollectiveCosts> c(new CollectiveCosts(topo));
  if (model == "analytic") return c;
  if (model != "nccl") {
    return InvalidArgument(StrCat("cluster.network.collective_model: unknown value '", model,
                                  "'; valid choices: nccl, analytic"));
  }
  std::string version = nccl_version;
  if (version.empty()) {
    if (!calibration_path.empty()) {
      ECHOSIM_ASSIGN_OR_RETURN(NcclCalibration cal, LoadNcclCalibration(calibration_path));
      version = cal.nccl_version;
    } else if (auto cal = DefaultNcclCalibration(gpu.name); cal.ok()) {
      version = cal->nccl_version;
    }
    if (version.empty()) version = "2.21";
  }
  auto m = NcclModel::Create(gpu, topo->config(), version, calibration_path);
  if (!m.ok()) return m.status().WithContext("cluster.network");
  c->nccl_.emplace(std::move(*m));
  return c;
}

StatusOr<CommCost> CollectiveCosts::Cost(CollectiveKind kind, double bytes,
                                         const GroupShape& g) const {
  const auto key = std::make_tuple(static_cast<int>(kind), bytes, g.size, g.nodes, g.per_node);
  auto it = memo_.find(key);
  if (it != memo_.end()) return it->second;
  CommCost c;
  if (g.size <= 1 || bytes <= 0) {
    c.algorithm = "none";
  } else if (nccl_) {
    ECHOSIM_ASSIGN_OR_RETURN(CollectiveEstimate e, nccl_->Estimate(kind, bytes, g));
    c.latency_s = std::min(e.latency_s, e.time_s);
    c.bandwidth_s = e.time_s - c.latency_s;
    c.algorithm = e.algorithm;
    c.protocol = e.protocol;
    c.channels = e.channels;
  } else {
    const auto p = analytic_.EstimateParts(kind, bytes, g);
    c.latency_s = p.latency_s;
    c.bandwidth_s = p.bandwidth_s;
    c.algorithm = p.algorithm;
    c.protocol = "simple";
  }
  memo_.emplace(key, c);
  return c;
}

}  // namespace echosim
