#include "simulator/serving/iteration_cost.h"

#include <algorithm>
#include <cmath>
#include <variant>

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
  t = StepsTime(InferenceLayerOps(model_, tokens, config_));
  if (tokens < kDenseMemo) linear_[static_cast<size_t>(tokens)] = t; else linear_big_[tokens] = t;
  return t;
}

Duration IterationCostModel::EmbeddingTime(int64_t tokens) {
  if (tokens <= 0) return 0;
  Duration t = Lookup(&embed_, &embed_big_, tokens);
  if (t != kUnknown) return t;
  t = StepsTime(InferenceEmbeddingOps(model_, tokens, config_));
  if (tokens < kDenseMemo) embed_[static_cast<size_t>(tokens)] = t; else embed_big_[tokens] = t;
  return t;
}

Duration IterationCostModel::HeadTime(int64_t sampled) {
  if (sampled <= 0) return 0;
  Duration t = Lookup(&head_, &head_big_, sampled);
  if (t != kUnknown) return t;
  t = StepsTime(InferenceHeadOps(model_, sampled, config_));
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

Duration IterationCostModel::CpuOverhead(int64_t seqs, int64_t new_requests) const {
  return SecondsToDuration(cpu_base_s_ + cpu_per_seq_s_ * static_cast<double>(seqs) +
                           cpu_per_new_request_s_ * static_cast<double>(new_requests));
}

}  // namespace echosim
