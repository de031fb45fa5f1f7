#include "simulator/validation/published.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "hardware/calibration.h"
#include "simulator/core/strings.h"

namespace echosim {

StatusOr<std::string> CsvTable::Get(size_t row, const std::string& column) const {
  for (size_t c = 0; c < header.size(); ++c) {
    if (header[c] == column) {
      if (c >= rows[row].size()) {
        return InvalidArgument(StrCat("line ", line_numbers[row], ": missing column '", column, "'"));
      }
      return rows[row][c];
    }
  }
  return InvalidArgument(StrCat("no column '", column, "'; columns: ", Join(header, ", ")));
}

StatusOr<CsvTable> ReadCommentedCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(StrCat("cannot open '", path, "'"));
  CsvTable t;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    if (t.header.empty()) {
      t.header = cells;
    } else {
      if (cells.size() != t.header.size()) {
        return InvalidArgument(StrCat(path, ":", n, ": expected ", t.header.size(), " cells, got ",
                                      cells.size()));
      }
      t.rows.push_back(cells);
      t.line_numbers.push_back(n);
    }
  }
  if (t.header.empty()) return InvalidArgument(StrCat(path, ": no header line"));
  return t;
}

namespace {

StatusOr<double> Num(const CsvTable& t, size_t r, const std::string& col, const std::string& path) {
  ECHOSIM_ASSIGN_OR_RETURN(std::string s, t.Get(r, col));
  try {
    size_t used = 0;
    double v = std::stod(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    return InvalidArgument(StrCat(path, ":", t.line_numbers[r], ": column '", col,
                                  "': not a number: '", s, "'"));
  }
}

// A row's configuration as a scenario.
struct RowConfig {
  std::string gpu;
  int64_t layers, hidden, heads, ffn, vocab, seq;
  int64_t tp, pp, vpp = 1, dp, gpus, gbs, mbs = 1;
  std::string dtype = "bf16", attention = "flash", recompute = "none";
  bool sp = false, overlap_grad = true, overlap_param = false, tied = true, tp_overlap = false;
  int64_t zero = 0;
};

scenario::Scenario ToScenario(const RowConfig& c, const std::string& name) {
  scenario::Scenario s;
  s.set_name(name);
  s.mutable_cluster()->set_gpu(c.gpu);
  s.mutable_cluster()->set_gpus(static_cast<uint32_t>(c.gpus));
  auto* t = s.mutable_workload()->mutable_training();
  t->set_model("custom");
  auto* sh = t->mutable_shape();
  sh->set_layers(static_cast<uint32_t>(c.layers));
  sh->set_hidden(static_cast<uint32_t>(c.hidden));
  sh->set_heads(static_cast<uint32_t>(c.heads));
  sh->set_ffn_hidden(static_cast<uint32_t>(c.ffn));
  sh->set_vocab(static_cast<uint32_t>(c.vocab));
  sh->set_max_seq_len_tokens(static_cast<uint32_t>(c.seq));
  sh->set_mlp("gelu");
  sh->set_tied_embeddings(c.tied);
  t->set_seq_len_tokens(static_cast<uint32_t>(c.seq));
  t->set_global_batch_seqs(static_cast<uint32_t>(c.gbs));
  t->set_micro_batch_seqs(static_cast<uint32_t>(c.mbs));
  t->set_dtype(c.dtype);
  t->set_attention(c.attention);
  auto* p = s.mutable_parallelism();
  p->set_tp(static_cast<uint32_t>(c.tp));
  p->set_pp(static_cast<uint32_t>(c.pp));
  p->set_vpp(static_cast<uint32_t>(c.vpp));
  p->set_dp(static_cast<uint32_t>(c.dp));
  p->set_zero(static_cast<uint32_t>(c.zero));
  p->set_sequence_parallel(c.sp);
  p->set_recompute(c.recompute);
  p->set_overlap_grad_reduce(c.overlap_grad);
  p->set_overlap_param_gather(c.overlap_param);
  p->set_tp_comm_overlap(c.tp_overlap && c.sp && c.tp > 1);
  return s;
}

std::string Describe(const RowConfig& c) {
  return StrCat(c.gpus, "x", c.gpu, " tp", c.tp, " pp", c.pp, c.vpp > 1 ? StrCat(" vpp", c.vpp) : "",
                " dp", c.dp, " gbs", c.gbs, " mb", c.mbs, " ", c.dtype, c.sp ? " sp" : "",
                " recompute=", c.recompute, " attn=", c.attention);
}

// Step time of a row under given calibration constants.
StatusOr<double> SimulateRow(const RowConfig& c, const std::string& label, double factor,
                             double overhead_ms) {
  scenario::Scenario s = ToScenario(c, label);
  s.mutable_simulation()->set_compute_sustained_factor(factor);
  s.mutable_simulation()->set_host_overhead_per_step_ms(overhead_ms);
  ECHOSIM_ASSIGN_OR_RETURN(TrainingRun run, RunTrainingScenario(s));
  return run.result.step_time_s;
}

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

struct Case {
  ValidationRow row;
  RowConfig config;
  bool sc21_flops = false;  // measured TFLOP/s count recomputation (SC'21 accounting)
};

Status Sc21Rows(const std::string& dir, std::vector<Case>* out) {
  const std::string path = dir + "/training/training_megatron_sc21_weak_scaling.csv";
  ECHOSIM_ASSIGN_OR_RETURN(CsvTable t, ReadCommentedCsv(path));
  for (size_t r = 0; r < t.rows.size(); ++r) {
    RowConfig c;
    c.gpu = "a100-80gb";
    ECHOSIM_ASSIGN_OR_RETURN(std::string model, t.Get(r, "model"));
    ECHOSIM_ASSIGN_OR_RETURN(double heads, Num(t, r, "heads", path));
    ECHOSIM_ASSIGN_OR_RETURN(double hidden, Num(t, r, "hidden", path));
    ECHOSIM_ASSIGN_OR_RETURN(double layers, Num(t, r, "layers", path));
    ECHOSIM_ASSIGN_OR_RETURN(double seq, Num(t, r, "seq_len", path));
    ECHOSIM_ASSIGN_OR_RETURN(double vocab, Num(t, r, "vocab", path));
    ECHOSIM_ASSIGN_OR_RETURN(double tp, Num(t, r, "tp", path));
    ECHOSIM_ASSIGN_OR_RETURN(double pp, Num(t, r, "pp", path));
    ECHOSIM_ASSIGN_OR_RETURN(double dp, Num(t, r, "dp", path));
    ECHOSIM_ASSIGN_OR_RETURN(double gpus, Num(t, r, "gpus", path));
    ECHOSIM_ASSIGN_OR_RETURN(double gbs, Num(t, r, "global_batch_seqs", path));
    ECHOSIM_ASSIGN_OR_RETURN(double tflops, Num(t, r, "tflops_per_gpu", path));
    c.heads = static_cast<int64_t>(heads);
    c.hidden = static_cast<int64_t>(hidden);
    c.layers = static_cast<int64_t>(layers);
    c.ffn = 4 * c.hidden;
    c.seq = static_cast<int64_t>(seq);
    c.vocab = static_cast<int64_t>(vocab);
    c.tp = static_cast<int64_t>(tp);
    c.pp = static_cast<int64_t>(pp);
    c.dp = static_cast<int64_t>(dp);
    c.gpus = static_cast<int64_t>(gpus);
    c.gbs = static_cast<int64_t>(gbs);
    // Stated by the source: fp16 mixed precision, full activation recomputation, no sequence
    // parallelism (2021), Megatron's unfused softmax attention, gradient all-reduce after
    // the backward pass (no overlap in 2021 Megatron-LM), interleaved schedule where pp > 1.
    c.dtype = "fp16";
    c.recompute = "full";
    c.attention = "unfused";
    c.overlap_grad = false;
    ValidationRow row;
    row.source = "megatron_sc21_a100";
    row.label = model;
    row.measured_tflops_per_gpu = tflops;
    row.measured_step_s = Sc21Flops(gbs, seq, layers, hidden, vocab) / (gpus * tflops * 1e12);
    row.assumptions = "micro-batch 1 and vpp 1 (not stated in Table 1)";
    out->push_back(Case{row, c, true});
  }
  return Status::Ok();
}

Status KorthikantiRows(const std::string& dir, std::vector<Case>* out) {
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
      ECHOSIM_ASSIGN_OR_RETURN(v[i], Num(t, r, cols[i], path));
    }
    c.hidden = static_cast<int64_t>(v[0]);
    c.ffn = static_cast<int64_t>(v[1]);
    c.heads = static_cast<int64_t>(v[2]);
    c.layers = static_cast<int64_t>(v[3]);
    c.seq = static_cast<int64_t>(v[4]);
    c.tp = static_cast<int64_t>(v[5]);
    c.pp = static_cast<int64_t>(v[6]);
    c.dp = static_cast<int64_t>(v[7]);
    c.gpus = static_cast<int64_t>(v[8]);
    c.gbs = static_cast<int64_t>(v[9]);
    c.mbs = static_cast<int64_t>(v[10]);
    c.vpp = static_cast<int64_t>(v[11]);
    c.vocab = 51200;
    c.dtype = "fp16";
    c.attention = "unfused";
    if (mode == "full_recompute") {
      c.recompute = "full";
      c.sp = false;
    } else if (mode == "seqpar+selective") {
      c.recompute = "selective";
      c.sp = true;
    } else {
      ValidationRow row;
      row.source = "korthikanti_table5_a100";
      row.label = model + " " + mode;
      row.skipped = true;
      row.skip_reason = "unknown mode '" + mode + "'";
      out->push_back(Case{row, c, false});
      continue;
    }
    ValidationRow row;
    row.source = "korthikanti_table5_a100";
    row.label = model + " " + mode;
    row.measured_step_s = v[12];
    row.assumptions = "vocab 51,200 (Megatron-LM GPT default; not in the table)";
    out->push_back(Case{row, c, false});
  }
  return Status::Ok();
}

