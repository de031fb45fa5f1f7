// Timing statistics and the calibration YAML writer (see calibration_yaml.h).
#include "kernels/harness/calibration_yaml.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "simulator/core/strings.h"

namespace echosim::kernels {

TimingStats ComputeStats(std::vector<double> s) {
  TimingStats t;
  t.repeats = static_cast<int>(s.size());
  if (s.empty()) return t;
  std::sort(s.begin(), s.end());
  const size_t n = s.size();
  t.median_us = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  auto rank = [&](double p) {  // nearest rank: ceil(p n), 1-based
    size_t r = static_cast<size_t>(std::ceil(p * static_cast<double>(n)));
    return s[std::clamp<size_t>(r, 1, n) - 1];
  };
  t.p10_us = rank(0.10);
  t.p90_us = rank(0.90);
  return t;
}

Status ValidateGpuName(const std::string& gpu) {
  if (gpu.empty()) return InvalidArgument("--gpu: must name the echosim GPU preset, e.g. h100-sxm");
  for (char c : gpu) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return InvalidArgument(StrCat("--gpu: '", gpu, "' is not a GPU preset name (lower-case letters, "
                                    "digits and '-', e.g. h100-sxm; `echosim list gpus` lists them)"));
    }
  }
  return Status::Ok();
}

std::string FormatNumber(double v) {
  char buf[64];
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else {
    std::snprintf(buf, sizeof(buf), "%.6g", v);
  }
  return buf;
}

namespace {

// A YAML double-quoted scalar (JSON string escapes are valid YAML escapes).
std::string Quote(const std::string& s) { return nlohmann::json(s).dump(); }

}  // namespace

void WriteCalibrationYaml(const CalibrationFile& f, std::ostream& out) {
  out << "# Kernel calibration: measured execution times of the ComputeOps echosim prices\n"
      << "# (GEMMs through cuBLASLt, our flash attention, memory-bound kernels, fused Adam) on\n"
      << "# one GPU. Each sample: warm-up launches, then CUDA-event timing of each repeat;\n"
      << "# median and 10th/90th percentiles in microseconds. Written by:\n"
      << "#   " << f.command << "\n"
      << "kind: kernel_calibration\n"
      << "gpu: " << f.gpu << "\n"
      << "device: " << Quote(f.device.name) << "\n"
      << "compute_capability: \"" << f.device.cc_major << "." << f.device.cc_minor << "\"\n"
      << "sm_count: " << f.device.sm_count << "\n"
      << "driver_version: " << Quote(f.device.driver_version) << "\n"
      << "cuda_runtime_version: " << Quote(f.device.cuda_runtime_version) << "\n"
      << "measured_at: " << Quote(f.measured_at) << "\n";
  if (f.device.clocks_known) {
    out << "clocks: {sm_mhz: " << f.device.sm_mhz << ", max_sm_mhz: " << f.device.max_sm_mhz
        << ", mem_mhz: " << f.device.mem_mhz << ", locked: " << (f.device.locked ? "true" : "false")
        << "}\n";
  } else {
    out << "clocks: {known: false}   # NVML (libnvidia-ml.so.1) not available\n";
  }
  out << "method: {warmup: " << f.warmup << ", repeats: " << f.repeats
      << ", statistic: median, timer: cuda_event}\n"
      << "samples:\n";
  for (const MeasuredOp& s : f.samples) {
    const OpSpec& op = s.op;
    out << "  - {name: " << Quote(op.name) << ", class: " << OpKindName(op.kind)
        << ", dtype: " << DataTypeName(op.dtype) << ", m: " << op.m << ", n: " << op.n
        << ", k: " << op.k << ", batch: " << op.batch << ", flops: " << FormatNumber(op.flops)
        << ", bytes: " << FormatNumber(op.bytes) << ", median_us: " << FormatNumber(s.stats.median_us)
        << ", p10_us: " << FormatNumber(s.stats.p10_us) << ", p90_us: " << FormatNumber(s.stats.p90_us)
        << ", kernel: " << Quote(s.kernel) << "}\n";
  }
}

std::string MeasuredOpJsonLine(const MeasuredOp& m) {
  nlohmann::ordered_json j = m.op.fields.is_object() ? m.op.fields : OpToJson(m.op);
  j["median_us"] = m.stats.median_us;
  j["p10_us"] = m.stats.p10_us;
  j["p90_us"] = m.stats.p90_us;
  j["repeats"] = m.stats.repeats;
  j["kernel"] = m.kernel;
  return j.dump();
}

}  // namespace echosim::kernels
