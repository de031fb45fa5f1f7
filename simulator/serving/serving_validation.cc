#include "simulator/serving/serving_validation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "hardware/gpu_spec.h"
#include "models/model_spec.h"
#include "simulator/core/strings.h"
#include "simulator/serving/serving_calibration.h"
#include "simulator/serving/serving_simulation.h"
#include "simulator/serving/workload.h"

namespace echosim {
namespace {

constexpr const char* kCsv = "serving/serving_vllm_trtllm_benchmarks.csv";
// ShareGPT shape (see the header for the derivation): ventiles of the prompt and output
// lengths of the published 320-prompt run.
constexpr const char* kShareGptInput =
    "quantiles:4:8:10:12:16:22:27:35:45:59:77:122:178:242:306:338:392:480:612:692:933";
constexpr const char* kShareGptOutput =
    "quantiles:1:1:1:1:9:17:24:36:57:100:150:190:224:263:300:336:375:413:478:575:770";
// Grid of the fit (microseconds).
constexpr double kBaseStepUs = 1000, kBaseMaxUs = 40000;
constexpr double kSeqStepUs = 10, kSeqMaxUs = 200;
constexpr double kNewRequestStepUs = 1000, kNewRequestMaxUs = 60000;
// Probe offsets for the linear model.
constexpr double kProbeBaseUs = 1000, kProbeSeqUs = 10, kProbeNewRequestUs = 1000;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Leading number of a cell such as "64.06 (median)"; NaN when there is none.
double LeadingNumber(const std::string& cell) {
  if (cell.empty()) return std::numeric_limits<double>::quiet_NaN();
  char* end = nullptr;
  const double v = std::strtod(cell.c_str(), &end);
  if (end == cell.c_str() || !std::isfinite(v)) return std::numeric_limits<double>::quiet_NaN();
  return v;
}

bool Contains(const std::string& hay, const char* needle) { return hay.find(needle) != std::string::npos; }

// Decides how (and whether) a row is represented.
void Classify(const std::map<std::string, std::string>& cell, ServingValidationRow* r) {
  const std::string engine = Lower(r->engine), model = Lower(r->model), gpu = Lower(r->gpu);
  const std::string notes = Lower(cell.at("notes"));
  auto no = [&](std::string why) {
    r->represented = false;
    r->reason = std::move(why);
  };
  if (!Contains(engine, "vllm")) {
    return no(Contains(engine, "tensorrt") ? "engine TensorRT-LLM is not modelled (echosim models vLLM-style schedulers)"
                                           : "engine not named by the source (static-batch results of an unnamed harness)");
  }
  if (Contains(engine, "num-scheduler-steps 10")) {
    return no("multi-step scheduling (num-scheduler-steps 10) is not modelled");
  }
  // Model: presets of the same architecture.
  if (Contains(model, "405b")) {
    r->preset = "llama3.1-405b";
  } else if (Contains(model, "llama-3.1-70b") || Contains(model, "llama-3-70b")) {
    r->preset = "llama3-70b";
  } else if (Contains(model, "llama-3.1-8b") || Contains(model, "llama-3-8b")) {
    r->preset = "llama3-8b";
  } else if (Contains(model, "mixtral-8x7b")) {
    r->preset = "mixtral-8x7b";
  } else {
    return no(StrCat("no model preset for ", r->model, " (echosim list models)"));
  }
  r->dtype = Contains(model, "fp8") ? "fp8" : "bf16";
  if (Contains(gpu, "h100")) {
    r->gpu_preset = "h100-sxm";
  } else if (Contains(gpu, "a100") && Contains(gpu, "80")) {
    r->gpu_preset = "a100-80gb";
  } else {
    return no(StrCat("no GPU preset for ", r->gpu));
  }
  if (!Contains(Lower(r->dataset), "sharegpt")) return no(StrCat("dataset '", r->dataset, "' is not described"));
  if (!Contains(Lower(r->request_rate), "inf")) return no(StrCat("request rate '", r->request_rate, "' is not inf"));
  if (r->num_prompts <= 0) return no("number of prompts not given");
  if (!(r->measured_tokens_per_s > 0)) return no("no output throughput reported");
  if (!(r->measured_tpot_ms > 0)) return no("no TPOT or inter-token latency reported");
  // Engine configuration.
  const bool chunked = Contains(engine, "chunked prefill on");
  r->max_model_len = Contains(notes, "2000") && !Contains(notes, "2048") ? 2000 : 2048;
  r->scheduler = chunked ? "sarathi" : "vllm_v0";
  r->max_batch_tokens = chunked ? 512 : std::max(r->max_model_len, 2048);
  if (r->max_num_seqs <= 0) r->max_num_seqs = 256;  // the harness's MAX_NUM_SEQ
  // Little's law: sequences decoding at once = output tokens/s x seconds per output token. A
  // row whose product exceeds max_num_seqs reports latencies the engine cannot have produced
  // (the benchmark client's pacing is in them): its TPOT is not compared.
  const double concurrency = r->measured_tokens_per_s * r->measured_tpot_ms * 1e-3;
  if (concurrency > r->max_num_seqs) {
    r->tpot_comparable = false;
    r->tpot_note = StrCat("not compared: ", FormatDouble(r->measured_tokens_per_s, 5), " tok/s x ",
                          FormatDouble(r->measured_tpot_ms, 5), " ms = ", FormatDouble(concurrency, 4),
                          " concurrent decodes > max_num_seqs ", r->max_num_seqs);
  }
  r->represented = true;
}

ServingConfig RowConfig(const ServingValidationRow& r, double base_us, double per_seq_us, double new_request_us) {
  ServingConfig c;
  c.replica.model = *FindModelPreset(r.preset);
  c.replica.gpu = *FindGpuPreset(r.gpu_preset);
  c.replica.inference.tp = r.tp;
  c.replica.inference.dtype = r.dtype == "fp8" ? DType::kFp8 : DType::kBf16;
  c.replica.scheduler = r.scheduler;
  c.replica.max_batched_tokens = r.max_batch_tokens;
  c.replica.max_num_seqs = r.max_num_seqs;
  c.replica.max_model_len = r.max_model_len;
  c.replica.gpu_memory_utilization = 0.95;
  c.replica.cpu_overhead_per_iteration_us = base_us;
  c.replica.cpu_overhead_per_seq_us = per_seq_us;
  c.replica.cpu_overhead_per_new_request_us = new_request_us;
  c.replicas = 1;
  c.workload = StrCat("constant:qps=inf,input=", kShareGptInput, ",output=", kShareGptOutput,
                      ",requests=", r.num_prompts);
  c.workload_options.seed = 1;
  c.timeline = false;
  return c;
}

struct Outcome {
  double tokens_per_s = 0, makespan_s = 0, median_tpot_s = 0, median_itl_s = 0;
  std::vector<double> tpot_by_id;  // requests with >= 2 output tokens; NaN otherwise
};

StatusOr<Outcome> Simulate(const ServingValidationRow& r, double base_us, double per_seq_us, double new_request_us) {
  Outcome o;
  o.tpot_by_id.assign(static_cast<size_t>(r.num_prompts), std::numeric_limits<double>::quiet_NaN());
  RequestObserver observe = [&](const RequestRecord& rec) {
    if (!rec.rejected && rec.output_tokens > 1 && rec.id < o.tpot_by_id.size()) o.tpot_by_id[rec.id] = rec.tpot_s;
  };
  auto res = RunServing(RowConfig(r, base_us, per_seq_us, new_request_us), observe);
  if (!res.ok()) return res.status().WithContext(StrCat("row at line ", r.line));
  o.makespan_s = res->simulated_s;
  o.tokens_per_s = res->simulated_s > 0 ? res->metrics.output_tokens() / res->simulated_s : 0;
  o.median_tpot_s = res->metrics.tpot().Percentile(50);
  o.median_itl_s = res->metrics.itl().Percentile(50);
  return o;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t mid = (v.size() - 1) / 2;  // nearest rank, as LogHistogram::Percentile(50)
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  return v[mid];
}

// A row's makespan and per-request TPOT as linear functions of the three constants.
struct LinearRow {
  double output_tokens = 0;
  double m0 = 0, ma = 0, mb = 0, mc = 0;  // makespan = m0 + ma * base + mb * per_seq + mc * per_new_request
  std::vector<double> t0, ta, tb, tc;     // each request's TPOT, likewise
  // Rows reporting an inter-token latency: the median gap between tokens, which moves with
  // the constants as a decode iteration does (taken as linear from the probes).
  bool itl = false;
  double i0 = 0, ia = 0, ib = 0, ic = 0;
  double measured_tps = 0, measured_tpot_s = 0;
  bool tpot_comparable = true;
};

double RowLoss(const LinearRow& L, double a, double b, double c, std::vector<double>* scratch) {
  const double makespan = L.m0 + L.ma * a + L.mb * b + L.mc * c;
  const double tps = L.output_tokens / makespan;
  const double e1 = std::log(tps / L.measured_tps);
  if (!L.tpot_comparable) return e1 * e1;
  if (L.itl) {
    const double e2 = std::log((L.i0 + L.ia * a + L.ib * b + L.ic * c) / L.measured_tpot_s);
    return e1 * e1 + e2 * e2;
  }
  scratch->resize(L.t0.size());
  for (size_t i = 0; i < L.t0.size(); ++i) (*scratch)[i] = L.t0[i] + L.ta[i] * a + L.tb[i] * b + L.tc[i] * c;
  const double tpot = Median(*scratch);
  const double e2 = std::log(tpot / L.measured_tpot_s);
  return e1 * e1 + e2 * e2;
}

double MedianAbs(std::vector<double> v) {
  for (double& x : v) x = std::fabs(x);
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

StatusOr<ServingValidationReport> RunServingValidation(const std::string& data_dir) {
  const auto start = std::chrono::steady_clock::now();
  const std::string path = data_dir + "/" + kCsv;
  std::ifstream in(path);
  if (!in) return NotFound(StrCat("cannot open '", path, "' (--data-dir)"));
  ServingValidationReport rep;
  std::string line;
  std::vector<std::string> header, cells;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    if (header.empty()) {
      ECHOSIM_RETURN_IF_ERROR(SplitCsvLine(line, &header).WithContext(StrCat(path, ":", line_no)));
      continue;
    }
    ECHOSIM_RETURN_IF_ERROR(SplitCsvLine(line, &cells).WithContext(StrCat(path, ":", line_no)));
    if (cells.size() != header.size()) {
      return InvalidArgument(StrCat(path, ":", line_no, ": expected ", header.size(), " cells, got ", cells.size()));
    }
    std::map<std::string, std::string> cell;
    for (size_t i = 0; i < header.size(); ++i) cell[header[i]] = cells[i];
    for (const char* need : {"engine", "model", "gpu", "tp", "dataset", "request_rate", "num_prompts",
                             "max_num_seqs", "output_tok_per_s", "tpot_ms", "itl_ms", "notes"}) {
      if (!cell.count(need)) return InvalidArgument(StrCat(path, ": missing column '", need, "'"));
    }
    ServingValidationRow r;
    r.line = line_no;
    r.engine = cell["engine"];
    r.model = cell["model"];
    r.gpu = cell["gpu"];
    r.dataset = cell["dataset"];
    r.request_rate = cell["request_rate"];
    const double tp = LeadingNumber(cell["tp"]);
    r.tp = std::isfinite(tp) ? static_cast<int>(tp) : 0;
    const double np = LeadingNumber(cell["num_prompts"]);
    r.num_prompts = std::isfinite(np) ? static_cast<int>(np) : 0;
    const double ns = LeadingNumber(cell["max_num_seqs"]);
    r.max_num_seqs = std::isfinite(ns) ? static_cast<int>(ns) : 0;
    r.measured_tokens_per_s = LeadingNumber(cell["output_tok_per_s"]);
    const double tpot = LeadingNumber(cell["tpot_ms"]);
    const double itl = LeadingNumber(cell["itl_ms"]);
    if (std::isfinite(tpot)) {
      r.measured_tpot_ms = tpot;
      r.tpot_metric = "median TPOT";
    } else if (std::isfinite(itl)) {
      r.measured_tpot_ms = itl;
      r.tpot_metric = "inter-token latency";
    }
    Classify(cell, &r);
    rep.rows.push_back(r);
  }
  // Linear models of the represented rows.
  std::vector<size_t> idx;
  std::vector<LinearRow> lin;
  for (size_t i = 0; i < rep.rows.size(); ++i) {
    ServingValidationRow& r = rep.rows[i];
    if (!r.represented) continue;
    auto base = Simulate(r, 0, 0, 0);
    if (!base.ok()) {
      // The configuration itself is infeasible (e.g. the model does not fit): say so.
      r.represented = false;
      r.reason = base.status().message();
      continue;
    }
    ECHOSIM_ASSIGN_OR_RETURN(Outcome pa, Simulate(r, kProbeBaseUs, 0, 0));
    ECHOSIM_ASSIGN_OR_RETURN(Outcome pb, Simulate(r, 0, kProbeSeqUs, 0));
    ECHOSIM_ASSIGN_OR_RETURN(Outcome pc, Simulate(r, 0, 0, kProbeNewRequestUs));
    LinearRow L;
    L.output_tokens = base->tokens_per_s * base->makespan_s;
    L.m0 = base->makespan_s;
    L.ma = (pa.makespan_s - base->makespan_s) / kProbeBaseUs;
    L.mb = (pb.makespan_s - base->makespan_s) / kProbeSeqUs;
    L.mc = (pc.makespan_s - base->makespan_s) / kProbeNewRequestUs;
    // At most ~1000 requests per row in the fit (every k-th by id); predictions use all.
    const size_t stride = std::max<size_t>(1, base->tpot_by_id.size() / 1000);
    for (size_t k = 0; k < base->tpot_by_id.size(); k += stride) {
      if (!std::isfinite(base->tpot_by_id[k])) continue;
      L.t0.push_back(base->tpot_by_id[k]);
      L.ta.push_back((pa.tpot_by_id[k] - base->tpot_by_id[k]) / kProbeBaseUs);
      L.tb.push_back((pb.tpot_by_id[k] - base->tpot_by_id[k]) / kProbeSeqUs);
      L.tc.push_back((pc.tpot_by_id[k] - base->tpot_by_id[k]) / kProbeNewRequestUs);
    }
    L.itl = r.tpot_metric == "inter-token latency";
    L.i0 = base->median_itl_s;
    L.ia = (pa.median_itl_s - base->median_itl_s) / kProbeBaseUs;
    L.ib = (pb.median_itl_s - base->median_itl_s) / kProbeSeqUs;
    L.ic = (pc.median_itl_s - base->median_itl_s) / kProbeNewRequestUs;
    L.measured_tps = r.measured_tokens_per_s;
    L.measured_tpot_s = r.measured_tpot_ms * 1e-3;
    L.tpot_comparable = r.tpot_comparable;
    idx.push_back(i);
    lin.push_back(std::move(L));
  }
  rep.represented = static_cast<int>(idx.size());
  if (idx.size() < 2) return FailedPrecondition("fewer than two rows can be represented; nothing to validate");
  // Loss of every row at every grid point.
  const int na = static_cast<int>(kBaseMaxUs / kBaseStepUs) + 1, nb = static_cast<int>(kSeqMaxUs / kSeqStepUs) + 1;
  const int nc = static_cast<int>(kNewRequestMaxUs / kNewRequestStepUs) + 1;
  const int points = na * nb * nc;
  std::vector<std::vector<double>> loss(lin.size(), std::vector<double>(static_cast<size_t>(points)));
  std::vector<double> scratch;
  auto at = [&](int g, double* a, double* b, double* c) {
    *a = (g / (nb * nc)) * kBaseStepUs;
    *b = ((g / nc) % nb) * kSeqStepUs;
    *c = (g % nc) * kNewRequestStepUs;
  };
  for (size_t k = 0; k < lin.size(); ++k) {
    for (int g = 0; g < points; ++g) {
      double a, b, c;
      at(g, &a, &b, &c);
      loss[k][static_cast<size_t>(g)] = RowLoss(lin[k], a, b, c, &scratch);
    }
  }
  // Rows are fitted per GPU type (the host CPU of the node differs with it).
  auto fit = [&](size_t leave_out, const std::string& gpu, double* a, double* b, double* c) {
    double best = std::numeric_limits<double>::infinity();
    for (int g = 0; g < points; ++g) {
      double sum = 0;
      for (size_t k = 0; k < lin.size(); ++k) {
        if (k != leave_out && rep.rows[idx[k]].gpu_preset == gpu) sum += loss[k][static_cast<size_t>(g)];
      }
      if (sum < best - 1e-12) {  // first minimum in grid order: deterministic
        best = sum;
        at(g, a, b, c);
      }
    }
  };
  for (size_t k : idx) {
    const std::string& gpu = rep.rows[k].gpu_preset;
    if (rep.fit.count(gpu)) continue;
    ServingValidationReport::Constants& f = rep.fit[gpu];
    fit(lin.size(), gpu, &f.base_us, &f.per_seq_us, &f.new_request_us);
    const ServingCalibration& cal = DefaultServingCalibration(gpu);
    rep.shipped[gpu] = {cal.cpu_overhead_per_iteration_us, cal.cpu_overhead_per_seq_us,
                        cal.cpu_overhead_per_new_request_us};
  }
  std::vector<double> e_tps, e_tpot, e_tps_all, e_tpot_all;
  for (size_t k = 0; k < idx.size(); ++k) {
    ServingValidationRow& r = rep.rows[idx[k]];
    fit(k, r.gpu_preset, &r.fit_base_us, &r.fit_per_seq_us, &r.fit_new_request_us);
    ECHOSIM_ASSIGN_OR_RETURN(Outcome loo, Simulate(r, r.fit_base_us, r.fit_per_seq_us, r.fit_new_request_us));
    r.predicted_tokens_per_s = loo.tokens_per_s;
    const bool itl = r.tpot_metric == "inter-token latency";
    r.predicted_tpot_ms = (itl ? loo.median_itl_s : loo.median_tpot_s) * 1e3;
    r.error_tokens_per_s = r.predicted_tokens_per_s / r.measured_tokens_per_s - 1;
    r.error_tpot = r.predicted_tpot_ms / r.measured_tpot_ms - 1;
    const ServingValidationReport::Constants& f = rep.fit[r.gpu_preset];
    ECHOSIM_ASSIGN_OR_RETURN(Outcome all, Simulate(r, f.base_us, f.per_seq_us, f.new_request_us));
    r.predicted_tokens_per_s_all = all.tokens_per_s;
    r.predicted_tpot_ms_all = (itl ? all.median_itl_s : all.median_tpot_s) * 1e3;
    r.error_tokens_per_s_all = r.predicted_tokens_per_s_all / r.measured_tokens_per_s - 1;
    r.error_tpot_all = r.predicted_tpot_ms_all / r.measured_tpot_ms - 1;
    e_tps.push_back(r.error_tokens_per_s);
    e_tps_all.push_back(r.error_tokens_per_s_all);
    rep.max_abs_error_tokens_per_s = std::max(rep.max_abs_error_tokens_per_s, std::fabs(r.error_tokens_per_s));
    if (r.tpot_comparable) {
      e_tpot.push_back(r.error_tpot);
      e_tpot_all.push_back(r.error_tpot_all);
      rep.max_abs_error_tpot = std::max(rep.max_abs_error_tpot, std::fabs(r.error_tpot));
    }
  }
  rep.median_abs_error_tokens_per_s = MedianAbs(e_tps);
  rep.median_abs_error_tpot = MedianAbs(e_tpot);
  rep.median_abs_error_tokens_per_s_all = MedianAbs(e_tps_all);
  rep.median_abs_error_tpot_all = MedianAbs(e_tpot_all);
  rep.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return rep;
}

nlohmann::json ServingValidationJson(const ServingValidationReport& rep) {
  auto constants = [](const std::map<std::string, ServingValidationReport::Constants>& m) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [gpu, c] : m) {
      j[gpu] = {{"cpu_overhead_per_iteration_us", c.base_us},
                {"cpu_overhead_per_seq_us", c.per_seq_us},
                {"cpu_overhead_per_new_request_us", c.new_request_us}};
    }
    return j;
  };
  nlohmann::json rows = nlohmann::json::array();
  for (const ServingValidationRow& r : rep.rows) {
    nlohmann::json j = {{"line", r.line}, {"engine", r.engine}, {"model", r.model}, {"gpu", r.gpu},
                        {"tp", r.tp}, {"num_prompts", r.num_prompts}, {"represented", r.represented}};
    if (!r.represented) {
      j["reason"] = r.reason;
    } else {
      j["preset"] = r.preset;
      j["gpu_preset"] = r.gpu_preset;
      j["dtype"] = r.dtype;
      j["scheduler"] = r.scheduler;
      j["max_batch_tokens"] = r.max_batch_tokens;
      j["max_num_seqs"] = r.max_num_seqs;
      j["max_model_len"] = r.max_model_len;
      j["tpot_metric"] = r.tpot_metric;
      j["measured_output_tokens_per_s"] = r.measured_tokens_per_s;
      j["measured_tpot_ms"] = r.measured_tpot_ms;
      j["predicted_output_tokens_per_s"] = r.predicted_tokens_per_s;
      j["predicted_tpot_ms"] = r.predicted_tpot_ms;
      j["error_output_tokens_per_s"] = r.error_tokens_per_s;
      j["error_tpot"] = r.error_tpot;
      j["fit_cpu_overhead_per_iteration_us"] = r.fit_base_us;
      j["fit_cpu_overhead_per_seq_us"] = r.fit_per_seq_us;
      j["fit_cpu_overhead_per_new_request_us"] = r.fit_new_request_us;
      j["tpot_compared"] = r.tpot_comparable;
      if (!r.tpot_comparable) j["tpot_note"] = r.tpot_note;
      j["error_output_tokens_per_s_in_sample"] = r.error_tokens_per_s_all;
      j["error_tpot_in_sample"] = r.error_tpot_all;
    }
    rows.push_back(j);
  }
  return {{"rows", rows},
          {"represented", rep.represented},
          {"median_abs_error_output_tokens_per_s", rep.median_abs_error_tokens_per_s},
          {"median_abs_error_tpot", rep.median_abs_error_tpot},
          {"max_abs_error_output_tokens_per_s", rep.max_abs_error_tokens_per_s},
          {"max_abs_error_tpot", rep.max_abs_error_tpot},
          {"median_abs_error_output_tokens_per_s_in_sample", rep.median_abs_error_tokens_per_s_all},
          {"median_abs_error_tpot_in_sample", rep.median_abs_error_tpot_all},
          {"fit", constants(rep.fit)},
          {"shipped", constants(rep.shipped)},
          {"sim_wall_s", rep.wall_s}};
}

