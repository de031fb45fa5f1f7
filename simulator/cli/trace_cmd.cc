// echosim trace: run a CUDA/NCCL program once per selected rank on this machine's GPU,
// as rank r of a world of N, and write one Chakra trace per rank plus manifest.json.
//
// Each run gets the CUPTI injection library (CUDA_INJECTION64_PATH) and the NCCL shim
// (LD_PRELOAD, and lib/nccl-shim first on LD_LIBRARY_PATH for programs that load
// libnccl.so.2 by name), and WORLD_SIZE/RANK/LOCAL_RANK/LOCAL_WORLD_SIZE plus
// ECHOSIM_WORLD_SIZE/ECHOSIM_RANK/ECHOSIM_TRACE_DIR in its environment. Runs are
// sequential; the program's output passes through. tracer/README.md has the details.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hardware/gpu_spec.h"
#include "simulator/cli/commands.h"
#include "simulator/core/strings.h"
#include "tracer/compute_scaling.h"
#include "tracer/trace_capture.h"

extern char** environ;

namespace echosim {
namespace {
namespace fs = std::filesystem;

constexpr const char* kTraceUsage = R"(usage:
  echosim trace --world-size N --ranks auto|R1,R2,... --out DIR [options] -- COMMAND [ARGS...]

Runs COMMAND once per selected rank (one after another, on this machine's GPU) as that
rank of a world of N ranks, recording its kernels with CUPTI and its NCCL calls with the
NCCL shim, and writes DIR/trace.<rank>.et (Chakra ET) and DIR/manifest.json.

options:
  --world-size N        ranks in the job (WORLD_SIZE the program sees)
  --ranks auto|LIST     ranks to run; auto: one per pipeline stage and role (needs the layout)
  --tp N --pp N --dp N  the job's layout (Megatron order, tp fastest); dp defaults to N/(tp*pp).
                        Used to pick ranks and to name communicator members
  --out DIR             output folder (capture files go to DIR/raw)
  --iters START:END     capture window: cudaProfilerStart calls START..END-1 (ECHOSIM_TRACE_ITERS)
  --lib-dir DIR         where libechosim_cupti.so and libechosim_nccl.so are
                        (default: ../lib beside the echosim binary, or $ECHOSIM_TRACER_LIB_DIR)
  --no-cupti            record NCCL calls only (no CUPTI injection)
  --no-host-gaps        do not model host launch gaps in the traces
  --gpu NAME            GPU preset of this machine's GPU, recorded in the traces so that
                        `echosim run --trace` scales compute to other GPUs (default: detected
                        with nvidia-smi; none recorded when that fails)
)";

int Usage(const std::string& msg) { return UsageError(msg, kTraceUsage); }

// The GPU preset of this machine's first GPU, from nvidia-smi; empty when unknown.
std::string DetectGpuPreset() {
  FILE* p = popen("nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits -i 0 2>/dev/null", "r");
  if (p == nullptr) return "";
  char line[512] = {0};
  const bool got = std::fgets(line, sizeof(line), p) != nullptr;
  pclose(p);
  if (!got) return "";
  std::string text(line);
  const size_t comma = text.rfind(',');
  const std::string name = text.substr(0, comma);
  const double mib = comma == std::string::npos ? 0 : std::strtod(text.c_str() + comma + 1, nullptr);
  return GpuPresetForDevice(name, mib * 1048576.0);
}

StatusOr<int64_t> ParseCount(const std::string& flag, const std::string& v) {
  int64_t x = 0;
  if (v.empty()) return InvalidArgument(StrCat(flag, " needs a positive integer"));
  for (char c : v) {
    if (c < '0' || c > '9' || x > (int64_t{1} << 30)) {
      return InvalidArgument(StrCat(flag, " '", v, "' is not a positive integer"));
    }
    x = x * 10 + (c - '0');
  }
  if (x < 1) return InvalidArgument(StrCat(flag, " must be at least 1"));
  return x;
}

std::string DefaultLibDir() {
  if (const char* env = std::getenv("ECHOSIM_TRACER_LIB_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "lib";
  return (exe.parent_path().parent_path() / "lib").string();
}

// Runs argv with `env` (NAME=value entries replacing those of this process). Returns the
// exit status, or an error if it could not start or was killed.
StatusOr<int> RunChild(const std::vector<std::string>& argv,
                       const std::map<std::string, std::string>& env) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string s(*e);
    const std::string name = s.substr(0, s.find('='));
    if (env.count(name) == 0) env_strings.push_back(s);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (std::string& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);
  std::cout.flush();
  const pid_t pid = fork();
  if (pid < 0) return Internal(StrCat("fork failed: ", std::strerror(errno)));
  if (pid == 0) {
    execvpe(args[0], args.data(), envp.data());
    std::fprintf(stderr, "echosim: error: cannot run '%s': %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Internal(StrCat("waitpid failed: ", std::strerror(errno)));
  }
  if (WIFSIGNALED(status)) {
    return FailedPrecondition(StrCat("'", argv[0], "' was killed by signal ", WTERMSIG(status)));
  }
  return WEXITSTATUS(status);
}

std::string Prepend(const char* var, const std::string& value) {
  const char* old = std::getenv(var);
  if (old == nullptr || *old == '\0') return value;
  return value + ":" + old;
}

}  // namespace

int CmdTrace(const std::vector<std::string>& args) {
  int64_t world = 0;
  std::string ranks_spec, out_dir, iters, lib_dir, gpu;
  std::optional<int64_t> tp, pp, dp;
  bool cupti = true, host_gaps = true;
  std::vector<std::string> command;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (a == "--help" || a == "-h") {
      std::cout << kTraceUsage;
      return 0;
    }
    if (a == "--no-cupti") {
      cupti = false;
      continue;
    }
    if (a == "--no-host-gaps") {
      host_gaps = false;
      continue;
    }
    const bool takes = a == "--world-size" || a == "--ranks" || a == "--out" || a == "--iters" ||
                       a == "--lib-dir" || a == "--tp" || a == "--pp" || a == "--dp" || a == "--gpu";
    if (!takes) return Usage(StrCat("unknown option '", a, "' for 'echosim trace' (the command goes after --)"));
    if (i + 1 >= args.size()) return Usage(StrCat(a, " needs a value"));
    const std::string& v = args[++i];
    if (a == "--ranks") {
      ranks_spec = v;
    } else if (a == "--out") {
      out_dir = v;
    } else if (a == "--iters") {
      iters = v;
    } else if (a == "--lib-dir") {
      lib_dir = v;
    } else if (a == "--gpu") {
      auto g = FindGpuPreset(v);
      if (!g.ok()) return Fail(InvalidArgument(StrCat("--gpu: ", g.status().message())));
      gpu = v;
    } else {
      auto n = ParseCount(a, v);
      if (!n.ok()) return Fail(n.status());
      if (a == "--world-size") world = *n;
      if (a == "--tp") tp = *n;
      if (a == "--pp") pp = *n;
      if (a == "--dp") dp = *n;
    }
  }
  if (world == 0) return Usage("echosim trace needs --world-size N");
  if (ranks_spec.empty()) return Usage("echosim trace needs --ranks auto or --ranks R1,R2,...");
  if (out_dir.empty()) return Usage("echosim trace needs --out DIR");
  if (command.empty()) return Usage("echosim trace needs the program to run after --");
  if (!iters.empty()) {
    long long s = -1, e = -1;
    char extra = 0;
    if (std::sscanf(iters.c_str(), "%lld:%lld%c", &s, &e, &extra) != 2 || s < 0 || e <= s) {
      return Usage(StrCat("--iters '", iters, "' must be START:END with 0 <= START < END"));
    }
  }
  std::optional<Layout> layout;
  if (tp || pp || dp) {
    Layout l;
    l.tp = tp.value_or(1);
    l.pp = pp.value_or(1);
    if (world % (l.tp * l.pp) != 0) {
      return Fail(InvalidArgument(StrCat("--tp ", l.tp, " x --pp ", l.pp,
                                         " does not divide --world-size ", world)));
    }
    l.dp = dp.value_or(world / (l.tp * l.pp));
    layout = l;
  }
  auto selected = SelectTracedRanks(world, ranks_spec, layout ? &*layout : nullptr);
  if (!selected.ok()) return Fail(selected.status());

  if (lib_dir.empty()) lib_dir = DefaultLibDir();
  const fs::path libs(lib_dir);
  const fs::path shim = libs / "libechosim_nccl.so";
  const fs::path injection = libs / "libechosim_cupti.so";
  std::error_code ec;
  if (!fs::exists(shim, ec)) {
    return Fail(NotFound(StrCat("NCCL shim not found at ", shim.string(),
                                "; build target echosim_nccl_shim or give --lib-dir")));
  }
  if (cupti && !fs::exists(injection, ec)) {
    return Fail(NotFound(StrCat("CUPTI library not found at ", injection.string(),
                                "; build target echosim_cupti, give --lib-dir, or use --no-cupti")));
  }
  const fs::path out(out_dir);
  const fs::path raw = out / "raw";
  fs::create_directories(raw, ec);
  if (ec) return Fail(InvalidArgument(StrCat("--out: cannot create '", raw.string(), "': ", ec.message())));

  for (const TracedRank& r : *selected) {
    for (const char* f : {"activity", "nccl"}) fs::remove(raw / StrCat(f, ".", r.rank, ".tsv"), ec);
    std::map<std::string, std::string> env = {
        {"WORLD_SIZE", std::to_string(world)},
        {"RANK", std::to_string(r.rank)},
        {"LOCAL_RANK", "0"},
        {"LOCAL_WORLD_SIZE", "1"},
        {"ECHOSIM_WORLD_SIZE", std::to_string(world)},
        {"ECHOSIM_RANK", std::to_string(r.rank)},
        {"ECHOSIM_TRACE_DIR", fs::absolute(raw, ec).string()},
        {"LD_PRELOAD", Prepend("LD_PRELOAD", fs::absolute(shim, ec).string())},
        {"LD_LIBRARY_PATH", Prepend("LD_LIBRARY_PATH", fs::absolute(libs / "nccl-shim", ec).string())},
    };
    if (cupti) env["CUDA_INJECTION64_PATH"] = fs::absolute(injection, ec).string();
    if (!iters.empty()) env["ECHOSIM_TRACE_ITERS"] = iters;
    if (std::getenv("MASTER_ADDR") == nullptr) env["MASTER_ADDR"] = "127.0.0.1";
    if (std::getenv("MASTER_PORT") == nullptr) env["MASTER_PORT"] = "29500";
    std::cout << "echosim trace: rank " << r.rank << " of " << world << " (stands for "
              << r.stands_for.size() << " rank" << (r.stands_for.size() == 1 ? "" : "s") << ")\n";
    auto rc = RunChild(command, env);
    if (!rc.ok()) return Fail(rc.status().WithContext(StrCat("rank ", r.rank)));
    if (*rc != 0) {
      return Fail(FailedPrecondition(StrCat("rank ", r.rank, ": '", command[0], "' exited with status ",
                                            *rc, "; its capture files are in ", raw.string())));
    }
  }
  AssembleOptions o;
  o.raw_dir = raw.string();
  o.out_dir = out.string();
  o.world_size = world;
  o.layout = layout ? &*layout : nullptr;
  o.command = command;
  o.activity.host_gaps = host_gaps;
  o.gpu = gpu.empty() ? DetectGpuPreset() : gpu;
  if (o.gpu.empty()) {
    std::cout << "echosim trace: GPU not recognised (nvidia-smi); no GPU recorded: give --gpu NAME, "
                 "or --trace-gpu NAME to echosim run --trace\n";
  }
  auto manifest = AssembleTraceSet(o, *selected);
  if (!manifest.ok()) return Fail(manifest.status());
  std::cout << "echosim trace: wrote " << manifest->traces.size() << " trace"
            << (manifest->traces.size() == 1 ? "" : "s") << " and manifest.json to " << out.string()
            << " (" << manifest->communicators.size() << " communicators)\n";
  return 0;
}

}  // namespace echosim
