// The GEMM size curve of every GPU preset, refitted from the cuBLASLt sweeps it was fitted on:
// the AZ points (Azure/AI-benchmarking-guide, transcribed in
// ../shared/data/specs/hardware_specs_and_microbenchmarks.yaml). For each sweep the curve
// eff = max * d/(d + a) * F/(F + b) (d = min(m,n,k), F = 2mnk; compute_cost_model.h) is fitted
// by log least squares over a grid of a and b, the plateau `max` left free (closed form in log
// space): the presets' (gemm_min_dim_half, gemm_flops_half) must fit their sweep as well as the
// grid's best pair (within 0.005 rms log error), and better than the single A100-fitted pair
// (120, 2e9) that every GPU used before, wherever that pair is not itself the best. Skipped when
// the shared data is absent.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "hardware/gpu_spec.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

fs::path SpecsFile() {
  return fs::path(ECHOSIM_SOURCE_DIR).parent_path() / "shared" / "data" / "specs" /
         "hardware_specs_and_microbenchmarks.yaml";
}

struct Point {
  double m, n, k, tflops;
};

// "4096^3" or "802816x192x768" -> (m, n, k).
bool ParseShape(const std::string& s, double* m, double* n, double* k) {
  if (s.size() > 2 && s.substr(s.size() - 2) == "^3") {
    *m = *n = *k = std::stod(s.substr(0, s.size() - 2));
    return true;
  }
  const size_t x1 = s.find('x'), x2 = s.find('x', x1 + 1);
  if (x1 == std::string::npos || x2 == std::string::npos) return false;
  *m = std::stod(s.substr(0, x1));
  *n = std::stod(s.substr(x1 + 1, x2 - x1 - 1));
  *k = std::stod(s.substr(x2 + 1));
  return true;
}

std::vector<Point> Sweep(const YAML::Node& root, const std::string& gpu, const std::string& key) {
  std::vector<Point> out;
  const YAML::Node node = root["gpus"][gpu]["measured"][key];
  if (!node || !node.IsMap()) return out;
  for (const auto& kv : node) {
    Point p{};
    const std::string shape = kv.first.as<std::string>();
    if (shape == "src" || !ParseShape(shape, &p.m, &p.n, &p.k)) continue;
    p.tflops = kv.second.as<double>();
    out.push_back(p);
  }
  return out;
}

// rms of log(measured / curve) with the plateau at its best (the mean log ratio).
double RmsLog(const std::vector<Point>& pts, double peak_tflops, double a, double b) {
  std::vector<double> r;
  double mean = 0;
  for (const Point& p : pts) {
    const double d = std::min({p.m, p.n, p.k}), f = 2.0 * p.m * p.n * p.k;
    const double shape = d / (d + a) * f / (f + b);
    r.push_back(std::log(p.tflops / peak_tflops) - std::log(shape));
    mean += r.back() / static_cast<double>(pts.size());
  }
  double sse = 0;
  for (double x : r) sse += (x - mean) * (x - mean);
  return std::sqrt(sse / static_cast<double>(pts.size()));
}

struct Best {
  double rms = 1e300, a = 0, b = 0;
};

Best GridFit(const std::vector<Point>& pts, double peak_tflops) {
  Best best;
  for (double a : {0., 10., 20., 40., 60., 80., 100., 120., 150., 200., 250., 300., 400., 500., 600.,
                   800., 1000., 1200., 1500., 2000.}) {
    for (int i = 0; i <= 160; ++i) {
      const double b = std::pow(10.0, 8 + 0.025 * i);
      const double rms = RmsLog(pts, peak_tflops, a, b);
      if (rms < best.rms) best = {rms, a, b};
    }
  }
  return best;
}

struct Case {
  const char* preset;
  const char* spec_gpu;  // entry of the specs file
  const char* sweep;     // its cuBLASLt key
  DType dtype;           // the sweep's precision
};

TEST(GemmCurveAz, PresetsFitTheirCublasLtSweeps) {
  if (!fs::exists(SpecsFile())) GTEST_SKIP() << "no shared specs file at " << SpecsFile();
  const YAML::Node root = YAML::LoadFile(SpecsFile().string());
  const std::vector<Case> cases = {
      {"a100-80gb", "A100-SXM4-80GB", "cublaslt_fp16_tflops_AZ", DType::kFp16},
      {"a100-40gb", "A100-SXM4-80GB", "cublaslt_fp16_tflops_AZ", DType::kFp16},
      {"h100-sxm", "H100-SXM5-80GB", "cublaslt_fp8_tflops_AZ", DType::kFp8},
      {"h800", "H100-SXM5-80GB", "cublaslt_fp8_tflops_AZ", DType::kFp8},
      {"h200", "H200-SXM-141GB", "cublaslt_fp8_tflops_AZ", DType::kFp8},
      {"gb200", "GB200 (Blackwell GPU in GB200 NVL72)", "cublaslt_fp8_tflops_AZ", DType::kFp8},
      {"gb200", "GB200 (Blackwell GPU in GB200 NVL72)", "cublaslt_fp4_tflops_AZ", DType::kFp4},
      {"b200", "GB200 (Blackwell GPU in GB200 NVL72)", "cublaslt_fp8_tflops_AZ", DType::kFp8},
      {"b200", "GB200 (Blackwell GPU in GB200 NVL72)", "cublaslt_fp4_tflops_AZ", DType::kFp4},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.preset) + " / " + c.sweep);
    const std::vector<Point> pts = Sweep(root, c.spec_gpu, c.sweep);
    ASSERT_GE(pts.size(), 6u) << "sweep missing from the specs file";
    auto gpu = FindGpuPreset(c.preset);
    ASSERT_TRUE(gpu.ok()) << gpu.status().ToString();
    // The fit does not depend on the peak (it only shifts the free plateau).
    const double peak = gpu->PeakFlopsPerS(c.dtype) / 1e12;
    ASSERT_GT(peak, 0);
    const Best best = GridFit(pts, peak);
    const double a = gpu->GemmMinDimHalf(c.dtype), b = gpu->GemmFlopsHalf(c.dtype);
    const double rms = RmsLog(pts, peak, a, b);
    const double shared = RmsLog(pts, peak, 120, 2e9);
    std::printf("%-10s %-24s best a=%4.0f b=%.3g rms %.3f; preset a=%4.0f b=%.3g rms %.3f; (120, 2e9) rms %.3f\n",
                c.preset, c.sweep, best.a, best.b, best.rms, a, b, rms, shared);
    EXPECT_LE(rms, best.rms + 0.005);
    if (shared > best.rms + 0.005) {
      EXPECT_LT(rms, shared);
    }
  }
}

}  // namespace
}  // namespace echosim
