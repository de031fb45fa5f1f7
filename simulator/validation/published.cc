#include "simulator/validation/published.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>

#include "hardware/calibration.h"
#include "hardware/gpu_spec.h"
#include "simulator/core/stats.h"
#include "simulator/core/strings.h"
#include "simulator/scenario/simulation.h"
#include "simulator/scenario/yaml_proto.h"
#include "simulator/validation/validation_case.h"

namespace echosim {

StatusOr<double> CsvNumber(const CsvTable& t, size_t r, const std::string& col) {
  ECHOSIM_ASSIGN_OR_RETURN(std::string s, t.Get(r, col));
  try {
    size_t used = 0;
    const double v = std::stod(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    return InvalidArgument(StrCat(t.path, ":", t.line_numbers[r], ": column '", col,
                                  "': not a number: '", s, "'"));
  }
}

ModelSpec ShapeOf(const RowConfig& c) {
  ModelSpec m = c.shape;
  if (m.kv_heads <= 0) m.kv_heads = m.heads;
  m.max_seq_len_tokens = c.seq;
  return m;
}

scenario::Scenario ToScenario(const RowConfig& c, const std::string& name) {
  scenario::Scenario s;
  s.set_name(name);
  s.mutable_cluster()->set_gpu(c.gpu);
  s.mutable_cluster()->set_gpus(static_cast<uint32_t>(c.gpus));
  s.mutable_cluster()->set_gpus_per_node(static_cast<uint32_t>(c.gpus_per_node));
  auto* t = s.mutable_workload()->mutable_training();
  // The scenario's shape overrides a preset's fields, and model "custom" starts from a
  // shape with tied embeddings (ResolveScenario); an untied custom shape is therefore
  // written as overrides of an untied preset, with every field set.
  const std::string& model = c.shape.name;
  t->set_model(model != "custom" ? model : (c.shape.tied_embeddings ? "custom" : "llama2-7b"));
  WriteModelShape(ShapeOf(c), /*every_field=*/true, t->mutable_shape());
  t->set_seq_len_tokens(static_cast<uint32_t>(c.seq));
  t->set_global_batch_seqs(static_cast<uint32_t>(c.gbs));
  t->set_micro_batch_seqs(static_cast<uint32_t>(c.mbs));
  t->set_dtype(c.dtype);
  t->set_attention(c.attention);
  t->set_fp8_attention(c.fp8_attention);
  if (c.dtype == "fp8") t->set_fp8_recipe(c.fp8_recipe);
  t->set_mtp_bf16(c.mtp_bf16);
  t->set_moe_load_imbalance(c.moe_load_imbalance);
  if (c.muon) t->set_optimizer("muon");
  if (c.moments_bf16) t->set_optimizer_moments("bf16");
  t->set_lora_rank(static_cast<uint32_t>(c.lora_rank));
  for (const std::string& m : c.lora_modules) t->add_lora_modules(m);
  auto* p = s.mutable_parallelism();
  p->set_tp(static_cast<uint32_t>(c.tp));
  p->set_pp(static_cast<uint32_t>(c.pp));
  p->set_vpp(static_cast<uint32_t>(c.vpp));
  p->set_cp(static_cast<uint32_t>(c.cp));
  p->set_ep(static_cast<uint32_t>(c.ep));
  p->set_expert_tp(static_cast<uint32_t>(c.etp));
  p->set_dp(static_cast<uint32_t>(c.dp));
  p->set_zero(static_cast<uint32_t>(c.zero));
  p->set_sequence_parallel(c.sp);
  p->set_recompute(c.recompute);
  for (const std::string& m : c.recompute_modules) p->add_recompute_modules(m);
  p->set_overlap_grad_reduce(c.overlap_grad);
  p->set_overlap_param_gather(c.overlap_param);
  p->set_tp_comm_overlap(c.tp_overlap && c.sp && c.tp > 1);
  p->set_account_for_embedding_in_pipeline_split(c.embedding_loss_in_split);
  p->set_account_for_loss_in_pipeline_split(c.embedding_loss_in_split);
  p->set_ep_comm_overlap(c.ep_overlap);
  p->set_fp8_param_gather(c.fp8_params);
  p->set_cpu_offload_layers(static_cast<uint32_t>(c.cpu_offload));
  p->set_pipeline_layout(c.pipeline_layout);
  if (c.flex) p->set_moe_dispatcher("flex");
  if (c.flex && c.flex_sms > 0) p->set_flex_dispatcher_sms(static_cast<uint32_t>(c.flex_sms));
  p->set_moe_fused_mlp(c.fused_moe_mlp);
  for (const std::string& scope : c.cuda_graph_scope) p->add_cuda_graph_scope(scope);
  return s;
}

std::string Describe(const RowConfig& c) {
  return StrCat(c.gpus, "x", c.gpu, c.gpus_per_node != 8 ? StrCat("/nvl", c.gpus_per_node) : "",
                " tp", c.tp, " pp", c.pp, c.vpp > 1 ? StrCat(" vpp", c.vpp) : "",
                c.cp > 1 ? StrCat(" cp", c.cp) : "", c.ep > 1 ? StrCat(" ep", c.ep) : "",
                c.ep > 1 && c.tp > 1 && c.etp == 1 ? " etp1" : "", " dp",
                c.dp, " gbs", c.gbs, " mb", c.mbs, " ", c.dtype,
                c.dtype == "fp8" && !c.fp8_recipe.empty() ? StrCat("(", c.fp8_recipe, ")") : "",
                c.sp ? " sp" : "",
                c.tp_overlap && c.sp && c.tp > 1 ? " tp-overlap" : "",
                c.zero > 0 ? StrCat(" zero", c.zero) : "",
                c.embedding_loss_in_split ? " emb+loss-in-split" : "",
                c.pipeline_layout.empty() ? "" : StrCat(" layout=", c.pipeline_layout),
                c.overlap_grad ? (c.overlap_param ? " dp-overlap" : " grad-overlap") : "",
                c.ep_overlap ? " ep-overlap" : "",
                c.cpu_offload > 0 ? StrCat(" offload=", c.cpu_offload) : "",
                c.muon ? " muon" : "", c.moments_bf16 ? " moments-bf16" : "", c.flex ? " flex-dispatch" : "",
                c.lora_rank > 0
                    ? StrCat(" lora", c.lora_rank,
                             c.lora_modules.empty() ? "" : StrCat("(", Join(c.lora_modules, ","), ")"))
                    : "",
                c.cuda_graph_scope.empty() ? "" : StrCat(" graphs=", Join(c.cuda_graph_scope, ",")),
                " recompute=", c.recompute,
                c.recompute_modules.empty() ? "" : StrCat("(", Join(c.recompute_modules, ","), ")"),
                " attn=",
                c.attention, c.fp8_attention ? "-fp8" : "", c.mtp_bf16 ? " mtp-bf16" : "");
}

std::string ConfigKey(const RowConfig& c) { return ToScenario(c, "").SerializeAsString(); }

std::string WhatIfKind(const ValidationRow& ra, const RowConfig& a, const ValidationRow& rb,
                       const RowConfig& b) {
  if (ra.skipped || rb.skipped || ra.source != rb.source || ra.campaign != rb.campaign) return "";
  // The same model (every field of the shape), sequence length and GPU count.
  auto shape = [](const RowConfig& c) {
    scenario::ModelShape m;
    WriteModelShape(ShapeOf(c), /*every_field=*/true, &m);
    return std::make_tuple(c.shape.name, m.SerializeAsString(), c.seq, c.gpus);
  };
  if (shape(a) != shape(b)) return "";
  auto plan = [](const RowConfig& c) {
    return std::make_tuple(c.tp, c.pp, c.vpp, c.cp, c.ep, c.etp, c.dp, c.gbs, c.mbs, c.zero, c.sp,
                           c.recompute, c.recompute_modules, c.overlap_grad, c.overlap_param,
                           c.tp_overlap, c.embedding_loss_in_split, c.ep_overlap, c.attention,
                           c.pipeline_layout, c.muon, c.flex);
  };
  const bool gpu = a.gpu != b.gpu || a.gpus_per_node != b.gpus_per_node;
  const bool precision =
      ra.precision != rb.precision || a.dtype != b.dtype || a.fp8_attention != b.fp8_attention ||
      a.fp8_recipe != b.fp8_recipe;
  const bool planned = plan(a) != plan(b);
  // A precision with the plan its recipe runs it with is one choice too (NeMo publishes the best
  // plan of each precision).
  if (!gpu && precision && planned) return "recipe";
  if (static_cast<int>(gpu) + static_cast<int>(precision) + static_cast<int>(planned) != 1) return "";
  return gpu ? "gpu" : precision ? "precision" : "plan";
}

std::vector<WhatIfSummary> SummarizeWhatIfs(const std::vector<WhatIfPair>& pairs) {
  std::vector<WhatIfSummary> out;
  for (const char* kind : {"gpu", "precision", "recipe", "plan", "all"}) {
    WhatIfSummary s;
    s.kind = kind;
    std::vector<double> errs;
    for (const WhatIfPair& p : pairs) {
      if (s.kind != "all" && p.kind != s.kind) continue;
      ++s.pairs;
      errs.push_back(std::fabs(p.ratio_error));
      if (std::fabs(p.measured_ratio - 1.0) > kWhatIfTie) {
        ++s.ordered;
        if ((p.measured_ratio > 1.0) == (p.predicted_ratio > 1.0)) ++s.ordered_right;
      }
    }
    if (errs.empty()) continue;
    s.median_abs_ratio_error = Median(errs);
    s.worst_abs_ratio_error = *std::max_element(errs.begin(), errs.end());
    out.push_back(s);
  }
  return out;
}

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr char kSc21[] = "megatron_sc21_a100";
constexpr char kKorthikanti[] = "korthikanti_table5_a100";
constexpr char kMcore[] = "megatron_core_h100";

// Megatron-LM's FLOPs accounting with full activation recomputation (SC'21 eq. 3):
// 96 B s l h^2 (1 + s/(6h) + V/(16 l h)).
double Sc21Flops(double b, double s, double l, double h, double v) {
  return 96.0 * b * s * l * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * l * h));
}
// Without recomputation (Megatron-Core's num_floating_point_operations for GPT):
// 72 B s l h^2 (1 + s/(6h) + V/(12 l h)).
double McoreFlops(double b, double s, double l, double h, double v) {
  return 72.0 * b * s * l * h * h * (1.0 + s / (6.0 * h) + v / (12.0 * l * h));
}

