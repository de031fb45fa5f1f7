// ComputeCostModel: duration of one compute operator on one GPU.
//
// Roofline with achievable-efficiency curves (Williams et al. 2009 roofline):
//   t = max(flops / (peak(dtype) * eff), bytes / (hbm_bw * memory_efficiency)) + kernel_overhead
// GEMM efficiency depends on shape (see hardware/gpus/*.yaml header):
//   eff = gemm_max_efficiency * d / (d + gemm_min_dim_half) * F / (F + gemm_flops_half),
//   d = min(m, n, k), F = 2mnk * the GEMMs in flight (the whole batch, or
//   ComputeOp::concurrency of them for a grouped GEMM issued GEMM by GEMM, which also pays
//   the kernel overhead once per wave). Both size terms are fitted per GPU to its cuBLASLt
//   sweep; gemm_flops_half is scaled by the op's peak relative to the sweep's
//   precision (GpuSpec::GemmFlopsHalf), and FP4 may have its own terms.
// Fused attention uses attention_efficiency; memory-bound ops and the optimizer only the
// bandwidth term. Without a kernel calibration, GpuSpec::sustained_tensor_rate multiplies the
// GEMM plateaus and attention_efficiency (the part of those benchmark rates a training step
// holds on that GPU; 1 unless its preset states a fitted value). Results are memoised per
// distinct op shape, so a 96-layer model costs a dozen evaluations. Deterministic.
//
// With a kernel calibration (hardware/kernel_calibration.h) the curve's parameters are the
// ones fitted to kernels measured on the GPU, and an op whose shape was measured takes the
// measured median. With measured kernel times (`--compute-backend gpu`) every op found there
// takes its measured time. The sustained factor scales GEMM and attention times from every
// source: it converts an isolated kernel's rate into the rate a training job sustains.
#ifndef ECHOSIM_HARDWARE_COMPUTE_COST_MODEL_H_
#define ECHOSIM_HARDWARE_COMPUTE_COST_MODEL_H_

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "hardware/gpu_spec.h"
#include "hardware/kernel_calibration.h"
#include "models/ops.h"
#include "simulator/core/time.h"

namespace echosim {

class ComputeCostModel {
 public:
  // Minimum duration of any kernel (launch ramp, tail): 2 us, the order of an empty
  // kernel's GPU time on A100/H100.
  static constexpr double kKernelOverheadS = 2e-6;

  // `sustained_factor` (0, 1] scales the GEMM and attention throughput: the share of the
  // micro-benchmarked rate a training job sustains (see hardware/calibration/training.yaml).
  explicit ComputeCostModel(GpuSpec gpu, double sustained_factor = 1.0,
                            std::shared_ptr<const ComputeCalibration> calibration = nullptr,
                            std::shared_ptr<const MeasuredKernelTimes> measured = nullptr);

  Duration Estimate(const ComputeOp& op);
  // Achieved fraction of peak FLOP/s the model assumes for a GEMM (for reports and tests).
  double GemmEfficiency(const ComputeOp& op) const;
  const GpuSpec& gpu() const { return gpu_; }
  // The parameters the roofline uses (fitted, or the GPU preset's datasheet values).
  const FittedComputeParams& params() const { return params_; }
  // Keeps every distinct op shape (kernel family included) for distinct_ops(); call first.
  void RecordDistinctOps() { record_ = true; }
  // Every distinct op shape estimated so far, in first-seen order (what a run would measure;
  // sliding-window attention, which the kernel harness does not run, is left out).
  const std::vector<ComputeOp>& distinct_ops() const { return distinct_; }
  // Ops estimated from the curve although measured times were given (not found there).
  int64_t measured_misses() const { return measured_misses_; }

 private:
  double EstimateSeconds(const ComputeOp& op);

  GpuSpec gpu_;
  double sustained_ = 1.0;
  std::shared_ptr<const ComputeCalibration> calibration_;
  std::shared_ptr<const MeasuredKernelTimes> measured_;
  FittedComputeParams params_;
  using Key = std::tuple<int, int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, double, double,
                         std::string>;
  std::map<Key, Duration> memo_;
  std::vector<ComputeOp> distinct_;
  int64_t measured_misses_ = 0;
  bool record_ = false;
};

}  // namespace echosim

#endif  // ECHOSIM_HARDWARE_COMPUTE_COST_MODEL_H_
