#include "simulator/serving/iteration_cost.h"

#include <algorithm>
#include <cmath>
#include <variant>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

// Memo tables are dense up to this many tokens, hashed beyond.
constexpr int64_t kDenseMemo = 1 << 16;
constexpr Duration kUnknown = -1;
// Probe sizes for reading the attention roofline: large enough that picosecond rounding is
// below 1e-9 of the rate.
constexpr double kProbeFlops = 1e18;
constexpr double kProbeBytes = 1e16;

}  // namespace

IterationCostModel::IterationCostModel(ModelSpec model, GpuSpec gpu, InferenceConfig config,
                                       TopologyConfig topology, double cpu_overhead_per_iteration_s,
                                       double cpu_overhead_per_seq_s, double cpu_overhead_per_new_request_s,
                                       std::shared_ptr<const ComputeCalibration> calibration)
    : model_(std::move(model)),
      gpu_(gpu),
      config_(config),
      topology_(topology),
      compute_(std::move(gpu), 1.0, std::move(calibration)),
      comm_(&topology_),
      cpu_base_s_(cpu_overhead_per_iteration_s),
      cpu_per_seq_s_(cpu_overhead_per_seq_s),
      cpu_per_new_request_s_(cpu_overhead_per_new_request_s) {
  tp_group_ = topology_.ShapeOfStrided(0, 1, config_.tp);
  ComputeOp probe;
  probe.cls = OpClass::kAttention;
  probe.dtype = DType::kBf16;
  const double empty = DurationToSeconds(compute_.Estimate(probe));
  probe.flops = kProbeFlops;
  attn_s_per_flop_ = (DurationToSeconds(compute_.Estimate(probe)) - empty) / kProbeFlops;
  probe.flops = 0;
  probe.bytes = kProbeBytes;
  attn_s_per_byte_ = (DurationToSeconds(compute_.Estimate(probe)) - empty) / kProbeBytes;
  kernel_overhead_s_ = empty;
}

Duration IterationCostModel::StepsTime(const std::vector<LayerStep>& steps) {
  Duration t = 0;
  for (const LayerStep& s : steps) {
    if (const auto* op = std::get_if<ComputeOp>(&s)) {
      t += compute_.Estimate(*op);
    } else {
      const CommOp& c = std::get<CommOp>(s);
      t += comm_.Estimate(c.kind, c.bytes, tp_group_);
    }
  }
  return t;
}

Duration IterationCostModel::Lookup(std::vector<Duration>* table,
                                    std::unordered_map<int64_t, Duration>* big, int64_t key) {
  if (key < kDenseMemo) {
    if (static_cast<int64_t>(table->size()) <= key) {
      table->resize(static_cast<size_t>(std::min<int64_t>(kDenseMemo, std::max<int64_t>(key + 1, 2 * table->size()))),
                    kUnknown);
    }
    return (*table)[static_cast<size_t>(key)];
  }
  auto it = big->find(key);
  return it == big->end() ? kUnknown : it->second;
}

Duration IterationCostModel::LinearLayerTime(int64_t tokens) {
  if (tokens <= 0) return 0;
  Duration t = Lookup(&linear_, &linear_big_, tokens);
  if (t != kUnknown) return t;
  t = grid_.empty() ? LinearExact(tokens) : Interpolated(tokens, &IterationCostModel::LinearExact);
  if (tokens < kDenseMemo) linear_[static_cast<size_t>(tokens)] = t; else linear_big_[tokens] = t;
  return t;
}

Duration IterationCostModel::EmbeddingTime(int64_t tokens) {
  if (tokens <= 0) return 0;
  Duration t = Lookup(&embed_, &embed_big_, tokens);
  if (t != kUnknown) return t;
  t = grid_.empty() ? EmbeddingExact(tokens) : Interpolated(tokens, &IterationCostModel::EmbeddingExact);
  if (tokens < kDenseMemo) embed_[static_cast<size_t>(tokens)] = t; else embed_big_[tokens] = t;
  return t;
}

Duration IterationCostModel::HeadTime(int64_t sampled) {
  if (sampled <= 0) return 0;
  Duration t = Lookup(&head_, &head_big_, sampled);
  if (t != kUnknown) return t;
  t = grid_.empty() ? HeadExact(sampled) : Interpolated(sampled, &IterationCostModel::HeadExact);
  if (sampled < kDenseMemo) head_[static_cast<size_t>(sampled)] = t; else head_big_[sampled] = t;
  return t;
}