void FinishRow(ValidationCase* vc) {
  vc->row.gpu = vc->config.gpu;
  vc->row.gpus = vc->config.gpus;
  vc->row.model_params = static_cast<double>(ShapeOf(vc->config).TotalParams());
}

// The columns the two weak-scaling tables (SC'21, Megatron-Core) share: a GPT shape (ffn 4h,
// multi-head attention) and its plan; returns the measured TFLOP/s per GPU.
StatusOr<double> ReadWeakScalingRow(const CsvTable& t, size_t r, RowConfig* c) {
  double v[11];
  const char* cols[11] = {"heads", "hidden", "layers", "seq_len", "vocab", "tp", "pp", "dp",
                          "gpus", "global_batch_seqs", "tflops_per_gpu"};
  for (int i = 0; i < 11; ++i) {
    ECHOSIM_ASSIGN_OR_RETURN(v[i], CsvNumber(t, r, cols[i]));
  }
  c->shape.heads = static_cast<int64_t>(v[0]);
  c->shape.kv_heads = c->shape.heads;
  c->shape.hidden = static_cast<int64_t>(v[1]);
  c->shape.layers = static_cast<int64_t>(v[2]);
  c->shape.ffn_hidden = 4 * c->shape.hidden;
  c->seq = static_cast<int64_t>(v[3]);
  c->shape.vocab = static_cast<int64_t>(v[4]);
  c->tp = static_cast<int64_t>(v[5]);
  c->pp = static_cast<int64_t>(v[6]);
  c->dp = static_cast<int64_t>(v[7]);
  c->gpus = static_cast<int64_t>(v[8]);
  c->gbs = static_cast<int64_t>(v[9]);
  return v[10];
}

Status Sc21Rows(const std::string& dir, std::vector<ValidationCase>* out) {
  const std::string path = dir + "/training/training_megatron_sc21_weak_scaling.csv";
  ECHOSIM_ASSIGN_OR_RETURN(CsvTable t, ReadCommentedCsv(path));
  for (size_t r = 0; r < t.rows.size(); ++r) {
    RowConfig c;
    c.gpu = "a100-80gb";
    ECHOSIM_ASSIGN_OR_RETURN(std::string model, t.Get(r, "model"));
    ECHOSIM_ASSIGN_OR_RETURN(const double tflops, ReadWeakScalingRow(t, r, &c));
    // Stated by the source: fp16 mixed precision, full activation recomputation, no sequence
    // parallelism (2021), Megatron's unfused softmax attention, gradient all-reduce after
    // the backward pass (no overlap in 2021 Megatron-LM), interleaved schedule where pp > 1.
    c.dtype = "fp16";
    c.recompute = "full";
    c.attention = "unfused";
    c.overlap_grad = false;
    ValidationCase vc;
    vc.config = c;
    vc.row.source = kSc21;
    vc.row.line = t.line_numbers[r];
    vc.row.label = model;
    vc.row.measured_tflops_per_gpu = tflops;
    vc.row.measured_step_s =
        Sc21Flops(c.gbs, c.seq, c.shape.layers, c.shape.hidden, c.shape.vocab) / (c.gpus * tflops * 1e12);
    vc.row.assumptions = "micro-batch 1 and vpp 1 (not stated in Table 1)";
    FinishRow(&vc);
    out->push_back(vc);
  }
  return Status::Ok();
}

