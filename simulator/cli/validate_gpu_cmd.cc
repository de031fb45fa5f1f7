// `echosim validate --on-gpu`: echosim's predictions against kernels run on the local GPU
// through the `echosim-kernels` harness (kernels/; hardware/kernel_harness.h).
//
//   (a) kernels: every shape of the kernel calibration and a set of shapes it does not hold
//       (the layers of Llama 3 8B / 70B and GPT-3 175B at TP 1..8), measured now with
//       `echosim-kernels measure` and predicted by the calibrated cost model's fitted curve
//       (exact-shape samples switched off, so calibrated shapes test the fit, not a lookup);
//   (b) stage: `echosim-kernels stage` (4 layers of a 1B Llama-3.2-like model, 8 micro-batches,
//       1F1B on one GPU, one Adam step) against the training simulator's step for the same
//       single-GPU stage: its layer kernels (embedding and output head excluded, as the
//       harness runs neither), no host overhead, no communication, sustained factor 1, plus
//       one Adam step over the 4 layers' parameters;
//   (c) decode: `echosim-kernels decode` (16 layers of the same model, batch 1..256, context
//       growing) against the serving simulator's GPU time of a decode iteration's layers
//       (simulator/serving/iteration_cost.h; the harness runs no embedding or output head),
//       without host overhead.
// Signed error = (predicted - measured) / measured. Targets (issue 5): median |error| <= 5% on
// calibrated shapes, <= 10% on the others, stage within 5%, decode within 10% (median).
// Exit: 0 when it ran (targets missed or not: the report says), 3 when the harness finds no
// GPU, 1 when the harness is missing or fails, 2 for bad flags.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "hardware/compute_cost_model.h"
#include "hardware/gpu_spec.h"
#include "hardware/kernel_calibration.h"
#include "hardware/kernel_harness.h"
#include "models/inference_ops.h"
#include "models/layer_ops.h"
#include "models/model_spec.h"
#include "simulator/cli/commands.h"
#include "simulator/core/strings.h"
#include "simulator/scenario/simulation.h"
#include "simulator/scenario/yaml_proto.h"
#include "simulator/serving/iteration_cost.h"

namespace echosim {
namespace {

constexpr const char* kUsage = R"(usage:
  echosim validate --on-gpu [--calibration FILE] [--gpu NAME] [--report FILE.md] [--json] [--quick]

Runs kernels on the local GPU through echosim-kernels ($ECHOSIM_KERNELS, else beside this
binary) and compares them with echosim's predictions: (a) the calibration's kernel shapes and
shapes it does not hold, (b) a 4-layer training stage under 1F1B, (c) decode iterations across
batch sizes 1..256. Prints predicted vs measured with signed errors, median and worst per part
and the targets; --report FILE.md also writes FILE.md (markdown) and FILE.json.
  --calibration FILE   kernel calibration to validate (default: the built-in one of --gpu, or
                       the built-in one whose device is the local GPU)
  --gpu NAME           echosim GPU preset of the local GPU (default: the calibration's)
  --quick              fewer shapes, batch sizes and contexts
Exit codes: 0 ran, 1 harness missing or failed, 2 bad flags, 3 no CUDA device.
)";

struct Row {
  std::string name, detail;
  double predicted = 0, measured = 0;  // seconds
  double Error() const { return (predicted - measured) / measured; }
};

struct Part {
  std::string id, title;
  double target = 0;  // on the median |error|
  std::vector<Row> rows;
  std::string note;
  nlohmann::json ops;  // per-op comparison (stage), JSON report only
  double MedianAbs() const {
    std::vector<double> e;
    for (const Row& r : rows) e.push_back(std::abs(r.Error()));
    if (e.empty()) return 0;
    std::sort(e.begin(), e.end());
    const size_t n = e.size();
    return n % 2 ? e[n / 2] : 0.5 * (e[n / 2 - 1] + e[n / 2]);
  }
  const Row* Worst() const {
    const Row* w = nullptr;
    for (const Row& r : rows) {
      if (!w || std::abs(r.Error()) > std::abs(w->Error())) w = &r;
    }
    return w;
  }
  bool Met() const { return !rows.empty() && MedianAbs() <= target + 1e-12; }
};

std::string Pct(double x) {
  char b[32];
  std::snprintf(b, sizeof(b), "%+.1f%%", 100 * x);
  return b;
}
std::string Us(double s) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.2f", s * 1e6);
  return b;
}
std::string Ms(double s) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.3f", s * 1e3);
  return b;
}

