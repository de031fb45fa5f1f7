#include "tracer/compute_scaling.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

std::string Lower(const std::string& s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool HasAny(const std::string& s, std::initializer_list<const char*> words) {
  for (const char* w : words) {
    if (s.find(w) != std::string::npos) return true;
  }
  return false;
}

const char* ClassKey(OpClass c) { return OpClassName(c); }

// An op of class `c` whose size is `x` (GEMM side, attention FLOP, bytes).
ComputeOp SizedOp(OpClass c, double x) {
  ComputeOp op;
  op.cls = c;
  op.dtype = DType::kBf16;
  switch (c) {
    case OpClass::kGemm: {
      const int64_t d = std::max<int64_t>(1, std::llround(x));
      op.m = op.n = op.k = d;
      op.flops = 2.0 * static_cast<double>(d) * d * d;
      op.bytes = 6.0 * static_cast<double>(d) * d;
      break;
    }
    case OpClass::kAttention:
      op.flops = x;
      op.bytes = x / 128.0;
      break;
    case OpClass::kMemoryBound:
    case OpClass::kOptimizer:
      op.bytes = x;
      break;
  }
  return op;
}

// Bucket of a duration for memoisation: 0.5% steps on a log scale.
int64_t Bucket(Duration d) { return std::llround(std::log(static_cast<double>(std::max<Duration>(d, 1))) * 200.0); }

}  // namespace

std::string GpuPresetForDevice(const std::string& device_name, double memory_bytes) {
  const std::string n = Lower(device_name);
  if (n.empty()) return "";
  if (HasAny(n, {"gb200"})) return "gb200";
  if (HasAny(n, {"gb300"})) return "gb300";
  if (HasAny(n, {"b300"})) return "b300";
  if (HasAny(n, {"b200"})) return "b200";
  if (HasAny(n, {"h200"})) return "h200";
  if (HasAny(n, {"h800"})) return "h800";
  if (HasAny(n, {"h100"})) return "h100-sxm";
  if (HasAny(n, {"a100"})) {
    if (HasAny(n, {"80gb"})) return "a100-80gb";
    if (HasAny(n, {"40gb"})) return "a100-40gb";
    if (memory_bytes > 0) return memory_bytes < 60e9 ? "a100-40gb" : "a100-80gb";
    return "a100-80gb";
  }
  return "";
}

std::optional<OpClass> ClassifyKernelName(const std::string& name) {
  const std::string n = Lower(name);
  if (HasAny(n, {"flash", "fmha", "attention", "attn", "sdpa", "_mha"})) return OpClass::kAttention;
  if (HasAny(n, {"adam", "optimizer", "sgd_", "lamb"})) return OpClass::kOptimizer;
  if (HasAny(n, {"gemm", "xmma", "cutlass", "cublas", "matmul", "nvjet", "wgmma", "mma_", "scudnn",
                 "conv"})) {
    return OpClass::kGemm;
  }
  if (HasAny(n, {"elementwise", "vectorized", "reduce", "softmax", "norm", "copy", "fill",
                 "gelu", "silu", "swiglu", "dropout", "embedding", "index", "cat_", "transpose",
                 "unrolled", "scatter", "gather", "cross_entropy", "rotary", "rope", "bias",
                 "add", "mul", "nchw", "nhwc", "bn_fw", "bn_bw", "batch_norm", "pool", "relu"})) {
    return OpClass::kMemoryBound;
  }
  return std::nullopt;
}

std::optional<OpClass> ParseOpClass(const std::string& name) {
  for (OpClass c : {OpClass::kGemm, OpClass::kAttention, OpClass::kMemoryBound, OpClass::kOptimizer}) {
    if (name == ClassKey(c)) return c;
  }
  return std::nullopt;
}

ComputeScaler::ComputeScaler(const GpuSpec& traced, const GpuSpec& target)
    : traced_(traced), target_(target), traced_model_(traced), target_model_(target) {}

double ComputeScaler::SpecRatio(OpClass c) const {
  auto rate = [&](const GpuSpec& g) {
    switch (c) {
      case OpClass::kGemm:
        return g.PeakFlopsPerS(DType::kBf16) * g.gemm_max_efficiency_bf16 * g.sustained_tensor_rate;
      case OpClass::kAttention:
        return g.PeakFlopsPerS(DType::kBf16) * g.attention_efficiency * g.sustained_tensor_rate;
      case OpClass::kMemoryBound:
      case OpClass::kOptimizer: return g.HbmBytesPerS() * g.memory_efficiency;
    }
    return 0.0;
  };
  const double a = rate(traced_), b = rate(target_);
  return a > 0 && b > 0 ? a / b : 1.0;
}