Status KorthikantiRows(const std::string& dir, std::vector<ValidationCase>* out) {
  const std::string path = dir + "/training/training_korthikanti_seqpar_selective.csv";
  ECHOSIM_ASSIGN_OR_RETURN(CsvTable t, ReadCommentedCsv(path));
  for (size_t r = 0; r < t.rows.size(); ++r) {
    RowConfig c;
    c.gpu = "a100-80gb";
    ECHOSIM_ASSIGN_OR_RETURN(std::string model, t.Get(r, "model"));
    ECHOSIM_ASSIGN_OR_RETURN(std::string mode, t.Get(r, "mode"));
    double v[13];
    const char* cols[13] = {"hidden", "ffn", "heads", "layers", "seq_len", "tp", "pp", "dp", "gpus",
                            "global_batch_seqs", "micro_batch", "virtual_pp", "iteration_time_s"};
    for (int i = 0; i < 13; ++i) {
      ECHOSIM_ASSIGN_OR_RETURN(v[i], CsvNumber(t, r, cols[i]));
    }
    c.shape.hidden = static_cast<int64_t>(v[0]);
    c.shape.ffn_hidden = static_cast<int64_t>(v[1]);
    c.shape.heads = static_cast<int64_t>(v[2]);
    c.shape.kv_heads = c.shape.heads;
    c.shape.layers = static_cast<int64_t>(v[3]);
    c.seq = static_cast<int64_t>(v[4]);
    c.tp = static_cast<int64_t>(v[5]);
    c.pp = static_cast<int64_t>(v[6]);
    c.dp = static_cast<int64_t>(v[7]);
    c.gpus = static_cast<int64_t>(v[8]);
    c.gbs = static_cast<int64_t>(v[9]);
    c.mbs = static_cast<int64_t>(v[10]);
    c.vpp = static_cast<int64_t>(v[11]);
    c.shape.vocab = 51200;
    c.dtype = "fp16";
    c.attention = "unfused";
    ValidationCase vc;
    vc.row.source = kKorthikanti;
    vc.row.line = t.line_numbers[r];
    vc.row.label = model + " " + mode;
    if (mode == "full_recompute") {
      c.recompute = "full";
      c.sp = false;
    } else if (mode == "seqpar+selective") {
      c.recompute = "selective";
      c.sp = true;
    } else {
      vc.row.skipped = true;
      vc.row.skip_reason = "unknown mode '" + mode + "'; known: full_recompute, seqpar+selective";
      out->push_back(vc);
      continue;
    }
    vc.config = c;
    vc.row.measured_step_s = v[12];
    vc.row.assumptions = "vocab 51,200 (Megatron-LM GPT default; not in the table)";
    FinishRow(&vc);
    out->push_back(vc);
  }
  return Status::Ok();
}

Status McoreRows(const std::string& dir, std::vector<ValidationCase>* out) {
  const std::string path = dir + "/training/training_megatron_core_h100_2024.csv";
  ECHOSIM_ASSIGN_OR_RETURN(CsvTable t, ReadCommentedCsv(path));
  for (size_t r = 0; r < t.rows.size(); ++r) {
    RowConfig c;
    c.gpu = "h100-sxm";
    ECHOSIM_ASSIGN_OR_RETURN(std::string model, t.Get(r, "model"));
    ECHOSIM_ASSIGN_OR_RETURN(const double tflops, ReadWeakScalingRow(t, r, &c));
    // Stated: DP overlap of gradient reduce and parameter gather (distributed optimizer),
    // TP and PP communication overlap, vocab 131,072, sequence 4,096.
    c.dtype = "bf16";
    c.attention = "flash";
    c.sp = c.tp > 1;
    c.zero = 1;
    // Dropout: not stated. Megatron-LM's own GPT-3 config at the commit that added the table
    // (examples/gpt3/gpt_config.yaml at f2e5db402c: hidden_dropout and attention_dropout 0.0)
    // trains without it; with Megatron-LM's argument defaults (0.1) instead, flash attention
    // runs at 0.80 / 0.65 of its rate forward / backward (ComputeOp::dropout) and these rows come
    // out 2-8 points slower.
    c.shape.dropout = false;
    c.shape.tied_embeddings = false;  // the table's parameter counts (e.g. 7.1B) include a separate output layer
    c.tp_overlap = true;
    c.overlap_grad = true;
    c.overlap_param = true;
    // Gradients: 16-bit (echosim's default). Megatron-LM (core_r0.8.0 arguments.py) reduces
    // the gradients of bf16 runs in fp32, but the table states no precision, and with fp32
    // reduce-scatters over 48 nodes the DP-heavy rows are predicted far slower than measured
    // (GPT-32B, shipped constants: +34.5% instead of +16.1%; the assumptions say so).
    ValidationCase vc;
    vc.config = c;
    vc.row.source = kMcore;
    vc.row.line = t.line_numbers[r];
    vc.row.label = model;
    vc.row.measured_tflops_per_gpu = tflops;
    vc.row.measured_step_s =
        McoreFlops(c.gbs, c.seq, c.shape.layers, c.shape.hidden, c.shape.vocab) / (c.gpus * tflops * 1e12);
    vc.row.assumptions =
        "bf16 with 16-bit gradient reduction, micro-batch 1, vpp 1, no recompute, no dropout (not "
        "stated; Megatron-LM reduces bf16 runs' gradients in fp32, which --grad-reduce-in-fp32 "
        "simulates; its examples/gpt3/gpt_config.yaml sets no dropout)";
    FinishRow(&vc);
    out->push_back(vc);
  }
  return Status::Ok();
}

// One simulation: a distinct configuration under one constant pair.
struct SimJob {
  size_t config = 0;  // index into the distinct configurations
  double factor = 1.0;
  double overhead_ms = 0.0;
};

// What one simulation of a row's configuration gives.
struct SimResult {
  double step_s = 0;
  Time step_end = 0;               // step_s in picoseconds
  bool overhead_is_tail = false;   // StepResult::host_overhead_is_tail
  double peak_memory_bytes = 0;      // the fullest stage, echosim's memory model
  double memory_capacity_bytes = 0;  // usable GPU memory
};

