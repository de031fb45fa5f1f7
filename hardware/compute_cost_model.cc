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

double ComputeCostModel::GemmEfficiency(const ComputeOp& op) const {
  const double max_eff = op.dtype == DType::kFp4   ? gpu_.gemm_max_efficiency_fp4
                         : op.dtype == DType::kFp8 ? gpu_.gemm_max_efficiency_fp8
                                                   : gpu_.gemm_max_efficiency_bf16;
  const double d = static_cast<double>(std::min({op.m, op.n, op.k}));
  // The fill term sees the whole launch: a batched GEMM of many small matrices fills the
  // GPU's SMs as well as one large GEMM of the same total work.
  const double f = 2.0 * static_cast<double>(op.m) * op.n * op.k * static_cast<double>(op.batch);
  const bool fp4 = op.dtype == DType::kFp4;
  return max_eff * d / (d + gpu_.GemmMinDimHalf(fp4)) * f / (f + gpu_.GemmFlopsHalf(op.dtype));
}

double ComputeCostModel::EstimateSeconds(const ComputeOp& op) {
  const bool scaled = op.cls == OpClass::kGemm || op.cls == OpClass::kAttention;
  const double scale = scaled ? 1.0 / sustained_ : 1.0;
  if (measured_) {
    auto it = measured_->seconds.find(KernelShapeKey(op));
    if (it != measured_->seconds.end()) return it->second * scale;
    ++measured_misses_;
  }
  if (calibration_) {
    if (calibration_->use_exact_samples) {
      auto it = calibration_->sample_s.find(KernelShapeKey(op));
      if (it != calibration_->sample_s.end()) return it->second * scale;
    }
    return RooflineSeconds(gpu_, params_, op, sustained_);
  }
  const double mem_bw = gpu_.HbmBytesPerS() * gpu_.memory_efficiency;
  const double t_mem = op.bytes / mem_bw;
  double t_compute = 0;
  switch (op.cls) {
    case OpClass::kGemm:
      t_compute = op.flops / (gpu_.PeakFlopsPerS(op.dtype) * GemmEfficiency(op) * sustained_);
      break;
    case OpClass::kAttention:
      // The op's dtype is its matmul precision (16-bit unless fp8 attention was asked for).
      // FP8 attention is taken to reach the same fraction of the fp8 peak as 16-bit attention
      // does of the 16-bit peak: cuDNN's causal forward, head dim 256, 4K tokens on H100
      // reaches 483 TFLOP/s in BF16 and 1015 in FP8 (FlashAttention-3 paper, Shah et al.
      // 2024, arXiv 2407.08608, Figs. 5 and 7): 0.49 and 0.51 of the datasheet peaks.
      // Below the head dim the efficiency was measured at, the softmax share lowers the rate
      // (AttentionHeadDimFactor).
      t_compute = op.flops / (gpu_.PeakFlopsPerS(op.dtype) * gpu_.attention_efficiency *
                              AttentionHeadDimFactor(op.k, gpu_.attention_head_dim) * sustained_);
      break;
    case OpClass::kMemoryBound:
    case OpClass::kOptimizer:
      break;
  }
  return std::max(t_compute, t_mem) + kKernelOverheadS;
}

Duration ComputeCostModel::Estimate(const ComputeOp& op) {
  // The kernel family (from the name) only matters where a calibration or measured times
  // tell kernels apart; without them it stays empty so the memo stays small.
  const Key key{static_cast<int>(op.cls), static_cast<int>(op.dtype), op.m, op.n, op.k, op.batch,
                op.flops, op.bytes,
                calibration_ || measured_ || record_ ? KernelFamily(op) : std::string()};
  auto it = memo_.find(key);
  if (it != memo_.end()) return it->second;
  const double s = EstimateSeconds(op);
  ECHOSIM_CHECK(s >= 0 && s < 1e6);
  const Duration d = SecondsToDuration(s);
  memo_.emplace(key, d);
  if (record_) distinct_.push_back(op);
  return d;
}

}  // namespace echosim