// The 1B Llama-3.2-like shape of parts (b) and (c).
ModelSpec SmallModel(int64_t layers) {
  ModelSpec m;
  m.name = "custom";
  m.layers = layers;
  m.hidden = 2048;
  m.heads = 32;
  m.kv_heads = 8;
  m.ffn_hidden = 8192;
  m.vocab = 128256;
  m.mlp = MlpKind::kSwiglu;
  m.norm = NormKind::kRmsNorm;
  m.position = PositionKind::kRope;
  m.max_seq_len_tokens = 8192;
  return m;
}

// Layer kernels of a few models and plans, none of them in the calibration: the
// "uncalibrated" shapes of part (a).
std::vector<ComputeOp> UncalibratedOps(const ComputeCalibration* cal, bool quick) {
  struct Plan {
    const char* model;
    int64_t tp, seq, mb;
    bool sp;
  };
  const std::vector<Plan> plans = {{"llama3-8b", 1, 4096, 1, false},
                                   {"llama3-8b", 2, 8192, 1, true},
                                   {"llama3-70b", 8, 4096, 1, true},
                                   {"gpt3-175b", 8, 2048, 1, true},
                                   {"llama3-70b", 4, 2048, 2, true}};
  std::vector<ComputeOp> out;
  std::set<std::string> seen;
  for (const Plan& p : plans) {
    auto m = FindModelPreset(p.model);
    if (!m.ok()) continue;
    LayerContext ctx;
    ctx.tp = p.tp;
    ctx.seq_len = p.seq;
    ctx.micro_batch = p.mb;
    ctx.sequence_parallel = p.sp;
    for (const auto& steps : {LayerForward(*m, ctx), LayerBackward(*m, ctx)}) {
      for (const LayerStep& st : steps) {
        const auto* op = std::get_if<ComputeOp>(&st);
        if (!op) continue;
        const std::string key = KernelShapeKey(*op);
        if ((cal && cal->sample_s.count(key)) || !seen.insert(key).second) continue;
        out.push_back(*op);
      }
    }
    if (quick && out.size() >= 20) break;
  }
  return out;
}

StatusOr<nlohmann::json> ReadJsonFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Internal(StrCat(what, " wrote no output file"));
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Internal(StrCat("malformed harness output: ", what, " output '", path, "' is not a JSON object"));
  }
  return j;
}

StatusOr<double> NumberField(const nlohmann::json& j, const char* field, const std::string& where) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_number()) {
    return Internal(StrCat("malformed harness output: ", where, ": field '", field, "' missing or not a number"));
  }
  const double v = it->get<double>();
  if (!(v > 0) || !std::isfinite(v)) {
    return Internal(StrCat("malformed harness output: ", where, ": field '", field, "' must be positive"));
  }
  return v;
}