// Runs `jobs` on `threads` workers; result i belongs to job i whatever the timing.
// Heavier configurations start first so that the last worker is not left with one.
std::vector<StatusOr<SimResult>> RunJobs(const std::vector<RowConfig>& configs,
                                         const std::vector<SimJob>& jobs, int threads) {
  std::vector<StatusOr<SimResult>> results(jobs.size(), Status::Ok());
  std::vector<size_t> order(jobs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto cost = [&](size_t j) {
    const RowConfig& c = configs[jobs[j].config];
    const double micro = static_cast<double>(c.gbs) / static_cast<double>(std::max<int64_t>(1, c.mbs * c.dp));
    return micro * static_cast<double>(c.shape.layers) * static_cast<double>(c.vpp > 1 ? 2 : 1);
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost(a) > cost(b); });
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k = next.fetch_add(1); k < order.size(); k = next.fetch_add(1)) {
      const SimJob& job = jobs[order[k]];
      scenario::Scenario s = ToScenario(configs[job.config], "validation row");
      s.mutable_simulation()->set_compute_sustained_factor(job.factor);
      s.mutable_simulation()->set_host_overhead_per_step_ms(job.overhead_ms);
      s.mutable_output()->set_timeline(false);
      StatusOr<TrainingRun> run = RunTrainingScenario(s);
      if (run.ok()) {
        results[order[k]] = SimResult{run->result.step_time_s, run->result.step_end,
                                      run->result.host_overhead_is_tail,
                                      run->result.peak_memory_bytes,
                                      run->result.memory_capacity_bytes};
      } else {
        results[order[k]] = run.status();
      }
    }
  };
  const int n = std::max(1, std::min<int>(threads, static_cast<int>(jobs.size())));
  std::vector<std::thread> pool;
  for (int i = 1; i < n; ++i) pool.emplace_back(work);
  work();
  for (std::thread& th : pool) th.join();
  return results;
}

// Step time as a function of the constants, per row: T = a / factor + b + overhead,
// from two simulations (factor 1 and 0.8, no overhead). Only used to choose constants;
// every reported prediction is a full simulation with the chosen constants.
struct Affine {
  double a = 0, b = 0;
};

// Grid search (factor 0.70..1.10 step 0.005, overhead 0..500 ms step 5 ms) minimising the
// sum of absolute log errors, each source weighted equally (a row of a source with n used
// rows weighs 1/n), over the rows of every source but `exclude_source`. Absolute, not
// squared: the accuracy targets are on the median, and a few rows whose measurements differ
// by up to 2x between releases of the same configuration must not pull two global
// constants towards them.
TrainingCalibration FitConstants(const std::vector<ValidationCase>& cases,
                                 const std::vector<Affine>& affine,
                                 const std::string& exclude_source) {
  std::map<std::string, int> used;
  for (const ValidationCase& c : cases) {
    if (!c.row.skipped && c.row.source != exclude_source) ++used[c.row.source];
  }
  TrainingCalibration best;
  double best_err = -1;
  for (int fi = 0; fi <= 80; ++fi) {
    // Grid values as their decimal literals (0.915, not 0.7 + 0.005 * 43), so that a fitted
    // constant equal to a shipped one is the same double.
    const double factor = static_cast<double>(700 + 5 * fi) / 1000.0;
    for (int oi = 0; oi <= 100; ++oi) {
      const double overhead_s = static_cast<double>(5 * oi) / 1000.0;
      double err = 0;
      for (size_t i = 0; i < cases.size(); ++i) {
        if (cases[i].row.skipped || cases[i].row.source == exclude_source) continue;
        const double t = affine[i].a / factor + affine[i].b + overhead_s;
        const double e = std::log(t / cases[i].row.measured_step_s);
        err += std::fabs(e) / used[cases[i].row.source];
      }
      if (best_err < 0 || err < best_err) {
        best_err = err;
        best.compute_sustained_factor = factor;
        best.host_overhead_per_step_ms = static_cast<double>(5 * oi);
      }
    }
  }
  std::vector<std::string> parts;
  for (const auto& [src, n] : used) parts.push_back(StrCat(src, " (", n, " rows)"));
  best.fitted_on = Join(parts, ", ");
  return best;
}

}  // namespace

ValidationSummary SummarizeRows(const std::string& name, const std::vector<ValidationRow>& rows,
                                bool shipped,
                                const std::function<bool(const ValidationRow&)>& include) {
  ValidationSummary s;
  s.source = name;
  s.shipped_constants = shipped;
  std::vector<double> errs;
  for (const ValidationRow& r : rows) {
    if (!include(r)) continue;
    ++s.rows;
    if (r.skipped) {
      ++s.skipped;
      continue;
    }
    const double a = std::fabs(shipped ? r.error_shipped : r.error);
    errs.push_back(a);
    if (a > kRowErrorTarget) ++s.rows_beyond_target;
    if (a > s.worst_abs_error) {
      s.worst_abs_error = a;
      s.worst_label = r.source + ": " + r.label;
    }
  }
  if (!errs.empty()) {
    s.median_abs_error = Median(errs);
    double sum = 0;
    for (double e : errs) sum += e;
    s.mean_abs_error = sum / static_cast<double>(errs.size());
  }
  return s;
}

