// `echosim calibrate`: fits the NCCL model's effective parameters (nccl_calibration.h) on
// measured collectives and writes the calibration YAML that scenarios and `echosim collective`
// reference.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "hardware/gpu_spec.h"
#include "simulator/cli/commands.h"
#include "simulator/core/strings.h"
#include "simulator/network/nccl/collective_measurements.h"
#include "simulator/network/nccl/nccl_calibration_fit.h"
#include "simulator/network/nccl/nccl_tests_log.h"

namespace echosim {
namespace {

constexpr const char* kCalibrateUsage = R"(usage:
  echosim calibrate nccl-tests LOG... [--gpu NAME] [--gpus N] [--gpus-per-node N] [--nic-gbps X]
                                      [--nccl-version V] [--op OP] [--name NAME]
                                      [--default-for GPU,...] --out FILE
  echosim calibrate vidur CSV... --gpu NAME [--gpus-per-node N] [--nic-gbps X] [--nccl-version V]
                                 [--name NAME] [--default-for GPU,...] --out FILE
  echosim calibrate measured --system ID [--data-dir DIR] [--name NAME] [--default-for GPU,...] --out FILE
  echosim calibrate alltoall [--data-dir DIR] --out FILE

Fits the NCCL collective model's bandwidth efficiencies, per-step latencies and pipeline terms
(least squares, simulator/network/nccl/nccl_calibration_fit.h) on measured collectives:
  nccl-tests  nccl-tests output, text table or -J JSON. GPUs and nodes come from the log's
              '# Rank ... on HOST device ...' lines (else --gpus and --gpus-per-node), the GPU
              from its device name (else --gpu), the collective from the program name (else --op)
  vidur       Vidur network_*.csv profiles (median time per size, workers, devices per node)
  measured    one system of hardware/nccl/measured-systems.yaml, read from DIR
              (default ../shared/data/measured/collectives)
  alltoall    the all_to_all efficiency per link class (NVLink, network) from the all_to_all
              systems of hardware/nccl/measured-systems.yaml: the median of measured / line-rate
              bus bandwidth (hardware/nccl/alltoall-efficiency.yaml)
  --nccl-version V   the NCCL whose algorithm choices the measurements reflect (2.18, 2.21, 2.27,
                     2.30); default: the log's version mapped to the nearest, else 2.21
  --nic-gbps X       NIC line rate per GPU, Gbit/s (default: the GPU preset's)
  --default-for G,.. the GPUs for which this file becomes the built-in default
)";

int Usage(const std::string& msg) { return UsageError(msg, kCalibrateUsage); }

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(StrCat("cannot read '", path, "'"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

StatusOr<int64_t> PositiveInt(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(x >= 1) || x != std::floor(x) || x > 1e9) {
    return InvalidArgument(StrCat(flag, ": expected a positive integer, got '", v, "'"));
  }
  return static_cast<int64_t>(x);
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

struct Options {
  std::string mode;
  std::vector<std::string> inputs;
  std::string gpu, nccl_version, op, name, out, system, data_dir;
  std::vector<std::string> default_for;
  int64_t gpus = 0, gpus_per_node = 0;
  double nic_gbps = 0;
};

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return InvalidArgument(StrCat("--out: cannot write '", path, "'"));
  out << text;
  if (!out) return Internal(StrCat("failed writing '", path, "'"));
  return Status::Ok();
}

std::string Stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

void PrintResults(const std::vector<SampleResult>& results) {
  // Worst error per input, from 1 MiB.
  std::map<std::string, std::pair<double, double>> worst;  // source file -> (from 1 MiB, from 64 MiB)
  std::vector<std::string> order;
  for (const SampleResult& r : results) {
    const std::string file = r.sample.source.substr(0, r.sample.source.rfind(':'));
    const std::string key = StrCat(file, " (", r.sample.ranks, " GPUs, ", r.sample.nodes, " nodes)");
    if (!worst.count(key)) order.push_back(key);
    auto& w = worst[key];
    if (r.sample.bytes >= 1024.0 * 1024) w.first = std::max(w.first, std::abs(r.error));
    if (r.sample.bytes >= 64.0 * 1024 * 1024) w.second = std::max(w.second, std::abs(r.error));
  }
  for (const std::string& k : order) {
    std::printf("  %-70s max |err| from 1 MiB %5.1f%%, from 64 MiB %5.1f%%\n", k.c_str(), worst[k].first * 100,
                worst[k].second * 100);
  }
}

int Finish(const Options& o, NcclFitResult fit, const std::string& gpu, const std::string& version,
           const std::string& system_text, const std::vector<std::string>& fitted_on, const std::string& command) {
  NcclCalibration& cal = fit.calibration;
  cal.name = o.name.empty() ? Stem(o.out) : o.name;
  cal.nccl_version = version;
  cal.default_for_gpus = o.default_for;
  cal.system = system_text;
  cal.fitted_on = fitted_on;
  cal.description = StrCat("NCCL ", version, " tuning model of ", gpu, " collectives, calibrated on ", cal.fit.points,
                           " measured sizes of at least 64 KiB");
  const std::string header =
      StrCat("NCCL collective-model calibration (simulator/network/nccl/nccl_calibration.h), written by\n  ", command,
             "\nEffective parameters fitted by weighted least squares (nccl_calibration_fit.h) on the\n"
             "measurements listed under fitted_on; fit: the worst |predicted/measured bus bandwidth - 1|.\n"
             "Regenerate with the command above; do not edit by hand.");
  Status st = WriteText(o.out, NcclCalibrationToYaml(cal, header));
  if (!st.ok()) return Fail(st);
  std::printf(
      "calibration %s: %d sizes fitted (>= 64 KiB), max |err| from 1 MiB %.1f%%, from 64 MiB %.1f%%, rms %.1f%%\n",
      cal.name.c_str(), cal.fit.points, cal.fit.max_error_from_1mib * 100, cal.fit.max_error_from_64mib * 100,
      cal.fit.rms_error * 100);
  PrintResults(fit.results);
  std::printf("wrote %s\n", o.out.c_str());
  return 0;
}

std::string CommandLine(const std::vector<std::string>& args) {
  std::string s = "echosim calibrate";
  for (const std::string& a : args) s += " " + a;
  return s;
}

}  // namespace

int CmdCalibrate(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("echosim calibrate needs a source: nccl-tests, vidur, measured or alltoall");
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << kCalibrateUsage;
    return 0;
  }
  Options o;
  o.mode = args[0];
  if (o.mode != "nccl-tests" && o.mode != "vidur" && o.mode != "measured" && o.mode != "alltoall") {
    return Usage(StrCat("unknown calibration source '", o.mode, "'; valid: nccl-tests, vidur, measured, alltoall"));
  }
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > 1 && a[0] == '-') {
      if (i + 1 >= args.size()) return Usage(StrCat(a, " needs a value"));
      const std::string& v = args[++i];
      Status st;
      if (a == "--gpu") {
        o.gpu = v;
      } else if (a == "--gpus" || a == "--gpus-per-node") {
        auto n = PositiveInt(a, v);
        if (!n.ok()) return Fail(n.status());
        (a == "--gpus" ? o.gpus : o.gpus_per_node) = *n;
      } else if (a == "--nic-gbps") {
        char* end = nullptr;
        o.nic_gbps = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !(o.nic_gbps > 0) || !std::isfinite(o.nic_gbps)) {
          return Fail(InvalidArgument(StrCat("--nic-gbps: expected a positive number, got '", v, "'")));
        }
      } else if (a == "--nccl-version") {
        o.nccl_version = v;
      } else if (a == "--op") {
        o.op = v;
      } else if (a == "--name") {
        o.name = v;
      } else if (a == "--default-for") {
        o.default_for = SplitComma(v);
      } else if (a == "--out") {
        o.out = v;
      } else if (a == "--system") {
        o.system = v;
      } else if (a == "--data-dir") {
        o.data_dir = v;
      } else {
        return Usage(StrCat("unknown option '", a, "' for 'echosim calibrate ", o.mode, "'"));
      }
    } else {
      o.inputs.push_back(a);
    }
  }
  if (o.out.empty()) return Usage("--out FILE is required");
  for (const std::string& g : o.default_for) {
    if (auto p = FindGpuPreset(g); !p.ok()) return Fail(p.status().WithContext("--default-for"));
  }
  const std::string command = CommandLine(args);
  const std::vector<std::string> versions = NcclVersions();
  if (!o.nccl_version.empty()) {
    if (auto c = FindNcclConstants(o.nccl_version); !c.ok()) return Fail(c.status().WithContext("--nccl-version"));
  }

  std::string dir = o.data_dir;
  if ((o.mode == "measured" || o.mode == "alltoall") && dir.empty()) {
    for (const char* c : {"../shared/data/measured/collectives", "shared/data/measured/collectives"}) {
      if (std::filesystem::exists(c)) {
        dir = c;
        break;
      }
    }
    if (dir.empty()) return Usage("no measurements at ../shared/data/measured/collectives; pass --data-dir DIR");
  }
  if (o.mode == "alltoall") {
    if (!o.inputs.empty()) return Usage(StrCat("unexpected argument '", o.inputs[0], "' for 'calibrate alltoall'"));
    auto cat = LoadMeasuredSystems();
    if (!cat.ok()) return Fail(cat.status());
    auto fit = FitAllToAllEfficiency(*cat, dir);
    if (!fit.ok()) return Fail(fit.status());
    std::ofstream out(o.out, std::ios::binary);
    if (!out) return Fail(InvalidArgument(StrCat("--out: cannot write '", o.out, "'")));
    out << AllToAllEfficiencyYaml(*fit, command);
    if (!out) return Fail(InvalidArgument(StrCat("--out: cannot write '", o.out, "'")));
    std::printf(
        "all_to_all efficiency: NVLink %.4g, network %.4g (%zu rows, max residual %.1f%%; held out, each row from "
        "the others of its class: max error %.1f%% over %d rows); wrote %s\n",
        fit->efficiency.nvlink, fit->efficiency.network, fit->rows.size(), fit->max_residual * 100,
        fit->max_held_out_error * 100, fit->held_out_rows, o.out.c_str());
    return 0;
  }
  if (o.mode == "measured") {
    if (o.system.empty()) return Usage("calibrate measured needs --system ID");
    if (!o.inputs.empty()) return Usage(StrCat("unexpected argument '", o.inputs[0], "' for 'calibrate measured'"));
    auto cat = LoadMeasuredSystems();
    if (!cat.ok()) return Fail(cat.status());
    const MeasuredSystem* sys = FindMeasuredSystem(*cat, o.system);
    if (sys == nullptr) {
      std::vector<std::string> ids;
      for (const MeasuredSystem& s : cat->systems) ids.push_back(s.id);
      return Fail(NotFound(StrCat("--system: unknown system '", o.system, "'; valid: ", Join(ids, ", "))));
    }
    auto samples = SamplesForSystem(*sys, dir);
    if (!samples.ok()) return Fail(samples.status());
    int64_t cluster = 1;
    for (const CollectiveSample& c : *samples) cluster = std::max({cluster, c.ranks, c.nodes * sys->gpus_per_node});
    MeasuredSystem s = *sys;
    if (!o.nccl_version.empty()) s.nccl_version = o.nccl_version;
    auto model = ModelForSystem(s, cluster, NcclCalibration{});
    if (!model.ok()) return Fail(model.status());
    auto fit = FitNcclCalibration(*model, *samples);
    if (!fit.ok()) return Fail(fit.status());
    std::vector<std::string> fitted_on;
    AddFittedOn(s, *samples, &fitted_on);
    return Finish(o, std::move(*fit), s.gpu, s.nccl_version,
                  StrCat(s.id, ": ", s.description, "; ", s.gpus_per_node, " GPUs/node, NIC ", s.nic_gbps, " Gbit/s"),
                  fitted_on, command);
  }

  if (o.inputs.empty()) return Usage(StrCat("calibrate ", o.mode, " needs at least one input file"));
  std::vector<CollectiveSample> samples;
  std::string device_gpu;
  std::string log_version;
  int64_t max_ppn = 0;
  std::vector<std::string> fitted_on;
  std::optional<NcclCollective> op;
  if (!o.op.empty()) {
    auto c = ParseNcclCollective("--op", o.op);
    if (!c.ok()) return Fail(c.status());
    op = *c;
  }
  for (const std::string& path : o.inputs) {
    auto text = ReadFile(path);
    if (!text.ok()) return Fail(text.status());
    if (o.mode == "vidur") {
      auto rows = ParseVidurCsv(*text, path);
      if (!rows.ok()) return Fail(rows.status());
      for (const VidurRow& r : *rows) max_ppn = std::max<int64_t>(max_ppn, r.devices_per_node);
      std::vector<CollectiveSample> s = SamplesFromVidur(*rows, path);
      samples.insert(samples.end(), s.begin(), s.end());
      fitted_on.push_back(path);
      continue;
    }
    auto log = ParseNcclTestsLog(*text, path);
    if (!log.ok()) return Fail(log.status());
    int64_t ranks = log->ranks, nodes = log->nodes;
    if (o.gpus > 0) {
      ranks = o.gpus;
      const int64_t gpn = o.gpus_per_node > 0 ? o.gpus_per_node : 8;
      nodes = ranks <= gpn ? 1 : ranks / gpn;
    }
    if (ranks == 1) {
      std::printf("skipping %s: one GPU, nothing crosses a link\n", path.c_str());
      continue;
    }
    if (!log->device_name.empty() && o.gpu.empty()) {
      auto preset = GpuPresetForDevice(log->device_name);
      if (!preset.ok()) return Fail(preset.status().WithContext(path));
      if (!device_gpu.empty() && device_gpu != *preset) {
        return Fail(InvalidArgument(StrCat(path, ": GPU ", *preset, " differs from the other logs' ", device_gpu,
                                           "; calibrate one system at a time")));
      }
      device_gpu = *preset;
    }
    if (!log->nccl_version.empty()) log_version = log->nccl_version;
    if (nodes > 0) max_ppn = std::max(max_ppn, ranks / nodes);
    auto s = SamplesFromNcclTestsLog(*log, op, ranks, nodes);
    if (!s.ok()) return Fail(s.status());
    samples.insert(samples.end(), s->begin(), s->end());
    fitted_on.push_back(path);
  }
  const std::string gpu_name = !o.gpu.empty() ? o.gpu : device_gpu;
  if (gpu_name.empty()) return Usage("cannot tell the GPU from the inputs; pass --gpu NAME");
  auto gpu = FindGpuPreset(gpu_name);
  if (!gpu.ok()) return Fail(gpu.status().WithContext("--gpu"));
  std::string version = o.nccl_version;
  if (version.empty()) {
    version = log_version.empty() ? "2.21" : ClosestNcclModelVersion(log_version, versions);
    std::printf(
        "NCCL model version %s (%s)\n", version.c_str(),
        log_version.empty() ? "assumed: the inputs do not say" : StrCat("the inputs say ", log_version).c_str());
  }
  MeasuredSystem sys;
  sys.id = o.name.empty() ? Stem(o.out) : o.name;
  sys.gpu = gpu->name;
  sys.gpus_per_node = static_cast<int>(o.gpus_per_node > 0 ? o.gpus_per_node : std::max<int64_t>(max_ppn, 8));
  sys.nic_gbps = o.nic_gbps > 0 ? o.nic_gbps : gpu->nic_gbps;
  sys.nccl_version = version;
  int64_t cluster = 1;
  for (const CollectiveSample& s : samples) cluster = std::max({cluster, s.ranks, s.nodes * sys.gpus_per_node});
  auto model = ModelForSystem(sys, cluster, NcclCalibration{});
  if (!model.ok()) return Fail(model.status());
  auto fit = FitNcclCalibration(*model, samples);
  if (!fit.ok()) return Fail(fit.status());
  return Finish(o, std::move(*fit), gpu->name, version,
                StrCat(gpu->name, ", ", sys.gpus_per_node, " GPUs/node, NIC ", sys.nic_gbps, " Gbit/s per GPU"),
                fitted_on, command);
}

}  // namespace echosim