double ComputeScaler::ModelRatio(OpClass c, Duration d, bool* by_model) {
  const auto key = std::make_pair(static_cast<int>(c), Bucket(d));
  auto it = memo_.find(key);
  if (it != memo_.end()) {
    *by_model = it->second.second;
    return it->second.first;
  }
  const double want = std::exp(static_cast<double>(key.second) / 200.0);
  double lo = 1, hi = c == OpClass::kGemm ? 131072.0 : c == OpClass::kAttention ? 1e18 : 1e15;
  auto traced_ps = [&](double x) { return static_cast<double>(traced_model_.Estimate(SizedOp(c, x))); };
  if (c == OpClass::kGemm) {
    // The GEMM curve's size terms make a degenerate GEMM (sides of a few elements) slower than a
    // small real one: search the sizes from the fastest side up, where time grows with size.
    double best = traced_ps(lo);
    for (double x = 2; x <= 4096; x *= 2) {
      const double t = traced_ps(x);
      if (t < best) best = t, lo = x;
    }
  }
  double ratio = 1;
  bool model = true;
  if (want > traced_ps(hi)) {
    ratio = SpecRatio(c);  // slower than any kernel of its class on the traced GPU
    model = false;
  } else {
    double x = lo;
    if (want > traced_ps(lo)) {
      for (int i = 0; i < 64; ++i) {
        const double mid = c == OpClass::kGemm ? std::floor((lo + hi) / 2) : std::sqrt(lo * hi);
        if (mid <= lo || mid >= hi) break;
        (traced_ps(mid) < want ? lo : hi) = mid;
      }
      x = hi;
    }
    const ComputeOp op = SizedOp(c, x);
    ratio = static_cast<double>(target_model_.Estimate(op)) /
            static_cast<double>(traced_model_.Estimate(op));
  }
  memo_[key] = {ratio, model};
  *by_model = model;
  return ratio;
}

Duration ComputeScaler::Scale(const TraceNode& node) {
  if (node.on_cpu || node.is_comm()) return node.duration;
  const std::string lname = Lower(node.name);
  std::optional<OpClass> cls;
  bool known = true;
  if (node.kind == TraceNodeKind::kMemory) {
    if (!HasAny(lname, {"dtod", "memset", "device to device", "d2d"})) {
      ++unscaled_.kernels;
      unscaled_.traced += node.duration;
      return node.duration;
    }
    cls = OpClass::kMemoryBound;
  } else if (lname.rfind("nccl", 0) == 0) {
    // NCCL kernels the importer kept as compute (send/recv without a peer): communication.
    ++unscaled_.kernels;
    unscaled_.traced += node.duration;
    return node.duration;
  } else {
    cls = node.op_class.empty() ? ClassifyKernelName(node.name) : ParseOpClass(node.op_class);
    if (!cls) {
      known = false;
      cls = OpClass::kMemoryBound;
    }
  }
  Stats& st = stats_[known ? ClassKey(*cls) : "unknown"];
  double ratio = 1;
  if (known && node.duration > 0) {
    bool by_model = true;
    ratio = ModelRatio(*cls, node.duration, &by_model);
    ++(by_model ? st.by_model : st.by_spec);
  } else {
    ratio = SpecRatio(*cls);
    ++st.by_spec;
  }
  // Clamped far below the int64 range (corrupt durations must not overflow).
  const double scaled = std::min(static_cast<double>(node.duration) * ratio, 4e18);
  const Duration out = static_cast<Duration>(std::llround(scaled));
  ++st.kernels;
  st.traced += node.duration;
  st.scaled += out;
  return out;
}

nlohmann::json ComputeScaler::Summary() const {
  nlohmann::json j;
  j["traced_gpu"] = traced_.name;
  j["target_gpu"] = target_.name;
  nlohmann::json classes = nlohmann::json::object();
  for (const auto& [name, st] : stats_) {
    const double t = DurationToSeconds(st.traced), s = DurationToSeconds(st.scaled);
    std::string method;
    if (st.by_model > 0) {
      method = "compute cost model, op of the class sized to the recorded duration";
    }
    if (st.by_spec > 0) {
      if (!method.empty()) method += "; ";
      method += name == "unknown" ? "HBM bandwidth ratio of the GPU specs (unrecognised kernel names)"
                : name == "gemm"  ? "bf16 peak x GEMM efficiency ratio of the GPU specs"
                : name == "attention" ? "bf16 peak x attention efficiency ratio of the GPU specs"
                                      : "HBM bandwidth ratio of the GPU specs";
    }
    classes[name] = {{"kernels", st.kernels},
                     {"kernels_by_cost_model", st.by_model},
                     {"kernels_by_spec_ratio", st.by_spec},
                     {"traced_s", t},
                     {"scaled_s", s},
                     {"ratio", t > 0 ? s / t : 1.0},
                     {"method", method}};
  }
  j["classes"] = classes;
  j["unscaled"] = {{"kernels", unscaled_.kernels},
                   {"s", DurationToSeconds(unscaled_.traced)},
                   {"what", "host-device copies and NCCL kernels without a peer keep their durations"}};
  return j;
}

}  // namespace echosim