StatusOr<ValidationReport> RunPublishedValidation(const ValidationOptions& o) {
  const auto wall_start = std::chrono::steady_clock::now();
  if (!o.scenarios_dir.empty()) {  // before the simulations, so that a bad path fails at once
    std::error_code ec;
    std::filesystem::create_directories(o.scenarios_dir, ec);
    if (ec || !std::filesystem::is_directory(o.scenarios_dir)) {
      return InvalidArgument(StrCat("--scenarios: cannot create the directory '", o.scenarios_dir,
                                    "'", ec ? ": " + ec.message() : std::string()));
    }
  }
  ValidationReport rep;
  rep.sources = {
      {kMcore, "training/training_megatron_core_h100_2024.csv",
       "Megatron-Core r0.8 weak scaling, GPT 2B-462B on 96-6144 H100 (bf16, distributed "
       "optimizer, TP/DP overlap)"},
      {kKorthikanti, "training/training_korthikanti_seqpar_selective.csv",
       "Korthikanti et al. 2022 Table 5: sequence parallelism + selective recompute vs full "
       "recompute, GPT 22B-1T on A100 (fp16)"},
      {kSc21, "training/training_megatron_sc21_weak_scaling.csv",
       "Narayanan et al. SC'21 Table 1: Megatron-LM weak scaling, GPT 1.7B-1T on 32-3072 A100 "
       "(fp16, full recompute)"},
      {kNemoSource, "training/training_nemo_megatron_bridge_perf_summary.csv",
       "NVIDIA NeMo / Megatron-Bridge performance summaries (NeMo 24.07 to 26.08): pre-training "
       "throughput on DGX-H100, B200, B300, GB200, GB300"},
  };
  std::vector<ValidationCase> cases;
  ECHOSIM_RETURN_IF_ERROR(McoreRows(o.data_dir, &cases));
  ECHOSIM_RETURN_IF_ERROR(KorthikantiRows(o.data_dir, &cases));
  ECHOSIM_RETURN_IF_ERROR(Sc21Rows(o.data_dir, &cases));
  ECHOSIM_RETURN_IF_ERROR(NemoRows(o.data_dir, &cases));
  rep.threads = o.threads > 0 ? o.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));

  // Distinct configurations: rows that repeat a configuration share its simulations.
  std::vector<RowConfig> configs;
  std::map<std::string, size_t> config_index;
  std::vector<size_t> case_config(cases.size(), 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    ValidationCase& c = cases[i];
    if (c.row.skipped) continue;
    c.row.config = Describe(c.config);
    const auto [it, inserted] = config_index.emplace(ConfigKey(c.config), configs.size());
    if (inserted) configs.push_back(c.config);
    case_config[i] = it->second;
  }
  rep.distinct_configs = static_cast<int>(configs.size());

  // 1. Each configuration's dependence on the constants.
  std::vector<SimJob> jobs;
  for (size_t k = 0; k < configs.size(); ++k) {
    jobs.push_back({k, 1.0, 0.0});
    jobs.push_back({k, 0.8, 0.0});
  }
  const std::vector<StatusOr<SimResult>> probe = RunJobs(configs, jobs, rep.threads);
  rep.simulations += static_cast<int>(jobs.size());
  std::vector<Affine> affine(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    ValidationCase& c = cases[i];
    if (c.row.skipped) continue;
    const StatusOr<SimResult>& t1 = probe[2 * case_config[i]];
    const StatusOr<SimResult>& t2 = probe[2 * case_config[i] + 1];
    if (!t1.ok() || !t2.ok()) {
      c.row.skipped = true;
      c.row.skip_reason = (t1.ok() ? t2.status() : t1.status()).message();
      continue;
    }
    affine[i].a = (t2->step_s - t1->step_s) / (1.0 / 0.8 - 1.0);
    affine[i].b = t1->step_s - affine[i].a;
    c.row.predicted_peak_memory_bytes = t1->peak_memory_bytes;
    c.row.memory_capacity_bytes = t1->memory_capacity_bytes;
  }
  rep.fit_all = FitConstants(cases, affine, "");
  rep.shipped = DefaultTrainingCalibration();

  // 2. Leave one source out: fit on the other tables, predict this one by simulation
  // (and every row with the shipped constants, for the in-sample figures).
  std::map<std::pair<size_t, std::pair<double, double>>, size_t> job_of;
  jobs.clear();
  auto add_job = [&](size_t config, double factor, double overhead_ms) {
    const auto key = std::make_pair(config, std::make_pair(factor, overhead_ms));
    const auto [it, inserted] = job_of.emplace(key, jobs.size());
    if (inserted) jobs.push_back({config, factor, overhead_ms});
    return it->second;
  };
  std::vector<size_t> held_job(cases.size(), 0);
  for (const ValidationSource& src : rep.sources) {
    rep.fit_without[src.id] = FitConstants(cases, affine, src.id);
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].row.skipped) continue;
    const TrainingCalibration& held = rep.fit_without[cases[i].row.source];
    held_job[i] = add_job(case_config[i], held.compute_sustained_factor,
                          held.host_overhead_per_step_ms);
  }
  const std::vector<StatusOr<SimResult>> held_runs = RunJobs(configs, jobs, rep.threads);
  rep.simulations += static_cast<int>(jobs.size());
  // The shipped constants often differ from a source's held-out ones only by a larger host
  // overhead. Where every rank of the held-out run ended with that overhead, nothing else
  // moves when it grows: the shipped run's step is the held-out one plus the difference,
  // exactly (in the simulator's picoseconds). Otherwise it is simulated.
  std::vector<StatusOr<SimResult>> shipped_runs(cases.size(), Status::Ok());
  std::vector<size_t> shipped_job(cases.size(), 0);
  std::vector<bool> derived(cases.size(), false);
  const size_t held_jobs = jobs.size();
  for (size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].row.skipped) continue;
    const TrainingCalibration& held = rep.fit_without[cases[i].row.source];
    const StatusOr<SimResult>& h = held_runs[held_job[i]];
    if (h.ok() && h->overhead_is_tail &&
        held.compute_sustained_factor == rep.shipped.compute_sustained_factor &&
        rep.shipped.host_overhead_per_step_ms >= held.host_overhead_per_step_ms) {
      SimResult r = *h;
      r.step_end += SecondsToDuration(rep.shipped.host_overhead_per_step_ms * 1e-3) -
                    SecondsToDuration(held.host_overhead_per_step_ms * 1e-3);
      r.step_s = DurationToSeconds(r.step_end);
      shipped_runs[i] = r;
      derived[i] = true;
      continue;
    }
    shipped_job[i] = add_job(case_config[i], rep.shipped.compute_sustained_factor,
                             rep.shipped.host_overhead_per_step_ms);
  }
  std::vector<SimJob> rest(jobs.begin() + static_cast<std::ptrdiff_t>(held_jobs), jobs.end());
  const std::vector<StatusOr<SimResult>> rest_runs = RunJobs(configs, rest, rep.threads);
  rep.simulations += static_cast<int>(rest.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].row.skipped || derived[i]) continue;
    shipped_runs[i] = shipped_job[i] < held_jobs ? held_runs[shipped_job[i]]
                                                 : rest_runs[shipped_job[i] - held_jobs];
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    ValidationCase& c = cases[i];
    if (c.row.skipped) continue;
    const TrainingCalibration& held = rep.fit_without[c.row.source];
    const StatusOr<SimResult>& held_run = held_runs[held_job[i]];
    const StatusOr<SimResult>& shipped_run = shipped_runs[i];
    if (!held_run.ok() || !shipped_run.ok()) {
      c.row.skipped = true;
      c.row.skip_reason = (held_run.ok() ? shipped_run.status() : held_run.status()).message();
      continue;
    }
    const double t = held_run->step_s, shipped = shipped_run->step_s;
    c.row.predicted_step_s = t;
    c.row.error = (t - c.row.measured_step_s) / c.row.measured_step_s;
    c.row.predicted_step_shipped_s = shipped;
    c.row.error_shipped = (shipped - c.row.measured_step_s) / c.row.measured_step_s;
    if (c.row.measured_tflops_per_gpu > 0) {
      c.row.predicted_tflops_per_gpu = c.row.measured_tflops_per_gpu * c.row.measured_step_s / t;
    }
    c.row.fit_factor = held.compute_sustained_factor;
    c.row.fit_overhead_ms = held.host_overhead_per_step_ms;
  }
  if (!o.scenarios_dir.empty()) {
    for (size_t i = 0; i < cases.size(); ++i) {
      const ValidationCase& c = cases[i];
      if (c.row.skipped) continue;
      scenario::Scenario s = ToScenario(configs[case_config[i]],
                                        StrCat(c.row.source, " line ", c.row.line, ": ", c.row.label));
      s.mutable_simulation()->set_compute_sustained_factor(rep.shipped.compute_sustained_factor);
      s.mutable_simulation()->set_host_overhead_per_step_ms(rep.shipped.host_overhead_per_step_ms);
      const std::filesystem::path path =
          std::filesystem::path(o.scenarios_dir) / StrCat(c.row.source, "-line", c.row.line, ".yaml");
      std::ofstream out(path);
      out << "# " << c.row.label << " (" << c.row.source << " line " << c.row.line << "): measured "
          << FormatDouble(c.row.measured_step_s, 4) << " s per step\n# " << c.row.assumptions << "\n"
          << ProtoToYaml(s);
      if (!out) return InvalidArgument(StrCat("--scenarios: cannot write '", path.string(), "'"));
    }
  }
  // 4. What-if pairs: rows of one campaign that differ in one choice.
  for (size_t i = 0; i < cases.size(); ++i) {
    for (size_t k = i + 1; k < cases.size(); ++k) {
      const ValidationCase& a = cases[i];
      const ValidationCase& b = cases[k];
      const std::string kind = WhatIfKind(a.row, a.config, b.row, b.config);
      if (kind.empty()) continue;
      WhatIfPair p;
      p.kind = kind;
      p.source = a.row.source;
      p.line_a = a.row.line;
      p.line_b = b.row.line;
      p.label_a = a.row.label;
      p.label_b = b.row.label;
      p.config_a = a.row.config;
      p.config_b = b.row.config;
      const double per_seq = static_cast<double>(a.config.gbs) / static_cast<double>(b.config.gbs);
      p.measured_ratio = b.row.measured_step_s / a.row.measured_step_s * per_seq;
      p.predicted_ratio = b.row.predicted_step_s / a.row.predicted_step_s * per_seq;
      p.ratio_error = p.predicted_ratio / p.measured_ratio - 1.0;
      rep.whatif_pairs.push_back(p);
    }
  }
  std::stable_sort(rep.whatif_pairs.begin(), rep.whatif_pairs.end(),
                   [](const WhatIfPair& x, const WhatIfPair& y) {
                     auto rank = [](const std::string& k) {
                       return k == "gpu" ? 0 : k == "precision" ? 1 : k == "recipe" ? 2 : 3;
                     };
                     const int kx = rank(x.kind), ky = rank(y.kind);
                     return kx < ky;
                   });
  rep.whatif_summaries = SummarizeWhatIfs(rep.whatif_pairs);
  // The GPU-preset constants chosen on these rows, named in each row they were chosen on.
  auto fitted_by = [](ValidationRow& row, const char* constant) {
    row.fitted_by = row.fitted_by.empty() ? constant : StrCat(row.fitted_by, ", ", constant);
  };
  for (ValidationCase& c : cases) {
    c.row.moe = c.config.shape.is_moe();
    if (!c.row.skipped) c.row.model = c.config.shape.name;
    const StatusOr<GpuSpec> gpu = FindGpuPreset(c.config.gpu);
    const bool simulated = !c.row.skipped && gpu.ok();
    if (simulated && c.row.moe) {
      const auto& sc = c.config.cuda_graph_scope;
      const bool full = std::find(sc.begin(), sc.end(), "full_iteration") != sc.end();
      // host_loop_launch_us was chosen on the MoE rows of H100, B200 and B300 (h100-sxm.yaml);
      // the Grace systems take it as an assumption.
      const bool in_choice =
          c.config.gpu == "h100-sxm" || c.config.gpu == "b200" || c.config.gpu == "b300";
      if (gpu->host_launch_us > 0 && !full && in_choice) fitted_by(c.row, "host_loop_launch_us");
    }
    // The Blackwell presets' sustained tensor rate and memory efficiency are chosen together on
    // their fp8 and bf16 rows, dense and MoE (hardware/gpus/gb200.yaml and gb300.yaml).
    if (simulated && c.config.dtype != "fp4" && gpu->sustained_tensor_rate < 1.0) {
      fitted_by(c.row, "sustained_tensor_rate");
      fitted_by(c.row, "memory_efficiency");
    }
    // The GB200 and GB300 presets' fp4 GEMM efficiencies are effective rates chosen on their
    // NVFP4 rows (hardware/gpus/gb200.yaml and gb300.yaml).
    const bool grace = c.config.gpu == "gb200" || c.config.gpu == "gb300";
    if (simulated && grace && c.config.dtype == "fp4") fitted_by(c.row, "gemm_max_efficiency_fp4");
    rep.rows.push_back(c.row);
  }
  // 3. Configurations measured by several rows (the same stated run in several releases,
  // simulated identically), and the error floor their spread sets.
  using GroupKey = std::pair<size_t, std::string>;
  auto group_of = [&](size_t i) { return GroupKey{case_config[i], cases[i].row.stated_config}; };
  std::map<GroupKey, RepeatedConfiguration> by_config;
  std::map<GroupKey, int> rows_of_config;
  for (size_t i = 0; i < cases.size(); ++i) {
    if (!cases[i].row.skipped && !cases[i].row.stated_config.empty()) ++rows_of_config[group_of(i)];
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    const ValidationRow& r = cases[i].row;
    if (r.skipped || r.stated_config.empty() || rows_of_config[group_of(i)] < 2) continue;
    auto [it, inserted] = by_config.try_emplace(group_of(i));
    RepeatedConfiguration& g = it->second;
    if (inserted) {
      g.config = r.config;
      g.label = r.label;
      g.min_step_s = g.max_step_s = r.measured_step_s;
    }
    g.lines.push_back(r.line);
    g.min_step_s = std::min(g.min_step_s, r.measured_step_s);
    g.max_step_s = std::max(g.max_step_s, r.measured_step_s);
    ++rep.repeated_rows;
  }
  for (auto& [k, g] : by_config) {
    g.floor_abs_error = (g.max_step_s - g.min_step_s) / (g.max_step_s + g.min_step_s);
    rep.repeated.push_back(std::move(g));
  }
  std::stable_sort(rep.repeated.begin(), rep.repeated.end(),
                   [](const RepeatedConfiguration& a, const RepeatedConfiguration& b) {
                     return a.floor_abs_error > b.floor_abs_error;
                   });
  for (const ValidationSource& src : rep.sources) {
    rep.summaries.push_back(SummarizeRows(src.id, rep.rows, false, [&](const ValidationRow& r) {
      return r.source == src.id;
    }));
  }
  auto all = [](const ValidationRow&) { return true; };
  rep.summaries.push_back(SummarizeRows("all", rep.rows, false, all));
  rep.summaries.push_back(SummarizeRows("all", rep.rows, true, all));
  // Simulated rows of dense and of mixture-of-experts models apart.
  rep.summaries.push_back(SummarizeRows("all_dense", rep.rows, false,
                                        [](const ValidationRow& r) { return !r.skipped && !r.moe; }));
  rep.summaries.push_back(SummarizeRows("all_moe", rep.rows, false,
                                        [](const ValidationRow& r) { return !r.skipped && r.moe; }));
  // Rows some simulator constant was chosen on (ValidationRow::fitted_by) and the others.
  rep.summaries.push_back(SummarizeRows("in_a_fit", rep.rows, false, [](const ValidationRow& r) {
    return !r.skipped && !r.fitted_by.empty();
  }));
  rep.summaries.push_back(SummarizeRows("in_no_fit", rep.rows, false, [](const ValidationRow& r) {
    return !r.skipped && r.fitted_by.empty();
  }));
  rep.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return rep;
}

