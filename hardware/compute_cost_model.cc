#include "hardware/compute_cost_model.h"

#include <algorithm>

#include "simulator/core/status.h"

namespace echosim {

ComputeCostModel::ComputeCostModel(GpuSpec gpu, double sustained_factor,
                                   std::shared_ptr<const ComputeCalibration> calibration,
                                   std::shared_ptr<const MeasuredKernelTimes> measured)
    : gpu_(std::move(gpu)),
      sustained_(sustained_factor),
      calibration_(std::move(calibration)),
      measured_(std::move(measured)) {
  params_ = calibration_ ? calibration_->params : DatasheetParams(gpu_);
}

namespace {

bool Banded(const ComputeOp& op) { return op.cls == OpClass::kAttention && op.attention_window > 0; }

}  // namespace

double ComputeCostModel::GemmEfficiency(const ComputeOp& op) const {
  return GemmCurveEfficiency(params_, op);
}

double ComputeCostModel::EstimateSeconds(const ComputeOp& op) {
  const bool scaled = op.cls == OpClass::kGemm || op.cls == OpClass::kAttention;
  const double scale = scaled ? 1.0 / sustained_ : 1.0;
  // The kernel harness runs attention causal, without a band: a sliding-window kernel is
  // neither measured nor looked up there, and takes its measured window rate from the roofline.
  if (Banded(op)) return RooflineSeconds(gpu_, params_, op, sustained_);
  if (measured_) {
    auto it = measured_->seconds.find(KernelShapeKey(op));
    if (it != measured_->seconds.end()) return it->second * scale;
    ++measured_misses_;
  }
  if (calibration_ && calibration_->use_exact_samples) {
    auto it = calibration_->sample_s.find(KernelShapeKey(op));
    if (it != calibration_->sample_s.end()) return it->second * scale;
  }
  // params_: the calibration's fitted curve, or the GPU file's datasheet values.
  return RooflineSeconds(gpu_, params_, op, sustained_);
}

Duration ComputeCostModel::Estimate(const ComputeOp& op) {
  // The kernel family (from the name) only matters where a calibration or measured times
  // tell kernels apart, or where the forward and backward differ (attention dropout);
  // otherwise it stays empty so the memo stays small.
  // The class, whether a GEMM-class op is priced as a chunked scan (ComputeOp::chunked_scan)
  // or runs on block-scaled operands (ComputeOp::block_scaled), whether an attention
  // kernel applies dropout (ComputeOp::dropout), and its sliding window.
  const Key key{8 * static_cast<int>(op.cls) + (op.chunked_scan ? 1 : 0) + (op.dropout ? 2 : 0) +
                    (op.block_scaled ? 4 : 0),
                static_cast<int>(op.dtype),
                op.m, op.n, op.k, op.batch,
                op.concurrency, op.attention_window, op.flops, op.bytes,
                calibration_ || measured_ || record_ || op.dropout ? KernelFamily(op) : std::string()};
  auto it = memo_.find(key);
  if (it != memo_.end()) return it->second;
  const double s = EstimateSeconds(op);
  ECHOSIM_CHECK(s >= 0 && s < 1e6);
  const Duration d = SecondsToDuration(s);
  memo_.emplace(key, d);
  if (record_ && !Banded(op)) distinct_.push_back(op);
  return d;
}

}  // namespace echosim