// Part (b): the harness's stage against the training simulator.
StatusOr<Part> StagePart(const std::string& harness, const GpuSpec& gpu, const std::string& cal_arg,
                         const std::shared_ptr<const ComputeCalibration>& cal, const std::string& tmp,
                         bool quick) {
  const int64_t layers = 4, seq = 2048, mb = 1, mbs = quick ? 4 : 8;
  const ModelSpec m = SmallModel(layers);
  const std::string out = tmp + "/stage.json";
  ECHOSIM_RETURN_IF_ERROR(RunHarness(
      harness, {"stage", "--layers", std::to_string(layers), "--hidden", std::to_string(m.hidden), "--heads",
                std::to_string(m.heads), "--kv-heads", std::to_string(m.kv_heads), "--ffn",
                std::to_string(m.ffn_hidden), "--seq", std::to_string(seq), "--micro-batch", std::to_string(mb),
                "--micro-batches", std::to_string(mbs), "--dtype", "bf16", "--mlp", "swiglu", "--out", out}));
  ECHOSIM_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(out, "echosim-kernels stage"));
  ECHOSIM_ASSIGN_OR_RETURN(double measured_ms, NumberField(j, "measured_step_ms", "echosim-kernels stage"));

  scenario::Scenario sc;
  for (const std::string& a : std::vector<std::string>{
           "workload.training.model=custom", StrCat("workload.training.shape.layers=", layers),
           StrCat("workload.training.shape.hidden=", m.hidden), StrCat("workload.training.shape.heads=", m.heads),
           StrCat("workload.training.shape.kv_heads=", m.kv_heads),
           StrCat("workload.training.shape.ffn_hidden=", m.ffn_hidden),
           StrCat("workload.training.shape.vocab=", m.vocab), "workload.training.shape.mlp=swiglu",
           "workload.training.shape.norm=rmsnorm", "workload.training.shape.position=rope",
           StrCat("workload.training.seq_len_tokens=", seq), StrCat("workload.training.micro_batch_seqs=", mb),
           StrCat("workload.training.global_batch_seqs=", mb * mbs), StrCat("cluster.gpu=", gpu.name),
           "cluster.gpus=1", "parallelism.pipeline_schedule=1f1b", "simulation.host_overhead_per_step_ms=0",
           "simulation.interference=false", "simulation.contention=false",
           "simulation.compute_sustained_factor=1"}) {
    ECHOSIM_RETURN_IF_ERROR(ApplyOverride(a, &sc));
  }
  // Empty: the GPU's built-in calibration (the scenario default).
  if (!cal_arg.empty()) sc.mutable_simulation()->set_kernel_calibration(cal_arg);
  ECHOSIM_ASSIGN_OR_RETURN(TrainingRun run, RunTrainingScenario(sc));
  const ExecutionGraph& g = *run.result.graphs.at(0);
  double layer_s = 0;
  for (NodeId n = 0; n < g.num_nodes(); ++n) {
    if (g.kind(n) == NodeKind::kCompute && g.layer(n) >= 0) layer_s += DurationToSeconds(g.duration(n));
  }
  // The Adam step over the stack's parameters: the harness's own op when it lists one, else
  // the 4 layers' parameters counted as training_step.cc counts them.
  ComputeOp adam;
  adam.name = "optimizer.adam";
  adam.cls = OpClass::kOptimizer;
  adam.bytes = 34.0 * static_cast<double>(m.LayerParams()) * layers;
  if (auto o = j.find("optimizer"); o != j.end() && o->is_object()) {
    auto op = ComputeOpFromJson(o->dump(), "echosim-kernels stage optimizer");
    if (!op.ok()) return Internal(StrCat("malformed harness output: ", op.status().message()));
    adam = *op;
  }
  ComputeCostModel cm(gpu, 1.0, cal);
  const double adam_s = DurationToSeconds(cm.Estimate(adam));

  Part p;
  p.id = "stage";
  p.title = StrCat("(b) training stage: ", layers, " layers (hidden ", m.hidden, ", ffn ", m.ffn_hidden,
                   ", swiglu, GQA ", m.heads, "/", m.kv_heads, "), seq ", seq, ", ", mbs,
                   " micro-batches of ", mb, ", 1F1B on one GPU + Adam");
  p.target = 0.05;
  p.rows.push_back({"step", StrCat(mbs, " x (fwd + bwd) + adam"), layer_s + adam_s, measured_ms * 1e-3});
  // Per-op comparison where the harness lists its ops (in the JSON report; the step is the gate).
  if (auto ops = j.find("ops"); ops != j.end() && ops->is_array()) {
    p.ops = nlohmann::json::array();
    for (size_t i = 0; i < ops->size(); ++i) {
      const nlohmann::json& o = (*ops)[i];
      const std::string where = StrCat("echosim-kernels stage ops[", i, "]");
      auto op = ComputeOpFromJson(o.dump(), where);
      if (!op.ok()) return Internal(StrCat("malformed harness output: ", op.status().message()));
      ECHOSIM_ASSIGN_OR_RETURN(double us, NumberField(o, "median_us", where));
      const double pred = DurationToSeconds(cm.Estimate(*op));
      p.ops.push_back({{"name", op->name}, {"key", KernelShapeKey(*op)}, {"predicted_s", pred},
                       {"measured_s", us * 1e-6}, {"error", (pred - us * 1e-6) / (us * 1e-6)}});
    }
    p.note = StrCat("the harness listed ", ops->size(), " ops of one micro-batch (per-op errors in the JSON report)");
  }
  return p;
}