Status McoreRows(const std::string& dir, std::vector<Case>* out) {
  const std::string path = dir + "/training/training_megatron_core_h100_2024.csv";
  ECHOSIM_ASSIGN_OR_RETURN(CsvTable t, ReadCommentedCsv(path));
  for (size_t r = 0; r < t.rows.size(); ++r) {
    RowConfig c;
    c.gpu = "h100-sxm";
    ECHOSIM_ASSIGN_OR_RETURN(std::string model, t.Get(r, "model"));
    double v[11];
    const char* cols[11] = {"heads", "hidden", "layers", "seq_len", "vocab", "tp", "pp", "dp",
                            "gpus", "global_batch_seqs", "tflops_per_gpu"};
    for (int i = 0; i < 11; ++i) {
      ECHOSIM_ASSIGN_OR_RETURN(v[i], Num(t, r, cols[i], path));
    }
    c.heads = static_cast<int64_t>(v[0]);
    c.hidden = static_cast<int64_t>(v[1]);
    c.layers = static_cast<int64_t>(v[2]);
    c.ffn = 4 * c.hidden;
    c.seq = static_cast<int64_t>(v[3]);
    c.vocab = static_cast<int64_t>(v[4]);
    c.tp = static_cast<int64_t>(v[5]);
    c.pp = static_cast<int64_t>(v[6]);
    c.dp = static_cast<int64_t>(v[7]);
    c.gpus = static_cast<int64_t>(v[8]);
    c.gbs = static_cast<int64_t>(v[9]);
    // Stated: DP overlap of gradient reduce and parameter gather (distributed optimizer),
    // TP and PP communication overlap, vocab 131,072, sequence 4,096.
    c.dtype = "bf16";
    c.attention = "flash";
    c.sp = c.tp > 1;
    c.zero = 1;
    c.tied = false;  // the table's parameter counts (e.g. 7.1B) include a separate output layer
    c.tp_overlap = true;
    c.overlap_grad = true;
    c.overlap_param = true;
    ValidationRow row;
    row.source = "megatron_core_h100";
    row.label = model;
    row.measured_tflops_per_gpu = v[10];
    row.measured_step_s = McoreFlops(c.gbs, c.seq, c.layers, c.hidden, c.vocab) /
                          (c.gpus * v[10] * 1e12);
    row.assumptions = "bf16, micro-batch 1, vpp 1, no recompute (not stated)";
    out->push_back(Case{row, c, false});
  }
  return Status::Ok();
}

