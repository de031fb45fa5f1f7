#include "hardware/kernel_harness.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "simulator/core/strings.h"

extern char** environ;

namespace echosim {
namespace {

std::string LastLines(const std::string& s, int n) {
  size_t pos = s.size();
  while (pos > 0 && (s[pos - 1] == '\n' || s[pos - 1] == '\r')) --pos;
  const size_t end = pos;
  for (int i = 0; i < n && pos > 0; ++i) {
    pos = s.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
  }
  std::string out = s.substr(pos, end - pos);
  while (!out.empty() && out[0] == '\n') out.erase(0, 1);
  return out;
}

bool IsExecutable(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && access(path.c_str(), X_OK) == 0;
}

}  // namespace

StatusOr<std::string> FindKernelHarness() {
  const char* how =
      "echosim-kernels is built into build/bin/ next to echosim when the CUDA toolkit (nvcc) is "
      "found: install it, then `cmake -S . -B build -G Ninja && ninja -C build echosim-kernels` "
      "(or set ECHOSIM_KERNELS to the harness's path)";
  if (const char* env = std::getenv("ECHOSIM_KERNELS"); env != nullptr && *env != '\0') {
    if (!IsExecutable(env)) {
      return FailedPrecondition(StrCat("ECHOSIM_KERNELS='", env, "' is not an executable file; ", how));
    }
    return std::string(env);
  }
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::string candidate = (self.parent_path() / "echosim-kernels").string();
    if (IsExecutable(candidate)) return candidate;
  }
  return FailedPrecondition(StrCat("the kernel harness echosim-kernels was not found (ECHOSIM_KERNELS is "
                                   "not set and there is none beside this binary); ", how));
}

StatusOr<HarnessRun> RunProcess(const std::string& harness, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) return Internal("cannot create a pipe to run the kernel harness");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::vector<std::string> argv_s;
  argv_s.push_back(harness);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, harness.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return Internal(StrCat("cannot run the kernel harness '", harness, "': ", std::strerror(rc)));
  }
  HarnessRun run;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) run.output.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    run.exit_code = WEXITSTATUS(status);
  } else {
    run.exit_code = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  return run;
}

Status RunHarness(const std::string& harness, const std::vector<std::string>& args) {
  ECHOSIM_ASSIGN_OR_RETURN(HarnessRun run, RunProcess(harness, args));
  if (run.exit_code == 0) return Status::Ok();
  const std::string cmd = StrCat(harness, " ", args.empty() ? "" : args[0]);
  if (run.exit_code == 3) {
    std::string msg = LastLines(run.output, 1);
    if (msg.find(kNoCudaDevice) == std::string::npos) msg = StrCat(kNoCudaDevice, ": ", msg);
    return FailedPrecondition(StrCat(msg, " (", cmd, " exited 3: this machine has no usable GPU)"));
  }
  if (run.exit_code == 2) {
    return InvalidArgument(StrCat(cmd, " rejected its input (exit 2): ", LastLines(run.output, 3)));
  }
  return Internal(StrCat(cmd, " failed (exit ", run.exit_code, "): ", LastLines(run.output, 5)));
}

StatusOr<HarnessDevice> HarnessInfo(const std::string& harness) {
  ECHOSIM_ASSIGN_OR_RETURN(HarnessRun run, RunProcess(harness, {"info", "--json"}));
  if (run.exit_code != 0) {
    ECHOSIM_RETURN_IF_ERROR(RunHarness(harness, {"info", "--json"}));
  }
  // The JSON object is the last non-empty line that parses (warnings may precede it).
  std::istringstream in(run.output);
  std::string line;
  nlohmann::json info;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '{') continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) info = std::move(j);
  }
  if (info.is_null()) {
    const nlohmann::json j = nlohmann::json::parse(run.output, nullptr, false);
    if (!j.is_discarded() && j.is_object()) info = j;
  }
  if (!info.is_object()) {
    return Internal(StrCat(harness, " info --json: output is not a JSON object: ", LastLines(run.output, 2)));
  }
  HarnessDevice d;
  for (const char* key : {"device", "name", "device_name"}) {
    auto it = info.find(key);
    if (it != info.end() && it->is_string()) {
      d.name = it->get<std::string>();
      break;
    }
  }
  if (d.name.empty()) {
    return Internal(StrCat(harness, " info --json: no device name (field 'device' or 'name') in its output"));
  }
  d.info = std::move(info);
  return d;
}

