#include "hardware/kernel_calibration.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "simulator/core/strings.h"
#include "simulator/core/yaml_load.h"

namespace echosim {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 40;

StatusOr<OpClass> ParseOpClass(const std::string& field, const std::string& v) {
  return ParseChoice<OpClass>(field, v,
                              {{"gemm", OpClass::kGemm},
                               {"attention", OpClass::kAttention},
                               {"memory_bound", OpClass::kMemoryBound},
                               {"optimizer", OpClass::kOptimizer}});
}

StatusOr<DType> ParseDType(const std::string& field, const std::string& v) {
  return ParseChoice<DType>(field, v, {{"bf16", DType::kBf16}, {"fp16", DType::kFp16}, {"fp8", DType::kFp8}});
}

// Checks the shape facts a cost model needs are present and sane.
Status ValidateOp(const ComputeOp& op, const std::string& where) {
  for (const auto& [name, v] : {std::pair<const char*, int64_t>{"m", op.m}, {"n", op.n}, {"k", op.k}}) {
    if (v < 0 || v > kMaxDim) return InvalidArgument(StrCat(where, ": field '", name, "' out of range"));
  }
  if (op.batch < 1 || op.batch > kMaxDim) {
    return InvalidArgument(StrCat(where, ": field 'batch' must be a positive integer"));
  }
  if (op.concurrency < 0 || op.concurrency > kMaxDim ||
      (op.concurrency > 0 && op.cls != OpClass::kGemm)) {
    return InvalidArgument(StrCat(where, ": field 'concurrency' must be 0, or a positive integer "
                                         "for class gemm"));
  }
  if (!(op.flops >= 0) || !std::isfinite(op.flops)) {
    return InvalidArgument(StrCat(where, ": field 'flops' must be a non-negative number"));
  }
  if (!(op.bytes >= 0) || !std::isfinite(op.bytes)) {
    return InvalidArgument(StrCat(where, ": field 'bytes' must be a non-negative number"));
  }
  if (op.cls == OpClass::kGemm && (op.m < 1 || op.n < 1 || op.k < 1)) {
    return InvalidArgument(StrCat(where, ": a gemm op needs positive m, n, k"));
  }
  // Attention: n (key length) is 0 in the serving encoding, where flops carry the context.
  if (op.cls == OpClass::kAttention && (op.m < 1 || op.k < 1)) {
    return InvalidArgument(StrCat(where, ": an attention op needs positive m and k"));
  }
  return Status::Ok();
}

}  // namespace

std::string KernelCalibration::Describe() const {
  return StrCat(source, " (", gpu, ", ", device, ", ", measured_at, ")");
}

