// Command-line parsing of `echosim-kernels`, complete before any CUDA call so bad input is
// reported (exit 2, naming the flag and the valid choices) on machines without a GPU.
//
//   echosim-kernels info [--json]
//   echosim-kernels measure --ops IN.jsonl --out OUT.jsonl [--warmup N] [--repeats N]
//   echosim-kernels calibrate --gpu NAME --out FILE [--quick] [--warmup N] [--repeats N]
//   echosim-kernels interference --out TABLE.csv [--blocks 1,2,4,8,16,32] [--protocol simple|ll]
//   echosim-kernels stage --layers 4 --hidden H --heads A --kv-heads K --ffn F --seq S
//       --micro-batch b --micro-batches M [--dtype bf16] [--mlp swiglu|gelu] --out FILE.json
//   echosim-kernels decode --hidden H --heads A --kv-heads K --ffn F --layers L
//       --batch-sizes 1,2,4 --context START:END:STEP [--dtype bf16] --out FILE.json
// measure, calibrate, interference, stage and decode also take
// --attention-kernel scalar|tensor-core (the flash attention kernels; default scalar).
#ifndef ECHOSIM_KERNELS_HARNESS_CLI_ARGS_H_
#define ECHOSIM_KERNELS_HARNESS_CLI_ARGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/harness/transformer_ops.h"
#include "simulator/core/status.h"

namespace echosim::kernels {

enum class Subcommand : uint8_t { kInfo, kMeasure, kCalibrate, kInterference, kStage, kDecode };

struct CliArgs {
  Subcommand command = Subcommand::kInfo;
  std::string command_line;  // as typed, for file headers
  bool json = false;         // info
  std::string ops_path, out_path, gpu;
  int warmup = 5, repeats = 30;
  bool quick = false;
  std::vector<int> blocks = {1, 2, 4, 8, 16, 32};
  bool ll_protocol = false;  // interference: the communication kernel's protocol
  bool tensor_core_attention = false;  // --attention-kernel tensor-core
  // stage / decode
  LayerShape layer;
  int64_t layers = 4, micro_batches = 1;
  std::vector<int64_t> batch_sizes;
  int64_t ctx_start = 0, ctx_end = 0, ctx_step = 0;
};

// argv[0] is the program; argv[1] the subcommand. Returns the parsed, validated arguments.
StatusOr<CliArgs> ParseCli(int argc, const char* const* argv);
std::string UsageText();

}  // namespace echosim::kernels

#endif  // ECHOSIM_KERNELS_HARNESS_CLI_ARGS_H_