// Part (c): decode iterations against the serving iteration cost.
StatusOr<Part> DecodePart(const std::string& harness, const GpuSpec& gpu,
                          const std::shared_ptr<const ComputeCalibration>& cal, const std::string& tmp,
                          bool quick) {
  const ModelSpec m = SmallModel(16);
  const std::string batches = quick ? "1,8,64,256" : "1,2,4,8,16,32,64,128,256";
  const std::string context = quick ? "512:4096:1792" : "512:4096:512";
  const std::string out = tmp + "/decode.json";
  ECHOSIM_RETURN_IF_ERROR(RunHarness(
      harness, {"decode", "--hidden", std::to_string(m.hidden), "--heads", std::to_string(m.heads), "--kv-heads",
                std::to_string(m.kv_heads), "--ffn", std::to_string(m.ffn_hidden), "--layers",
                std::to_string(m.layers), "--batch-sizes", batches, "--context", context, "--dtype", "bf16",
                "--out", out}));
  ECHOSIM_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(out, "echosim-kernels decode"));
  auto its = j.find("iterations");
  if (its == j.end() || !its->is_array() || its->empty()) {
    return Internal("malformed harness output: echosim-kernels decode: field 'iterations' missing or empty");
  }
  InferenceConfig ic;
  TopologyConfig tc;
  tc.gpus = 1;
  tc.gpus_per_node = 1;
  IterationCostModel cost(m, gpu, ic, tc, 0, 0, 0, cal);
  Part p;
  p.id = "decode";
  p.title = StrCat("(c) decode iterations: ", m.layers, " layers (hidden ", m.hidden, "), batch ", batches,
                   ", context ", context);
  p.target = 0.10;
  int idx = 0;
  for (const auto& it : *its) {
    const std::string where = StrCat("echosim-kernels decode iterations[", idx++, "]");
    if (!it.is_object()) return Internal(StrCat("malformed harness output: ", where, " is not an object"));
    ECHOSIM_ASSIGN_OR_RETURN(double b, NumberField(it, "batch", where));
    ECHOSIM_ASSIGN_OR_RETURN(double c, NumberField(it, "context_tokens", where));
    ECHOSIM_ASSIGN_OR_RETURN(double ms, NumberField(it, "measured_iter_ms", where));
    BatchWork w;
    w.tokens = w.sampled = w.seqs = static_cast<int64_t>(b);
    w.attention.decode_tokens = static_cast<int64_t>(b);
    w.attention.decode_context_tokens = b * c;
    // The layers of an iteration (the harness runs no embedding, output head or sampling).
    const Duration layers = (cost.LinearLayerTime(w.tokens) + cost.AttentionLayerTime(w.attention)) * m.layers;
    p.rows.push_back({StrCat("batch ", static_cast<int64_t>(b), " ctx ", static_cast<int64_t>(c)), "",
                      DurationToSeconds(layers), ms * 1e-3});
  }
  return p;
}

