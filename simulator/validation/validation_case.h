// One row of a published table rebuilt as a simulator configuration (internal to
// simulator/validation): the model shape, cluster and parallel plan the source states,
// plus what the row needs to be reported.
#ifndef ECHOSIM_SIMULATOR_VALIDATION_VALIDATION_CASE_H_
#define ECHOSIM_SIMULATOR_VALIDATION_VALIDATION_CASE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "models/model_spec.h"
#include "scenario.pb.h"
#include "simulator/core/status.h"
#include "simulator/validation/csv_table.h"
#include "simulator/validation/published.h"

namespace echosim {

// A training configuration, every field explicit (nothing is left to scenario defaults
// except what the simulator derives, e.g. the schedule from vpp).
struct RowConfig {
  std::string gpu;
  int64_t gpus_per_node = 8;  // GPUs reached over NVLink (72 on GB200 NVL72 racks)
  // The model: every field of its shape (a preset's, or the source's own). shape.name is the
  // display name, "custom" for a shape that is no preset; max_seq_len_tokens is taken from
  // `seq` (ShapeOf).
  ModelSpec shape = [] {
    ModelSpec m;
    m.name = "custom";
    return m;
  }();
  int64_t seq = 0;
  int64_t tp = 1, pp = 1, vpp = 1, cp = 1, ep = 1, dp = 1, gpus = 1, gbs = 1, mbs = 1;
  int64_t etp = 0;  // expert tensor parallel size, 0 = tp
  std::string dtype = "bf16", attention = "flash", recompute = "none";
  // With recompute "selective": the modules (scenario recompute_modules); empty = the default
  // (core attention).
  std::vector<std::string> recompute_modules;
  bool sp = false, overlap_grad = true, overlap_param = false, tp_overlap = false;
  bool embedding_loss_in_split = false;  // embedding and loss counted as pipeline layers
  std::string pipeline_layout;           // Megatron-Core layout string; empty = even split
  bool ep_overlap = false;     // MoE all-to-all overlapped with another micro-batch (combined 1F1B)
  bool fp8_attention = false;  // flash attention matmuls in fp8
  // The fp8 recipe (workload.training.fp8_recipe): delayed, current or mxfp8; empty: the
  // simulator's default (delayed).
  std::string fp8_recipe;
  bool mtp_bf16 = false;       // the MTP depths in bf16 (keep_mtp_spec_in_bf16)
  // The busiest EP rank's routed tokens over the mean (workload.training.moe_load_imbalance);
  // 0: uniformly random routing's (the recipes' moe_router_force_load_balancing).
  double moe_load_imbalance = 0;
  bool fp8_params = false;     // fp8 primary weights (fp8_param_gather)
  int64_t cpu_offload = 0;     // layers whose activations go to host memory (pp 1)
  int64_t zero = 0;
  bool muon = false;           // the Muon optimizer (workload.training.optimizer)
  bool moments_bf16 = false;   // the optimizer's moments in bf16 (workload.training.optimizer_moments)
  bool flex = false;           // the flex token dispatcher (parallelism.moe_dispatcher)
  int flex_sms = 0;            // SMs its kernels hold (parallelism.flex_dispatcher_sms; 0: 32)
  bool fused_moe_mlp = false;  // the expert MLP as one fused op (parallelism.moe_fused_mlp)
  // LoRA fine-tuning (workload.training.lora_rank / lora_modules): 0 = every weight trained.
  int64_t lora_rank = 0;
  std::vector<std::string> lora_modules;
  // Parts captured in CUDA graphs (parallelism.cuda_graph_scope): what they change is the
  // host's launch time, simulated where the GPU preset has a host_launch_us.
  std::vector<std::string> cuda_graph_scope;
};

// The shape of `c` as simulated (kv_heads defaulted to heads, the row's sequence length).
ModelSpec ShapeOf(const RowConfig& c);
// The scenario that simulates `c`: its model (the preset, "custom", or for an untied custom
// shape the untied preset llama2-7b) with every field of the shape written over it.
scenario::Scenario ToScenario(const RowConfig& c, const std::string& name);
// Short plan description for tables ("64xh100-sxm tp4 pp8 vpp5 dp2 ...").
std::string Describe(const RowConfig& c);
// Every field, for memoising simulations of identical configurations: the serialized
// scenario of ToScenario, so no field can be left out.
std::string ConfigKey(const RowConfig& c);

// The choice that tells `a` and `b` apart ("gpu", "precision", "recipe": precision and plan
// together, or "plan"), or "" when they are not a what-if pair: another campaign, model,
// sequence length or GPU count, the GPU and something else changed, or nothing at all.
std::string WhatIfKind(const ValidationRow& ra, const RowConfig& a, const ValidationRow& rb,
                       const RowConfig& b);
struct ValidationCase {
  ValidationRow row;
  RowConfig config;
};

// Parsing helpers shared by the sources.
// A number from `column` of `row`; the error names the file, line and column.
StatusOr<double> CsvNumber(const CsvTable& t, size_t row, const std::string& column);

// The NVIDIA NeMo / Megatron-Bridge performance summaries
// (training/training_nemo_megatron_bridge_perf_summary.csv): every row, supported or
// skipped with its reason (simulator/validation/nemo_source.cc).
inline constexpr char kNemoSource[] = "nemo_megatron_bridge";
Status NemoRows(const std::string& data_dir, std::vector<ValidationCase>* out);
// The same from a parsed table (the fuzz target's entry).
Status NemoRowsFromTable(const CsvTable& table, std::vector<ValidationCase>* out);

// Helpers of the NeMo table, exposed for tests.
// The first value of a cell: "37556 (36108)" -> "37556", "661[^note]" -> "661", trimmed.
std::string PrimaryCellValue(const std::string& cell);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_VALIDATION_VALIDATION_CASE_H_
