// NcclModel: collective times as NCCL would produce them on a given cluster.
//
// What it models: for one collective of S bytes on a communicator (n ranks over N nodes),
//   1. the graphs NCCL's topology search would build (channels, per-channel speeds;
//      nccl_system.h), from the GPU preset (sm arch, NVLink links, NVSwitch, PCIe generation)
//      and the cluster (GPUs per node, NIC speed, one NIC per GPU);
//   2. NCCL's tuning model for every algorithm x protocol the version has (Ring, Tree, NVLS,
//      NVLS-Tree, CollNet Direct/Chain, PAT x LL, LL128, Simple; algorithms.h), with NCCL's
//      constants for that version (hardware/nccl/nccl-<version>.yaml), and the choice NCCL's
//      tuner makes: the smallest modelled time
//        t_NCCL = latency * (1.4 for multi-node Ring Simple all_reduce past the plateau)
//                 + S / (1000 * algBw * treeCorrection(S))    [us, S in bytes, algBw in GB/s]
//      unless an algorithm or protocol is forced (NCCL_ALGO / NCCL_PROTO);
//   3. the time that choice takes on the real machine: NCCL's model corrected by the effective
//      parameters of a calibration (nccl_calibration.h), fitted on measurements.
// Source: NVIDIA/nccl src/graph/{search,tuning}.cc (2.18.3, 2.21.5, 2.30.7); nccl-tests
// doc/PERFORMANCE.md for the size and bus-bandwidth conventions.
//
// Sizes follow nccl-tests: all_reduce/broadcast/reduce the buffer, all_gather the gathered
// output, reduce_scatter the input, all_to_all the per-rank send buffer, send/recv the message.
// Estimate is a pure function of its arguments: a few hundred floating-point operations, no
// allocation on success, deterministic.
#ifndef ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_MODEL_H_
#define ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_MODEL_H_

#include <string>

#include "hardware/gpu_spec.h"
#include "models/ops.h"
#include "simulator/core/status.h"
#include "simulator/network/nccl/nccl_calibration.h"
#include "simulator/network/nccl/nccl_constants.h"
#include "simulator/network/nccl/nccl_system.h"
#include "simulator/network/topology.h"

namespace echosim {

struct CollectiveEstimate {
  double time_s = 0;           // whole collective, launch to completion
  double latency_s = 0;        // its size-independent part
  double bus_bytes_per_s = 0;  // nccl-tests busbw: bytes * BusBandwidthFactor / time
  std::string
      algorithm;         // "ring", "tree", "nvls", "nvls_tree", "collnet_direct", "collnet_chain", "pat", "p2p", "none"
  std::string protocol;  // "LL", "LL128", "Simple", "none"
  int channels = 0;
};

class NcclModel {
 public:
  // gpu: the GPU preset; topo: gpus, gpus_per_node and the effective NVLink/NIC bytes per second
  // (after the preset's efficiencies, as simulation.cc builds them: the line rates NCCL sees are
  // recovered by dividing those out); version "2.18" | "2.21" | "2.30"; calibration_path may be
  // empty: then the built-in calibration listing this GPU, else NCCL's own model.
  static StatusOr<NcclModel> Create(const GpuSpec& gpu, const TopologyConfig& topo, const std::string& version,
                                    const std::string& calibration_path);
  // Same with an explicit calibration (fitting, tests).
  static StatusOr<NcclModel> CreateWithCalibration(const GpuSpec& gpu, const TopologyConfig& topo,
                                                   const std::string& version, NcclCalibration calibration);
  // Direct construction from the hardware view (tests, and clusters that are not a TopologyConfig).
  static StatusOr<NcclModel> FromHardware(const NcclHardware& hw, int64_t cluster_gpus, const std::string& version,
                                          NcclCalibration calibration);

  // Overrides: "" (NCCL's choice) or an algorithm name ("ring", "tree", "nvls", "nvls_tree",
  // "collnet_direct", "collnet_chain", "pat"; "p2p" for all_to_all/send_recv) and a protocol
  // ("LL", "LL128", "Simple"), as NCCL_ALGO / NCCL_PROTO would force them.
  StatusOr<CollectiveEstimate> Estimate(CollectiveKind kind, double bytes, const GroupShape& group,
                                        const std::string& algorithm_override = "",
                                        const std::string& protocol_override = "") const;
  StatusOr<CollectiveEstimate> EstimateCollective(NcclCollective coll, double bytes, const GroupShape& group,
                                                  const std::string& algorithm_override = "",
                                                  const std::string& protocol_override = "") const;
  // NCCL's decision and modelled time, before calibration (what the fit and the tests inspect).
  StatusOr<NcclDecision> Decide(NcclCollective coll, double bytes, const GroupShape& group,
                                const std::string& algorithm_override = "",
                                const std::string& protocol_override = "") const;

  const NcclConstants& constants() const { return constants_; }
  const NcclCalibration& calibration() const { return calibration_; }
  const NcclHardware& hardware() const { return hardware_; }
  int64_t cluster_gpus() const { return cluster_gpus_; }
  // The communicator NCCL would build for `group` (validated like Estimate's group).
  StatusOr<NcclComm> Communicator(const GroupShape& group) const;

 private:
  NcclModel() = default;
  NcclConstants constants_;
  NcclCalibration calibration_;
  NcclHardware hardware_;
  int64_t cluster_gpus_ = 1;
};

// The NCCL-visible hardware of a GPU preset inside a cluster (one NIC per GPU).
StatusOr<NcclHardware> HardwareFromPreset(const GpuSpec& gpu, const TopologyConfig& topo);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_MODEL_H_
