// The kernel-calibration fit on real measurements: Vidur's per-operator GPU times on H100
// (../shared/data/measured/kernels/vidur/compute_h100_*_mlp.csv, microsoft/vidur
// data/profiling) turned into kernel samples: the four GEMMs of a Llama layer (QKV, output
// projection, MLP up and down) and its memory-bound ops (norms, activation, residual add,
// RoPE) for 1..4096 tokens at TP 1..8. Fitted on Llama-2-7B's shapes, the curve must predict
// Llama-2-70B's shapes (none of them in the fit) about as well as the datasheet roofline (whose
// GEMM size curve is fitted to AZ's cuBLASLt sweep, h100-sxm.yaml) and its memory-bound ops
// better, within the gates below (the 10% target for uncalibrated shapes on GEMMs of at least 128
// tokens, where Vidur's times are kernel time rather than launch latency). Skipped when the
// shared data is absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "hardware/kernel_calibration.h"
#include "simulator/core/strings.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

fs::path VidurDir() {
  return fs::path(ECHOSIM_SOURCE_DIR).parent_path() / "shared" / "data" / "measured" / "kernels" / "vidur";
}

// Samples of one Vidur compute CSV (medians in ms); bf16 activations (2 bytes).
std::vector<KernelSample> ReadVidur(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  auto header = SplitCsvLine(line);
  EXPECT_TRUE(header.ok());
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < header->size(); ++i) col[(*header)[i]] = i;
  std::vector<KernelSample> out;
  while (std::getline(in, line)) {
    auto cells = SplitCsvLine(line);
    if (!cells.ok() || cells->size() != header->size()) continue;
    auto num = [&](const std::string& name) { return std::stod((*cells)[col.at(name)]); };
    const int64_t t = static_cast<int64_t>(num("num_tokens")), tp = static_cast<int64_t>(num("num_tensor_parallel_workers"));
    const int64_t h = static_cast<int64_t>(num("n_embd")), heads = static_cast<int64_t>(num("n_head"));
    const int64_t kv = static_cast<int64_t>(num("n_kv_head")), ffn = static_cast<int64_t>(num("n_expanded_embd"));
    const bool gated = (*cells)[col.at("use_gated_mlp")] == "True";
    const int64_t hd = h / heads;
    auto add = [&](const char* stat, ComputeOp op) {
      KernelSample s;
      s.op = std::move(op);
      s.median_us = num(StrCat("time_stats.", stat, ".median")) * 1e3;
      if (s.median_us > 0) out.push_back(std::move(s));
    };
    auto gemm = [&](const char* name, int64_t m, int64_t n, int64_t k) {
      ComputeOp op;
      op.name = name;
      op.cls = OpClass::kGemm;
      op.m = m;
      op.n = n;
      op.k = k;
      op.flops = 2.0 * m * n * k;
      op.bytes = 2.0 * (m * k + k * n + m * n);
      return op;
    };
    auto memory = [&](const char* name, double bytes) {
      ComputeOp op;
      op.name = name;
      op.cls = OpClass::kMemoryBound;
      op.bytes = bytes;
      return op;
    };
    const double act = 2.0 * t * h;  // one activation tensor, bytes
    add("attn_pre_proj", gemm("qkv.fwd", t, (heads + 2 * kv) * hd / tp, h));
    add("attn_post_proj", gemm("proj.fwd", t, h, heads * hd / tp));
    add("mlp_up_proj", gemm("mlp.fc1.fwd", t, (gated ? 2 : 1) * ffn / tp, h));
    add("mlp_down_proj", gemm("mlp.fc2.fwd", t, h, ffn / tp));
    add("input_layernorm", memory("ln1.fwd", 2 * act));
    add("post_attention_layernorm", memory("ln2.fwd", 2 * act));
    add("add", memory("residual.add", 3 * act));
    add("mlp_act", memory("mlp.act.fwd", 2.0 * t * ffn / tp * ((gated ? 2 : 1) + 1)));
    add("attn_rope", memory("rope.fwd", 2.0 * 2.0 * t * (heads + kv) * hd / tp));
  }
  return out;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median |error| of `p` on the samples of class `cls` with at least `min_m` rows.
double MedianError(const GpuSpec& gpu, const FittedComputeParams& p, const std::vector<KernelSample>& s,
                   OpClass cls, int64_t min_m = 0) {
  std::vector<double> e;
  for (const KernelSample& k : s) {
    if (k.op.cls != cls || (cls == OpClass::kGemm && k.op.m < min_m)) continue;
    e.push_back(std::abs(RooflineSeconds(gpu, p, k.op) * 1e6 / k.median_us - 1));
  }
  return Median(e);
}

TEST(KernelFitVidurTest, FitOnLlama2_7bPredictsLlama2_70bOnH100) {
  const fs::path dir = VidurDir();
  if (!fs::exists(dir / "compute_h100_Llama-2-7b-hf_mlp.csv")) GTEST_SKIP() << "no Vidur data at " << dir;
  const std::vector<KernelSample> fit_on = ReadVidur(dir / "compute_h100_Llama-2-7b-hf_mlp.csv");
  const std::vector<KernelSample> held_out = ReadVidur(dir / "compute_h100_Llama-2-70b-hf_mlp.csv");
  ASSERT_GT(fit_on.size(), 5000u);
  ASSERT_GT(held_out.size(), 5000u);
  const GpuSpec gpu = *FindGpuPreset("h100-sxm");
  const FittedComputeParams fit = FitKernelSamples(gpu, fit_on);
  const FittedComputeParams sheet = DatasheetParams(gpu);
  const double gemm_fit = MedianError(gpu, fit, fit_on, OpClass::kGemm, 128);
  const double gemm_held = MedianError(gpu, fit, held_out, OpClass::kGemm, 128);
  const double gemm_sheet = MedianError(gpu, sheet, held_out, OpClass::kGemm, 128);
  const double mem_held = MedianError(gpu, fit, held_out, OpClass::kMemoryBound);
  const double mem_sheet = MedianError(gpu, sheet, held_out, OpClass::kMemoryBound);
  std::printf("H100 Vidur GEMMs (>= 128 tokens): fitted on 7B %.1f%%, held-out 70B %.1f%% (datasheet %.1f%%)\n",
              100 * gemm_fit, 100 * gemm_held, 100 * gemm_sheet);
  std::printf("H100 Vidur memory-bound ops: held-out 70B %.1f%% (datasheet %.1f%%)\n", 100 * mem_held,
              100 * mem_sheet);
  std::printf("fit: bf16 max_eff %.3f min_dim_half %.0f flops_half %.3g; memory eff %.3f overhead %.2f us\n",
              fit.gemm[0].max_efficiency, fit.gemm[0].min_dim_half, fit.gemm[0].flops_half, fit.memory.efficiency,
              fit.memory.overhead_s * 1e6);
  EXPECT_LT(gemm_held, 0.10);
  // The datasheet curve (h100-sxm.yaml: size terms fitted to AZ's fp8 cuBLASLt sweep) meets the
  // same gate on these bf16 shapes, and the Vidur fit stays within a point of it.
  EXPECT_LT(gemm_sheet, 0.10);
  EXPECT_LT(gemm_held, gemm_sheet + 0.01);
  EXPECT_LT(mem_held, mem_sheet);
}

}  // namespace
}  // namespace echosim
