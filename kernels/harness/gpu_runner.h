// Runs ComputeOps on the GPU with our kernels and cuBLASLt and times them.
//
// Timing: `warmup` untimed launches, then `repeats` launches each bracketed by CUDA events
// on the op's stream; before each timed launch the L2 cache is flushed (a memset over twice
// its size, outside the events) so every repeat reads its inputs from HBM as in a training
// step. Statistics: median and 10th/90th percentiles (ComputeStats).
//
// Also the interference measurement: a GEMM, an attention and a memory-bound kernel timed
// alone and while the communication-like kernel (CommCopyLoop) runs with B blocks on
// another stream; slowdown = concurrent median / alone median (at least 1, the table's
// contract; a ratio below 1 is measurement noise).
#ifndef ECHOSIM_KERNELS_HARNESS_GPU_RUNNER_H_
#define ECHOSIM_KERNELS_HARNESS_GPU_RUNNER_H_

#include <cuda_runtime.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "kernels/cuda/gemm_lt.h"
#include "kernels/harness/calibration_yaml.h"
#include "kernels/harness/op_spec.h"
#include "simulator/core/status.h"

namespace echosim::kernels {

struct RunOptions {
  int warmup = 5, repeats = 30;
  bool flush_l2 = true;
};

// Device memory owned jointly by the closures that use it.
using DeviceBuffer = std::shared_ptr<void>;

class GpuRunner {
 public:
  explicit GpuRunner(const DeviceInfo& device);
  ~GpuRunner();
  GpuRunner(const GpuRunner&) = delete;
  GpuRunner& operator=(const GpuRunner&) = delete;

  // Allocates `bytes` of device memory, or FailedPrecondition naming `what` when it does
  // not fit in the free memory.
  StatusOr<DeviceBuffer> Alloc(int64_t bytes, const std::string& what);

  struct Prepared {
    std::string kernel;                      // what runs
    std::function<void(cudaStream_t)> run;   // one launch of the op's work
  };
  // Buffers filled with deterministic pseudo-random data; FailedPrecondition when the
  // device cannot run the op (fp8 before compute capability 8.9, out of memory).
  StatusOr<Prepared> Prepare(const OpSpec& op);
  TimingStats Time(const std::function<void(cudaStream_t)>& fn, const RunOptions& o, cudaStream_t s);
  StatusOr<MeasuredOp> Measure(const OpSpec& op, const RunOptions& o);
  // False once the CUDA context is unusable (a kernel faulted): later ops would fail too.
  bool ContextHealthy();
  // Writes the interference CSV (class,channels,sm_count,slowdown) to `csv`.
  Status Interference(const std::vector<int>& blocks, bool ll, const RunOptions& o, std::ostream& csv);

  // Flash attention runs on tensor cores (attention_tc.cu) when set.
  void set_tensor_core_attention(bool on) { tc_attention_ = on; }
  bool tensor_core_attention() const { return tc_attention_; }
  cuda::GemmLt& gemm() { return *gemm_; }
  cudaStream_t stream() const { return stream_; }
  const DeviceInfo& device() const { return device_; }

 private:
  DeviceInfo device_;
  std::unique_ptr<cuda::GemmLt> gemm_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  DeviceBuffer flush_;
  int64_t flush_bytes_ = 0;
  bool tc_attention_ = false;
};

}  // namespace echosim::kernels

#endif  // ECHOSIM_KERNELS_HARNESS_GPU_RUNNER_H_