StatusOr<std::vector<MeasuredKernel>> ParseMeasuredJsonl(const std::string& text, const std::string& source) {
  std::vector<MeasuredKernel> out;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = StrCat(source, ":", lineno);
    ECHOSIM_ASSIGN_OR_RETURN(ComputeOp op, ComputeOpFromJson(line, where));
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    MeasuredKernel m;
    m.op = std::move(op);
    auto num = [&](const char* f, bool required, double* v) -> Status {
      auto it = j.find(f);
      if (it == j.end()) {
        return required ? InvalidArgument(StrCat(where, ": field '", f, "' is missing")) : Status::Ok();
      }
      if (!it->is_number()) return InvalidArgument(StrCat(where, ": field '", f, "' must be a number"));
      *v = it->get<double>();
      return Status::Ok();
    };
    ECHOSIM_RETURN_IF_ERROR(num("median_us", true, &m.median_us));
    ECHOSIM_RETURN_IF_ERROR(num("p10_us", false, &m.p10_us));
    ECHOSIM_RETURN_IF_ERROR(num("p90_us", false, &m.p90_us));
    if (!(m.median_us > 0) || !std::isfinite(m.median_us) || m.median_us > 1e12) {
      return InvalidArgument(StrCat(where, ": field 'median_us' must be a positive number"));
    }
    double repeats = 0;
    ECHOSIM_RETURN_IF_ERROR(num("repeats", false, &repeats));
    m.repeats = static_cast<int64_t>(repeats);
    if (auto it = j.find("kernel"); it != j.end() && it->is_string()) m.kernel = it->get<std::string>();
    out.push_back(std::move(m));
  }
  return out;
}

Status WriteOpsJsonl(const std::vector<ComputeOp>& ops, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return InvalidArgument(StrCat("cannot write '", path, "'"));
  for (const ComputeOp& op : ops) out << ComputeOpToJson(op) << "\n";
  if (!out) return Internal(StrCat("failed writing '", path, "'"));
  return Status::Ok();
}

std::string DefaultKernelCache() {
  std::filesystem::path base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    base = std::filesystem::path(h) / ".cache";
  } else {
    return "";
  }
  return (base / "echosim" / "kernel-times.jsonl").string();
}

