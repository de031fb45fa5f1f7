// NcclConstants: the numbers of NCCL's tuning model for one NCCL version (base and per-hop
// latencies, per-channel bandwidth caps, NVLink/PCIe/NIC speeds its topology search uses, the
// speed ladders of that search), read from hardware/nccl/nccl-<version>.yaml. Every number in
// those files cites the NCCL source line it comes from; nothing here is measured.
#ifndef ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_CONSTANTS_H_
#define ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_CONSTANTS_H_

#include <array>
#include <string>
#include <vector>

#include "simulator/core/status.h"
#include "simulator/network/nccl/alltoall_efficiency.h"
#include "simulator/network/nccl/nccl_types.h"

namespace echosim {

// Link classes of NCCL's hwLat table.
enum class NcclLink : uint8_t { kNvlink, kPci, kNet };
inline constexpr int kNumNcclLinks = 3;

using ProtocolTriple = std::array<double, kNumNcclProtocols>;  // [LL, LL128, Simple]
using NodeTriple = std::array<double, 3>;                      // nNodes 1, 2, >= 3

struct NcclConstants {
  std::string version;  // "2.18"
  std::string release;  // "2.18.3-1"
  // Selects the formula variants that changed between releases: 218, 221, 227 or 230.
  int formula_generation = 0;
  std::array<bool, kNumNcclAlgorithms> has_algorithm{};
  std::array<ProtocolTriple, kNumNcclAlgorithms> base_latency_us{};
  std::array<std::array<ProtocolTriple, kNumNcclAlgorithms>, kNumNcclLinks> hw_latency_us{};
  // Rows by NcclArch; versions without a Blackwell row repeat the Hopper row (NCCL <= 2.21 maps
  // every sm >= 90 to its Hopper index).
  std::array<NodeTriple, kNumNcclArchs> ll_max_bw_GBps{};
  std::array<NodeTriple, kNumNcclArchs> ring_ll128_bw_per_channel_GBps{};
  std::array<NodeTriple, kNumNcclArchs> tree_ll128_bw_per_channel_GBps{};
  std::array<NodeTriple, kNumNcclArchs> tree_bw_per_channel_GBps{};
  std::array<NodeTriple, kNumNcclArchs> nvls_tree_bw_per_channel_GBps{};  // generation >= 230
  std::array<double, kNumNcclArchs> nvls_efficiency{};                    // generation >= 230
  std::array<std::vector<double>, kNumNcclProtocols> tree_correction{};
  std::array<double, kNumNcclArchs> nvlink_bw_per_link_GBps{};
  double pci_bw_GBps = 0;
  std::array<double, 7> pcie_x16_bw_GBps{};  // index = PCIe generation (3..6)
  std::array<std::vector<double>, kNumNcclArchs> speed_intra_GBps{};
  std::array<std::vector<double>, kNumNcclArchs> speed_inter_GBps{};
  double net_overhead_intel_us = 0;
  double net_overhead_amd_us = 0;
  double ring_plateau_factor = 0;  // sm >= 80
  double ring_plateau_factor_pre_sm80 = 0;
  int ring_max_channels = 0;
  // Not NCCL's: the measured all_to_all efficiency per link class (alltoall_efficiency.h), set by
  // FindNcclConstants from hardware/nccl/alltoall-efficiency.yaml; 1 (line rate) when parsed alone.
  AllToAllEfficiency alltoall;

  double BaseLatencyUs(NcclAlgorithm a, NcclProtocol p) const {
    return base_latency_us[static_cast<int>(a)][static_cast<int>(p)];
  }
  double HwLatencyUs(NcclLink l, NcclAlgorithm a, NcclProtocol p) const {
    return hw_latency_us[static_cast<int>(l)][static_cast<int>(a)][static_cast<int>(p)];
  }
};

// Parses one hardware/nccl/nccl-<version>.yaml; errors name `source`, the line and the field.
StatusOr<NcclConstants> ParseNcclConstantsYaml(const std::string& text, const std::string& source);
// The embedded constants of `version` ("2.18", "2.21", "2.30"), with the measured all-to-all
// efficiency; the error lists the versions.
StatusOr<NcclConstants> FindNcclConstants(const std::string& version);
std::vector<std::string> NcclVersions();

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_CONSTANTS_H_