std::string PartText(const Part& p, bool kernel_units) {
  std::ostringstream o;
  o << p.title << "\n";
  char line[256];
  std::snprintf(line, sizeof(line), "  %-56s %12s %12s %9s\n", "shape", kernel_units ? "pred us" : "pred ms",
                kernel_units ? "meas us" : "meas ms", "error");
  o << line;
  for (const Row& r : p.rows) {
    std::snprintf(line, sizeof(line), "  %-56s %12s %12s %9s\n", r.name.substr(0, 56).c_str(),
                  (kernel_units ? Us(r.predicted) : Ms(r.predicted)).c_str(),
                  (kernel_units ? Us(r.measured) : Ms(r.measured)).c_str(), Pct(r.Error()).c_str());
    o << line;
  }
  const Row* w = p.Worst();
  o << "  " << p.rows.size() << " rows: median |error| " << Pct(p.MedianAbs()).substr(1) << ", worst "
    << (w ? Pct(w->Error()) + " (" + w->name + ")" : "-") << "; target median <= "
    << FormatDouble(100 * p.target, 3) << "%: " << (p.rows.empty() ? "NO DATA" : p.Met() ? "met" : "MISSED")
    << "\n";
  if (!p.note.empty()) o << "  " << p.note << "\n";
  return o.str();
}

std::string PartMarkdown(const Part& p, bool kernel_units) {
  std::ostringstream o;
  const Row* w = p.Worst();
  o << "## " << p.title << "\n\n";
  o << "Median |error| " << Pct(p.MedianAbs()).substr(1) << ", worst " << (w ? Pct(w->Error()) : "-")
    << " (target: median within " << FormatDouble(100 * p.target, 3) << "%: "
    << (p.rows.empty() ? "no data" : p.Met() ? "met" : "**missed**") << ").\n\n";
  o << "| shape | predicted " << (kernel_units ? "us" : "ms") << " | measured " << (kernel_units ? "us" : "ms")
    << " | error |\n|---|---:|---:|---:|\n";
  for (const Row& r : p.rows) {
    o << "| " << r.name << " | " << (kernel_units ? Us(r.predicted) : Ms(r.predicted)) << " | "
      << (kernel_units ? Us(r.measured) : Ms(r.measured)) << " | " << Pct(r.Error()) << " |\n";
  }
  o << "\n";
  return o.str();
}

nlohmann::json PartJson(const Part& p) {
  nlohmann::json rows = nlohmann::json::array();
  for (const Row& r : p.rows) {
    rows.push_back({{"name", r.name},
                    {"detail", r.detail},
                    {"predicted_s", r.predicted},
                    {"measured_s", r.measured},
                    {"error", r.Error()}});
  }
  const Row* w = p.Worst();
  return {{"title", p.title},
          {"target_median_abs_error", p.target},
          {"median_abs_error", p.MedianAbs()},
          {"worst_error", w ? w->Error() : 0.0},
          {"worst", w ? w->name : ""},
          {"target_met", p.Met()},
          {"rows", rows},
          {"ops", p.ops.is_null() ? nlohmann::json::array() : p.ops}};
}

}  // namespace