namespace {

// An exclusive lock on `cache_file`.lock for the life of the object, so that echosim
// processes sharing a cache measure one at a time and each reads what the others cached.
// Best effort: without a lock file the cache still works, only shapes may be measured twice.
class CacheLock {
 public:
  explicit CacheLock(const std::string& cache_file) {
    if (cache_file.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(cache_file).parent_path(), ec);
    fd_ = open((cache_file + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return;
    while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~CacheLock() {
    if (fd_ >= 0) close(fd_);
  }
  CacheLock(const CacheLock&) = delete;
  CacheLock& operator=(const CacheLock&) = delete;

 private:
  int fd_ = -1;
};

// Appends `text` to `path` with one write on an O_APPEND descriptor (lines never interleave
// with another writer's).
void AppendWhole(const std::string& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
}

}  // namespace

StatusOr<MeasureResult> MeasureKernels(const std::vector<ComputeOp>& ops, const MeasureOptions& options) {
  // One measurement at a time in this process (plan search and sweeps run simulations on
  // threads): concurrent harnesses would share the GPU and skew each other's timings, and
  // would all miss the cache and measure (and append) the same shapes.
  static std::mutex measure_mu;
  std::lock_guard<std::mutex> lock(measure_mu);
  MeasureResult r;
  std::string harness = options.harness;
  if (harness.empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(harness, FindKernelHarness());
  }
  ECHOSIM_ASSIGN_OR_RETURN(HarnessDevice device, HarnessInfo(harness));
  r.times.device = device.name;

  // Distinct shapes, in request order.
  std::vector<const ComputeOp*> distinct;
  std::map<std::string, size_t> index;
  for (const ComputeOp& op : ops) {
    const std::string key = KernelShapeKey(op);
    if (index.emplace(key, distinct.size()).second) distinct.push_back(&op);
  }
  r.distinct = static_cast<int64_t>(distinct.size());
  std::vector<std::optional<MeasuredKernel>> found(distinct.size());

  // The cache: lines of other devices and unreadable lines are ignored (a cache, not input).
  r.cache_file = options.cache_file.empty() ? DefaultKernelCache() : options.cache_file;
  if (r.cache_file == "none") r.cache_file.clear();
  const CacheLock cache_lock(r.cache_file);
  if (!r.cache_file.empty()) {
    std::ifstream in(r.cache_file, std::ios::binary);
    std::string line;
    while (in && std::getline(in, line)) {
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;
      auto dev = j.find("device");
      auto key = j.find("key");
      auto med = j.find("median_us");
      auto op = j.find("op");
      if (dev == j.end() || key == j.end() || med == j.end() || op == j.end() || !dev->is_string() ||
          !key->is_string() || !med->is_number() || dev->get<std::string>() != device.name) {
        continue;
      }
      auto it = index.find(key->get<std::string>());
      if (it == index.end() || found[it->second]) continue;
      const double us = med->get<double>();
      if (!(us > 0) || !std::isfinite(us)) continue;
      MeasuredKernel m;
      m.op = *distinct[it->second];
      m.median_us = us;
      if (auto k = j.find("kernel"); k != j.end() && k->is_string()) m.kernel = k->get<std::string>();
      found[it->second] = std::move(m);
      ++r.from_cache;
    }
  }

  std::vector<ComputeOp> to_measure;
  std::vector<size_t> slots;
  for (size_t i = 0; i < distinct.size(); ++i) {
    if (!found[i]) {
      to_measure.push_back(*distinct[i]);
      slots.push_back(i);
    }
  }
  if (!to_measure.empty()) {
    static std::atomic<int64_t> counter{0};
    std::error_code ec;
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path(ec) / StrCat("echosim-kernels-", getpid(), "-", ++counter);
    std::filesystem::create_directories(dir, ec);
    if (ec) return Internal(StrCat("cannot create a temporary folder '", dir.string(), "': ", ec.message()));
    const std::string in_path = (dir / "ops.jsonl").string(), out_path = (dir / "measured.jsonl").string();
    ECHOSIM_RETURN_IF_ERROR(WriteOpsJsonl(to_measure, in_path));
    std::vector<std::string> args = {"measure", "--ops", in_path, "--out", out_path};
    if (options.warmup > 0) args.insert(args.end(), {"--warmup", std::to_string(options.warmup)});
    if (options.repeats > 0) args.insert(args.end(), {"--repeats", std::to_string(options.repeats)});
    Status st = RunHarness(harness, args);
    std::string text;
    if (st.ok()) {
      std::ifstream in(out_path, std::ios::binary);
      if (!in) st = Internal(StrCat(harness, " measure wrote no output file"));
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
    std::filesystem::remove_all(dir, ec);
    ECHOSIM_RETURN_IF_ERROR(st);
    auto parsed = ParseMeasuredJsonl(text, "echosim-kernels measure output");
    if (!parsed.ok()) return Internal(StrCat("malformed harness output: ", parsed.status().message()));
    std::map<std::string, MeasuredKernel> by_key;
    for (MeasuredKernel& m : *parsed) by_key.emplace(KernelShapeKey(m.op), std::move(m));
    for (size_t j = 0; j < to_measure.size(); ++j) {
      auto it = by_key.find(KernelShapeKey(to_measure[j]));
      if (it == by_key.end()) {
        return Internal(StrCat("malformed harness output: echosim-kernels measure output has no line for op ",
                               j + 1, " of its input (", ComputeOpToJson(to_measure[j]), ")"));
      }
      MeasuredKernel m = it->second;
      m.op = to_measure[j];
      found[slots[j]] = std::move(m);
    }
    r.measured = static_cast<int64_t>(to_measure.size());
    if (!r.cache_file.empty()) {
      std::string lines;
      for (size_t slot : slots) {
        const MeasuredKernel& m = *found[slot];
        nlohmann::json j = {{"device", device.name},      {"key", KernelShapeKey(m.op)},
                            {"median_us", m.median_us},   {"p10_us", m.p10_us},
                            {"p90_us", m.p90_us},         {"kernel", m.kernel},
                            {"op", nlohmann::json::parse(ComputeOpToJson(m.op))}};
        lines += j.dump() + "\n";
      }
      AppendWhole(r.cache_file, lines);
    }
  }
  for (size_t i = 0; i < distinct.size(); ++i) {
    r.times.seconds.emplace(KernelShapeKey(found[i]->op), found[i]->median_us * 1e-6);
    r.kernels.push_back(std::move(*found[i]));
  }
  return r;
}

}  // namespace echosim
