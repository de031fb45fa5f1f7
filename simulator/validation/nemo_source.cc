// The NVIDIA NeMo / Megatron-Bridge performance summaries as validation rows.
//
// Source file: training/training_nemo_megatron_bridge_perf_summary.csv, a verbatim
// transcription of Megatron-Bridge docs/performance-summary{,-archive}.md and of NeMo
// 24.07's docs/source/performance/performance_summary.md (NVIDIA-measured throughput of
// NeMo containers on DGX-H100, DGX-B200, DGX-B300, DGX-GB200 and DGX-GB300).
//
// Measured step time = GBS * SeqLen / (tokens/s/GPU * #GPUs). A cell such as
// "37556 (36108)" holds the primary configuration first and the alternative the page
// explains in parentheses; the primary is used throughout (for every column). Footnote
// markers ("661[^note]") are dropped. A blank precision in the older sections means FP8
// (the page's header says so).
//
// What the table does not state is taken from how NeMo's performance recipes
// (Megatron-Bridge scripts/performance) configure Megatron-Core, the same for every
// row: distributed optimizer (ZeRO-1) unless the FSDP column is set (then Megatron FSDP,
// ZeRO-3), DP gradient reduce and parameter gather overlapped with compute, sequence
// parallelism and TP communication overlap whenever TP > 1, no activation recomputation,
// fused (flash) attention in 16-bit. Each row's `assumptions` lists these and anything
// specific to it.
#include <algorithm>
#include <cmath>
#include <map>

#include "hardware/gpu_spec.h"
#include "simulator/core/strings.h"
#include "simulator/validation/validation_case.h"

