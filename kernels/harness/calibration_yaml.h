// Timing statistics and the kernel-calibration YAML file the `calibrate` command writes.
//
// The file (meant for hardware/calibration/<gpu>.yaml) is what the simulator's calibration
// reader parses: a header comment saying what was measured and how, the device and its
// clock state, the method, and one flow-style mapping per measured ComputeOp sample.
// Output is deterministic: fields in a fixed order, numbers in a fixed format.
#ifndef ECHOSIM_KERNELS_HARNESS_CALIBRATION_YAML_H_
#define ECHOSIM_KERNELS_HARNESS_CALIBRATION_YAML_H_

#include <ostream>
#include <string>
#include <vector>

#include "kernels/harness/op_spec.h"
#include "simulator/core/status.h"

namespace echosim::kernels {

// Median and 10th/90th percentiles (nearest-rank on the sorted samples) in microseconds.
struct TimingStats {
  double median_us = 0, p10_us = 0, p90_us = 0;
  int repeats = 0;
};
// Empty input gives repeats == 0 and zeros. The median of an even count is the mean of
// the two middle samples.
TimingStats ComputeStats(std::vector<double> samples_us);

struct DeviceInfo {
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  std::string driver_version;        // NVML's driver version, else the CUDA driver API version
  std::string cuda_runtime_version;  // "13.0"
  bool clocks_known = false;         // NVML was available
  int sm_mhz = 0, max_sm_mhz = 0, mem_mhz = 0;
  bool locked = false;
  int64_t memory_bytes = 0;
};

struct MeasuredOp {
  OpSpec op;
  TimingStats stats;
  std::string kernel;  // what actually ran
};

struct CalibrationFile {
  std::string gpu;          // echosim GPU preset name
  std::string command;      // the command line that produced it
  std::string measured_at;  // ISO-8601 UTC
  DeviceInfo device;
  int warmup = 0, repeats = 0;
  std::vector<MeasuredOp> samples;
};

// GPU preset names are lower-case letters, digits and '-' (as hardware/gpus/*.yaml).
Status ValidateGpuName(const std::string& gpu);
// Formats a number deterministically: integers exactly, others with 6 significant digits.
std::string FormatNumber(double v);
void WriteCalibrationYaml(const CalibrationFile& f, std::ostream& out);
// One measure-output JSONL line: the input fields plus median/p10/p90/repeats/kernel.
std::string MeasuredOpJsonLine(const MeasuredOp& m);

}  // namespace echosim::kernels

#endif  // ECHOSIM_KERNELS_HARNESS_CALIBRATION_YAML_H_