nlohmann::json ValidationReportJson(const ValidationReport& rep) {
  nlohmann::json j;
  auto cal = [](const TrainingCalibration& c) {
    return nlohmann::json{{"compute_sustained_factor", c.compute_sustained_factor},
                          {"host_overhead_per_step_ms", c.host_overhead_per_step_ms},
                          {"fitted_on", c.fitted_on}};
  };
  j["constants"]["shipped"] = cal(rep.shipped);
  j["constants"]["fit_all_rows"] = cal(rep.fit_all);
  for (const auto& [src, c] : rep.fit_without) j["constants"]["fit_without_" + src] = cal(c);
  j["sources"] = nlohmann::json::array();
  for (const ValidationSource& s : rep.sources) {
    j["sources"].push_back({{"id", s.id}, {"file", s.file}, {"description", s.description}});
  }
  j["rows"] = nlohmann::json::array();
  for (const ValidationRow& r : rep.rows) {
    nlohmann::json row = {{"source", r.source}, {"line", r.line}, {"label", r.label},
                          {"config", r.config}, {"gpu", r.gpu}, {"gpus", r.gpus},
                          {"model_params", r.model_params},
                          {"measured_step_s", r.measured_step_s},
                          {"predicted_step_s", r.predicted_step_s}, {"error", r.error},
                          {"predicted_step_s_shipped_constants", r.predicted_step_shipped_s},
                          {"error_shipped_constants", r.error_shipped},
                          {"measured_tflops_per_gpu", r.measured_tflops_per_gpu},
                          {"predicted_tflops_per_gpu", r.predicted_tflops_per_gpu},
                          {"held_out_constants", {{"compute_sustained_factor", r.fit_factor},
                                                  {"host_overhead_per_step_ms", r.fit_overhead_ms}}},
                          {"skipped", r.skipped}, {"assumptions", r.assumptions},
                          {"campaign", r.campaign.empty() ? r.source : r.campaign},
                          {"precision", r.precision}, {"model", r.model}, {"moe", r.moe},
                          {"fitted_by", r.fitted_by}};
    if (r.skipped) {
      row["skip_reason"] = r.skip_reason;
    } else {
      // The measured run fit in memory; echosim's memory model is checked against that.
      row["predicted_peak_memory_gib"] = r.predicted_peak_memory_bytes / kGiB;
      row["memory_capacity_gib"] = r.memory_capacity_bytes / kGiB;
      row["fits_in_memory"] = r.FitsInMemory();
    }
    j["rows"].push_back(row);
  }
  j["summaries"] = nlohmann::json::array();
  for (const ValidationSummary& s : rep.summaries) {
    j["summaries"].push_back({{"source", s.source},
                              {"constants", s.shipped_constants ? "shipped (fit on all rows: in-sample)"
                                                                : "held out (fit without this source)"},
                              {"rows", s.rows}, {"skipped", s.skipped},
                              {"median_abs_error", s.median_abs_error},
                              {"mean_abs_error", s.mean_abs_error},
                              {"worst_abs_error", s.worst_abs_error}, {"worst_row", s.worst_label},
                              {"rows_beyond_target", s.rows_beyond_target},
                              {"row_error_target", kRowErrorTarget}});
  }
  j["repeated_configurations"] = nlohmann::json::array();
  for (const RepeatedConfiguration& g : rep.repeated) {
    j["repeated_configurations"].push_back(
        {{"config", g.config}, {"label", g.label}, {"lines", g.lines},
         {"min_measured_step_s", g.min_step_s}, {"max_measured_step_s", g.max_step_s},
         {"floor_abs_error", g.floor_abs_error}});
  }
  j["whatif"]["summaries"] = nlohmann::json::array();
  for (const WhatIfSummary& w : rep.whatif_summaries) {
    j["whatif"]["summaries"].push_back(
        {{"kind", w.kind}, {"pairs", w.pairs}, {"median_abs_ratio_error", w.median_abs_ratio_error},
         {"worst_abs_ratio_error", w.worst_abs_ratio_error}, {"ordered_pairs", w.ordered},
         {"ordered_right", w.ordered_right}});
  }
  j["whatif"]["pairs"] = nlohmann::json::array();
  for (const WhatIfPair& p : rep.whatif_pairs) {
    j["whatif"]["pairs"].push_back(
        {{"kind", p.kind}, {"source", p.source}, {"line_a", p.line_a}, {"line_b", p.line_b},
         {"label_a", p.label_a}, {"label_b", p.label_b}, {"config_a", p.config_a},
         {"config_b", p.config_b}, {"measured_ratio", p.measured_ratio},
         {"predicted_ratio", p.predicted_ratio}, {"ratio_error", p.ratio_error}});
  }
  j["run"] = {{"distinct_configs", rep.distinct_configs}, {"simulations", rep.simulations},
              {"threads", rep.threads}};
  return j;
}