namespace echosim {

std::string PrimaryCellValue(const std::string& cell) {
  std::string s = cell;
  // Footnote markers: "[^...]".
  for (size_t at = s.find("[^"); at != std::string::npos; at = s.find("[^")) {
    const size_t end = s.find(']', at);
    s.erase(at, end == std::string::npos ? std::string::npos : end - at + 1);
  }
  const size_t paren = s.find('(');
  if (paren != std::string::npos) s = s.substr(0, paren);
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

namespace {

constexpr char kFile[] = "training/training_nemo_megatron_bridge_perf_summary.csv";

// Optional integer cell: blank or "n/a" -> `absent`.
StatusOr<int64_t> IntCell(const CsvTable& t, size_t r, const std::string& column, int64_t absent) {
  ECHOSIM_ASSIGN_OR_RETURN(std::string raw, t.Get(r, column));
  const std::string v = PrimaryCellValue(raw);
  if (v.empty() || v == "n/a") return absent;
  size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || x < 0) {
    return InvalidArgument(StrCat(t.path, ":", t.line_numbers[r], ": column '", column,
                                  "': expected a non-negative integer, 'n/a' or blank, got '",
                                  raw, "'"));
  }
  return static_cast<int64_t>(x);
}

StatusOr<double> PositiveCell(const CsvTable& t, size_t r, const std::string& column) {
  ECHOSIM_ASSIGN_OR_RETURN(std::string raw, t.Get(r, column));
  const std::string v = PrimaryCellValue(raw);
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (v.empty() || used != v.size() || !(x > 0) || !std::isfinite(x)) {
    return InvalidArgument(StrCat(t.path, ":", t.line_numbers[r], ": column '", column,
                                  "': expected a positive number, got '", raw, "'"));
  }
  return x;
}

struct ModelMapping {
  const char* preset;  // empty: not representable
  const char* note;    // assumption (preset) or skip reason
};

// Model names of the table (before any " (variant)") -> echosim preset, or why not.
const std::map<std::string, ModelMapping>& Models() {
  static const auto* m = new std::map<std::string, ModelMapping>{
      {"LLAMA3_8B", {"llama3-8b", ""}},
      {"LLAMA3-8B", {"llama3-8b", ""}},
      {"LLAMA3_70B", {"llama3-70b", ""}},
      {"LLAMA3-70B", {"llama3-70b", ""}},
      {"LLAMA3.1_405B", {"llama3.1-405b", ""}},
      {"LLAMA2-7B", {"llama2-7b", ""}},
      {"LLAMA2-13B", {"llama2-13b", ""}},
      {"LLAMA2-70B", {"llama2-70b", ""}},
      {"GPT3-5B", {"gpt3-5b", ""}},
      {"GPT3-20B", {"gpt3-20b", ""}},
      {"GPT3-175B", {"gpt3-175b", ""}},
      {"Nemotron-8B", {"nemotron3-8b", "squared-ReLU MLP simulated with GELU-MLP GEMM shapes"}},
      {"Nemotron-22B", {"nemotron3-22b", "squared-ReLU MLP simulated with GELU-MLP GEMM shapes"}},
      {"Nemotron-340B", {"nemotron4-340b", "squared-ReLU MLP simulated with GELU-MLP GEMM shapes"}},
      {"DeepSeekV3",
       {"deepseek-v3", "node-limited routing (4 of 8 expert groups per token) with balanced picks "
                       "(the page's force-balanced token distribution)"}},
      {"Kimi_K2", {"kimi-k2", ""}},
      {"DeepSeekV4 Flash",
       {"", "DeepSeek-V4: no public architecture description echosim can be checked "
            "against (DeepSeek-family latent attention), not representable"}},
      {"Qwen3_30B_a3B", {"qwen3-30b-a3b", ""}},
      {"Qwen3_235B_a22B", {"qwen3-235b-a22b", ""}},
      {"GPT OSS 120B",
       {"gpt-oss-120b", "the learned attention sinks and the attention projections' biases "
                        "not simulated; the clamped SwiGLU and the experts' fc2 biases "
                        "simulated as Megatron-Core's separate kernels, the clamped activation's "
                        "copy of its offset to the GPU as a host synchronisation in each eager "
                        "MoE layer; YaRN RoPE simulated as "
                        "Megatron-Core's unfused PyTorch RoPE; the 128-token windows at cuDNN's "
                        "measured window rate"}},
      {"Nemotron_3_Nano",
       {"nemotron3-nano", "squared-ReLU experts simulated with GELU-MLP GEMM shapes; the Mamba "
                          "mixer's sequence-first / batch-first copies above one sequence per "
                          "micro-batch"}},
      {"Nemotron_3_Super",
       {"nemotron3-super", "squared-ReLU latent experts simulated with GELU-MLP GEMM shapes"}},
      {"Nemotron_3_Ultra",
       {"", "Nemotron 3 Ultra: no configuration of its layers and experts in the sources the "
            "rows' recipes are read from (Megatron-Bridge's recipes take it from the Hugging "
            "Face checkpoint)"}},
      {"Nemotron_3_5_Lightning",
       {"", "Nemotron 3.5: hybrid Mamba / attention family with no public configuration echosim "
            "can be checked against"}},
  };
  return *m;
}

struct SystemMapping {
  const char* gpu;  // empty: no preset
  int64_t gpus_per_node;
  const char* note;
};

const std::map<std::string, SystemMapping>& Systems() {
  static const auto* m = new std::map<std::string, SystemMapping>{
      {"DGX-H100", {"h100-sxm", 8, ""}},
      {"DGX-B200", {"b200", 8, ""}},
      {"DGX-B300", {"b300", 8, ""}},
      {"DGX-GB200",
       {"gb200", 72, "GB200 NVL72: one NVLink domain of up to 72 GPUs; the job's GPUs fill "
                     "whole domains of the largest size <= 72 that divides them"}},
      {"DGX-GB300",
       {"gb300", 72, "GB300 NVL72: one NVLink domain of up to 72 GPUs, as GB200; the gb300 "
                     "preset's GEMM plateaus are B300's measured ratios (no GB300 GEMM "
                     "measurement in the sources), its attention cuDNN's measured GB300 rate"}},
  };
  return *m;
}

// Recipe settings that changed between releases for particular rows, which the summary
// tables do not state. Source: NVIDIA-NeMo/Megatron-Bridge, the Qwen3 performance configs at
// the commit that published each release's summary: scripts/performance/configs/qwen/
// qwen3_workload_base_configs.py at fa0315ae2 (25.09), 97ad8cc6f (25.11), c0b9a0003 (26.02),
// cfeddcd94 (26.02.01), 74695a06d (26.04), 21d102f5e (26.04.01) and 63b08b397 (26.06), and
// src/megatron/bridge/perf_recipes/qwen/{gb200,b300}/qwen3_moe.py at 381d0b825 (26.06.01) and
// 4ab94dfad (26.08). A setting is applied to a row only where that recipe states the same
// GPUs, parallel plan and batch as the row (several earlier recipes with moe_a2a_overlap do
// not: the 25.11 Qwen3-30B H100 and Qwen3-235B B200 recipes give another VP, GBS or MBS
// than their rows, so those rows keep the defaults). The Qwen3-235B H100 recipe (256 GPUs,
// TP 2, PP 8, VP 4, EP 32; GBS 2048 in 25.11, 8192 from 26.02) sets moe_a2a_overlap in every
// release from 25.11 to 26.04.01.
//   moe_a2a_overlap: overlap_moe_expert_parallel_comm with delayed weight gradients.
//   From 26.06 the MXFP8 recipes below also set fp8_dot_product_attention, full-iteration
//   CUDA graphs (RecipeGraphScopes) and the fused (CuTe DSL) grouped MLP (FusedGroupedMlp).
struct RecipeChange {
  const char* model;
  const char* system;
  const char* precision;
  const char* release;  // short release name ("26.06")
  bool ep_overlap;
  bool fp8_attention;
};

const std::vector<RecipeChange>& RecipeChanges() {
  static const auto* v = new std::vector<RecipeChange>{
      {"Qwen3_235B_a22B", "DGX-H100", "FP8-CS", "25.11", true, false},
      {"Qwen3_235B_a22B", "DGX-B300", "MXFP8", "26.02", true, false},
      {"Qwen3_235B_a22B", "DGX-H100", "FP8", "26.02", true, false},
      {"Qwen3_235B_a22B", "DGX-H100", "FP8", "26.02.01", true, false},
      {"Qwen3_235B_a22B", "DGX-H100", "FP8", "26.04", true, false},
      {"Qwen3_235B_a22B", "DGX-H100", "FP8", "26.04.01", true, false},
      {"Qwen3_30B_a3B", "DGX-GB200", "MXFP8", "26.06", true, true},
      {"Qwen3_30B_a3B", "DGX-B300", "MXFP8", "26.06", true, true},
      {"Qwen3_235B_a22B", "DGX-GB200", "MXFP8", "26.06", true, true},
      {"Qwen3_30B_a3B", "DGX-GB200", "MXFP8", "26.06.01", true, true},
      {"Qwen3_235B_a22B", "DGX-GB200", "MXFP8", "26.06.01", true, true},
      {"Qwen3_30B_a3B", "DGX-GB200", "MXFP8", "26.08", true, true},
      {"Qwen3_235B_a22B", "DGX-GB200", "MXFP8", "26.08", true, true},
      // GB300: the 26.06 MXFP8 configs (Qwen3-30B GB300 FP8_MX V1: 8 GPUs, MBS 8; Qwen3-235B
      // GB300 FP8_MX V2: 256 GPUs, PP 4, VP 12, EP 32, GBS 8192) set moe_a2a_overlap and fp8
      // attention; at 381d0b825 (26.06.01) and 4ab94dfad (26.08) perf_recipes/qwen/gb300/
      // qwen3_moe.py keeps both (_enable_hybridep_full_iteration_mxfp8) in
      // qwen3_30b_a3b_pretrain_8gpu_gb300_fp8mx_config and in
      // qwen3_235b_a22b_pretrain_256gpu_gb300_fp8mx_config (256 GPUs, PP 4, VP 12, EP 32,
      // GBS 8192, MBS 2: the rows' plan).
      {"Qwen3_30B_a3B", "DGX-GB300", "MXFP8", "26.06", true, true},
      {"Qwen3_235B_a22B", "DGX-GB300", "MXFP8", "26.06", true, true},
      {"Qwen3_30B_a3B", "DGX-GB300", "MXFP8", "26.06.01", true, true},
      {"Qwen3_235B_a22B", "DGX-GB300", "MXFP8", "26.06.01", true, true},
      {"Qwen3_30B_a3B", "DGX-GB300", "MXFP8", "26.08", true, true},
      {"Qwen3_235B_a22B", "DGX-GB300", "MXFP8", "26.08", true, true},
      // gpt-oss-120b on 64 GB200 (EP 64, MBS 4, GBS 1280): scripts/performance/configs/gpt_oss/
      // gpt_oss_workload_base_configs.py GB200 V2 at 74695a06d (26.04) and 21d102f5e (26.04.01)
      // sets moe_a2a_overlap in BF16; at 63b08b397 (26.06) the MXFP8 V2 adds fp8 attention, and
      // perf_recipes/gpt_oss (_apply_gpt_oss_120b_full_iter_fp8mx_configs) keeps both at
      // 381d0b825 (26.06.01) and 4ab94dfad (26.08).
      {"GPT OSS 120B", "DGX-GB200", "BF16", "26.04", true, false},
      {"GPT OSS 120B", "DGX-GB200", "BF16", "26.04.01", true, false},
      {"GPT OSS 120B", "DGX-GB200", "MXFP8", "26.06", true, true},
      {"GPT OSS 120B", "DGX-GB200", "MXFP8", "26.06.01", true, true},
      {"GPT OSS 120B", "DGX-GB200", "MXFP8", "26.08", true, true},
      // GB300 (EP 16): the 26.06 FP8_MX V2 config sets moe_a2a_overlap and fp8 attention, and
      // perf_recipes/gpt_oss/gb300/gpt_oss.py applies _apply_gpt_oss_120b_full_iter_fp8mx_configs
      // at 4ab94dfad (26.08).
      {"GPT OSS 120B", "DGX-GB300", "MXFP8", "26.06", true, true},
      {"GPT OSS 120B", "DGX-GB300", "MXFP8", "26.08", true, true},
  };
  return *v;
}

// Activation offloading (cpu_offloading_num_layers) of the FSDP recipes: llama3_70b and
// llama31_405b perf_matrix entries of scripts/performance/configs/*/..._llm_pretrain.yaml at
// fa0315ae2 (25.09), then the *_workload_base_configs.py presets at 97ad8cc6f (25.11),
// c0b9a0003 (26.02), cfeddcd94 (26.02.01), 74695a06d (26.04) and 21d102f5e (26.04.01): Llama 3
// 70B GB200 fp8 (current scaling) 40, GB300 fp8 20, GB200 BF16 20, GB300 BF16 30; Llama 3.1
// 405B GB200 fp8 (25.09, TP 2 FSDP) 95. 0 where no recipe states it.
int64_t CpuOffloadLayers(const std::string& model, const std::string& system,
                         const std::string& precision, const std::string& release) {
  const bool fp8 = precision == "FP8" || precision == "FP8-CS" || precision.empty();
  if (model == "LLAMA3_70B") {
    if (system == "DGX-GB200") return fp8 ? 40 : precision == "BF16" ? 20 : 0;
    if (system == "DGX-GB300") return fp8 ? 20 : precision == "BF16" ? 30 : 0;
  }
  if (model == "LLAMA3.1_405B" && system == "DGX-GB200" && fp8 && release == "25.09") return 95;
  return 0;
}

// Rows whose stated parallel plan contradicts the recipe of their own release, where the
// measurement agrees with the recipe (each entry says how). They are simulated as the recipe
// states, and say so.
struct PlanCorrection {
  const char* model;
  const char* system;
  const char* precision;
  const char* release;
  int64_t tp, pp, vp, mbs, ep;
  const char* commit;    // Megatron-Bridge commit that published the release's summary
  const char* recipe;    // the config there
  const char* evidence;  // the measurements the recipe's plan agrees with
};

const std::vector<PlanCorrection>& PlanCorrections() {
  static const auto* v = new std::vector<PlanCorrection>{
      // The two DGX-GB300 Llama3-70B rows of 26.02.01 state TP 1, PP 4 (MXFP8) or PP 1
      // (NVFP4), no VP and MBS 2, but the release's configs (Megatron-Bridge
      // scripts/performance/configs/llama/llama3_workload_base_configs.py at cfeddcd94, GBS 256)
      // set PP 4, VP 5 and the default MBS 1 for both, and their throughputs (4798 and 7002
      // tokens/s/GPU) sit between the same recipes' PP 4 / VP 5 / MBS 1 rows of 26.02 and 26.04
      // (4596-4742 and 6798-7397).
      {"LLAMA3_70B", "DGX-GB300", "MXFP8", "26.02.01", 1, 4, 5, 1, 1, "cfeddcd94",
       "LLAMA3_70B_PRETRAIN_CONFIG_GB300_FP8_MX_V2", "the recipe's rows of 26.02 and 26.04"},
      {"LLAMA3_70B", "DGX-GB300", "NVFP4", "26.02.01", 1, 4, 5, 1, 1, "cfeddcd94",
       "LLAMA3_70B_PRETRAIN_CONFIG_GB300_NVFP4_V2", "the recipe's rows of 26.02 and 26.04"},
      // The H100 Qwen3-30B row of 26.02.01 states PP 2, VP 12, EP 8 (as in 26.02, 5,113
      // tokens/s/GPU); the release's 16-GPU H100 config sets PP 1, EP 16, and the row's 9,058
      // tokens/s/GPU matches the rows of 26.04, 26.04.01 and 26.06 stated with PP 1, EP 16
      // (8,826-8,960).
      {"Qwen3_30B_a3B", "DGX-H100", "FP8", "26.02.01", 1, 1, 1, 1, 16, "cfeddcd94",
       "QWEN3_30B_A3B_PRETRAIN_CONFIG_H100_FP8_CS_V1",
       "the rows of 26.04 to 26.06 stated with PP 1, EP 16 (9,058 tokens/s/GPU against "
       "8,826-8,960; the 26.02 row stated with PP 2, VP 12, EP 8 reached 5,113)"},
      // The B200 gpt-oss row of 25.11 states EP 8; the release's B200 recipe sets EP 64. Step
      // time per sequence per GPU: this row 3.99 s / 8 = 0.50 s; the 26.02 B200 row, stated EP 64
      // with the same MBS, 10.18 s / 20 = 0.51 s; the EP 8 rows of 26.02.01-26.04.01 0.30-0.31 s.
      {"GPT OSS 120B", "DGX-B200", "BF16", "25.11", 1, 1, 1, 4, 64, "97ad8cc6f",
       "GPT_OSS_120B_PRETRAIN_CONFIG_B200_BF16_BASE_CONFIG",
       "the 26.02 B200 row stated with EP 64 (0.50 s per sequence per GPU against 0.51 s; the "
       "EP 8 rows of 26.02.01 to 26.04.01 take 0.30-0.31 s)"},
  };
  return *v;
}

const RecipeChange* FindRecipeChange(const std::string& model, const std::string& system,
                                     const std::string& precision, const std::string& release) {
  for (const RecipeChange& r : RecipeChanges()) {
    if (model == r.model && system == r.system && precision == r.precision && release == r.release) {
      return &r;
    }
  }
  return nullptr;
}

// DeepSeek-V3 and Kimi K2 rows: what each release's recipe runs beyond the table. Source:
// NVIDIA-NeMo/Megatron-Bridge, the DeepSeek-V3 / Kimi K2 performance configs at each release's
// commit: scripts/performance/configs/deepseek/deepseek_workload_base_configs.py and
// deepseek_llm_pretrain.py (kimi/kimi_workload_base_configs.py) at c0b9a0003 (26.02), cfeddcd94
// (26.02.01), 74695a06d (26.04), 21d102f5e (26.04.01), 63b08b397 (26.06);
// src/megatron/bridge/perf_recipes/deepseek/{gb300,gb200}/deepseek_v3.py at 381d0b825 (26.06.01)
// and 4ab94dfad (26.08); the 25.11 B200 config at 97ad8cc6f; the 25.09 configs
// (configs/deepseek/deepseek_v3_llm_pretrain.yaml) of the release branch r0.1.0 (684a68616),
// which match the 25.09 table where the release commit fa0315ae2 does not.
//   Layouts: every 16-virtual-stage plan (PP 16; PP 8 VP 2; PP 4 VP 4; PP 2 VP 8) runs
//   "Et*4|(t*4|)*14tmL"; PP 8 without VP (B300, 26.04.01 and 26.06) "Et*8|(t*8|)*6t*5mL"; the
//   25.09 H100 plan (PP 8, VP 4) "Et|(tt|)*30mL". MTP depth 1 in every DeepSeek-V3 recipe.
//   Recompute: mla_up_proj, except GB200 at 26.04 and 26.04.01 (mlp), B200 at 26.04.01 and
//   H100 at 25.09 (mla_up_proj and mlp), and GB300 from 26.06 (none).
//   MoE all-to-all overlap (moe_a2a_overlap): H100 25.09, B200 26.04.01, GB300 and GB200 from
//   26.06; fp8 attention: GB300 from 26.06. The 25.09 H100 recipe turns overlap_grad_reduce off.
struct DeepSeekRecipe {
  std::string skip;  // non-empty: not reproducible, and why
  std::string layout;
  int64_t mtp = 1;
  std::vector<std::string> recompute;
  bool ep_overlap = false, fp8_attention = false, overlap_grad = true;
  bool muon = false;  // the Muon optimizer, no distributed optimizer, no fp8 parameter gather
  bool flex = false;  // the flex dispatcher (HybridEP or DeepEP backend)
  int flex_sms = 0;   // SMs of its kernels (0: HybridEP's 32 of the performance scripts)
  std::string note;
};

DeepSeekRecipe FindDeepSeekRecipe(const std::string& model, const std::string& model_cell,
                                  const std::string& system, const std::string& release,
                                  int64_t gbs, int64_t pp, int64_t vp) {
  DeepSeekRecipe r;
  if (model == "Kimi_K2") {
    // configs/kimi/kimi_workload_base_configs.py and kimi_llm_pretrain.py (cfeddcd94 to
    // 63b08b397): PP 4, VP 4, EP 64, MBS 2; no MTP; recompute mla_up_proj; the Muon optimizer
    // without the distributed optimizer, and (its MXFP8 workaround) no fp8 parameter gather.
    if (pp * vp != 16) {
      r.skip = StrCat("no pipeline layout in the release's Kimi K2 recipe for PP ", pp, ", VP ", vp);
      return r;
    }
    r.layout = "Et*4|(t*4|)*14tL";
    r.mtp = 0;
    r.recompute = {"mla_up_proj"};
    r.muon = true;
    r.flex = true;  // HybridEP
    return r;
  }
  if (model_cell.find("w/o MTP") != std::string::npos) {
    r.skip = "no configuration without MTP in the release's DeepSeek-V3 recipes, which all set "
             "mtp_num_layers 1 (the 25.11 rows without it were added to the page after the release "
             "commit 97ad8cc6f; the only such configs, on a side branch, contradict the stated "
             "virtual pipeline size)";
    return r;
  }
  if (pp * vp == 16) {
    r.layout = "Et*4|(t*4|)*14tmL";
  } else if (pp == 8 && vp == 1) {
    r.layout = "Et*8|(t*8|)*6t*5mL";
  } else if (pp == 8 && vp == 4 && system == "DGX-H100") {
    r.layout = "Et|(tt|)*30mL";
  } else {
    r.skip = StrCat("no pipeline layout in the release's recipes for PP ", pp, ", VP ", vp);
    return r;
  }
  r.recompute = {"mla_up_proj"};
  const bool from_2606 = release == "26.06" || release == "26.06.01" || release == "26.08";
  if (system == "DGX-GB200" && (release == "26.04" || release == "26.04.01")) r.recompute = {"mlp"};
  if ((system == "DGX-B200" && release == "26.04.01") || (system == "DGX-H100" && release == "25.09")) {
    r.recompute = {"mla_up_proj", "mlp"};
    r.ep_overlap = true;
  }
  if (system == "DGX-H100" && release == "25.09") r.overlap_grad = false;
  // The flex dispatcher: HybridEP in every recipe from 26.02 (DeepEP for B200 at 26.04.01) and
  // DeepEP for H100 at 25.09; the other 25.09 and the 25.11 recipes use the all-to-all one.
  r.flex = !(release == "25.09" || release == "25.11") || system == "DGX-H100";
  // DeepEP keeps its own default of 20 SMs (Megatron-Core moe_deepep_num_sms; the 25.09 and
  // 25.11 scripts set layernorm_sm_margin 20 to leave them free); the scripts give HybridEP 32
  // (utils/overrides.py), the scenario default.
  if (r.flex && (system == "DGX-H100" || (system == "DGX-B200" && release == "26.04.01"))) r.flex_sms = 20;
  if (from_2606 && (system == "DGX-GB300" || system == "DGX-GB200")) r.ep_overlap = true;
  if (from_2606 && system == "DGX-GB300") {
    r.recompute.clear();
    r.fp8_attention = true;
  }
  if (system == "DGX-GB300" && release == "26.06" && gbs != 4096) {
    r.note = StrCat("no recipe with GBS ", gbs, " in the release; its GB300 recipe (GBS 4096) run with "
                    "the stated GBS");
  }
  return r;
}

// Whether a row's recipe runs the expert MLP as Transformer Engine's fused grouped MLP
// (use_transformer_engine_op_fuser with NVTE_CUTEDSL_FUSED_GROUPED_MLP, MXFP8 on Blackwell; see
// LayerContext::fused_moe_mlp). Megatron-Bridge at 63b08b397 (26.06): cutedsl_fused_grouped_mlp
// in scripts/performance/configs/qwen/qwen3_workload_base_configs.py (Qwen3-235B-A22B GB300 and
// GB200 FP8_MX V2; Qwen3-30B-A3B GB300, GB200 and B300 FP8_MX V1),
// configs/deepseek/deepseek_workload_base_configs.py (DeepSeek-V3 GB300 and GB200 FP8_MX V1) and
// configs/gpt_oss/gpt_oss_workload_base_configs.py (gpt-oss-120b GB200 and GB300 FP8_MX V2),
// applied by utils/overrides.py and perf_plugins.py; the perf_recipes of 381d0b825 (26.06.01)
// and 4ab94dfad (26.08) keep NVTE_CUTEDSL_FUSED_GROUPED_MLP for the same systems
// (perf_recipes/{qwen,deepseek,gpt_oss}/<system>/*.py).
bool FusedGroupedMlp(const std::string& model, const std::string& system, const std::string& precision,
                     const std::string& release) {
  if (precision != "MXFP8") return false;
  if (release != "26.06" && release != "26.06.01" && release != "26.08") return false;
  const bool grace = system == "DGX-GB200" || system == "DGX-GB300";
  if (model == "Qwen3_30B_a3B") return grace || system == "DGX-B300";
  if (model == "Qwen3_235B_a22B" || model == "DeepSeekV3" || model == "GPT OSS 120B") return grace;
  return false;
}

// The CUDA graphs of the release recipe of a GB200 / GB300 row (see RecipeGraphScopes).
// Read from Megatron-Bridge's workload base configs at the commits below (the default config
// variant, V2 where one exists from 26.02 to 26.06; the per-GPU-count perf_recipes from
// 26.06.01), following each config's replace() chain: "none" where a config leaves the base
// recipe's cuda_graph_impl. 25.09 (fa0315ae2): the cuda_graphs flag of
// configs/{qwen3,deepseek,llama3,llama31}/*_llm_pretrain.yaml (Megatron-Core's per-layer
// graphs). From 26.06 every MXFP8 MoE config of Qwen3, DeepSeek-V3 and gpt-oss captures the
// full iteration (cuda_graph_impl "full_iteration").
std::vector<std::string> GraceRecipeGraphScopes(const std::string& model,
                                                const std::string& system,
                                                const std::string& precision,
                                                const std::string& release) {
  const std::vector<std::string> kRouter = {"moe_router", "moe_preprocess"};
  const std::vector<std::string> kAttnRouter = {"attn", "moe_router", "moe_preprocess"};
  const std::vector<std::string> kFull = {"full_iteration"};
  const bool gb300 = system == "DGX-GB300";
  const bool mxfp8 = precision == "MXFP8" || precision == "FP8-MX";
  const bool from_2606 = release == "26.06" || release == "26.06.01" || release == "26.08";
  if (release == "25.09") {
    // cuda_graphs true for Qwen3-30B-A3B, Qwen3-235B-A22B and Llama 3 8B on GB200; false for
    // DeepSeek-V3, Llama 3 70B and Llama 3.1 405B.
    if (model == "Qwen3_30B_a3B" || model == "Qwen3_235B_a22B") return {"attn", "moe"};
    if (model == "LLAMA3_8B") return {"attn", "mlp"};
    return {};
  }
  // Llama 3 8B: local full-iteration graphs (LLAMA3_8B_PRETRAIN_CONFIG_GB{2,3}00_*, 97ad8cc6f
  // to 4ab94dfad); Llama 3 70B and Llama 3.1 405B: none.
  if (model == "LLAMA3_8B") return kFull;
  if (model == "Qwen3_30B_a3B") {
    // QWEN3_30B_A3B_PRETRAIN_CONFIG_GB{2,3}00_FP8_MX_V1: moe_router, moe_preprocess up to
    // 26.04.01 (GB200's BF16 / FP8_CS configs add attn); full iteration from 26.06.
    if (mxfp8) return from_2606 ? kFull : kRouter;
    return gb300 ? kRouter : kAttnRouter;
  }
  if (model == "Qwen3_235B_a22B") {
    // 25.11: GB300 moe_router, moe_preprocess, GB200 with attn; the 256-GPU V2 configs of
    // 26.02 to 26.04.01 (the rows' plans) capture attn, moe_router, moe_preprocess on both;
    // full iteration for MXFP8 from 26.06.
    if (release == "25.11") return gb300 ? kRouter : kAttnRouter;
    return mxfp8 && from_2606 ? kFull : kAttnRouter;
  }
  if (model == "DeepSeekV3") {
    // DEEPSEEK_V3_PRETRAIN_CONFIG_GB200_*: attn, moe_router, moe_preprocess (26.02 to
    // 26.04.01); GB300 FP8_MX: none; both full iteration for MXFP8 from 26.06.
    if (mxfp8 && from_2606) return kFull;
    return gb300 ? std::vector<std::string>{} : kAttnRouter;
  }
  if (model == "GPT OSS 120B") {
    // GB300 BF16 / FP8_MX: attn, moe_router, moe_preprocess; GB200: none; the FP8_MX V2
    // configs of 26.06 and the 26.08 recipe: full iteration.
    if (mxfp8 && from_2606) return kFull;
    return gb300 ? kAttnRouter : std::vector<std::string>{};
  }
  // NEMOTRON_3_{NANO,SUPER}_PRETRAIN_CONFIG_GB{2,3}00_*: attn, mamba, moe_router, moe_preprocess
  // (from 26.02.01 for Nano, 26.04 for Super; the rows span those releases).
  if (model == "Nemotron_3_Nano" || model == "Nemotron_3_Super") {
    return {"attn", "mamba", "moe_router", "moe_preprocess"};
  }
  return {};  // Kimi K2 on GB300 from 26.02.01, Llama 3 70B, Llama 3.1 405B: none
}

// The CUDA graphs of the release recipe of a row on a system whose GPU preset has a host
// launch model, as parallelism.cuda_graph_scope; empty: eager. Read from Megatron-Bridge's
// workload base configs
// (scripts/performance/configs/{qwen/qwen3,deepseek/deepseek,gpt_oss/gpt_oss,nemotronh/
// nemotron_3}_workload_base_configs.py, cuda_graph_impl and cuda_graph_scope of the config the
// row's plan matches) at 97ad8cc6f (25.11), c0b9a0003 (26.02), cfeddcd94 (26.02.01), 74695a06d
// (26.04), 21d102f5e (26.04.01) and 63b08b397 (26.06); 25.09 (fa0315ae2) from the perf_matrix
// cuda_graphs flag of configs/{deepseek,qwen3,llama3}/*_llm_pretrain.yaml, which turns on
// Megatron-Core's per-layer graphs (enable_cuda_graph): the whole layer, attention and MLP (or
// MoE, which token dropping makes static).
std::vector<std::string> RecipeGraphScopes(const std::string& model, const std::string& system,
                                           const std::string& precision, const std::string& release) {
  const std::vector<std::string> kRouter = {"moe_router", "moe_preprocess"};
  const std::vector<std::string> kAttnRouter = {"attn", "moe_router", "moe_preprocess"};
  const bool b200 = system == "DGX-B200";
  const bool b300 = system == "DGX-B300";
  if (system == "DGX-H100") {
    // NEMOTRON_3_NANO_PRETRAIN_CONFIG_H100_FP8_CS_V1 (cfeddcd94 to 63b08b397): mamba. Every other
    // H100 MoE config of these rows (Qwen3-30B-A3B FP8, Qwen3-235B-A22B, gpt-oss-120b,
    // DeepSeek-V3 at 25.09) has none.
    if (model == "Nemotron_3_Nano") return {"mamba"};
    return {};
  }
  if (system == "DGX-GB200" || system == "DGX-GB300") {
    return GraceRecipeGraphScopes(model, system, precision, release);
  }
  if (!b200 && !b300) return {};
  // Llama 3 8B on B200: perf_matrix b200 cuda_graphs true at 25.09 (whole layers); local
  // full-iteration graphs in LLAMA3_8B_PRETRAIN_CONFIG_B200_FP8_CS_BASE_CONFIG at 25.11.
  if (model == "LLAMA3_8B") {
    return release == "25.09" ? std::vector<std::string>{"attn", "mlp"}
                              : std::vector<std::string>{"full_iteration"};
  }
  if (release == "25.09") {
    // perf_matrix b200: DeepSeek-V3 fp8_cs / fp8_mx and Qwen3-30B-A3B cuda_graphs true,
    // Qwen3-235B-A22B false.
    if ((model == "DeepSeekV3" && precision != "BF16") || model == "Qwen3_30B_a3B") return {"attn", "moe"};
    return {};
  }
  if (model == "Qwen3_30B_a3B") {
    // B300 FP8_MX V1: moe_router, moe_preprocess (26.02 to 26.04.01); full-iteration graphs at
    // 26.06. B200 FP8_MX V1: moe_router, moe_preprocess at 25.11, with attn from 26.02.01.
    if (b300) return release == "26.06" ? std::vector<std::string>{"full_iteration"} : kRouter;
    return release == "25.11" || release == "26.02" ? kRouter : kAttnRouter;
  }
  if (model == "DeepSeekV3") {
    // B200 / B300 FP8_MX: no graphs up to 26.04; the V2 configs of 26.04.01 and 26.06 (the rows'
    // plans) capture attn, moe_router, moe_preprocess.
    return release == "26.04.01" || release == "26.06" ? kAttnRouter : std::vector<std::string>{};
  }
  if (model == "GPT OSS 120B") return b300 ? kAttnRouter : std::vector<std::string>{};  // B200: none
  if (model == "Nemotron_3_Nano") return {"attn", "mamba", "moe_router", "moe_preprocess"};
  if (model == "Nemotron_3_Super") {
    // BASE_NEMOTRON_3_SUPER_CONFIG (attn, mamba, moe_router, moe_preprocess) on B300; on B200
    // cuda_graph_impl "none", but the NVFP4 config captures the same four (74695a06d,
    // 21d102f5e, 63b08b397; the B200 / B300 rows span 26.04 to 26.06).
    if (b300 || precision == "NVFP4") return {"attn", "mamba", "moe_router", "moe_preprocess"};
    return {};
  }
  return {};  // Qwen3-235B-A22B: no graphs on B200 or B300
}

// Rows whose release's recipe runs Megatron-Core's flex token dispatcher (HybridEP backend),
// read from NVIDIA-NeMo/Megatron-Bridge at each release's commit. 25.09: never (token drop
// needs the all-to-all dispatcher; scripts/performance/run_script.py at fa0315ae2). 25.11
// (97ad8cc6f): the Qwen3 recipes' apply_flex_dispatcher_backend switches to flex for HybridEP on
// GB200 / GB300 only (training/flex_dispatcher_backend.py); gpt-oss has no backend. 26.02
// (c0b9a0003) and 26.02.01 (cfeddcd94): each function of configs/qwen/qwen3_llm_pretrain.py sets
// the dispatcher (flex for Qwen3-235B on GB300 / GB200 and Qwen3-30B on GB300 / GB200 / B300,
// and B200 from 26.02.01; the 26.02 H100 Qwen3-30B row keeps the plan of the all-to-all config
// it measured, the 26.02.01 one runs its recipe's EP 16 plan with HybridEP); gpt-oss all-to-all.
// 26.04 (74695a06d), 26.04.01 (21d102f5e) and 26.06 (63b08b397): utils/overrides.py applies flex
// whenever the workload base config names a backend (qwen3_ and gpt_oss_workload_base_configs.py);
// 26.06.01 (381d0b825) and 26.08 (4ab94dfad): every perf_recipes config of these rows sets it.
bool FlexDispatch(const std::string& model, const std::string& system, const std::string& release) {
  const bool gb = system == "DGX-GB200" || system == "DGX-GB300";
  const bool from_2606 = release == "26.06" || release == "26.06.01" || release == "26.08";
  if (release == "25.09") return false;
  if (model == "Qwen3_30B_a3B") {
    if (release == "25.11") return gb;
    if (release == "26.02") return gb || system == "DGX-B300";
    if (release == "26.02.01") return gb || system == "DGX-B300" || system == "DGX-B200" || system == "DGX-H100";
    return true;
  }
  if (model == "Qwen3_235B_a22B") {
    if (release == "26.04.01") return gb || system == "DGX-B300";
    return gb || from_2606;
  }
  // Nemotron 3 Nano: every recipe names HybridEP (nemotron_3_workload_base_configs.py
  // BASE_NEMOTRON_3_NANO_CONFIG at 74695a06d (26.04) and 63b08b397 (26.06); perf_recipes/
  // nemotronh at 4ab94dfad (26.08)); the 26.02.01 recipe is taken to be the same.
  if (model == "Nemotron_3_Nano") return true;
  // Nemotron 3 Super: BASE_NEMOTRON_3_SUPER_CONFIG names HybridEP (74695a06d, 21d102f5e,
  // 63b08b397), as every perf_recipes/nemotronh config does (381d0b825, 4ab94dfad).
  if (model == "Nemotron_3_Super") return true;
  if (model == "GPT OSS 120B") {
    if (release == "26.04") return system == "DGX-GB200" || system == "DGX-B300" || system == "DGX-B200";
    if (release == "26.04.01") return system == "DGX-B300";
    return from_2606;
  }
  return false;
}

}  // namespace

Status NemoRows(const std::string& dir, std::vector<ValidationCase>* out) {
  ECHOSIM_ASSIGN_OR_RETURN(CsvTable t, ReadCommentedCsv(dir + "/" + kFile));
  return NemoRowsFromTable(t, out);
}

Status NemoRowsFromTable(const CsvTable& t, std::vector<ValidationCase>* out) {
  for (size_t r = 0; r < t.rows.size(); ++r) {
    ValidationCase vc;
    ValidationRow& row = vc.row;
    RowConfig& c = vc.config;
    row.source = kNemoSource;
    row.line = t.line_numbers[r];
    ECHOSIM_ASSIGN_OR_RETURN(std::string release, t.Get(r, "release"));
    ECHOSIM_ASSIGN_OR_RETURN(std::string section, t.Get(r, "section"));
    ECHOSIM_ASSIGN_OR_RETURN(std::string system, t.Get(r, "system"));
    ECHOSIM_ASSIGN_OR_RETURN(std::string model_cell, t.Get(r, "model"));
    ECHOSIM_ASSIGN_OR_RETURN(std::string precision_cell, t.Get(r, "Precision"));
    const std::string model = PrimaryCellValue(model_cell);
    const std::string precision = PrimaryCellValue(precision_cell);
    std::string short_release = release;
    for (const char* suffix : {" NeMo Container"}) {
      const size_t at = short_release.find(suffix);
      if (at != std::string::npos) short_release.erase(at);
    }
    const std::string short_system = system.rfind("DGX-", 0) == 0 ? system.substr(4) : system;
    row.label = StrCat(model_cell, " ", short_system, " ", precision.empty() ? "FP8" : precision,
                       " ", short_release);
    row.campaign = short_release;  // one container release: one software stack

    ECHOSIM_ASSIGN_OR_RETURN(int64_t gpus, IntCell(t, r, "#-GPUs", 0));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t gbs, IntCell(t, r, "GBS", 0));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t mbs, IntCell(t, r, "MBS", 1));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t seq, IntCell(t, r, "Sequence Length", 0));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t tp, IntCell(t, r, "TP", 1));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t pp, IntCell(t, r, "PP", 1));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t cp, IntCell(t, r, "CP", 1));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t vp, IntCell(t, r, "VP", 1));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t ep, IntCell(t, r, "EP", 1));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t fsdp, IntCell(t, r, "FSDP", 0));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t ga, IntCell(t, r, "GA", 0));
    ECHOSIM_ASSIGN_OR_RETURN(double tokens, PositiveCell(t, r, "Tokens / sec / GPU"));
    ECHOSIM_ASSIGN_OR_RETURN(double tflops, PositiveCell(t, r, "Model TFLOP / sec / GPU"));
    for (const auto& [name, v] : {std::pair<const char*, int64_t>{"#-GPUs", gpus}, {"GBS", gbs},
                                  {"MBS", mbs}, {"Sequence Length", seq}, {"TP", tp}, {"PP", pp},
                                  {"CP", cp}, {"VP", vp}, {"EP", ep}}) {
      if (v <= 0) {
        return InvalidArgument(StrCat(t.path, ":", row.line, ": column '", name,
                                      "' must be a positive integer"));
      }
    }
    std::vector<std::string> notes;
    for (const PlanCorrection& pc : PlanCorrections()) {
      if (model != pc.model || system != pc.system || precision != pc.precision ||
          short_release != pc.release) {
        continue;
      }
      notes.push_back(StrCat("plan from the release recipe (Megatron-Bridge ", pc.commit, " ",
                             pc.recipe, ": TP ", pc.tp, ", PP ", pc.pp, ", VP ", pc.vp, ", MBS ",
                             pc.mbs, ", EP ", pc.ep, "), not the table's TP ", tp, ", PP ", pp,
                             ", VP ", vp, ", MBS ", mbs, ", EP ", ep, ": the measurement matches ",
                             pc.evidence));
      tp = pc.tp;
      pp = pc.pp;
      vp = pc.vp;
      mbs = pc.mbs;
      ep = pc.ep;
    }
    row.gpus = gpus;
    // FP8-MX (25.11) and MXFP8 (26.x) name the same block-scaled recipe.
    row.precision = precision.empty() ? "FP8" : precision == "FP8-MX" ? "MXFP8" : precision;
    row.stated_config = StrCat(model_cell, "|", system, "|", precision == "FP8-MX" ? "MXFP8" : precision,
                               "|", gpus, "|", gbs, "|", mbs, "|", seq, "|", tp, "|", pp, "|", cp,
                               "|", vp, "|", ep, "|", fsdp);
    row.measured_step_s = static_cast<double>(gbs) * static_cast<double>(seq) /
                          (tokens * static_cast<double>(gpus));
    row.measured_tflops_per_gpu = tflops;

    auto skip = [&](const std::string& why) {
      row.skipped = true;
      row.skip_reason = why;
      out->push_back(vc);
    };
    // The page's footnote [^gpt-oss-note] (docs/performance-summary-archive.md, 26.06.01
    // section): "Performance regression in GPT-OSS 120B pre-training is a known issue"
    // (NVIDIA/cudnn-frontend issue 256), to be fixed in the next release. The source itself
    // says these rows measure a bug, not the configuration.
    {
      ECHOSIM_ASSIGN_OR_RETURN(std::string tflops_cell, t.Get(r, "Model TFLOP / sec / GPU"));
      if (tflops_cell.find("[^gpt-oss-note]") != std::string::npos) {
        skip("the source marks this measurement as a known performance regression (footnote "
             "gpt-oss-note: NVIDIA/cudnn-frontend issue 256, fixed in the next release)");
        continue;
      }
    }
    // Rows the framework's maintainers file as a regression of the release (the measurement is
    // of the defect, not of how that configuration is meant to run):
    //   NVIDIA-NeMo/Megatron-Bridge issue 1998 ("[Regression] Low QWEN3 30B B200 and H100
    //   performance with dropless", labels performance, performance/release): Qwen3-30B with the
    //   dropless all-to-all dispatcher runs 2x slower on H100 and B200 in 25.11 than with token
    //   drop in 25.09, to be fixed in 26.02. The 26.02 H100 and B200 rows still run that
    //   dispatcher (the fixes, commits 4a6450755 and 0ec1df783, move them to HybridEP: the H100
    //   one's EP 16 plan is not the 26.02 row's, the B200 one lands after the 26.02 summary
    //   commit c0b9a0003), and measure the same 2x (118 and 223 TFLOP/s per GPU against 241 and
    //   416 with token drop in 25.09).
    // Not listed: the 25.11 Qwen3-235B B200 MXFP8 row (issue 1705, "performance regression",
    // fixed by pull request 1760: 20.1 s per step, 16.9 s with the MoE all-to-all overlap off).
    // The fix changed the recipe, so the row is a valid measurement of the recipe it states;
    // the overlap's CPU cost it shows is one echosim does not model.
    {
      std::string regression;
      const bool h100_or_b200 = system == "DGX-H100" || system == "DGX-B200";
      if (model == "Qwen3_30B_a3B" && h100_or_b200 &&
          (short_release == "25.11" || short_release == "26.02") &&
          !FlexDispatch(model, system, short_release)) {
        regression = "Megatron-Bridge issue 1998: Qwen3-30B's dropless all-to-all dispatcher 2x "
                     "slower on H100 and B200 than token drop (25.11, unfixed in 26.02)";
      }
      if (!regression.empty()) {
        skip("the framework's maintainers file this measurement as a performance regression of "
             "the release (" + regression + ")");
        continue;
      }
    }
    // Fine-tuning rows (Megatron-Bridge scripts/performance/configs/llama/llama3_llm_finetune.py
    // and llama3_workload_base_configs.py at 63b08b397, 26.06: the only release with them; the
    // table's plans match those configs). The configs fine-tune on SQuAD samples packed into
    // sequences of the row's length, which attend only within each sample; but the performance
    // scripts replace the dataset with mock full-length sequences unless run with --data squad
    // or squad_packed (scripts/performance/utils/overrides.py; --data defaults to mock), and
    // the table does not say which ran. Attention is priced over the whole sequence: exact for
    // mock data, an upper bound for packed SQuAD (causal attention over 4096 tokens is about 4%
    // of Llama 3 70B's FLOPs). LoRA: llama3_70b_peft_config's adapters of rank 16 (alpha 32),
    // the perf configs' target_modules ["linear_qkv"].
    const bool lora = section.find("LoRA") != std::string::npos;
    const bool sft = section.find("SFT") != std::string::npos;
    if (lora || sft) {
      notes.push_back("fine-tuning: attention priced over whole sequences, as the performance scripts' "
                      "default mock data runs (with packed SQuAD samples, which attend only within "
                      "each sample, an upper bound; the table does not say which data ran)");
    }
    if (lora) {
      c.lora_rank = 16;
      c.lora_modules = {"qkv"};
      notes.push_back("release recipe (Megatron-Bridge): LoRA of rank 16 on linear_qkv, every base "
                      "weight frozen");
    }
    const auto model_it = Models().find(model);
    if (model_it == Models().end()) {
      skip(StrCat("model '", model, "' has no echosim mapping"));
      continue;
    }
    if (model_it->second.preset[0] == '\0') {
      skip(model_it->second.note);
      continue;
    }
    const auto sys_it = Systems().find(system);
    if (sys_it == Systems().end()) {
      skip(StrCat("system '", system, "' has no echosim GPU preset"));
      continue;
    }
    if (sys_it->second.gpu[0] == '\0') {
      skip(sys_it->second.note);
      continue;
    }
    if (precision == "NVFP4" && model == "Nemotron_3_Super") {
      // scripts/performance/configs/nemotronh/nemotron_3_llm_pretrain.py (74695a06d to
      // 63b08b397; perf_recipes/nemotronh at 381d0b825 and 4ab94dfad): the NVFP4 runs use
      // nemotron_3_super_bf16_with_nvfp4_mixed (the last 14 layers in bf16) and te_quant.cfg
      // (attention projections, latent projections and MTP in bf16, the Mamba out_proj in
      // MXFP8): a precision per module, where echosim gives a run one GEMM precision.
      skip("Nemotron 3 Super NVFP4: the recipe sets a precision per module (bf16 attention and "
           "latent projections, MTP and last 14 layers; MXFP8 Mamba output projection; NVFP4 "
           "elsewhere), where echosim runs every GEMM of a job in one precision");
      continue;
    }
    if (precision == "NVFP4") {
      // Megatron-Bridge bf16_with_nvfp4_mixed (src/megatron/bridge/training/mixed_precision.py):
      // fp4 e2m1, the nvfp4 recipe, parameters gathered in fp4.
      c.dtype = "fp4";
      notes.push_back("NVFP4 simulated as every transformer GEMM at the FP4 tensor-core rate with "
                      "16-bit attention, each input quantised by one pass (its amax pass and "
                      "Hadamard transforms not priced apart), no fp4 parameter gathers");
    } else if (precision == "BF16") {
      c.dtype = "bf16";
    } else if (precision == "FP8" || precision == "FP8-CS" || precision.empty()) {
      c.dtype = "fp8";
      // Megatron-Bridge's performance scripts run "FP8" as fp8_cs (Float8CurrentScaling;
      // scripts/performance/argument_parser.py compute dtypes bf16, fp8_cs, fp8_mx, ...); NeMo
      // 24.07 trained fp8 with Transformer Engine's DelayedScaling (its fp8 amax history).
      c.fp8_recipe = short_release == "NeMo 24.07" ? "delayed" : "current";
      if (precision.empty()) notes.push_back("precision blank: FP8 per the page header");
      if (precision_cell.find('(') != std::string::npos) {
        notes.push_back("primary precision " + precision + " (alternative in parentheses)");
      }
    } else if (precision == "MXFP8" || precision == "FP8-MX") {
      c.dtype = "fp8";
      c.fp8_recipe = "mxfp8";
      notes.push_back("MXFP8 (block-scaled FP8): fp8 GEMMs at the block-scaled rate "
                      "(kBlockScaledGemmTimeRatio), scales written with each quantisation");
    } else {
      skip(StrCat("precision '", precision_cell, "' has no echosim dtype (bf16, fp16, fp8, fp4)"));
      continue;
    }
    // Megatron-Bridge's fp8 mixed-precision configs (bf16_with_fp8_current_scaling_mixed,
    // bf16_with_mxfp8_mixed, bf16_with_fp8_delayed_scaling_mixed in
    // src/megatron/bridge/training/mixed_precision.py, from fa0315ae2 (25.09) to 4ab94dfad
    // (26.08)) set fp8_param_gather: the weights are fp8 tensors. NeMo 24.07 predates them.
    if (c.dtype == "fp8" && short_release != "NeMo 24.07") {
      c.fp8_params = true;
      notes.push_back("fp8 primary weights (the release's fp8 configs set fp8_param_gather)");
    }

    ECHOSIM_ASSIGN_OR_RETURN(ModelSpec spec, FindModelPreset(model_it->second.preset));
    c.shape = spec;
    if (model_it->second.note[0] != '\0') notes.push_back(model_it->second.note);
    if (spec.is_moe()) {
      notes.push_back("token dispatch simulated as Megatron-Core's all-to-all dispatcher (permute, "
                      "all-to-all, sort by local expert); the flex dispatchers (DeepEP, HybridEP: "
                      "fused permutation, one copy per destination rank) are not");
    }
    c.gpu = sys_it->second.gpu;
    // GPUs reached over NVLink: the system's domain, or (NVL72) the largest divisor of the
    // job's GPU count that fits in one domain (64 of a rack's 72 for 128 or 256 GPUs).
    c.gpus_per_node = std::min<int64_t>(sys_it->second.gpus_per_node, gpus);
    while (gpus % c.gpus_per_node != 0) --c.gpus_per_node;
    if (sys_it->second.note[0] != '\0') notes.push_back(sys_it->second.note);
    row.gpu = c.gpu;
    row.model_params = static_cast<double>(spec.TotalParams());
    c.seq = seq;
    c.gpus = gpus;
    c.gbs = gbs;
    c.mbs = mbs;
    c.tp = tp;
    c.pp = pp;
    c.cp = cp;
    c.vpp = vp;
    c.ep = ep;
    // Every Qwen3, gpt-oss and Nemotron 3 Nano / Super recipe sets expert_tensor_parallel_size
    // = 1 (Megatron-Bridge scripts/performance/configs/{qwen/qwen3,gpt_oss/gpt_oss,nemotronh/
    // nemotron_3}_workload_base_configs.py, BASE_QWEN3_*, BASE_GPT_OSS_120B_CONFIG,
    // BASE_NEMOTRON_3_NANO_CONFIG and BASE_NEMOTRON_3_SUPER_CONFIG): under TP that is MoE
    // parallel folding, EP spanning the TP ranks.
    if (spec.is_moe()) c.etp = 1;
    if (tp * pp * cp <= 0 || gpus % (tp * pp * cp) != 0) {
      skip(StrCat("#-GPUs ", gpus, " is not divisible by TP*PP*CP = ", tp * pp * cp));
      continue;
    }
    c.dp = gpus / (tp * pp * cp);
    DeepSeekRecipe ds;
    if (spec.is_mla()) {
      ds = FindDeepSeekRecipe(model, model_cell, system, short_release, gbs, pp, vp);
      if (!ds.skip.empty()) {
        skip(ds.skip);
        continue;
      }
      c.pipeline_layout = ds.layout;
      c.shape.mtp_layers = ds.mtp;
      notes.push_back(StrCat("release recipe (Megatron-Bridge): pipeline layout ", ds.layout,
                             ", multi-token prediction depth ", ds.mtp));
      if (!ds.note.empty()) notes.push_back(ds.note);
    } else if (spec.layers % (pp * vp) != 0) {
      if ((spec.layers + 2) % (pp * vp) != 0) {
        skip(StrCat(spec.layers, " layers (", spec.layers + 2, " with the embedding and the loss) ",
                    "do not split evenly over PP*VP = ", pp * vp));
        continue;
      }
      // The recipe must count the embedding and the loss as pipeline layers
      // (Megatron-LM account_for_embedding/loss_in_pipeline_split) for the split to work.
      c.embedding_loss_in_split = true;
      notes.push_back(StrCat("embedding and loss counted as pipeline layers (", spec.layers,
                             " + 2 over PP*VP = ", pp * vp, ")"));
    }
    // The recipe settings the table does not state (see the file comment).
    c.attention = "flash";
    c.recompute = "none";
    c.sp = tp > 1;
    c.tp_overlap = tp > 1;
    // Every Llama 3 / 3.1 perf config turns TP communication overlap off under NVFP4:
    // scripts/performance/configs/llama/llama3{,1}_llm_pretrain.py, "tp_comm_overlap = False
    // if precision == \"nvfp4\"" in each GPU's config function, at 97ad8cc6f (25.11),
    // c0b9a0003 (26.02), cfeddcd94 (26.02.01), 74695a06d (26.04), 21d102f5e (26.04.01) and
    // 63b08b397 (26.06); the Llama NVFP4 rows span 26.02 to 26.06.
    const bool llama_nvfp4 = model.rfind("LLAMA", 0) == 0 && precision == "NVFP4";
    if (llama_nvfp4 && tp > 1) {
      c.tp_overlap = false;
      notes.push_back("release recipe (Megatron-Bridge): no TP communication overlap under NVFP4");
    }
    // Nemotron 3 Super's pre-training recipe (src/megatron/bridge/recipes/nemotronh/
    // nemotron_3_super.py at 74695a06d, 21d102f5e and 63b08b397, and the perf_recipes/nemotronh
    // configs over it at 381d0b825 and 4ab94dfad) sets no CommOverlapConfig: TP communication is
    // not overlapped (its GB200 rows run TP 2 with sequence parallelism).
    if (model == "Nemotron_3_Super" && tp > 1) {
      c.tp_overlap = false;
      notes.push_back("release recipe (Megatron-Bridge): no TP communication overlap (no comm_overlap config)");
    }
    // Token drop (the "(tokendrop)" rows): Megatron-Bridge's apply_moe_token_drop caps every
    // expert at capacity factor 1 and pads its input to that capacity
    // (moe_pad_expert_input_to_capacity), so every expert computes exactly the mean load.
    // The other rows route randomly (moe_router_force_load_balancing), the default.
    if (c.ep > 1 && model_cell.find("(tokendrop)") != std::string::npos) {
      c.moe_load_imbalance = 1.0;
      notes.push_back("token drop at capacity factor 1, padded to capacity (Megatron-Bridge "
                      "apply_moe_token_drop): every expert computes the mean load");
    } else if (c.ep > 1) {
      notes.push_back("random routing (the recipes' moe_router_force_load_balancing): each MoE "
                      "layer waits for the busiest EP rank's expected load");
    }
    // The same recipe sets keep_mtp_spec_in_bf16 = True: the MTP block runs in bf16.
    if (model == "Nemotron_3_Super") {
      c.mtp_bf16 = true;
      notes.push_back("release recipe (Megatron-Bridge): the MTP block in bf16 (keep_mtp_spec_in_bf16)");
    }
    // NeMo 24.07's rows were run with the NeMo Framework Launcher, whose GPT-3 175B config
    // (launcher_scripts/conf/training/gpt3/175b.yaml, tags 24.05 to 24.09; used unchanged in
    // this respect by examples/training/gpt/h100/175b_fp8_16node.sh) sets
    // ub_tp_comm_overlap: False. Its other GPT-3 and Llama configs turn it on.
    if (model == "GPT3-175B" && short_release == "NeMo 24.07") {
      c.tp_overlap = false;
      notes.push_back("NeMo Framework Launcher 24.07 GPT-3 175B config: no TP communication overlap "
                      "(ub_tp_comm_overlap False)");
    }
    // The Launcher's Nemotron-4 340B config (launcher_scripts/conf/training/nemotron/
    // nemotron_340b.yaml, tag 24.07) recomputes selectively (activations_checkpoint_granularity:
    // selective, the core attention) and keeps the optimizer state in bf16 (optim:
    // distributed_fused_adam with dtype bf16, grad_sync_dtype bf16). Its other configs of
    // these rows recompute nothing and keep the default fp32 state.
    if (model == "Nemotron-340B" && short_release == "NeMo 24.07") {
      c.recompute = "selective";
      c.moments_bf16 = true;
      notes.push_back("NeMo Framework Launcher 24.07 Nemotron-4 340B config: selective recompute (core "
                      "attention) and the optimizer's moments in bf16 (distributed_fused_adam dtype bf16; "
                      "master weights taken as fp32)");
    }
    c.overlap_grad = true;
    c.overlap_param = true;
    if (fsdp > 0) {
      c.zero = 3;
      notes.push_back(StrCat("FSDP ", fsdp, ": Megatron FSDP simulated as ZeRO-3"));
      c.cpu_offload = CpuOffloadLayers(model, system, precision, short_release);
      if (c.cpu_offload > 0) {
        notes.push_back(StrCat("activations of ", c.cpu_offload, " layers offloaded to host memory "
                               "(the recipe's cpu_offloading_num_layers; memory only, the copies' "
                               "time not simulated)"));
      }
    } else {
      c.zero = 1;
    }
    // The MXFP8 GB200 recipe turns recomputation off: gpt_oss_workload_base_configs.py
    // GPT_OSS_120B_PRETRAIN_CONFIG_GB200_FP8_MX_V2 at 63b08b397 (26.06), and
    // perf_recipes/gpt_oss/gb200/gpt_oss.py gpt_oss_120b_pretrain_64gpu_gb200_fp8mx_config at
    // 381d0b825 (26.06.01) and 4ab94dfad (26.08), set recompute_modules = [] (MXFP8 GB200 rows
    // start at 26.06).
    const bool gpt_oss_gb200_mxfp8 = system == "DGX-GB200" && precision == "MXFP8";
    if (model == "GPT OSS 120B" && !gpt_oss_gb200_mxfp8 &&
        (system == "DGX-GB200" || system == "DGX-B200" || system == "DGX-H100")) {
      // gpt_oss_workload_base_configs.py (GB200, B200 and H100 V1, from which the V2 and MXFP8
      // configs derive) at 97ad8cc6f (25.11), c0b9a0003 (26.02) through 63b08b397 (26.06), and
      // perf_recipes/gpt_oss/gb200/gpt_oss.py at 381d0b825 (26.06.01) and 4ab94dfad (26.08)
      // (its BF16 config): recompute_modules ["layernorm", "moe_act"], granularity selective.
      // B300 and GB300 do not recompute (they capture CUDA graphs instead).
      c.recompute = "selective";
      c.recompute_modules = {"layernorm", "moe_act"};
      notes.push_back("release recipe (Megatron-Bridge): the norms and the MoE activation "
                      "recomputed (recompute_modules layernorm, moe_act)");
    }
    if (model == "Nemotron_3_Nano" && system == "DGX-H100") {
      // nemotron_3_workload_base_configs.py NEMOTRON_3_NANO_PRETRAIN_CONFIG_H100_FP8_CS_V1 at
      // 74695a06d (26.04) and 63b08b397 (26.06): recompute_modules moe, layernorm, core_attn,
      // moe_act (the H100 rows are FP8).
      c.recompute = "selective";
      c.recompute_modules = {"moe", "layernorm", "core_attn", "moe_act"};
      notes.push_back("release recipe (Megatron-Bridge): recompute_modules moe, layernorm, "
                      "core_attn, moe_act");
    }
    if (model == "Nemotron_3_Super" && system == "DGX-B200" && precision == "MXFP8") {
      // BASE_NEMOTRON_3_SUPER_CONFIG_B200 (74695a06d to 63b08b397), which the B200 FP8_MX config
      // is: recompute_modules moe_act, layernorm. The B300 FP8_MX and the GB200 / GB300 configs
      // recompute nothing.
      c.recompute = "selective";
      c.recompute_modules = {"moe_act", "layernorm"};
      notes.push_back("release recipe (Megatron-Bridge): recompute_modules moe_act, layernorm");
    }
    if (spec.is_mla()) {
      c.recompute = ds.recompute.empty() ? "none" : "selective";
      c.recompute_modules = ds.recompute;
      c.ep_overlap = ds.ep_overlap && ep > 1;
      c.fp8_attention = ds.fp8_attention && c.dtype == "fp8";
      c.overlap_grad = ds.overlap_grad;
      if (!ds.recompute.empty()) {
        notes.push_back(StrCat("release recipe: recompute_modules ", Join(ds.recompute, ", ")));
      }
      if (c.ep_overlap) notes.push_back("release recipe: MoE all-to-all overlap simulated");
      if (c.fp8_attention) notes.push_back("release recipe: fp8 attention");
      if (!c.overlap_grad) notes.push_back("release recipe: overlap_grad_reduce off");
      if (ds.muon) {
        c.muon = true;
        c.zero = 0;
        c.fp8_params = false;
        notes.erase(std::remove(notes.begin(), notes.end(),
                                std::string("fp8 primary weights (the release's fp8 configs set fp8_param_gather)")),
                    notes.end());
        notes.push_back("release recipe: the Muon optimizer (Newton-Schulz orthogonalisation of "
                        "each layer matrix), no distributed optimizer, no fp8 parameter gather");
      }
    }
    // The flex dispatcher: DeepSeek-V3 / Kimi K2 from their recipe (HybridEP, or DeepEP),
    // Qwen3, gpt-oss and Nemotron 3 Nano / Super from FlexDispatch() (HybridEP).
    if (spec.is_moe() && ep > 1 && (spec.is_mla() ? ds.flex : FlexDispatch(model, system, short_release))) {
      c.flex = true;
      if (spec.is_mla()) c.flex_sms = ds.flex_sms;
      for (std::string& n : notes) {
        if (n.rfind("token dispatch simulated as", 0) == 0) {
          n = StrCat("release recipe: the flex token dispatcher (",
                     spec.is_mla() ? "HybridEP / DeepEP" : "HybridEP",
                     ") simulated by its traffic (one copy of a token per destination GPU, per "
                     "NVLink domain across domains, under balanced routing); its fused "
                     "permutation is not");
        }
      }
    }
    if (const RecipeChange* rc = FindRecipeChange(model, system, precision, short_release)) {
      c.ep_overlap = rc->ep_overlap && ep > 1;
      c.fp8_attention = rc->fp8_attention;
      notes.push_back(rc->fp8_attention
                          ? "release recipe (Megatron-Bridge): MoE all-to-all overlap and fp8 "
                            "attention simulated"
                          : "release recipe (Megatron-Bridge): MoE all-to-all overlap simulated");
    }
    // The recipe's CUDA graphs, where the GPU preset has a host launch model: what they change
    // is the host's launches.
    if (const StatusOr<GpuSpec> gpu_spec = FindGpuPreset(sys_it->second.gpu);
        gpu_spec.ok() && gpu_spec->host_launch_us > 0) {
      c.cuda_graph_scope = RecipeGraphScopes(model, system, precision, short_release);
      // The Llama 3 70B fine-tuning configs capture the MLP (Transformer Engine graphs, scope
      // mlp) on GB200 and GB300, and under FP8 on H100 for SFT; the H100 LoRA config none.
      if (lora || sft) {
        const bool graphs = system != "DGX-H100" || (sft && precision != "BF16");
        c.cuda_graph_scope = graphs ? std::vector<std::string>{"mlp"} : std::vector<std::string>{};
      }
      if (!c.cuda_graph_scope.empty()) {
        notes.push_back(StrCat("release recipe: CUDA graphs over ", Join(c.cuda_graph_scope, ", "),
                               " (one host launch per captured region)"));
      } else if (spec.is_moe()) {
        notes.push_back("release recipe: no CUDA graphs (every kernel launched from the host)");
      }
    } else if (spec.is_moe()) {
      notes.push_back("the recipe's CUDA graphs not simulated (no host launch model for this GPU)");
    }
    if (FusedGroupedMlp(model, system, precision, short_release)) {
      c.fused_moe_mlp = true;
      notes.push_back("release recipe: the experts' fused grouped MLP (Transformer Engine, CuTe DSL): one "
                      "kernel per grouped GEMM, the activation, probability scale, quantisations"
                      + std::string(spec.expert_bias ? " and biases" : "") + " in their epilogues");
    }
    const int64_t micro_batches = c.mbs * c.dp > 0 ? gbs / (c.mbs * c.dp) : 0;
    if (ga > 0 && micro_batches * c.mbs * c.dp == gbs && ga != micro_batches) {
      notes.push_back(StrCat("GA column ", ga, " differs from GBS/(MBS*DP) = ", micro_batches));
    }
    notes.insert(notes.begin(),
                 StrCat(c.zero == 3 ? "ZeRO-3" : c.zero == 1 ? "distributed optimizer (ZeRO-1)" : "no distributed optimizer",
                        ", overlapped DP grad reduce / param gather",
                        tp > 1 ? (c.tp_overlap ? ", SP + TP comm overlap" : ", SP") : "",
                        c.recompute == "none" ? ", no recompute" : "",
                        ", flash attention (recipe defaults, not in the table)"));
    row.assumptions = Join(notes, "; ");
    out->push_back(vc);
  }
  return Status::Ok();
}

}  // namespace echosim
