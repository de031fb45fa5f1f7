// Command-line parsing of echosim-kernels (see cli_args.h).
#include "kernels/harness/cli_args.h"

#include <charconv>
#include <map>
#include <set>

#include "kernels/harness/calibration_yaml.h"
#include "simulator/core/strings.h"

namespace echosim::kernels {
namespace {

StatusOr<int64_t> ParseInt(const std::string& flag, const std::string& v, int64_t lo, int64_t hi) {
  int64_t x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size()) {
    return InvalidArgument(StrCat(flag, ": expected an integer, got '", v, "'"));
  }
  if (x < lo || x > hi) return InvalidArgument(StrCat(flag, ": must be in [", lo, ", ", hi, "], got ", x));
  return x;
}

StatusOr<std::vector<int64_t>> ParseIntList(const std::string& flag, const std::string& v, int64_t lo,
                                            int64_t hi) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= v.size()) {
    const size_t comma = v.find(',', start);
    const std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto x = ParseInt(flag, item, lo, hi);
    if (!x.ok()) return x.status();
    out.push_back(*x);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Flags each subcommand accepts (value-taking unless listed in kSwitches).
const std::map<std::string, std::set<std::string>>& AllowedFlags() {
  static const auto* m = new std::map<std::string, std::set<std::string>>{
      {"info", {"--json"}},
      {"measure", {"--ops", "--out", "--warmup", "--repeats", "--attention-kernel"}},
      {"calibrate", {"--gpu", "--out", "--quick", "--warmup", "--repeats", "--attention-kernel"}},
      {"interference", {"--out", "--blocks", "--protocol", "--warmup", "--repeats", "--attention-kernel"}},
      {"stage", {"--layers", "--hidden", "--heads", "--kv-heads", "--ffn", "--seq", "--micro-batch",
                 "--micro-batches", "--dtype", "--mlp", "--out", "--warmup", "--repeats", "--attention-kernel"}},
      {"decode", {"--hidden", "--heads", "--kv-heads", "--ffn", "--layers", "--batch-sizes", "--context",
                  "--dtype", "--out", "--warmup", "--repeats", "--attention-kernel"}},
  };
  return *m;
}
const std::set<std::string> kSwitches = {"--json", "--quick"};

}  // namespace

std::string UsageText() {
  return "usage: echosim-kernels <command> [flags]\n"
         "  info [--json]\n"
         "  measure --ops IN.jsonl --out OUT.jsonl [--warmup N] [--repeats N]\n"
         "  calibrate --gpu NAME --out FILE [--quick] [--warmup N] [--repeats N]\n"
         "  interference --out TABLE.csv [--blocks 1,2,4,8,16,32] [--protocol simple|ll]\n"
         "  stage --layers 4 --hidden H --heads A --kv-heads K --ffn F --seq S --micro-batch b\n"
         "        --micro-batches M [--dtype bf16] [--mlp swiglu|gelu] --out FILE.json\n"
         "  decode --hidden H --heads A --kv-heads K --ffn F --layers L --batch-sizes 1,2,4\n"
         "         --context START:END:STEP [--dtype bf16] --out FILE.json\n"
         "measure, calibrate, interference, stage, decode: [--attention-kernel scalar|tensor-core]\n"
         "exit codes: 0 ok, 2 bad input, 3 no CUDA device, 1 CUDA/runtime failure\n";
}