RepeatedBeyond CountRepeatedBeyond(const ValidationReport& rep, double threshold) {
  RepeatedBeyond out;
  for (const RepeatedConfiguration& g : rep.repeated) {
    if (g.floor_abs_error > threshold) {
      ++out.configurations;
      out.rows += static_cast<int>(g.lines.size());
    }
  }
  return out;
}

std::string MemoryCheckText(const ValidationReport& rep) {
  int simulated = 0, over = 0;
  const ValidationRow* furthest = nullptr;
  auto ratio = [](const ValidationRow& r) {
    return r.memory_capacity_bytes > 0 ? r.predicted_peak_memory_bytes / r.memory_capacity_bytes : 0.0;
  };
  for (const ValidationRow& r : rep.rows) {
    if (r.skipped) continue;
    ++simulated;
    if (r.FitsInMemory()) continue;
    ++over;
    if (furthest == nullptr || ratio(r) > ratio(*furthest)) furthest = &r;
  }
  std::string out = StrCat("memory: ", over, " of ", simulated,
                           " simulated rows are estimated above their GPUs' memory, though every "
                           "measured run fit");
  if (furthest != nullptr) {
    out += StrCat("; furthest: ", furthest->source, " line ", furthest->line, " ", furthest->label,
                  ", ", FormatDouble(furthest->predicted_peak_memory_bytes / kGiB, 4), " GiB of ",
                  FormatDouble(furthest->memory_capacity_bytes / kGiB, 4), " GiB");
  }
  return out + "\n";
}