StatusOr<KernelCalibration> ParseKernelCalibration(const std::string& text, const std::string& source) {
  ECHOSIM_ASSIGN_OR_RETURN(const YAML::Node doc,
                           LoadYamlMap(text, source, "must be a YAML map (kind: kernel_calibration)"));
  KernelCalibration c;
  c.source = source;
  bool have_kind = false, have_samples = false;
  const char* kValid =
      "kind, gpu, device, compute_capability, sm_count, driver_version, cuda_runtime_version, "
      "measured_at, clocks, method, samples";
  try {
    for (const auto& kv : doc) {
      const std::string key = kv.first.as<std::string>();
      const int line = kv.first.Mark().line + 1;
      const std::string at = StrCat(source, ":", line);
      const YAML::Node& v = kv.second;
      auto str = [&]() -> StatusOr<std::string> {
        if (!v.IsScalar()) return InvalidArgument(StrCat(at, ": field '", key, "' must be a string"));
        return v.as<std::string>();
      };
      if (key == "kind") {
        ECHOSIM_ASSIGN_OR_RETURN(std::string kind, str());
        if (kind != "kernel_calibration") {
          return InvalidArgument(StrCat(at, ": field 'kind' must be 'kernel_calibration', got '", kind, "'"));
        }
        have_kind = true;
      } else if (key == "gpu") {
        ECHOSIM_ASSIGN_OR_RETURN(c.gpu, str());
      } else if (key == "device") {
        ECHOSIM_ASSIGN_OR_RETURN(c.device, str());
      } else if (key == "compute_capability") {
        ECHOSIM_ASSIGN_OR_RETURN(c.compute_capability, str());
      } else if (key == "driver_version") {
        ECHOSIM_ASSIGN_OR_RETURN(c.driver_version, str());
      } else if (key == "cuda_runtime_version") {
        ECHOSIM_ASSIGN_OR_RETURN(c.cuda_runtime_version, str());
      } else if (key == "measured_at") {
        ECHOSIM_ASSIGN_OR_RETURN(c.measured_at, str());
      } else if (key == "sm_count") {
        c.sm_count = v.as<int64_t>();
        if (c.sm_count < 0) return InvalidArgument(StrCat(at, ": field 'sm_count' must be >= 0"));
      } else if (key == "clocks") {
        if (!v.IsMap()) return InvalidArgument(StrCat(at, ": field 'clocks' must be a map"));
        for (const auto& ck : v) {
          const std::string f = ck.first.as<std::string>();
          const std::string cat = StrCat(source, ":", ck.first.Mark().line + 1);
          if (f == "sm_mhz") c.sm_mhz = ck.second.as<double>();
          else if (f == "max_sm_mhz") c.max_sm_mhz = ck.second.as<double>();
          else if (f == "mem_mhz") c.mem_mhz = ck.second.as<double>();
          else if (f == "locked") c.clocks_locked = ck.second.as<bool>();
          else if (f == "known") c.clocks_known = ck.second.as<bool>();
          else {
            return InvalidArgument(StrCat(cat, ": unknown field 'clocks.", f,
                                          "'; valid: sm_mhz, max_sm_mhz, mem_mhz, locked, known"));
          }
        }
      } else if (key == "method") {
        if (!v.IsMap()) return InvalidArgument(StrCat(at, ": field 'method' must be a map"));
        for (const auto& mk : v) {
          const std::string f = mk.first.as<std::string>();
          const std::string mat = StrCat(source, ":", mk.first.Mark().line + 1);
          if (f == "warmup") c.warmup = mk.second.as<int64_t>();
          else if (f == "repeats") c.repeats = mk.second.as<int64_t>();
          else if (f == "statistic") c.statistic = mk.second.as<std::string>();
          else if (f == "timer") c.timer = mk.second.as<std::string>();
          else {
            return InvalidArgument(StrCat(mat, ": unknown field 'method.", f,
                                          "'; valid: warmup, repeats, statistic, timer"));
          }
        }
      } else if (key == "samples") {
        have_samples = true;
        if (!v.IsSequence()) return InvalidArgument(StrCat(at, ": field 'samples' must be a list"));
        for (const auto& item : v) {
          const int sline = item.Mark().line + 1;
          const std::string sat = StrCat(source, ":", sline);
          if (!item.IsMap()) return InvalidArgument(StrCat(sat, ": each sample must be a map"));
          KernelSample s;
          s.line = sline;
          bool have_cls = false, have_median = false;
          for (const auto& f : item) {
            const std::string name = f.first.as<std::string>();
            const YAML::Node& fv = f.second;
            try {
              if (name == "name") s.op.name = fv.as<std::string>();
              else if (name == "class") {
                ECHOSIM_ASSIGN_OR_RETURN(s.op.cls, ParseOpClass(StrCat(sat, ": sample field 'class'"),
                                                                fv.as<std::string>()));
                have_cls = true;
              } else if (name == "dtype") {
                ECHOSIM_ASSIGN_OR_RETURN(s.op.dtype, ParseDType(StrCat(sat, ": sample field 'dtype'"),
                                                                fv.as<std::string>()));
              } else if (name == "m") s.op.m = fv.as<int64_t>();
              else if (name == "n") s.op.n = fv.as<int64_t>();
              else if (name == "k") s.op.k = fv.as<int64_t>();
              else if (name == "batch") s.op.batch = fv.as<int64_t>();
              else if (name == "flops") s.op.flops = fv.as<double>();
              else if (name == "bytes") s.op.bytes = fv.as<double>();
              else if (name == "median_us") {
                s.median_us = fv.as<double>();
                have_median = true;
              } else if (name == "p10_us") s.p10_us = fv.as<double>();
              else if (name == "p90_us") s.p90_us = fv.as<double>();
              else if (name == "repeats") s.repeats = fv.as<int64_t>();
              else if (name == "kernel") s.kernel = fv.as<std::string>();
              else {
                return InvalidArgument(StrCat(sat, ": unknown sample field '", name,
                                              "'; valid: name, class, dtype, m, n, k, batch, flops, "
                                              "bytes, median_us, p10_us, p90_us, repeats, kernel"));
              }
            } catch (const YAML::Exception&) {
              return InvalidArgument(StrCat(sat, ": sample field '", name, "': bad value"));
            }
          }
          if (!have_cls) return InvalidArgument(StrCat(sat, ": sample needs field 'class'"));
          if (!have_median) return InvalidArgument(StrCat(sat, ": sample needs field 'median_us'"));
          if (!(s.median_us > 0) || !std::isfinite(s.median_us) || s.median_us > 1e12) {
            return InvalidArgument(StrCat(sat, ": sample field 'median_us' must be a positive number"));
          }
          ECHOSIM_RETURN_IF_ERROR(ValidateOp(s.op, StrCat(sat, ": sample")));
          // The fit prices gemm and attention samples by their FLOPs and memory-bound ones by
          // their bytes: a sample without them would be dropped from the fit without a word.
          const bool by_flops = s.op.cls == OpClass::kGemm || s.op.cls == OpClass::kAttention;
          if (by_flops ? !(s.op.flops > 0) : !(s.op.bytes > 0)) {
            return InvalidArgument(StrCat(sat, ": sample of class '", OpClassName(s.op.cls), "' needs a positive '",
                                          by_flops ? "flops" : "bytes", "' field"));
          }
          c.samples.push_back(std::move(s));
        }
      } else {
        return InvalidArgument(StrCat(at, ": unknown field '", key, "'; valid fields: ", kValid));
      }
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(StrCat(source, ":", e.mark.line + 1, ": bad value: ", e.msg));
  }
  if (!have_kind) return InvalidArgument(StrCat(source, ": field 'kind: kernel_calibration' is required"));
  if (c.gpu.empty()) return InvalidArgument(StrCat(source, ": field 'gpu' (the echosim GPU preset) is required"));
  if (!have_samples || c.samples.empty()) {
    return InvalidArgument(StrCat(source, ": field 'samples' must list at least one measured kernel"));
  }
  return c;
}

StatusOr<KernelCalibration> LoadKernelCalibrationFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(StrCat("cannot open kernel calibration file '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseKernelCalibration(ss.str(), path);
}

StatusOr<KernelCalibration> BuiltInKernelCalibration(const std::string& gpu,
                                                     std::span<const EmbeddedFile> files) {
  const std::string path = StrCat("hardware/calibration/", gpu, ".yaml");
  for (const EmbeddedFile& f : files) {
    if (f.path != path) continue;
    ECHOSIM_ASSIGN_OR_RETURN(KernelCalibration c, ParseKernelCalibration(std::string(f.contents), path));
    if (c.gpu != gpu) {
      return InvalidArgument(StrCat(path, ": field 'gpu' is '", c.gpu, "', expected '", gpu, "'"));
    }
    return c;
  }
  return NotFound(StrCat("no kernel calibration for gpu '", gpu, "' (", path, ")"));
}

StatusOr<KernelCalibration> BuiltInKernelCalibration(const std::string& gpu) {
  return BuiltInKernelCalibration(gpu, EmbeddedFiles());
}

StatusOr<ComputeOp> ComputeOpFromJson(const std::string& json_text, const std::string& where) {
  const nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument(StrCat(where, ": not valid JSON"));
  if (!j.is_object()) return InvalidArgument(StrCat(where, ": expected a JSON object (a ComputeOp)"));
  ComputeOp op;
  auto get_str = [&](const char* f, bool required, std::string* out) -> Status {
    auto it = j.find(f);
    if (it == j.end()) {
      return required ? InvalidArgument(StrCat(where, ": field '", f, "' is missing")) : Status::Ok();
    }
    if (!it->is_string()) return InvalidArgument(StrCat(where, ": field '", f, "' must be a string"));
    *out = it->get<std::string>();
    return Status::Ok();
  };
  auto get_int = [&](const char* f, int64_t* out) -> Status {
    auto it = j.find(f);
    if (it == j.end()) return Status::Ok();
    if (!it->is_number_integer() && !it->is_number_unsigned()) {
      return InvalidArgument(StrCat(where, ": field '", f, "' must be an integer"));
    }
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(kMaxDim)) {
      return InvalidArgument(StrCat(where, ": field '", f, "' out of range"));
    }
    *out = it->get<int64_t>();
    return Status::Ok();
  };
  auto get_num = [&](const char* f, double* out) -> Status {
    auto it = j.find(f);
    if (it == j.end()) return Status::Ok();
    if (!it->is_number()) return InvalidArgument(StrCat(where, ": field '", f, "' must be a number"));
    *out = it->get<double>();
    return Status::Ok();
  };
  std::string cls, dtype = "bf16";
  ECHOSIM_RETURN_IF_ERROR(get_str("name", false, &op.name));
  ECHOSIM_RETURN_IF_ERROR(get_str("class", true, &cls));
  ECHOSIM_RETURN_IF_ERROR(get_str("dtype", false, &dtype));
  ECHOSIM_ASSIGN_OR_RETURN(op.cls, ParseOpClass(StrCat(where, ": field 'class'"), cls));
  ECHOSIM_ASSIGN_OR_RETURN(op.dtype, ParseDType(StrCat(where, ": field 'dtype'"), dtype));
  ECHOSIM_RETURN_IF_ERROR(get_int("m", &op.m));
  ECHOSIM_RETURN_IF_ERROR(get_int("n", &op.n));
  ECHOSIM_RETURN_IF_ERROR(get_int("k", &op.k));
  ECHOSIM_RETURN_IF_ERROR(get_int("batch", &op.batch));
  ECHOSIM_RETURN_IF_ERROR(get_int("concurrency", &op.concurrency));
  ECHOSIM_RETURN_IF_ERROR(get_num("flops", &op.flops));
  ECHOSIM_RETURN_IF_ERROR(get_num("bytes", &op.bytes));
  ECHOSIM_RETURN_IF_ERROR(ValidateOp(op, where));
  return op;
}

std::string ComputeOpToJson(const ComputeOp& op) {
  nlohmann::json j;
  j["name"] = op.name;
  j["class"] = OpClassName(op.cls);
  j["dtype"] = DTypeName(op.dtype);
  j["m"] = op.m;
  j["n"] = op.n;
  j["k"] = op.k;
  j["batch"] = op.batch;
  if (op.concurrency > 0) j["concurrency"] = op.concurrency;
  j["flops"] = op.flops;
  j["bytes"] = op.bytes;
  return j.dump();
}

std::string KernelFamily(const ComputeOp& op) {
  const std::string& n = op.name;
  auto has = [&](const char* s) { return n.find(s) != std::string::npos; };
  switch (op.cls) {
    case OpClass::kAttention: {
      auto ends = [&](const char* suffix) {
        const size_t len = std::strlen(suffix);
        return n.size() >= len && n.compare(n.size() - len, len, suffix) == 0;
      };
      return ends(".bwd") ? "bwd" : ends(".decode") ? "decode" : "fwd";
    }
    case OpClass::kMemoryBound:
      if (has("softmax")) return "softmax";
      if (has("rope")) return "rope";
      if (has("embed")) return "embedding";
      if (has("ln") || has("norm")) return "norm";
      if (has("act") || has("gelu") || has("swiglu") || has("silu")) return "activation";
      return "copy";
    case OpClass::kGemm:
    case OpClass::kOptimizer:
      return "";
  }
  return "";
}

std::string KernelShapeKey(const ComputeOp& op) {
  switch (op.cls) {
    case OpClass::kGemm:
      // A grouped GEMM issued one GEMM per group over k streams is another kernel than one
      // batched launch of the same shape: "/s<k>".
      return StrCat("gemm/", DTypeName(op.dtype), "/", op.m, "x", op.n, "x", op.k, "x", op.batch,
                    op.concurrency > 0 ? StrCat("/s", op.concurrency) : "");
    case OpClass::kAttention: {
      // The serving encoding (n = 0) carries the context in the FLOPs, and so does a
      // sliding-window kernel (FLOPs below the causal m x n one of its shape).
      const double causal = 4.0 * static_cast<double>(op.batch) * op.m * op.n * op.k * 0.5 *
                            (KernelFamily(op) == "bwd" ? 2.5 : 1.0);
      const bool windowed = op.n > 0 && op.flops < causal * (1.0 - 1e-9);
      return StrCat("attention/", KernelFamily(op), "/", DTypeName(op.dtype), "/", op.m, "x", op.n, "x",
                    op.k, "x", op.batch,
                    op.n == 0 || windowed ? StrCat("/f", static_cast<int64_t>(std::llround(op.flops)))
                                          : std::string(),
                    op.dropout ? "/dropout" : "");
    }
    case OpClass::kMemoryBound:
    case OpClass::kOptimizer:
      return StrCat(OpClassName(op.cls), "/", KernelFamily(op), "/", DTypeName(op.dtype), "/",
                    static_cast<int64_t>(std::llround(op.bytes)));
  }
  return "";
}

FittedComputeParams DatasheetParams(const GpuSpec& gpu) {
  FittedComputeParams p;
  // The presets' efficiencies come from short benchmarks; a training step holds a lower rate
  // on some GPUs (GpuSpec::sustained_tensor_rate).
  for (int d = 0; d < kNumDTypes; ++d) {
    const double benchmark = d == static_cast<int>(DType::kFp4)   ? gpu.gemm_max_efficiency_fp4
                             : d == static_cast<int>(DType::kFp8) ? gpu.gemm_max_efficiency_fp8
                                                                  : gpu.gemm_max_efficiency_bf16;
    p.gemm[d].max_efficiency = benchmark * gpu.sustained_tensor_rate;
    p.gemm[d].min_dim_half = gpu.GemmMinDimHalf(static_cast<DType>(d));
    p.gemm[d].flops_half = gpu.GemmFlopsHalf(static_cast<DType>(d));
  }
  p.attention_efficiency[0] = p.attention_efficiency[1] =
      gpu.attention_efficiency * gpu.sustained_tensor_rate;
  p.memory.efficiency = p.optimizer.efficiency = gpu.memory_efficiency;
  p.memory.overhead_s = p.optimizer.overhead_s = 2e-6;
  p.kernel_overhead_s = 2e-6;
  return p;
}

double AttentionDropoutRate(bool backward) {
  // Dao-AILab/flash-attention pull request 2597 (FlashAttention-4 on GB200, bf16, p = 0.125,
  // head dims 64 and 128, 32K tokens): with dropout the forward runs at 75-85% of its
  // no-dropout FLOP rate and the backward at 60-70%, about flat across sequence lengths; cuDNN's
  // dropout kernels measure no faster there. The middles of those ranges, on every GPU (no
  // Hopper or Ampere measurement in the sources).
  return backward ? 0.65 : 0.80;
}

double AttentionHeadDimFactor(int64_t head_dim, int64_t reference_dim) {
  constexpr double kD0 = 124;  // see the header
  if (head_dim >= reference_dim || head_dim <= 0) return 1.0;
  const double d = static_cast<double>(head_dim), r = static_cast<double>(reference_dim);
  return d / (d + kD0) * (r + kD0) / r;
}

double WindowedAttentionRate(int64_t window, int64_t keys, bool backward) {
  if (window <= 0 || keys <= 0) return 1.0;
  const double c = backward ? 560.0 : 980.0;
  const double w = static_cast<double>(window), causal = 0.5 * static_cast<double>(keys);
  return std::min(1.0, w / (w + c) * (causal + c) / causal);
}

int64_t GemmsInFlight(const ComputeOp& op) {
  return op.concurrency > 0 ? std::min(op.batch, op.concurrency) : op.batch;
}

int64_t KernelLaunches(const ComputeOp& op) {
  if (op.cls != OpClass::kGemm || op.concurrency <= 0) return 1;
  return (op.batch + GemmsInFlight(op) - 1) / GemmsInFlight(op);
}

double GemmCurveEfficiency(const FittedComputeParams& p, const ComputeOp& op) {
  const auto& g = p.gemm[static_cast<int>(op.dtype)];
  const double d = static_cast<double>(std::min({op.m, op.n, op.k}));
  // The fill term sees the work in flight: a batched GEMM of many small matrices fills the
  // GPU's SMs as well as one large GEMM of the same total work; a grouped GEMM issued one
  // GEMM per group (ComputeOp::concurrency) fills it like `concurrency` of them.
  const double f =
      2.0 * static_cast<double>(op.m) * op.n * op.k * static_cast<double>(GemmsInFlight(op));
  return g.max_efficiency * d / (d + g.min_dim_half) * f / (f + g.flops_half);
}

double RooflineSeconds(const GpuSpec& gpu, const FittedComputeParams& p, const ComputeOp& op,
                       double sustained) {
  const double bw = gpu.HbmBytesPerS();
  switch (op.cls) {
    case OpClass::kGemm: {
      const double eff = op.chunked_scan ? gpu.mamba_scan_efficiency : GemmCurveEfficiency(p, op);
      const double scaled = op.block_scaled ? kBlockScaledGemmTimeRatio : 1.0;
      const double t_c =
          eff > 0 ? scaled * op.flops / (gpu.PeakFlopsPerS(op.dtype) * eff * sustained) : 0;
      return std::max(t_c, op.bytes / (bw * p.memory.efficiency)) +
             static_cast<double>(KernelLaunches(op)) * p.kernel_overhead_s;
    }
    case OpClass::kAttention: {
      const bool backward = KernelFamily(op) == "bwd";
      const double eff = p.attention_efficiency[backward ? 1 : 0] *
                         AttentionHeadDimFactor(op.k, gpu.attention_head_dim) *
                         WindowedAttentionRate(op.attention_window, op.n, backward);
      // The op's dtype is its matmul precision (16-bit unless fp8 attention was asked for).
      // Below the head dim the efficiency was measured at, the softmax share lowers the rate
      // (AttentionHeadDimFactor). FP8 attention runs at the bf16 kernel's rate times the
      // speed-up measured for it (GpuSpec::AttentionFp8Speedup; MXFP8 when the op is block
      // scaled), not at the fp8 : bf16 peak ratio: cuDNN's fp8 backward at head dim 128 is
      // about as fast as its bf16 one. A sliding-window kernel gains nothing from fp8 matmuls:
      // cuDNN 9.22's window-128 forward on GB200 runs 173 TFLOP/s in fp8 and 161 in bf16 (the
      // benchmark named at WindowedAttentionRate), so it keeps the bf16 rate.
      double rate = op.dropout ? AttentionDropoutRate(backward) : 1.0;
      if (op.dtype == DType::kFp8 && op.attention_window == 0) {
        rate *= gpu.AttentionFp8Speedup(backward, op.block_scaled, op.k);
      }
      const DType peak_dtype = op.dtype == DType::kFp8 ? DType::kBf16 : op.dtype;
      const double t_c = op.flops / (gpu.PeakFlopsPerS(peak_dtype) * eff * sustained * rate);
      return std::max(t_c, op.bytes / (bw * p.memory.efficiency)) + p.kernel_overhead_s;
    }
    case OpClass::kMemoryBound:
      return op.bytes / (bw * p.memory.efficiency) + p.memory.overhead_s;
    case OpClass::kOptimizer:
      return op.bytes / (bw * p.optimizer.efficiency) + p.optimizer.overhead_s;
  }
  return 0;
}

namespace {

// Weighted least squares of t = a + c * x with weights 1/t^2 (relative error); returns
// false when x does not vary.
bool FitLine(const std::vector<std::pair<double, double>>& xt, double* a, double* c) {
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [x, t] : xt) {
    const double w = 1.0 / (t * t);
    sw += w;
    sx += w * x;
    sy += w * t;
    sxx += w * x * x;
    sxy += w * x * t;
  }
  const double det = sw * sxx - sx * sx;
  if (xt.size() < 2 || !(std::abs(det) > 1e-12 * sw * sxx)) return false;
  *c = (sw * sxy - sx * sy) / det;
  *a = (sy - *c * sx) / sw;
  return true;
}

FittedComputeParams::Linear FitMemoryClass(const GpuSpec& gpu, const std::vector<const KernelSample*>& s,
                                           FittedComputeParams::Linear fallback) {
  if (s.empty()) return fallback;
  FittedComputeParams::Linear r;
  r.fitted = true;
  r.samples = static_cast<int>(s.size());
  std::vector<std::pair<double, double>> xt;
  for (const KernelSample* k : s) xt.emplace_back(k->op.bytes, k->median_us * 1e-6);
  double a = 0, c = 0;
  if (FitLine(xt, &a, &c) && c > 0 && a >= 0) {
    r.overhead_s = a;
    r.efficiency = 1.0 / (c * gpu.HbmBytesPerS());
    return r;
  }
  // One size (or a negative intercept): keep the preset's overhead, fit the bandwidth alone
  // (geometric mean of the per-sample efficiencies).
  r.overhead_s = std::max(0.0, fallback.overhead_s);
  double log_sum = 0;
  int n = 0;
  for (const KernelSample* k : s) {
    const double t = k->median_us * 1e-6 - r.overhead_s;
    if (t > 0 && k->op.bytes > 0) {
      log_sum += std::log(k->op.bytes / (gpu.HbmBytesPerS() * t));
      ++n;
    }
  }
  if (n == 0) {
    r.overhead_s = std::max(0.0, a);
    r.efficiency = fallback.efficiency;
    return r;
  }
  r.efficiency = std::exp(log_sum / n);
  return r;
}

// Minimises f over a box in log space: a grid of `points` per dimension, then repeatedly a
// finer grid around the best point. Deterministic (ties keep the first point).
template <size_t N>
std::array<double, N> GridMinimizeLog(const std::function<double(const std::array<double, N>&)>& f,
                                      std::array<double, N> lo, std::array<double, N> hi, int points,
                                      int rounds) {
  std::array<double, N> llo, lhi, best{};
  for (size_t i = 0; i < N; ++i) {
    llo[i] = std::log(lo[i]);
    lhi[i] = std::log(hi[i]);
    best[i] = 0.5 * (llo[i] + lhi[i]);
  }
  double best_f = INFINITY;
  for (int r = 0; r < rounds; ++r) {
    std::array<double, N> step;
    for (size_t i = 0; i < N; ++i) step[i] = (lhi[i] - llo[i]) / (points - 1);
    size_t total = 1;
    for (size_t i = 0; i < N; ++i) total *= points;
    std::array<double, N> x, bx = best;
    for (size_t idx = 0; idx < total; ++idx) {
      size_t rem = idx;
      for (size_t i = 0; i < N; ++i) {
        x[i] = std::exp(llo[i] + step[i] * static_cast<double>(rem % points));
        rem /= points;
      }
      const double v = f(x);
      if (v < best_f) {
        best_f = v;
        for (size_t i = 0; i < N; ++i) bx[i] = std::log(x[i]);
      }
    }
    best = bx;
    for (size_t i = 0; i < N; ++i) {
      llo[i] = best[i] - 2 * step[i];
      lhi[i] = best[i] + 2 * step[i];
    }
  }
  std::array<double, N> out;
  for (size_t i = 0; i < N; ++i) out[i] = std::exp(best[i]);
  return out;
}

}  // namespace

