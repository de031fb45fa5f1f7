// ComputeCostModel: duration of one compute operator on one GPU.
//
// Roofline with achievable-efficiency curves (Williams et al. 2009 roofline):
//   t = max(flops / (peak(dtype) * eff), bytes / (hbm_bw * memory_efficiency)) + kernel_overhead
// GEMM efficiency depends on shape (see hardware/gpus/*.yaml header):
//   eff = gemm_max_efficiency * d / (d + gemm_min_dim_half) * F / (F + gemm_flops_half),
//   d = min(m, n, k), F = 2mnk * batch (the whole launch).
// Fused attention uses attention_efficiency; memory-bound ops and the optimizer only the
// bandwidth term. Results are memoised per distinct op shape, so a 96-layer model costs
// a dozen evaluations. Deterministic.
#ifndef ECHOSIM_HARDWARE_COMPUTE_COST_MODEL_H_
#define ECHOSIM_HARDWARE_COMPUTE_COST_MODEL_H_

#include <map>
#include <tuple>

#include "hardware/gpu_spec.h"
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
  explicit ComputeCostModel(GpuSpec gpu, double sustained_factor = 1.0)
      : gpu_(std::move(gpu)), sustained_(sustained_factor) {}

  Duration Estimate(const ComputeOp& op);
  // Achieved fraction of peak FLOP/s the model assumes for a GEMM (for reports and tests).
  double GemmEfficiency(const ComputeOp& op) const;
  const GpuSpec& gpu() const { return gpu_; }

 private:
  double EstimateSeconds(const ComputeOp& op) const;

  GpuSpec gpu_;
  double sustained_ = 1.0;
  using Key = std::tuple<int, int, int64_t, int64_t, int64_t, int64_t, double, double>;
  std::map<Key, Duration> memo_;
};

}  // namespace echosim

#endif  // ECHOSIM_HARDWARE_COMPUTE_COST_MODEL_H_