std::string ServingValidationText(const ServingValidationReport& rep) {
  std::ostringstream o;
  auto pct = [](double e) { return (e >= 0 ? "+" : "") + FormatDouble(100 * e, 3) + "%"; };
  o << "echosim validate-serving: " << rep.represented << " of " << rep.rows.size()
    << " rows represented; leave-one-out predictions (host overhead fitted on the other rows)\n";
  o << "  line  model               gpu        tp  engine / scheduler        out tok/s meas  pred   err      TPOT ms meas  pred   err     (metric)\n";
  for (const ServingValidationRow& r : rep.rows) {
    if (!r.represented) continue;
    char buf[512];
    std::snprintf(buf, sizeof(buf), "  %4d  %-18s  %-9s  %2d  %-24s  %9.1f %8.1f %7s  %9.2f %7.2f %7s  (%s)\n", r.line,
                  (r.preset + " " + r.dtype).c_str(), r.gpu_preset.c_str(), r.tp,
                  (r.engine.substr(0, 11) + " / " + r.scheduler).c_str(), r.measured_tokens_per_s,
                  r.predicted_tokens_per_s, pct(r.error_tokens_per_s).c_str(), r.measured_tpot_ms, r.predicted_tpot_ms,
                  pct(r.error_tpot).c_str(), r.tpot_metric.c_str());
    o << buf;
    if (!r.tpot_comparable) o << "          TPOT " << r.tpot_note << "\n";
  }
  o << "  median |error|: output tokens/s " << FormatDouble(100 * rep.median_abs_error_tokens_per_s, 3)
    << "%, TPOT " << FormatDouble(100 * rep.median_abs_error_tpot, 3) << "% (leave-one-out); in-sample "
    << FormatDouble(100 * rep.median_abs_error_tokens_per_s_all, 3) << "% and "
    << FormatDouble(100 * rep.median_abs_error_tpot_all, 3) << "%\n";
  o << "  worst |error|: output tokens/s " << FormatDouble(100 * rep.max_abs_error_tokens_per_s, 3) << "%, TPOT "
    << FormatDouble(100 * rep.max_abs_error_tpot, 3) << "%\n";
  for (const auto& [gpu, f] : rep.fit) {
    const auto& sh = rep.shipped.at(gpu);
    o << "  host overhead fitted on all " << gpu << " rows: " << f.base_us << " us per iteration + " << f.per_seq_us
      << " us per sequence + " << f.new_request_us << " us per new request (shipped: " << sh.base_us << ", "
      << sh.per_seq_us << ", " << sh.new_request_us << ")\n";
  }
  o << "  not represented:\n";
  for (const ServingValidationRow& r : rep.rows) {
    if (r.represented) continue;
    o << "    line " << r.line << ": " << r.model << " on " << r.gpu << " tp " << r.tp << " (" << r.engine.substr(0, 40)
      << "): " << r.reason << "\n";
  }
  return o.str();
}

}  // namespace echosim
