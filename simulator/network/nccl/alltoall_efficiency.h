// All-to-all bandwidth efficiency: the share of the links' line rate that NCCL's all_to_all
// (grouped ncclSend/ncclRecv) reaches at large messages, per link class. The p2p model
// (p2p.cc) multiplies the NVLink per-direction rate and the NIC line rate by these; the
// ring/tree/NVLS calibrations, fitted on all_reduce, do not apply to all_to_all.
//
// The values live in hardware/nccl/alltoall-efficiency.yaml, written by
// `echosim calibrate alltoall` from the all_to_all rows of hardware/nccl/measured-systems.yaml
// (FitAllToAllEfficiency in collective_measurements.h).
#ifndef ECHOSIM_SIMULATOR_NETWORK_NCCL_ALLTOALL_EFFICIENCY_H_
#define ECHOSIM_SIMULATOR_NETWORK_NCCL_ALLTOALL_EFFICIENCY_H_

#include <string>

#include "simulator/core/status.h"

namespace echosim {

struct AllToAllEfficiency {
  double nvlink = 1.0;   // bus bandwidth / NVLink per-direction line rate, inside one NVLink domain
  double network = 1.0;  // bus bandwidth / (the GPU's share of its node's NIC line rate), across nodes
};

inline constexpr const char* kAllToAllEfficiencyPath = "hardware/nccl/alltoall-efficiency.yaml";

// Reads `nvlink_efficiency` and `network_efficiency` (each in (0, 1.5]); other documented keys
// (name, source, fitted_on, fit) are accepted and ignored.
StatusOr<AllToAllEfficiency> ParseAllToAllEfficiencyYaml(const std::string& text, const std::string& source);
// The embedded hardware/nccl/alltoall-efficiency.yaml.
StatusOr<AllToAllEfficiency> LoadAllToAllEfficiency();

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_NCCL_ALLTOALL_EFFICIENCY_H_
