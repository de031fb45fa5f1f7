// The `echosim-kernels` harness (kernels/) seen from the simulator: finding it, running it,
// and the files it reads and writes (JSONL ComputeOps in, JSONL measurements out).
//
// The simulator never links kernels/; it runs the executable. It is found as
// $ECHOSIM_KERNELS if set, else `echosim-kernels` in the directory of the running binary.
// Exit codes of the harness: 0 ok, 2 bad input, 3 no CUDA device ("no CUDA device: ...").
//
// MeasureKernels() measures a list of ops once each: distinct shapes (KernelShapeKey) only,
// looked up first in a cache file (JSONL, one line per device and shape: {"device",
// "key", "median_us", ...}) so repeated runs on the same GPU do not measure again; what
// it measures is appended to the cache.
#ifndef ECHOSIM_HARDWARE_KERNEL_HARNESS_H_
#define ECHOSIM_HARDWARE_KERNEL_HARNESS_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hardware/kernel_calibration.h"
#include "models/ops.h"
#include "simulator/core/status.h"

namespace echosim {

// Message prefix of the error returned when the harness finds no GPU (its exit code 3).
inline constexpr const char* kNoCudaDevice = "no CUDA device";
inline bool IsNoGpuError(const Status& st) {
  return !st.ok() && st.message().find(kNoCudaDevice) != std::string::npos;
}

// Path of the harness, or FailedPrecondition saying how to build it.
StatusOr<std::string> FindKernelHarness();

struct HarnessRun {
  int exit_code = 0;
  std::string output;  // stdout and stderr together
};
// Runs `harness args...` and waits; Internal if it cannot be started.
StatusOr<HarnessRun> RunProcess(const std::string& harness, const std::vector<std::string>& args);
// Runs the harness and turns a non-zero exit into a Status (exit 3: "no CUDA device: ...";
// exit 2: InvalidArgument with its message; other: Internal with the last lines).
Status RunHarness(const std::string& harness, const std::vector<std::string>& args);

// `echosim-kernels info --json`, parsed.
struct HarnessDevice {
  std::string name;  // CUDA device name, e.g. "NVIDIA H100 80GB HBM3"
  nlohmann::json info;
};
StatusOr<HarnessDevice> HarnessInfo(const std::string& harness);

// One line of `measure` output.
struct MeasuredKernel {
  ComputeOp op;
  double median_us = 0, p10_us = 0, p90_us = 0;
  int64_t repeats = 0;
  std::string kernel;
};
// Parses `measure` output; errors name the file and line.
StatusOr<std::vector<MeasuredKernel>> ParseMeasuredJsonl(const std::string& text, const std::string& source);
// Writes ops as JSONL (one ComputeOp a line).
Status WriteOpsJsonl(const std::vector<ComputeOp>& ops, const std::string& path);

struct MeasureOptions {
  std::string harness;     // empty: FindKernelHarness()
  std::string cache_file;  // empty: DefaultKernelCache(); "none": no cache
  int warmup = 0, repeats = 0;  // 0: the harness's defaults
};
struct MeasureResult {
  MeasuredKernelTimes times;  // every requested shape
  std::vector<MeasuredKernel> kernels;  // one per distinct shape, in request order
  int64_t distinct = 0, from_cache = 0, measured = 0;
  std::string cache_file;
};
// Measures each distinct shape of `ops` once (see the header comment). Calls are serialised
// within the process (one harness on the GPU at a time; later callers find the cache filled).
StatusOr<MeasureResult> MeasureKernels(const std::vector<ComputeOp>& ops, const MeasureOptions& options);
// $XDG_CACHE_HOME/echosim/kernel-times.jsonl, else $HOME/.cache/echosim/kernel-times.jsonl.
std::string DefaultKernelCache();

}  // namespace echosim

#endif  // ECHOSIM_HARDWARE_KERNEL_HARNESS_H_