Duration IterationCostModel::AttentionLayerTime(const AttentionWork& w) const {
  // Same operators as InferenceAttentionOps, costed with the roofline read at construction.
  const double d = static_cast<double>(model_.head_dim());
  const double hq = static_cast<double>(model_.heads / config_.tp);
  const double hkv = static_cast<double>(std::max<int64_t>(1, model_.kv_heads / config_.tp));
  const double kv_e = KvElementBytes(config_.kv_dtype);
  double s = 0;
  if (w.prefill_tokens > 0) {
    const double flops = 4.0 * d * hq * w.prefill_pairs;
    const double bytes = 2.0 * static_cast<double>(w.prefill_tokens) * hq * d * 2.0 +
                         2.0 * w.prefill_kv_tokens * hkv * d * kv_e;
    s += std::max(flops * attn_s_per_flop_, bytes * attn_s_per_byte_) + kernel_overhead_s_;
  }
  if (w.decode_tokens > 0) {
    const double flops = 4.0 * d * hq * w.decode_context_tokens;
    const double bytes = 2.0 * static_cast<double>(w.decode_tokens) * hq * d * 2.0 +
                         2.0 * w.decode_context_tokens * hkv * d * kv_e;
    s += std::max(flops * attn_s_per_flop_, bytes * attn_s_per_byte_) + kernel_overhead_s_;
  }
  return SecondsToDuration(s);
}

Duration IterationCostModel::StageSendTime(int64_t tokens) const {
  if (config_.pp <= 1 || tokens <= 0) return 0;
  // Stage boundaries cross nodes when a replica spans more than one node.
  GroupShape pair;
  pair.size = 2;
  const int64_t gpus = config_.tp * config_.pp;
  pair.nodes = gpus > topology_.config().gpus_per_node ? 2 : 1;
  pair.per_node = pair.nodes == 2 ? 1 : 2;
  return comm_.Estimate(CollectiveKind::kSendRecv,
                        static_cast<double>(tokens) * model_.hidden * 2.0, pair);
}

Duration IterationCostModel::GpuTime(const BatchWork& w) {
  if (w.tokens <= 0) return 0;
  const Duration per_layer = LinearLayerTime(w.tokens) + AttentionLayerTime(w.attention);
  return per_layer * model_.layers + EmbeddingTime(w.tokens) + HeadTime(w.sampled) +
         (config_.pp - 1) * StageSendTime(w.tokens);
}

std::vector<int64_t> IterationCostModel::MeasurementTokens(int64_t max_tokens) {
  std::vector<int64_t> grid;
  max_tokens = std::max<int64_t>(1, max_tokens);
  for (int64_t t = 1; t < max_tokens; t *= 2) grid.push_back(t);
  grid.push_back(max_tokens);
  return grid;
}

std::vector<AttentionWork> IterationCostModel::MeasurementWorks(const std::vector<int64_t>& grid,
                                                                int64_t max_context) const {
  const int64_t max_tokens = grid.empty() ? 1 : grid.back();
  max_context = std::max<int64_t>(16, max_context);
  std::vector<AttentionWork> works;
  for (int64_t b : {1, 8, 64, 256}) {
    if (b > max_tokens && b != 1) continue;
    for (int64_t c : {std::min<int64_t>(512, max_context), std::min<int64_t>(4096, max_context), max_context}) {
      AttentionWork w;
      w.decode_tokens = b;
      w.decode_context_tokens = static_cast<double>(b) * static_cast<double>(c);
      works.push_back(w);
    }
  }
  for (int64_t q : {std::min<int64_t>(128, max_tokens), std::min<int64_t>(1024, max_tokens), max_tokens}) {
    AttentionWork w;  // one prompt of q tokens, nothing cached
    w.prefill_tokens = q;
    w.prefill_pairs = 0.5 * static_cast<double>(q) * static_cast<double>(q + 1);
    w.prefill_kv_tokens = static_cast<double>(q);
    works.push_back(w);
  }
  return works;
}