ValidationSummary Summarize(const std::string& source, const std::vector<ValidationRow>& rows,
                            bool shipped) {
  ValidationSummary s;
  s.source = source;
  s.shipped_constants = shipped;
  std::vector<double> errs;
  for (const ValidationRow& r : rows) {
    if (source != "all" && r.source != source) continue;
    ++s.rows;
    if (r.skipped) {
      ++s.skipped;
      continue;
    }
    const double a = std::fabs(shipped ? r.error_shipped : r.error);
    errs.push_back(a);
    if (a > s.worst_abs_error) {
      s.worst_abs_error = a;
      s.worst_label = r.source + ": " + r.label;
    }
  }
  if (!errs.empty()) {
    std::sort(errs.begin(), errs.end());
    const size_t n = errs.size();
    s.median_abs_error = n % 2 ? errs[n / 2] : 0.5 * (errs[n / 2 - 1] + errs[n / 2]);
    double sum = 0;
    for (double e : errs) sum += e;
    s.mean_abs_error = sum / n;
  }
  return s;
}

// Step time as a function of the constants, per row: T = a / factor + b + overhead,
// from two simulations (factor 1 and 0.8, no overhead). Only used to choose constants;
// every reported prediction is a full simulation with the chosen constants.
struct Affine {
  double a = 0, b = 0;
};