int CmdValidateOnGpu(const std::vector<std::string>& args) {
  std::string cal_file, gpu_name, report;
  bool json = false, quick = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--calibration" || a == "--gpu" || a == "--report") {
      if (i + 1 >= args.size()) return UsageError(StrCat(a, " needs a value"), kUsage);
      (a == "--calibration" ? cal_file : a == "--gpu" ? gpu_name : report) = args[++i];
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      return UsageError(StrCat("unknown option '", a, "' for 'echosim validate --on-gpu'"), kUsage);
    }
  }
  if (!gpu_name.empty()) {
    auto g = FindGpuPreset(gpu_name);
    if (!g.ok()) return Fail(g.status().WithContext("--gpu"));
  }
  std::optional<KernelCalibration> cal;
  if (!cal_file.empty()) {
    auto c = LoadKernelCalibrationFile(cal_file);
    if (!c.ok()) return Fail(c.status().WithContext("--calibration"));
    if (!gpu_name.empty() && c->gpu != gpu_name) {
      return Fail(InvalidArgument(StrCat("--calibration: '", cal_file, "' is for gpu '", c->gpu,
                                         "', not --gpu ", gpu_name)));
    }
    cal = std::move(*c);
  } else if (!gpu_name.empty()) {
    auto c = BuiltInKernelCalibration(gpu_name);
    if (c.ok()) cal = std::move(*c);
    else if (c.status().code() != StatusCode::kNotFound) return Fail(c.status());
  }

  auto harness = FindKernelHarness();
  if (!harness.ok()) return Fail(harness.status());
  auto device = HarnessInfo(*harness);
  if (!device.ok()) {
    if (IsNoGpuError(device.status())) {
      std::cerr << "echosim validate --on-gpu: " << device.status().message()
                << "\nnothing was validated: run it on a machine with an NVIDIA GPU.\n";
      return 3;
    }
    return Fail(device.status());
  }
  if (!cal && gpu_name.empty()) {
    // The built-in calibration measured on this device, if any.
    for (const std::string& n : GpuPresetNames()) {
      auto c = BuiltInKernelCalibration(n);
      if (c.ok() && c->device == device->name) {
        cal = std::move(*c);
        break;
      }
    }
    if (!cal) {
      return Fail(InvalidArgument(StrCat("no built-in kernel calibration was measured on '", device->name,
                                         "': pass --gpu NAME (valid: ", Join(GpuPresetNames(), ", "),
                                         ") and/or --calibration FILE")));
    }
  }
  if (gpu_name.empty()) gpu_name = cal->gpu;
  auto gpu = FindGpuPreset(gpu_name);
  if (!gpu.ok()) return Fail(gpu.status().WithContext(cal ? StrCat(cal->source, ": gpu") : "--gpu"));
  std::shared_ptr<const ComputeCalibration> ccal;
  std::shared_ptr<ComputeCalibration> fit_only;
  if (cal) {
    auto c = MakeComputeCalibration(*gpu, *cal);
    if (!c.ok()) return Fail(c.status());
    ccal = std::make_shared<const ComputeCalibration>(*c);
    fit_only = std::make_shared<ComputeCalibration>(*c);
    fit_only->use_exact_samples = false;
  }
  const std::string cal_desc = DescribeComputeCalibration(ccal.get());
  // The scenario field naming the same calibration for the training simulator.
  const std::string cal_arg = !cal_file.empty() ? cal_file : cal ? "" : "none";

  std::error_code ec;
  const std::filesystem::path tmp =
      std::filesystem::temp_directory_path(ec) / StrCat("echosim-validate-gpu-", getpid());
  std::filesystem::create_directories(tmp, ec);
  if (ec) return Fail(Internal(StrCat("cannot create '", tmp.string(), "': ", ec.message())));
  auto cleanup = [&]() { std::filesystem::remove_all(tmp, ec); };

  // (a) kernels.
  std::vector<ComputeOp> calibrated;
  if (cal) {
    std::set<std::string> seen;
    for (const KernelSample& s : cal->samples) {
      if (seen.insert(KernelShapeKey(s.op)).second) calibrated.push_back(s.op);
    }
    if (quick && calibrated.size() > 24) calibrated.resize(24);
  }
  const std::vector<ComputeOp> uncalibrated = UncalibratedOps(ccal.get(), quick);
  std::vector<ComputeOp> all = calibrated;
  all.insert(all.end(), uncalibrated.begin(), uncalibrated.end());
  MeasureOptions mo;
  mo.harness = *harness;
  mo.cache_file = "none";
  auto measured = MeasureKernels(all, mo);
  if (!measured.ok()) {
    cleanup();
    if (IsNoGpuError(measured.status())) {
      std::cerr << "echosim validate --on-gpu: " << measured.status().message() << "\n";
      return 3;
    }
    return Fail(measured.status());
  }
  ComputeCostModel predict(*gpu, 1.0, fit_only);
  auto kernel_part = [&](const std::vector<ComputeOp>& ops, const char* id, const std::string& title,
                         double target) {
    Part p;
    p.id = id;
    p.title = title;
    p.target = target;
    for (const ComputeOp& op : ops) {
      const double meas = measured->times.seconds.at(KernelShapeKey(op));
      p.rows.push_back({StrCat(op.name.empty() ? OpClassName(op.cls) : op.name, " ", KernelShapeKey(op)),
                        KernelShapeKey(op), DurationToSeconds(predict.Estimate(op)), meas});
    }
    return p;
  };
  std::vector<Part> parts;
  parts.push_back(kernel_part(calibrated, "kernels_calibrated",
                              StrCat("(a) calibrated kernel shapes (", calibrated.size(),
                                     "), predicted by the fitted curve"),
                              0.05));
  if (!cal) parts.back().note = "no kernel calibration: nothing calibrated to compare";
  parts.push_back(kernel_part(uncalibrated, "kernels_uncalibrated",
                              StrCat("(a) kernel shapes not in the calibration (", uncalibrated.size(),
                                     "): layers of llama3-8b/70b and gpt3-175b at TP 1..8"),
                              0.10));
  auto stage = StagePart(*harness, *gpu, cal_arg, ccal, tmp.string(), quick);
  if (!stage.ok()) {
    cleanup();
    return IsNoGpuError(stage.status()) ? 3 : Fail(stage.status());
  }
  parts.push_back(std::move(*stage));
  auto decode = DecodePart(*harness, *gpu, ccal, tmp.string(), quick);
  cleanup();
  if (!decode.ok()) return IsNoGpuError(decode.status()) ? 3 : Fail(decode.status());
  parts.push_back(std::move(*decode));

  nlohmann::json j;
  j["device"] = device->name;
  j["gpu"] = gpu->name;
  j["calibration"] = cal_desc;
  j["harness_info"] = device->info;
  j["parts"] = nlohmann::json::object();
  for (const Part& p : parts) j["parts"][p.id] = PartJson(p);

  std::ostringstream text, md;
  text << "echosim validate --on-gpu: " << device->name << " as " << gpu->name << "\n  calibration: " << cal_desc
       << "\n\n";
  md << "# echosim predictions vs kernels run on " << device->name << "\n\n"
     << "GPU preset `" << gpu->name << "`; compute model: " << cal_desc
     << ". Generated by `echosim validate --on-gpu`; error = (predicted - measured) / measured.\n\n";
  for (const Part& p : parts) {
    const bool kernels = p.id.rfind("kernels", 0) == 0;
    text << PartText(p, kernels) << "\n";
    md << PartMarkdown(p, kernels);
  }
  if (!report.empty()) {
    std::filesystem::path md_path(report), json_path(report);
    json_path.replace_extension(".json");
    if (json_path == md_path) md_path.replace_extension(".md");
    for (const auto& [path, data] : {std::pair{md_path, md.str()}, std::pair{json_path, j.dump(2) + "\n"}}) {
      std::ofstream out(path, std::ios::binary);
      if (!out || !(out << data)) return Fail(InvalidArgument(StrCat("--report: cannot write '", path.string(), "'")));
    }
    if (!json) text << "wrote " << md_path.string() << " and " << json_path.string() << "\n";
  }
  std::cout << (json ? j.dump(2) + "\n" : text.str());
  return 0;
}

}  // namespace echosim