std::vector<ComputeOp> IterationCostModel::MeasurementOps(const std::vector<int64_t>& grid,
                                                          int64_t max_context) const {
  std::vector<ComputeOp> ops;
  auto add = [&](const std::vector<LayerStep>& steps) {
    for (const LayerStep& s : steps) {
      if (const auto* op = std::get_if<ComputeOp>(&s)) ops.push_back(*op);
    }
  };
  for (int64_t t : grid) {
    add(InferenceLayerOps(model_, t, config_));
    add(InferenceEmbeddingOps(model_, t, config_));
    add(InferenceHeadOps(model_, t, config_));
  }
  for (const AttentionWork& w : MeasurementWorks(grid, max_context)) {
    for (const ComputeOp& op : InferenceAttentionOps(model_, w, config_)) ops.push_back(op);
  }
  return ops;
}

Status IterationCostModel::UseMeasuredKernels(std::shared_ptr<const MeasuredKernelTimes> times,
                                              std::vector<int64_t> grid, int64_t max_context) {
  if (grid.empty() || !std::is_sorted(grid.begin(), grid.end()) || grid.front() < 1) {
    return InvalidArgument("measured kernels need an increasing grid of token counts");
  }
  // The per-kernel overhead and the attention rates from the measured kernels.
  std::vector<KernelSample> memory;
  for (const ComputeOp& op : MeasurementOps(grid, max_context)) {
    auto it = times->seconds.find(KernelShapeKey(op));
    if (it == times->seconds.end()) {
      return Internal(StrCat("measured kernels lack op ", op.name, " (", KernelShapeKey(op), ")"));
    }
    if (op.cls == OpClass::kMemoryBound) {
      KernelSample s;
      s.op = op;
      s.median_us = it->second * 1e6;
      memory.push_back(s);
    }
  }
  const FittedComputeParams fit = FitKernelSamples(gpu_, memory);
  const double overhead = fit.memory.fitted ? fit.memory.overhead_s : kernel_overhead_s_;
  std::vector<double> per_byte, per_flop;
  for (const AttentionWork& w : MeasurementWorks(grid, max_context)) {
    for (const ComputeOp& op : InferenceAttentionOps(model_, w, config_)) {
      const double t = times->seconds.at(KernelShapeKey(op)) - overhead;
      if (t <= 0) continue;
      if (w.decode_tokens > 0 && op.bytes > 0) per_byte.push_back(t / op.bytes);
      if (w.prefill_tokens > 0 && op.flops > 0) per_flop.push_back(t / op.flops);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  };
  if (!per_byte.empty()) attn_s_per_byte_ = median(per_byte);
  if (!per_flop.empty()) attn_s_per_flop_ = median(per_flop);
  kernel_overhead_s_ = overhead;
  compute_ = ComputeCostModel(gpu_, 1.0, nullptr, std::move(times));
  grid_ = std::move(grid);
  linear_.clear();
  embed_.clear();
  head_.clear();
  linear_big_.clear();
  embed_big_.clear();
  head_big_.clear();
  return Status::Ok();
}

Duration IterationCostModel::Interpolated(int64_t tokens, Duration (IterationCostModel::*exact)(int64_t)) {
  auto hi = std::lower_bound(grid_.begin(), grid_.end(), tokens);
  if (hi != grid_.end() && *hi == tokens) return (this->*exact)(tokens);
  if (hi == grid_.begin()) return (this->*exact)(*hi);  // below the first point (not reached: it is 1)
  if (hi == grid_.end()) {
    if (grid_.size() < 2) return (this->*exact)(grid_.back());
    hi = grid_.end() - 1;  // extrapolate from the last two points
  }
  const int64_t x1 = *hi, x0 = *(hi - 1);
  const double y0 = static_cast<double>((this->*exact)(x0)), y1 = static_cast<double>((this->*exact)(x1));
  const double y = y0 + (y1 - y0) * static_cast<double>(tokens - x0) / static_cast<double>(x1 - x0);
  return static_cast<Duration>(std::llround(std::max(0.0, y)));
}

Duration IterationCostModel::CpuOverhead(int64_t seqs, int64_t new_requests) const {
  return SecondsToDuration(cpu_base_s_ + cpu_per_seq_s_ * static_cast<double>(seqs) +
                           cpu_per_new_request_s_ * static_cast<double>(new_requests));
}

}  // namespace echosim