StatusOr<CliArgs> ParseCli(int argc, const char* const* argv) {
  CliArgs a;
  if (argc < 2) return InvalidArgument("missing command; valid choices: info, measure, calibrate, "
                                       "interference, stage, decode");
  const std::string cmd = argv[1];
  auto sub = ParseChoice<Subcommand>("command", cmd,
                                     {{"info", Subcommand::kInfo}, {"measure", Subcommand::kMeasure},
                                      {"calibrate", Subcommand::kCalibrate},
                                      {"interference", Subcommand::kInterference},
                                      {"stage", Subcommand::kStage}, {"decode", Subcommand::kDecode}});
  if (!sub.ok()) return sub.status();
  a.command = *sub;
  a.command_line = "echosim-kernels";
  for (int i = 1; i < argc; ++i) a.command_line += StrCat(" ", argv[i]);
  const std::set<std::string>& allowed = AllowedFlags().at(cmd);
  std::map<std::string, std::string> v;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (!allowed.count(flag)) {
      return InvalidArgument(StrCat(cmd, ": unknown flag '", flag, "'; valid flags: ",
                                    Join(allowed.begin(), allowed.end(), ", ")));
    }
    if (kSwitches.count(flag)) {
      v[flag] = "1";
      continue;
    }
    if (i + 1 >= argc) return InvalidArgument(StrCat(flag, ": missing value"));
    v[flag] = argv[++i];
  }
  auto need = [&](const char* flag) -> Status {
    if (!v.count(flag)) return InvalidArgument(StrCat(cmd, ": missing required flag ", flag));
    return Status::Ok();
  };
  auto int_flag = [&](const char* flag, int64_t lo, int64_t hi, int64_t* out) -> Status {
    if (!v.count(flag)) return Status::Ok();
    auto x = ParseInt(flag, v[flag], lo, hi);
    if (!x.ok()) return x.status();
    *out = *x;
    return Status::Ok();
  };
  // stage and decode time whole steps/iterations: fewer by default.
  const bool long_runs = a.command == Subcommand::kStage || a.command == Subcommand::kDecode;
  int64_t warmup = long_runs ? 2 : a.warmup, repeats = long_runs ? 5 : a.repeats;
  ECHOSIM_RETURN_IF_ERROR(int_flag("--warmup", 0, 1000, &warmup));
  ECHOSIM_RETURN_IF_ERROR(int_flag("--repeats", 1, 10000, &repeats));
  a.warmup = static_cast<int>(warmup);
  a.repeats = static_cast<int>(repeats);
  a.json = v.count("--json") > 0;
  if (v.count("--attention-kernel")) {
    auto t = ParseChoice<bool>("--attention-kernel", v["--attention-kernel"],
                               {{"scalar", false}, {"tensor-core", true}});
    if (!t.ok()) return t.status();
    a.tensor_core_attention = *t;
  }
  a.quick = v.count("--quick") > 0;
  if (v.count("--out")) a.out_path = v["--out"];

  switch (a.command) {
    case Subcommand::kInfo: break;
    case Subcommand::kMeasure:
      ECHOSIM_RETURN_IF_ERROR(need("--ops"));
      ECHOSIM_RETURN_IF_ERROR(need("--out"));
      a.ops_path = v["--ops"];
      break;
    case Subcommand::kCalibrate:
      ECHOSIM_RETURN_IF_ERROR(need("--gpu"));
      ECHOSIM_RETURN_IF_ERROR(need("--out"));
      a.gpu = v["--gpu"];
      break;
    case Subcommand::kInterference: {
      ECHOSIM_RETURN_IF_ERROR(need("--out"));
      if (v.count("--blocks")) {
        auto b = ParseIntList("--blocks", v["--blocks"], 1, 1024);
        if (!b.ok()) return b.status();
        a.blocks.assign(b->begin(), b->end());
      }
      if (v.count("--protocol")) {
        auto p = ParseChoice<bool>("--protocol", v["--protocol"], {{"simple", false}, {"ll", true}});
        if (!p.ok()) return p.status();
        a.ll_protocol = *p;
      }
      break;
    }
    case Subcommand::kStage:
    case Subcommand::kDecode: {
      const bool stage = a.command == Subcommand::kStage;
      for (const char* f : {"--hidden", "--heads", "--kv-heads", "--ffn", "--out"}) {
        ECHOSIM_RETURN_IF_ERROR(need(f));
      }
      LayerShape& s = a.layer;
      ECHOSIM_RETURN_IF_ERROR(int_flag("--hidden", 64, 65536, &s.hidden));
      ECHOSIM_RETURN_IF_ERROR(int_flag("--heads", 1, 1024, &s.heads));
      ECHOSIM_RETURN_IF_ERROR(int_flag("--kv-heads", 1, 1024, &s.kv_heads));
      ECHOSIM_RETURN_IF_ERROR(int_flag("--ffn", 8, 262144, &s.ffn));
      ECHOSIM_RETURN_IF_ERROR(int_flag("--layers", 1, 256, &a.layers));
      if (v.count("--dtype")) {
        auto d = ParseChoice<DataType>("--dtype", v["--dtype"], {{"bf16", DataType::kBf16}});
        if (!d.ok()) return d.status();
        s.dtype = *d;
      }
      if (v.count("--mlp")) {
        auto m = ParseChoice<MlpType>("--mlp", v["--mlp"], {{"swiglu", MlpType::kSwiglu}, {"gelu", MlpType::kGelu}});
        if (!m.ok()) return m.status();
        s.mlp = *m;
      }
      if (stage) {
        for (const char* f : {"--seq", "--micro-batch", "--micro-batches"}) ECHOSIM_RETURN_IF_ERROR(need(f));
        ECHOSIM_RETURN_IF_ERROR(int_flag("--seq", 1, 1 << 20, &s.seq));
        ECHOSIM_RETURN_IF_ERROR(int_flag("--micro-batch", 1, 4096, &s.micro_batch));
        ECHOSIM_RETURN_IF_ERROR(int_flag("--micro-batches", 1, 4096, &a.micro_batches));
      } else {
        for (const char* f : {"--layers", "--batch-sizes", "--context"}) ECHOSIM_RETURN_IF_ERROR(need(f));
        auto b = ParseIntList("--batch-sizes", v["--batch-sizes"], 1, 4096);
        if (!b.ok()) return b.status();
        a.batch_sizes = *b;
        const std::string& c = v["--context"];
        const size_t p1 = c.find(':'), p2 = p1 == std::string::npos ? p1 : c.find(':', p1 + 1);
        if (p2 == std::string::npos) {
          return InvalidArgument(StrCat("--context: expected START:END:STEP, got '", c, "'"));
        }
        auto s0 = ParseInt("--context START", c.substr(0, p1), 1, 1 << 22);
        auto s1 = ParseInt("--context END", c.substr(p1 + 1, p2 - p1 - 1), 1, 1 << 22);
        auto s2 = ParseInt("--context STEP", c.substr(p2 + 1), 1, 1 << 22);
        for (auto* r : {&s0, &s1, &s2}) {
          if (!r->ok()) return r->status();
        }
        if (*s1 < *s0) return InvalidArgument(StrCat("--context: END (", *s1, ") must be >= START (", *s0, ")"));
        a.ctx_start = *s0;
        a.ctx_end = *s1;
        a.ctx_step = *s2;
        s.seq = 1;
      }
      s.rope = true;
      ECHOSIM_RETURN_IF_ERROR(ValidateLayerShape(s));
      break;
    }
  }
  if (a.command == Subcommand::kCalibrate) ECHOSIM_RETURN_IF_ERROR(ValidateGpuName(a.gpu));
  return a;
}

}  // namespace echosim::kernels