FittedComputeParams FitKernelSamples(const GpuSpec& gpu, const std::vector<KernelSample>& samples) {
  const FittedComputeParams base = DatasheetParams(gpu);
  FittedComputeParams p = base;
  std::vector<const KernelSample*> mem, opt, gemm[kNumDTypes], attn[2];
  for (const KernelSample& s : samples) {
    switch (s.op.cls) {
      case OpClass::kMemoryBound:
        if (s.op.bytes > 0) mem.push_back(&s);
        break;
      case OpClass::kOptimizer:
        if (s.op.bytes > 0) opt.push_back(&s);
        break;
      case OpClass::kGemm:
        if (s.op.flops > 0) gemm[static_cast<int>(s.op.dtype)].push_back(&s);
        break;
      case OpClass::kAttention: {
        // Decode attention (one query token per sequence) is bandwidth-bound: it would bend
        // the forward efficiency, so it only serves as an exact-shape sample.
        const std::string family = KernelFamily(s.op);
        if (s.op.flops > 0 && family != "decode") attn[family == "bwd" ? 1 : 0].push_back(&s);
        break;
      }
    }
  }
  p.memory = FitMemoryClass(gpu, mem, base.memory);
  p.optimizer = FitMemoryClass(gpu, opt, base.optimizer);
  if (p.memory.fitted) p.kernel_overhead_s = p.memory.overhead_s;

  // The grid searches evaluate the loss ~10^4 times: classes with many samples are fitted on
  // an evenly spaced (deterministic) subset of kMaxFitSamples; every sample still serves as
  // an exact-shape sample.
  constexpr size_t kMaxFitSamples = 400;
  auto thin = [](std::vector<const KernelSample*>& v) {
    if (v.size() <= kMaxFitSamples) return;
    std::vector<const KernelSample*> kept;
    for (size_t i = 0; i < kMaxFitSamples; ++i) kept.push_back(v[i * v.size() / kMaxFitSamples]);
    v = std::move(kept);
  };
  for (auto& v : gemm) thin(v);
  for (auto& v : attn) thin(v);
  auto log_loss = [&](const std::vector<const KernelSample*>& s, const FittedComputeParams& q) {
    double sum = 0;
    for (const KernelSample* k : s) {
      const double e = std::log(RooflineSeconds(gpu, q, k->op) / (k->median_us * 1e-6));
      sum += e * e;
    }
    return sum;
  };
  for (int d = 0; d < kNumDTypes; ++d) {
    if (gemm[d].empty()) continue;
    FittedComputeParams q = p;
    auto& g = q.gemm[d];
    const auto best = GridMinimizeLog<3>(
        [&](const std::array<double, 3>& x) {
          g.max_efficiency = x[0];
          g.min_dim_half = x[1];
          g.flops_half = x[2];
          return log_loss(gemm[d], q);
        },
        {0.02, 0.5, 1e5}, {1.5, 1e4, 1e13}, 11, 9);
    p.gemm[d].fitted = true;
    p.gemm[d].samples = static_cast<int>(gemm[d].size());
    p.gemm[d].max_efficiency = best[0];
    p.gemm[d].min_dim_half = best[1];
    p.gemm[d].flops_half = best[2];
  }
  // fp16 without samples of its own runs the same tensor cores as bf16.
  const int bf16 = static_cast<int>(DType::kBf16), fp16 = static_cast<int>(DType::kFp16);
  if (!p.gemm[fp16].fitted && p.gemm[bf16].fitted) {
    p.gemm[fp16] = p.gemm[bf16];
    p.gemm[fp16].samples = 0;
  }
  for (int b = 0; b < 2; ++b) {
    if (attn[b].empty()) continue;
    FittedComputeParams q = p;
    const auto best = GridMinimizeLog<1>(
        [&](const std::array<double, 1>& x) {
          q.attention_efficiency[b] = x[0];
          return log_loss(attn[b], q);
        },
        {0.01}, {1.5}, 41, 8);
    p.attention_fitted[b] = true;
    p.attention_samples[b] = static_cast<int>(attn[b].size());
    p.attention_efficiency[b] = best[0];
  }
  return p;
}