std::string RepeatedConfigurationsText(const ValidationReport& rep) {
  std::ostringstream o;
  char line[1024];
  const RepeatedBeyond wide = CountRepeatedBeyond(rep, kRowErrorTarget);
  o << "\nsame configuration, several measurements (releases of the NeMo summaries): "
    << rep.repeated.size() << " configurations in " << rep.repeated_rows << " rows; "
    << wide.configurations << " of them (" << wide.rows << " rows) are measured so differently that no prediction is "
       "within "
    << FormatDouble(100 * kRowErrorTarget, 3) << "% of all their rows";
  if (!rep.repeated.empty()) {
    o << "; any simulator's worst row is at least "
      << FormatDouble(100 * rep.repeated.front().floor_abs_error, 3) << "% off";
  }
  o << "\n";
  for (const RepeatedConfiguration& g : rep.repeated) {
    if (g.floor_abs_error < 0.05) break;
    std::string lines;
    for (int l : g.lines) {
      if (!lines.empty()) lines += ',';
      lines += std::to_string(l);
    }
    std::snprintf(line, sizeof(line), "  floor %5.1f%%  measured %8.3f..%-8.3f s  lines %-20s %s\n",
                  100 * g.floor_abs_error, g.min_step_s, g.max_step_s, lines.c_str(),
                  g.config.c_str());
    o << line;
  }
  return o.str();
}

std::string WhatIfText(const ValidationReport& rep) {
  std::ostringstream o;
  o << "\nwhat-ifs (rows of one campaign differing in one choice; the ratio of their times per "
       "sequence, predicted over measured):\n";
  if (rep.whatif_summaries.empty()) o << "  no pairs\n";
  char line[512];
  for (const WhatIfSummary& w : rep.whatif_summaries) {
    std::snprintf(line, sizeof(line),
                  "  %-9s %4d pairs  median |ratio error| %5.1f%%  worst %5.1f%%  faster one right in "
                  "%d of %d (measured apart by > %.0f%%)\n",
                  w.kind.c_str(), w.pairs, 100 * w.median_abs_ratio_error,
                  100 * w.worst_abs_ratio_error, w.ordered_right, w.ordered, 100 * kWhatIfTie);
    o << line;
  }
  return o.str();
}

std::string ValidationReportText(const ValidationReport& rep) {
  std::ostringstream o;
  std::string current;
  char line[1024];
  o << "Predicted vs measured training step time. Each table is predicted with calibration\n"
       "constants fitted on the other tables only (leave-one-source-out); the shipped constants\n"
       "(hardware/calibration/training.yaml) are fitted on all rows and shown for reference.\n";
  for (const ValidationRow& r : rep.rows) {
    if (r.source != current) {
      current = r.source;
      const auto it = rep.fit_without.find(current);
      o << "\n== " << current;
      if (it != rep.fit_without.end()) {
        o << "  (held-out constants: sustained factor "
          << FormatDouble(it->second.compute_sustained_factor, 4) << ", host overhead "
          << FormatDouble(it->second.host_overhead_per_step_ms, 4) << " ms)";
      }
      o << "\n";
      std::snprintf(line, sizeof(line), "%5s %-36s %11s %11s %8s %9s  %s\n", "line", "row",
                    "measured_s", "predicted_s", "error", "shipped", "configuration");
      o << line;
    }
    if (r.skipped) {
      std::snprintf(line, sizeof(line), "%5d %-36s SKIPPED: %s\n", r.line, r.label.c_str(),
                    r.skip_reason.c_str());
    } else {
      std::snprintf(line, sizeof(line), "%5d %-36s %11.4f %11.4f %+7.1f%% %+8.1f%%  %s\n", r.line,
                    r.label.c_str(), r.measured_step_s, r.predicted_step_s, 100.0 * r.error,
                    100.0 * r.error_shipped, r.config.c_str());
    }
    o << line;
  }
  o << "\nconstants: shipped factor " << FormatDouble(rep.shipped.compute_sustained_factor, 4)
    << ", overhead " << FormatDouble(rep.shipped.host_overhead_per_step_ms, 4)
    << " ms; refit on all rows now gives factor "
    << FormatDouble(rep.fit_all.compute_sustained_factor, 4) << ", overhead "
    << FormatDouble(rep.fit_all.host_overhead_per_step_ms, 4) << " ms\n";
  o << "\nsummary (absolute step-time error)\n";
  for (const ValidationSummary& s : rep.summaries) {
    std::snprintf(line, sizeof(line),
                  "%-24s %-9s rows %3d  skipped %3d  median %5.1f%%  mean %5.1f%%  worst %5.1f%%  "
                  "beyond %2.0f%% %3d (%s)\n",
                  s.source.c_str(), s.shipped_constants ? "in-sample" : "held-out", s.rows,
                  s.skipped, 100 * s.median_abs_error, 100 * s.mean_abs_error,
                  100 * s.worst_abs_error, 100 * kRowErrorTarget, s.rows_beyond_target,
                  s.worst_label.c_str());
    o << line;
  }
  o << "\n" << MemoryCheckText(rep);
  o << RepeatedConfigurationsText(rep);
  o << WhatIfText(rep);
  o << "\n" << rep.distinct_configs << " distinct configurations, " << rep.simulations
    << " simulations on " << rep.threads << " threads\n";
  return o.str();
}

}  // namespace echosim
