// The measured collectives echosim is calibrated and validated on, and the comparison itself.
//
// hardware/nccl/measured-systems.yaml says which systems of ../shared/data/measured/collectives/
// have a known topology (GPU preset, GPUs per node, NIC speed, NCCL version, calibration file)
// and why the other rows do not. From it:
//   - SamplesForSystem: the usable measurements of one system (nccl-tests logs or rows of
//     collectives_measured_busbw.csv with a numeric size and bandwidth or time);
//   - ValidateCollectives: predicted vs measured bus bandwidth for every system and size, the
//     accuracy gate on systems with a known topology (<= 10% from 64 MiB, <= 25% from 1 MiB),
//     and every other row with the reason it is not compared.
// Sample extraction from nccl-tests logs and Vidur CSVs is shared with `echosim calibrate`.
#ifndef ECHOSIM_SIMULATOR_NETWORK_NCCL_COLLECTIVE_MEASUREMENTS_H_
#define ECHOSIM_SIMULATOR_NETWORK_NCCL_COLLECTIVE_MEASUREMENTS_H_

#include <optional>
#include <string>
#include <vector>

#include "simulator/core/status.h"
#include "simulator/network/nccl/alltoall_efficiency.h"
#include "simulator/network/nccl/nccl_calibration_fit.h"
#include "simulator/network/nccl/nccl_tests_log.h"

namespace echosim {

struct MeasuredSystem {
  std::string id, description, why;
  std::string gpu;
  int gpus_per_node = 8;
  double nic_gbps = 0;
  std::string nccl_version;
  std::string calibration;       // repository path of its calibration file
  std::string calibration_from;  // another system's id when the calibration was fitted elsewhere
  // nccl-tests logs (relative to the collectives directory) and the collective they measured ...
  std::vector<std::string> logs;
  std::optional<NcclCollective> log_collective;
  // ... or rows of collectives_measured_busbw.csv: all given fields must match.
  std::string match_system, match_source_prefix, match_collective;
  double size_override_bytes = 0;  // for rows whose size column is prose ("4GiB peak")
  int64_t nodes_override = 0;      // for rows whose node column is prose ("NVL72 domain")
  // rows.max_nodes: only rows of at most this many nodes belong to the system (0: any), so a
  // calibration can be fitted on one node's links alone.
  int64_t max_nodes = 0;
};

struct UnknownRule {
  std::string match_system, match_source_prefix, match_collective, why;
};

struct MeasuredSystems {
  std::vector<MeasuredSystem> systems;
  std::vector<UnknownRule> unknown;
};

StatusOr<MeasuredSystems> ParseMeasuredSystemsYaml(const std::string& text, const std::string& source);
StatusOr<MeasuredSystems> LoadMeasuredSystems();  // the embedded hardware/nccl/measured-systems.yaml
const MeasuredSystem* FindMeasuredSystem(const MeasuredSystems& all, const std::string& id);

// The uncalibrated model of a system's cluster (its largest communicator sets the cluster size).
StatusOr<NcclModel> ModelForSystem(const MeasuredSystem& system, int64_t cluster_gpus, NcclCalibration calibration);

// nccl-tests rows as samples (out-of-place times). `collective` overrides the log's own;
// ranks/nodes come from the log's device list unless given (> 0).
StatusOr<std::vector<CollectiveSample>> SamplesFromNcclTestsLog(const NcclTestsLog& log,
                                                                std::optional<NcclCollective> collective,
                                                                int64_t ranks = 0, int64_t nodes = 0);
std::vector<CollectiveSample> SamplesFromVidur(const std::vector<VidurRow>& rows, const std::string& source);

struct ExcludedRow {
  std::string system_id;  // "" when the row matched no system
  std::string source;     // "file:line"
  std::string what;       // system / collective / size as written
  std::string why;
};

// Appends to `fitted_on` what a fit on `system`'s samples read: each file of `samples` once, then
// the row selectors of `system` (rows with system ..., rows whose source starts ...), each once.
void AddFittedOn(const MeasuredSystem& system, const std::vector<CollectiveSample>& samples,
                 std::vector<std::string>* fitted_on);

// Measurements of `system` under `collectives_dir`; rows of it that cannot be used (no numeric
// size) go to `excluded` when given; rows on more nodes than rows.max_nodes are left out.
StatusOr<std::vector<CollectiveSample>> SamplesForSystem(const MeasuredSystem& system,
                                                         const std::string& collectives_dir,
                                                         std::vector<ExcludedRow>* excluded = nullptr);

struct SystemReport {
  MeasuredSystem system;
  std::vector<SampleResult> results;  // with the system's calibration
  NcclFitSummary calibrated;          // over sizes >= 1 MiB
  NcclFitSummary uncalibrated;        // NCCL's own model, same sizes
  bool pass = true;                   // the gate
};

struct CollectivesValidation {
  std::vector<SystemReport> systems;
  std::vector<ExcludedRow> excluded;
  bool all_pass = true;
};

inline constexpr double kGateFrom1MiB = 0.25;
inline constexpr double kGateFrom64MiB = 0.10;

StatusOr<CollectivesValidation> ValidateCollectives(const std::string& collectives_dir);

// The all_to_all efficiency fit (alltoall_efficiency.h) over the systems whose rows are
// all_to_all: each row's measured bus bandwidth over the line-rate bus bandwidth of the link
// class that bounds it (NVLink inside one domain; across nodes the GPU's NIC, capped at its PCIe
// x16 rate as NCCL sees it: the p2p model's path P); a class's
// efficiency is the median of its rows.
struct AllToAllFitRow {
  std::string system_id, source;
  int64_t ranks = 0, nodes = 0;
  std::string bound;  // "nvlink" or "network"
  double measured_busbw_GBps = 0, line_busbw_GBps = 0;
  double Ratio() const { return measured_busbw_GBps / line_busbw_GBps; }
};
struct AllToAllFit {
  AllToAllEfficiency efficiency;
  std::vector<AllToAllFitRow> rows;
  std::vector<std::string> fitted_on;  // files and row selectors read (AddFittedOn)
  double max_residual = 0;  // max |row ratio / its class's efficiency - 1|
  // Leave-one-out: each row against the median of the other rows of its class (rows alone in
  // their class are not counted).
  double max_held_out_error = 0;
  int held_out_rows = 0;
};
StatusOr<AllToAllFit> FitAllToAllEfficiency(const MeasuredSystems& systems, const std::string& collectives_dir);
// hardware/nccl/alltoall-efficiency.yaml for `fit`, naming the command that wrote it.
std::string AllToAllEfficiencyYaml(const AllToAllFit& fit, const std::string& command);
std::string CollectivesValidationText(const CollectivesValidation& v);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_NCCL_COLLECTIVE_MEASUREMENTS_H_