TrainingCalibration FitConstants(const std::vector<Case>& cases, const std::vector<Affine>& affine,
                         const std::string& exclude_source) {
  TrainingCalibration best;
  double best_err = -1;
  for (int fi = 0; fi <= 80; ++fi) {
    const double factor = 0.7 + 0.005 * fi;
    for (int oi = 0; oi <= 100; ++oi) {
      const double overhead_s = 0.005 * oi;
      double err = 0;
      for (size_t i = 0; i < cases.size(); ++i) {
        if (cases[i].row.skipped || cases[i].row.source == exclude_source) continue;
        const double t = affine[i].a / factor + affine[i].b + overhead_s;
        const double e = std::log(t / cases[i].row.measured_step_s);
        err += e * e;
      }
      if (best_err < 0 || err < best_err) {
        best_err = err;
        best.compute_sustained_factor = factor;
        best.host_overhead_per_step_ms = overhead_s * 1e3;
      }
    }
  }
  return best;
}

}  // namespace

StatusOr<ValidationReport> RunPublishedValidation(const ValidationOptions& o) {
  std::vector<Case> cases;
  ECHOSIM_RETURN_IF_ERROR(McoreRows(o.data_dir, &cases));
  ECHOSIM_RETURN_IF_ERROR(KorthikantiRows(o.data_dir, &cases));
  ECHOSIM_RETURN_IF_ERROR(Sc21Rows(o.data_dir, &cases));
  const std::vector<std::string> sources = {"megatron_core_h100", "korthikanti_table5_a100",
                                            "megatron_sc21_a100"};
  // 1. Each row's dependence on the constants.
  std::vector<Affine> affine(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    Case& c = cases[i];
    c.row.config = Describe(c.config);
    if (c.row.skipped) continue;
    auto t1 = SimulateRow(c.config, c.row.label, 1.0, 0.0);
    auto t2 = SimulateRow(c.config, c.row.label, 0.8, 0.0);
    if (!t1.ok() || !t2.ok()) {
      c.row.skipped = true;
      c.row.skip_reason = (t1.ok() ? t2.status() : t1.status()).message();
      continue;
    }
    affine[i].a = (*t2 - *t1) / (1.0 / 0.8 - 1.0);
    affine[i].b = *t1 - affine[i].a;
  }
  ValidationReport rep;
  rep.fit_all = FitConstants(cases, affine, "");
  rep.shipped = DefaultTrainingCalibration();
  // 2. Leave one source out: fit on the other tables, predict this one by simulation.
  for (const std::string& src : sources) {
    const TrainingCalibration held = FitConstants(cases, affine, src);
    rep.fit_without[src] = held;
    for (Case& c : cases) {
      if (c.row.source != src || c.row.skipped) continue;
      auto t = SimulateRow(c.config, c.row.label, held.compute_sustained_factor,
                           held.host_overhead_per_step_ms);
      auto shipped = SimulateRow(c.config, c.row.label, rep.shipped.compute_sustained_factor,
                                 rep.shipped.host_overhead_per_step_ms);
      if (!t.ok() || !shipped.ok()) {
        c.row.skipped = true;
        c.row.skip_reason = (t.ok() ? shipped.status() : t.status()).message();
        continue;
      }
      c.row.predicted_step_s = *t;
      c.row.error = (*t - c.row.measured_step_s) / c.row.measured_step_s;
      c.row.predicted_step_shipped_s = *shipped;
      c.row.error_shipped = (*shipped - c.row.measured_step_s) / c.row.measured_step_s;
      const double flops = c.row.measured_tflops_per_gpu * 1e12 * c.row.measured_step_s;
      if (c.row.measured_tflops_per_gpu > 0) c.row.predicted_tflops_per_gpu = flops / *t / 1e12;
      c.row.fit_factor = held.compute_sustained_factor;
      c.row.fit_overhead_ms = held.host_overhead_per_step_ms;
    }
  }
  for (const Case& c : cases) rep.rows.push_back(c.row);
  for (const std::string& src : sources) rep.summaries.push_back(Summarize(src, rep.rows, false));
  rep.summaries.push_back(Summarize("all", rep.rows, false));
  rep.summaries.push_back(Summarize("all", rep.rows, true));
  return rep;
}