StatusOr<ComputeCalibration> MakeComputeCalibration(const GpuSpec& gpu, const KernelCalibration& cal) {
  if (!cal.gpu.empty() && cal.gpu != gpu.name) {
    return InvalidArgument(StrCat(cal.source, ": calibration is for gpu '", cal.gpu,
                                  "' but the scenario's gpu (cluster.gpu) is '", gpu.name, "'"));
  }
  ComputeCalibration c;
  c.description = cal.Describe();
  c.params = FitKernelSamples(gpu, cal.samples);
  for (const KernelSample& s : cal.samples) {
    c.sample_s.emplace(KernelShapeKey(s.op), s.median_us * 1e-6);  // first sample of a shape wins
  }
  return c;
}

StatusOr<std::shared_ptr<const ComputeCalibration>> ResolveComputeCalibration(const GpuSpec& gpu,
                                                                              const std::string& path) {
  if (path == "none") return std::shared_ptr<const ComputeCalibration>();
  std::string text, source;
  if (path.empty()) {
    const std::string builtin = StrCat("hardware/calibration/", gpu.name, ".yaml");
    for (const EmbeddedFile& f : EmbeddedFiles()) {
      if (f.path == builtin) {
        text = std::string(f.contents);
        source = builtin;
      }
    }
    if (source.empty()) return std::shared_ptr<const ComputeCalibration>();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return NotFound(StrCat("simulation.kernel_calibration (--kernel-calibration): cannot open '", path, "'"));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    source = path;
  }
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const ComputeCalibration>> fits;
  const std::string key = StrCat(gpu.name, "\n", source, "\n", text);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = fits.find(key);
    if (it != fits.end()) return it->second;
  }
  ECHOSIM_ASSIGN_OR_RETURN(KernelCalibration cal, ParseKernelCalibration(text, source));
  ECHOSIM_ASSIGN_OR_RETURN(ComputeCalibration c, MakeComputeCalibration(gpu, cal));
  auto shared = std::make_shared<const ComputeCalibration>(std::move(c));
  std::lock_guard<std::mutex> lock(mu);
  if (fits.size() > 64) fits.clear();
  fits.emplace(key, shared);
  return std::shared_ptr<const ComputeCalibration>(shared);
}

std::string DescribeComputeCalibration(const ComputeCalibration* cal) {
  return cal ? cal->description : "built-in datasheet roofline";
}

}  // namespace echosim
