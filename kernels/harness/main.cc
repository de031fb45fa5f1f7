// echosim-kernels: measures our CUDA kernels and cuBLASLt GEMMs on a GPU and writes the
// files the simulator reads (kernel calibration YAML, interference CSV, measured ops,
// stage and decode timings). Every argument and input file is validated before any CUDA
// call, so bad input exits 2 (naming the flag, file, line and field) even without a GPU;
// no usable GPU exits 3 with "no CUDA device: ..."; a CUDA failure exits 1.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "kernels/cuda/cuda_check.h"
#include "kernels/harness/calibration_yaml.h"
#include "kernels/harness/cli_args.h"
#include "kernels/harness/device_info.h"
#include "kernels/harness/gpu_runner.h"
#include "kernels/harness/stage.h"
#include "kernels/harness/transformer_ops.h"
#include "simulator/core/strings.h"

namespace echosim::kernels {
namespace {

constexpr int kExitBadInput = 2, kExitNoDevice = 3, kExitFailure = 1;

int Fail(const Status& st) {
  std::fprintf(stderr, "echosim-kernels: %s\n", st.message().c_str());
  return st.code() == StatusCode::kInvalidArgument ? kExitBadInput : kExitFailure;
}

// The output's folder must exist (checked before the GPU work, not after).
Status CheckOutputPath(const std::string& flag, const std::string& path) {
  const std::filesystem::path p(path);
  const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return InvalidArgument(StrCat(flag, ": folder '", dir.string(), "' of '", path, "' does not exist"));
  }
  return Status::Ok();
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return FailedPrecondition(StrCat("cannot write '", path, "'"));
  return Status::Ok();
}

int Run(int argc, char** argv) {
  if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
                    std::string(argv[1]) == "help")) {
    std::fputs(UsageText().c_str(), stdout);
    return 0;
  }
  auto parsed = ParseCli(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "echosim-kernels: %s\n%s", parsed.status().message().c_str(), UsageText().c_str());
    return kExitBadInput;
  }
  const CliArgs& args = *parsed;
  std::vector<OpSpec> ops;
  if (args.command == Subcommand::kMeasure) {
    std::ifstream in(args.ops_path, std::ios::binary);
    if (!in) return Fail(InvalidArgument(StrCat("--ops: cannot read '", args.ops_path, "'")));
    std::stringstream text;
    text << in.rdbuf();
    auto parsed_ops = ParseOpsText(text.str(), args.ops_path);
    if (!parsed_ops.ok()) return Fail(parsed_ops.status());
    ops = std::move(parsed_ops).value();
  }
  if (!args.out_path.empty()) {
    if (Status st = CheckOutputPath("--out", args.out_path); !st.ok()) return Fail(st);
  }

  std::string why;
  if (!HaveCudaDevice(&why)) {
    std::fprintf(stderr, "no CUDA device: %s (echosim-kernels measures on a GPU; run it on a GPU machine)\n",
                 why.c_str());
    return kExitNoDevice;
  }
  const DeviceInfo device = QueryDevice(/*idle=*/true);
  if (args.command == Subcommand::kInfo) {
    std::printf("%s", args.json ? (DeviceInfoJson(device) + "\n").c_str() : DeviceInfoText(device).c_str());
    return 0;
  }
  GpuRunner runner(device);
  runner.set_tensor_core_attention(args.tensor_core_attention);
  RunOptions ro;
  ro.warmup = args.warmup;
  ro.repeats = args.repeats;
  switch (args.command) {
    case Subcommand::kInfo: break;
    case Subcommand::kMeasure: {
      std::ofstream out(args.out_path, std::ios::binary);
      if (!out) return Fail(InvalidArgument(StrCat("--out: cannot write '", args.out_path, "'")));
      size_t done = 0;
      for (const OpSpec& op : ops) {
        ++done;
        auto m = runner.Measure(op, ro);
        if (!m.ok()) {
          return Fail(Status(m.status().code(),
                             StrCat(args.ops_path, ": line ", op.line, " (", op.name, "): ", m.status().message())));
        }
        out << MeasuredOpJsonLine(*m) << "\n";
        out.flush();
        std::fprintf(stderr, "[%zu/%zu] %s: %.2f us (%s)\n", done, ops.size(), op.name.c_str(), m->stats.median_us,
                     m->kernel.c_str());
      }
      break;
    }
    case Subcommand::kCalibrate: {
      GridOptions g;
      g.quick = args.quick;
      g.fp8 = device.cc_major * 10 + device.cc_minor >= 89;
      const std::vector<OpSpec> grid = CalibrationGrid(g);
      CalibrationFile file;
      file.gpu = args.gpu;
      file.command = args.command_line;
      file.measured_at = NowUtcIso8601();
      file.device = device;
      file.warmup = args.warmup;
      file.repeats = args.repeats;
      size_t i = 0;
      for (const OpSpec& op : grid) {
        ++i;
        auto m = runner.Measure(op, ro);
        if (!m.ok()) {
          std::fprintf(stderr, "[%zu/%zu] %s: skipped: %s\n", i, grid.size(), op.name.c_str(),
                       m.status().message().c_str());
          if (!runner.ContextHealthy()) {
            return Fail(Internal("the CUDA context failed; no calibration file written"));
          }
          continue;
        }
        std::fprintf(stderr, "[%zu/%zu] %s %s: %.2f us\n", i, grid.size(), OpKindName(op.kind), op.name.c_str(),
                     m->stats.median_us);
        file.samples.push_back(std::move(m).value());
      }
      RefreshClocks(&file.device);  // clocks under load, at the end of the sweep
      std::ostringstream yaml;
      WriteCalibrationYaml(file, yaml);
      if (Status st = WriteFile(args.out_path, yaml.str()); !st.ok()) return Fail(st);
      std::fprintf(stderr, "wrote %zu samples to %s\n", file.samples.size(), args.out_path.c_str());
      break;
    }
    case Subcommand::kInterference: {
      std::ostringstream csv;
      if (Status st = runner.Interference(args.blocks, args.ll_protocol, ro, csv); !st.ok()) return Fail(st);
      if (Status st = WriteFile(args.out_path, csv.str()); !st.ok()) return Fail(st);
      break;
    }
    case Subcommand::kStage:
    case Subcommand::kDecode: {
      std::string json;
      const Status st = args.command == Subcommand::kStage ? RunStage(runner, args, &json) : RunDecode(runner, args, &json);
      if (!st.ok()) return Fail(st);
      if (Status w = WriteFile(args.out_path, json); !w.ok()) return Fail(w);
      break;
    }
  }
  return 0;
}

}  // namespace
}  // namespace echosim::kernels

int main(int argc, char** argv) {
  try {
    return echosim::kernels::Run(argc, argv);
  } catch (const echosim::kernels::cuda::CudaError& e) {
    std::fprintf(stderr, "echosim-kernels: CUDA error: %s\n", e.what());
    return 1;
  }
}