nlohmann::json ValidationReportJson(const ValidationReport& rep) {
  nlohmann::json j;
  auto cal = [](const TrainingCalibration& c) {
    return nlohmann::json{{"compute_sustained_factor", c.compute_sustained_factor},
                          {"host_overhead_per_step_ms", c.host_overhead_per_step_ms}};
  };
  j["constants"]["shipped"] = cal(rep.shipped);
  j["constants"]["fit_all_rows"] = cal(rep.fit_all);
  for (const auto& [src, c] : rep.fit_without) j["constants"]["fit_without_" + src] = cal(c);
  j["rows"] = nlohmann::json::array();
  for (const ValidationRow& r : rep.rows) {
    nlohmann::json row = {{"source", r.source}, {"label", r.label}, {"config", r.config},
                          {"measured_step_s", r.measured_step_s},
                          {"predicted_step_s", r.predicted_step_s}, {"error", r.error},
                          {"predicted_step_s_shipped_constants", r.predicted_step_shipped_s},
                          {"error_shipped_constants", r.error_shipped},
                          {"measured_tflops_per_gpu", r.measured_tflops_per_gpu},
                          {"predicted_tflops_per_gpu", r.predicted_tflops_per_gpu},
                          {"held_out_constants", {{"compute_sustained_factor", r.fit_factor},
                                                  {"host_overhead_per_step_ms", r.fit_overhead_ms}}},
                          {"skipped", r.skipped}, {"assumptions", r.assumptions}};
    if (r.skipped) row["skip_reason"] = r.skip_reason;
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
                              {"worst_abs_error", s.worst_abs_error}, {"worst_row", s.worst_label}});
  }
  return j;
}

std::string ValidationReportText(const ValidationReport& rep) {
  std::ostringstream o;
  std::string current;
  char line[512];
  o << "Predicted vs measured training step time. Each table is predicted with calibration\n"
       "constants fitted on the other tables only (leave-one-source-out); the shipped constants\n"
       "(hardware/calibration/training.yaml) are fitted on all rows and shown for reference.\n";
  for (const ValidationRow& r : rep.rows) {
    if (r.source != current) {
      current = r.source;
      const auto it = rep.fit_without.find(current);
      o << "\n== " << current;
      if (it != rep.fit_without.end()) {
        o << "  (held-out constants: sustained factor " << FormatDouble(it->second.compute_sustained_factor, 4)
          << ", host overhead " << FormatDouble(it->second.host_overhead_per_step_ms, 4) << " ms)";
      }
      o << "\n";
      std::snprintf(line, sizeof(line), "%-28s %11s %11s %8s %9s  %s\n", "row", "measured_s",
                    "predicted_s", "error", "shipped", "configuration");
      o << line;
    }
    if (r.skipped) {
      std::snprintf(line, sizeof(line), "%-28s SKIPPED: %s\n", r.label.c_str(), r.skip_reason.c_str());
    } else {
      std::snprintf(line, sizeof(line), "%-28s %11.4f %11.4f %+7.1f%% %+8.1f%%  %s\n",
                    r.label.c_str(), r.measured_step_s, r.predicted_step_s, 100.0 * r.error,
                    100.0 * r.error_shipped, r.config.c_str());
    }
    o << line;
  }
  o << "\nconstants: shipped factor " << FormatDouble(rep.shipped.compute_sustained_factor, 4)
    << ", overhead " << FormatDouble(rep.shipped.host_overhead_per_step_ms, 4)
    << " ms; refit on all rows now gives factor " << FormatDouble(rep.fit_all.compute_sustained_factor, 4)
    << ", overhead " << FormatDouble(rep.fit_all.host_overhead_per_step_ms, 4) << " ms\n";
  o << "\nsummary (absolute step-time error)\n";
  for (const ValidationSummary& s : rep.summaries) {
    std::snprintf(line, sizeof(line),
                  "%-24s %-9s rows %2d  skipped %d  median %5.1f%%  mean %5.1f%%  worst %5.1f%% (%s)\n",
                  s.source.c_str(), s.shipped_constants ? "in-sample" : "held-out", s.rows,
                  s.skipped, 100 * s.median_abs_error, 100 * s.mean_abs_error,
                  100 * s.worst_abs_error, s.worst_label.c_str());
    o << line;
  }
  return o.str();
}

}  // namespace echosim
