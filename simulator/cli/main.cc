// The `echosim` command.
//
//   echosim train [flags]                     predict one training iteration from flags
//   echosim run SCENARIO.yaml [--set k=v]...  run a scenario file
//   echosim list models|gpus|schedules        what is built in
//   echosim validate [--published] [--data-dir DIR] [--json] [--markdown FILE [--plots-dir DIR]]
//                    [--scenarios DIR]
//                                             predicted vs measured on published tables
//   echosim search [flags]                    rank the parallel plans of a training job
//   echosim serve [flags] | SCENARIO.yaml     simulate an LLM serving cluster (serve_cmd.cc)
//   echosim serve-search [flags]              cheapest serving cluster meeting SLOs
//   echosim validate-serving [--data-dir DIR] serving predictions vs measured vLLM results
//
// Exit codes: 0 success, 2 usage or input error (the message names the flag, field or
// line and the valid choices), 1 any other failure.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hardware/gpu_spec.h"
#include "models/model_spec.h"
#include "policies/pipeline_schedule.h"
#include "simulator/core/strings.h"
#include "simulator/scenario/simulation.h"
#include "simulator/scenario/trace_workload.h"
#include "simulator/scenario/yaml_proto.h"
#include "simulator/training/timeline.h"
#include "simulator/cli/commands.h"
#include "simulator/validation/accuracy_page.h"
#include "simulator/validation/published.h"

namespace echosim {

constexpr const char* kUsage = R"(usage:
  echosim train --model NAME --gpu NAME --gpus N --global-batch B [options]
  echosim run SCENARIO.yaml [--set dotted.key=value ...] [--out DIR] [--json] [--timeline FILE] [--full]
                   [--compute-backend model|gpu] [--kernel-calibration FILE] [--kernel-cache FILE]
  echosim list models|gpus|schedules
  echosim validate [--published] [--data-dir DIR] [--json] [--threads N]
                   [--markdown FILE [--plots-dir DIR]]   (docs/accuracy.md: --markdown docs/accuracy.md --plots-dir docs/accuracy)
                   [--scenarios DIR]   write each simulated row as DIR/<source>-line<N>.yaml for echosim run
  echosim validate --on-gpu [--calibration FILE] [--gpu NAME] [--report FILE.md] [--json] [--quick]
                                           predictions vs kernels run on the local GPU (echosim-kernels)
  echosim calibrate-interference TABLE.csv [--out FILE]   fit compute/comm interference
  echosim search --model NAME --gpu NAME --gpus N --global-batch B [options]  (see echosim search --help)
  echosim serve --model NAME --gpu NAME --tp N --replicas R --workload SPEC [options]  (see echosim serve --help)
  echosim serve-search --model NAME --workload SPEC --slo-ttft-ms X --slo-tpot-ms Y [options]
  echosim validate-serving [--data-dir DIR] [--json]
  echosim collective --op OP --gpu NAME --gpus N [--sizes 1K:16G] [--json]  (see echosim collective --help)
  echosim calibrate nccl-tests|vidur|measured ... --out FILE  (see echosim calibrate --help)
  echosim validate-collectives [--data-dir DIR] [--json]
  echosim trace --world-size N --ranks auto|R1,R2,... --out DIR -- COMMAND...  (see echosim trace --help)
  echosim import chakra|kineto PATH... [--json] [--timeline FILE] [--out DIR]
  echosim run-trace DIR|PREFIX|FILE [--world-size N] [--json] [--timeline FILE]  (see --help)
  echosim run [SCENARIO.yaml] --trace DIR [--trace-gpu NAME] [--set k=v ...] [--out DIR] [--json]
                                           a traced / imported / exported step on the scenario's
                                           cluster (workload.trace.dir, workload.trace.gpu)

train options (each sets the scenario field in parentheses):
  --model NAME            preset or 'custom' (workload.training.model)
  --layers L --hidden H --heads A --ffn F --vocab V --kv-heads K --experts E --top-k K
  --head-dim D            attention head dimension when not hidden/heads (Qwen3: 128)
  --sliding-window W --full-attention-every N
                          banded attention over W tokens, every N-th layer full (gpt-oss: 128, 2)
  --qk-norm               RMSNorm on each query and key head (Qwen3's QK-norm)
                          model shape; override a preset's fields (workload.training.shape.*)
  --gpu NAME              GPU preset (cluster.gpu)
  --gpus N                total GPUs (cluster.gpus)
  --gpus-per-node N       default 8 (cluster.gpus_per_node)
  --tp N --pp N --vpp N --cp N --ep N --dp N
                          parallel plan; dp defaults to gpus/(tp*pp*cp) (parallelism.*)
  --micro-batch N         sequences per micro-batch, default 1 (workload.training.micro_batch_seqs)
  --global-batch N        sequences per iteration (workload.training.global_batch_seqs)
  --seq-len N             tokens per sequence, default: the model's (workload.training.seq_len_tokens)
  --dtype bf16|fp16|fp8|fp4  (workload.training.dtype; fp4 = NVFP4 GEMMs, Blackwell)
  --attention flash|unfused (workload.training.attention)
  --fp8-attention         flash attention matmuls in fp8, needs --dtype fp8, at cuDNN's measured
                          fp8 speed-up for the GPU (about 1.2-1.7x forward, 0.9-1.8x backward;
                          workload.training.fp8_attention)
  --fp8-recipe delayed|current|mxfp8  how fp8 scales tensors, needs --dtype fp8; default delayed;
                          mxfp8 needs a Blackwell GPU (workload.training.fp8_recipe)
  --mtp-bf16              the MTP depths' GEMMs in bf16 under fp8 / fp4 (workload.training.mtp_bf16)
  --bf16-layers-at-start N, --bf16-layers-at-end N  layers kept in bf16 under fp8 / fp4, from the
                          first / last layer (workload.training.bf16_layers_at_start / _at_end)
  --lora-rank N           LoRA fine-tuning: base weights frozen, bf16 adapters of rank N train
                          (workload.training.lora_rank; 0 = full training)
  --lora-modules LIST     comma-separated layers given an adapter (with --lora-rank), qkv, proj,
                          fc1, fc2 (default all four; workload.training.lora_modules)
  --packed-sample-tokens N  packed sequences: samples of N tokens attend only within themselves
                          (THD; workload.training.packed_sample_tokens; 0 = whole sequences)
  --zero 0|1|2|3          ZeRO stage / distributed optimizer (parallelism.zero)
  --recompute none|selective|full (parallelism.recompute)
  --recompute-modules LIST  with --recompute selective: comma-separated modules re-run in the
                          backward, core_attn (default), layernorm, moe_act, mlp, moe
                          (parallelism.recompute_modules, as Megatron-Core --recompute-modules)
  --sequence-parallel     (parallelism.sequence_parallel)
  --schedule NAME         1f1b|interleaved_1f1b|gpipe (parallelism.pipeline_schedule)
  --no-overlap-grad-reduce  reduce gradients after the backward pass (parallelism.overlap_grad_reduce)
  --overlap-param-gather  hide ZeRO parameter all-gather (parallelism.overlap_param_gather)
  --grad-reduce-in-fp32   fp32 gradients in memory and in the DP reduction, as Megatron-LM
                          runs bf16 (default 16-bit; parallelism.grad_reduce_in_fp32)
  --fp8-param-gather      with --dtype fp8: weights kept in fp8 only, gathered in fp8
                          (parallelism.fp8_param_gather)
  --cpu-offload-layers N  activations of N layers kept in host memory (pp 1; memory only, the
                          copies' time not simulated; parallelism.cpu_offload_layers)
  --pipeline-layout S     layers per virtual stage, Megatron-Core's layout string: 'E' embedding,
                          't' layer, 'm' MTP layer, 'L' loss, '|' next stage, "X*N" repeats
                          (DeepSeek-V3: 'Et*4|(t*4|)*14tmL'; parallelism.pipeline_layout)
  --optimizer NAME        adam (default) | muon: Newton-Schulz orthogonalisation of every layer
                          matrix each step, one momentum buffer (workload.training.optimizer)
  --optimizer-moments T   fp32 (default) | bf16: the optimizer's moments in bf16, master weights
                          fp32 (Megatron-Core precision-aware optimizer with bf16 exp_avg /
                          exp_avg_sq; workload.training.optimizer_moments)
  --moe-dispatcher NAME   alltoall (default: one copy per routed expert) | flex (DeepEP / HybridEP:
                          one copy per destination GPU, per NVLink domain across domains;
                          parallelism.moe_dispatcher)
  --flex-sms N            with --moe-dispatcher flex: SMs its dispatch / combine kernels hold, taken
                          from compute kernels that overlap them (default 32, as NeMo's performance
                          recipes; parallelism.flex_dispatcher_sms)
  --moe-grouped-gemm NAME multi_stream (default: one GEMM per local expert over 4 streams, as
                          Transformer Engine's GroupedLinear) | single_kernel (one grouped-GEMM
                          kernel over all local experts; parallelism.moe_grouped_gemm)
  --moe-load-imbalance X  MoE: the busiest EP rank's routed tokens over the mean, 1 to ep; that
                          rank's expert work and all-to-all bytes set each MoE layer's time
                          (default: uniformly random routing's expected busiest rank, as
                          Megatron-Core's moe_router_force_load_balancing;
                          workload.training.moe_load_imbalance)
  --moe-fused-mlp         the expert MLP as Transformer Engine's fused grouped MLP (MXFP8 on
                          Blackwell): one kernel per grouped GEMM, the activation, probability
                          scale, quantisations and expert biases in the GEMM epilogues
                          (parallelism.moe_fused_mlp)
  --tp-comm-overlap       overlap TP all-gather/reduce-scatter with GEMMs (parallelism.tp_comm_overlap)
  --ep-comm-overlap       MoE: interleave each backward with the next forward so expert
                          all-to-alls overlap compute (parallelism.ep_comm_overlap)
  --expert-tp N           expert tensor parallel size, 1 or tp (default tp); 1 with tp > 1 lets
                          ep span the TP ranks (MoE parallel folding) (parallelism.expert_tp)
  --account-for-embedding-in-pipeline-split  --account-for-loss-in-pipeline-split
                          the embedding / loss count as a layer of the first / last virtual
                          stage (Megatron-LM; parallelism.account_for_{embedding,loss}_in_pipeline_split)
  --nic-gbps X            per-GPU NIC bandwidth, Gbit/s per direction (cluster.network.nic_gbps)
  --nvlink-gbps X         per-GPU NVLink bandwidth, Gbit/s per direction (cluster.network.nvlink_gbps)
  --host-overhead-ms X    fixed host time per step (simulation.host_overhead_per_step_ms)
  --host-launch-us X      host (CPU) time per kernel launch: a host thread issues the kernels
                          and the GPU idles where it falls behind or synchronises; default: the
                          GPU preset's (h100-sxm, b200, b300, gb200, gb300 90.5, others 0); 0: not simulated
                          (simulation.host_launch_us)
  --host-loop-launch-us X host time per kernel a C++ loop launches inside one framework call
                          (the per-expert GEMMs and quantisations of a grouped GEMM); default:
                          the GPU preset's (30 where the host model is on)
                          (simulation.host_loop_launch_us)
  --cuda-graph-scope LIST comma-separated parts captured in CUDA graphs, one launch each: attn,
                          mlp, moe, moe_router, moe_preprocess, mamba, full_iteration
                          (parallelism.cuda_graph_scope, as Megatron-Core --cuda-graph-scope)
  --flex-traffic-factor X with --moe-dispatcher flex: its bytes inside one NVLink domain priced as
                          X times NCCL all_to_all bytes, in (0, 2]; 0 or unset: the calibration's
                          (1; simulation.flex_dispatch_traffic_factor)
  --full                  simulate every rank instead of one per pipeline stage (simulation.full)
  --oversubscription X    fabric leaf downlink:uplink ratio, default 1 (cluster.network.oversubscription)
  --no-interference       compute and communication kernels do not slow each other (simulation.interference)
  --no-contention         transfers do not share NIC/fabric bandwidth (simulation.contention)
  --compute-backend model|gpu  kernel durations from the cost model, or measured on the local GPU
                          by echosim-kernels (simulation.compute_backend)
  --kernel-calibration FILE  kernel calibration (kind: kernel_calibration) for the cost model;
                          'none': datasheet roofline (simulation.kernel_calibration)
  --kernel-cache FILE     measured kernel times cache for --compute-backend gpu; 'none': no
                          cache (simulation.kernel_cache)
  --set KEY=VALUE         any scenario field by dotted name
common output options:
  --json                  print one JSON object instead of the table
  --timeline FILE         write the Chrome/Perfetto timeline to FILE
  --out DIR               write summary.json, timeline.json and scenario.resolved.yaml to DIR
  --export-chakra DIR     write the simulated step as Chakra ET (prefix trace, one file per pipeline
                          stage and manifest.json; every rank with --full)
  --kineto DIR            write the timeline as Kineto-layout JSON, DIR/rank<r>.json per simulated rank
)";

namespace {

int Usage(const std::string& msg) { return UsageError(msg, kUsage); }

struct OutputOptions {
  bool json = false;
  std::string timeline_file;
  std::string out_dir;
  std::string export_chakra_dir;
  std::string kineto_dir;
};

Status WriteFile(const std::filesystem::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return InvalidArgument(StrCat("cannot write '", path.string(), "'"));
  out << data;
  if (!out) return Internal(StrCat("failed writing '", path.string(), "'"));
  return Status::Ok();
}

int RunAndReport(scenario::Scenario sc, const OutputOptions& o) {
  auto run = RunTrainingScenario(std::move(sc));
  if (!run.ok()) return Fail(run.status());
  const nlohmann::json summary = SummaryJson(*run);
  if (o.json) {
    std::cout << summary.dump(2) << "\n";
  } else {
    std::cout << SummaryTable(*run);
  }
  auto timeline = [&]() {
    std::ostringstream os;
    WriteChromeTrace(run->result, run->setup.plan, os);
    return os.str();
  };
  if (!o.timeline_file.empty()) {
    Status st = WriteFile(o.timeline_file, timeline());
    if (!st.ok()) return Fail(st);
  }
  if (!o.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.out_dir, ec);
    if (ec) return Fail(InvalidArgument(StrCat("--out: cannot create '", o.out_dir, "': ", ec.message())));
    const std::filesystem::path dir(o.out_dir);
    Status st = WriteFile(dir / "summary.json", summary.dump(2) + "\n");
    if (st.ok()) st = WriteFile(dir / "scenario.resolved.yaml", ProtoToYaml(run->resolved));
    if (st.ok() && run->resolved.output().timeline()) st = WriteFile(dir / "timeline.json", timeline());
    if (!st.ok()) return Fail(st);
    if (!o.json) std::cout << "  wrote " << (dir / "summary.json").string() << ", timeline.json, scenario.resolved.yaml\n";
  }
  if (!o.export_chakra_dir.empty()) {
    auto m = ExportTrainingChakra(*run, o.export_chakra_dir, run->setup.full);
    if (!m.ok()) return Fail(m.status().WithContext("--export-chakra"));
    if (!o.json) std::cout << "  wrote " << m->traces.size() << " Chakra ET file(s) and manifest.json to " << o.export_chakra_dir << "\n";
  }
  if (!o.kineto_dir.empty()) {
    Status st = WriteTrainingKineto(*run, o.kineto_dir);
    if (!st.ok()) return Fail(st.WithContext("--kineto"));
    if (!o.json) std::cout << "  wrote Kineto JSON of " << run->result.tracks.size() << " rank(s) to " << o.kineto_dir << "\n";
  }
  return 0;
}

// Flag table: flag -> (scenario dotted key, takes a value).
struct FlagSpec {
  const char* key;
  bool takes_value;
};
const std::map<std::string, FlagSpec>& TrainFlags() {
  static const std::map<std::string, FlagSpec> flags = {
      {"--model", {"workload.training.model", true}},
      {"--layers", {"workload.training.shape.layers", true}},
      {"--hidden", {"workload.training.shape.hidden", true}},
      {"--heads", {"workload.training.shape.heads", true}},
      {"--ffn", {"workload.training.shape.ffn_hidden", true}},
      {"--vocab", {"workload.training.shape.vocab", true}},
      {"--kv-heads", {"workload.training.shape.kv_heads", true}},
      {"--head-dim", {"workload.training.shape.head_dim", true}},
      {"--sliding-window", {"workload.training.shape.sliding_window_tokens", true}},
      {"--qk-norm", {"workload.training.shape.qk_norm", false}},
      {"--full-attention-every", {"workload.training.shape.full_attention_every", true}},
      {"--experts", {"workload.training.shape.experts", true}},
      {"--top-k", {"workload.training.shape.top_k", true}},
      {"--gpu", {"cluster.gpu", true}},
      {"--gpus", {"cluster.gpus", true}},
      {"--gpus-per-node", {"cluster.gpus_per_node", true}},
      {"--tp", {"parallelism.tp", true}},
      {"--pp", {"parallelism.pp", true}},
      {"--vpp", {"parallelism.vpp", true}},
      {"--cp", {"parallelism.cp", true}},
      {"--ep", {"parallelism.ep", true}},
      {"--dp", {"parallelism.dp", true}},
      {"--micro-batch", {"workload.training.micro_batch_seqs", true}},
      {"--global-batch", {"workload.training.global_batch_seqs", true}},
      {"--seq-len", {"workload.training.seq_len_tokens", true}},
      {"--dtype", {"workload.training.dtype", true}},
      {"--attention", {"workload.training.attention", true}},
      {"--zero", {"parallelism.zero", true}},
      {"--recompute", {"parallelism.recompute", true}},
      {"--recompute-modules", {"parallelism.recompute_modules", true}},
      {"--sequence-parallel", {"parallelism.sequence_parallel", false}},
      {"--schedule", {"parallelism.pipeline_schedule", true}},
      {"--no-overlap-grad-reduce", {"parallelism.overlap_grad_reduce", false}},
      {"--overlap-param-gather", {"parallelism.overlap_param_gather", false}},
      {"--grad-reduce-in-fp32", {"parallelism.grad_reduce_in_fp32", false}},
      {"--fp8-param-gather", {"parallelism.fp8_param_gather", false}},
      {"--cpu-offload-layers", {"parallelism.cpu_offload_layers", true}},
      {"--pipeline-layout", {"parallelism.pipeline_layout", true}},
      {"--optimizer", {"workload.training.optimizer", true}},
      {"--optimizer-moments", {"workload.training.optimizer_moments", true}},
      {"--moe-dispatcher", {"parallelism.moe_dispatcher", true}},
      {"--flex-sms", {"parallelism.flex_dispatcher_sms", true}},
      {"--moe-grouped-gemm", {"parallelism.moe_grouped_gemm", true}},
      {"--moe-fused-mlp", {"parallelism.moe_fused_mlp", false}},
      {"--moe-load-imbalance", {"workload.training.moe_load_imbalance", true}},
      {"--fp8-recipe", {"workload.training.fp8_recipe", true}},
      {"--nic-gbps", {"cluster.network.nic_gbps", true}},
      {"--nvlink-gbps", {"cluster.network.nvlink_gbps", true}},
      {"--host-overhead-ms", {"simulation.host_overhead_per_step_ms", true}},
      {"--host-launch-us", {"simulation.host_launch_us", true}},
      {"--host-loop-launch-us", {"simulation.host_loop_launch_us", true}},
      {"--cuda-graph-scope", {"parallelism.cuda_graph_scope", true}},
      {"--flex-traffic-factor", {"simulation.flex_dispatch_traffic_factor", true}},
      {"--full", {"simulation.full", false}},
      {"--oversubscription", {"cluster.network.oversubscription", true}},
      {"--no-interference", {"simulation.interference", false}},
      {"--no-contention", {"simulation.contention", false}},
      {"--tp-comm-overlap", {"parallelism.tp_comm_overlap", false}},
      {"--ep-comm-overlap", {"parallelism.ep_comm_overlap", false}},
      {"--expert-tp", {"parallelism.expert_tp", true}},
      {"--fp8-attention", {"workload.training.fp8_attention", false}},
      {"--mtp-bf16", {"workload.training.mtp_bf16", false}},
      {"--lora-rank", {"workload.training.lora_rank", true}},
      {"--lora-modules", {"workload.training.lora_modules", true}},
      {"--packed-sample-tokens", {"workload.training.packed_sample_tokens", true}},
      {"--bf16-layers-at-start", {"workload.training.bf16_layers_at_start", true}},
      {"--bf16-layers-at-end", {"workload.training.bf16_layers_at_end", true}},
      {"--account-for-embedding-in-pipeline-split",
       {"parallelism.account_for_embedding_in_pipeline_split", false}},
      {"--account-for-loss-in-pipeline-split", {"parallelism.account_for_loss_in_pipeline_split", false}},
      {"--compute-backend", {"simulation.compute_backend", true}},
      {"--kernel-calibration", {"simulation.kernel_calibration", true}},
      {"--kernel-cache", {"simulation.kernel_cache", true}},
  };
  return flags;
}

// Parses output options and --set; returns false (with *rc set) on a usage error.
// `other` receives flags it does not know.
bool ParseCommon(const std::vector<std::string>& args, size_t& i, OutputOptions* o,
                 std::vector<std::string>* sets, int* rc) {
  const std::string& a = args[i];
  auto value = [&](std::string* out) {
    if (i + 1 >= args.size()) {
      *rc = Usage(StrCat(a, " needs a value"));
      return false;
    }
    *out = args[++i];
    return true;
  };
  if (a == "--json") {
    o->json = true;
    return true;
  }
  if (a == "--timeline") return value(&o->timeline_file);
  if (a == "--out") return value(&o->out_dir);
  if (a == "--export-chakra") return value(&o->export_chakra_dir);
  if (a == "--kineto") return value(&o->kineto_dir);
  if (a == "--set") {
    std::string s;
    if (!value(&s)) return false;
    sets->push_back(s);
    return true;
  }
  *rc = -1;  // not a common flag
  return false;
}

}  // namespace

int CmdTrain(const std::vector<std::string>& args) {
  scenario::Scenario sc;
  OutputOptions o;
  std::vector<std::string> sets;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    int rc = 0;
    if (ParseCommon(args, i, &o, &sets, &rc)) continue;
    if (rc != -1) return rc;
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    }
    auto it = TrainFlags().find(a);
    if (it == TrainFlags().end()) {
      return Usage(StrCat("unknown option '", a, "' for 'echosim train'"));
    }
    std::string assignment = std::string(it->second.key) + "=";
    if (it->second.takes_value) {
      if (i + 1 >= args.size()) return Usage(StrCat(a, " needs a value"));
      // A list flag takes comma-separated names: the field is a YAML sequence.
      const bool list = a == "--recompute-modules" || a == "--cuda-graph-scope" || a == "--lora-modules";
      assignment += list ? "[" + args[++i] + "]" : args[++i];
    } else {
      assignment += a.rfind("--no-", 0) == 0 ? "false" : "true";
    }
    Status st = ApplyOverride(assignment, &sc);
    if (!st.ok()) {
      // Name the flag the user typed rather than the override it became.
      std::string msg = st.message();
      const std::string prefix = "--set " + assignment + ": ";
      if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
      return Fail(InvalidArgument(StrCat(a, ": ", msg)));
    }
  }
  for (const std::string& s : sets) {
    Status st = ApplyOverride(s, &sc);
    if (!st.ok()) return Fail(st);
  }
  return RunAndReport(std::move(sc), o);
}

int CmdRun(const std::vector<std::string>& args) {
  OutputOptions o;
  std::vector<std::string> sets;
  std::string path, trace_dir, trace_gpu;
  bool full = false;
  for (size_t i = 0; i < args.size(); ++i) {
    int rc = 0;
    if (ParseCommon(args, i, &o, &sets, &rc)) continue;
    if (rc != -1) return rc;
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (args[i] == "--full") {
      full = true;
    } else if (args[i] == "--trace" || args[i] == "--trace-gpu") {
      if (i + 1 >= args.size()) return Usage(StrCat(args[i], " needs a value"));
      (args[i] == "--trace" ? trace_dir : trace_gpu) = args[i + 1];
      ++i;
    } else if (args[i] == "--compute-backend" || args[i] == "--kernel-calibration" ||
               args[i] == "--kernel-cache") {
      if (i + 1 >= args.size()) return Usage(StrCat(args[i], " needs a value"));
      sets.push_back(StrCat(TrainFlags().at(args[i]).key, "=", args[i + 1]));
      ++i;
    } else if (!args[i].empty() && args[i][0] == '-') {
      return Usage(StrCat("unknown option '", args[i], "' for 'echosim run'"));
    } else if (path.empty()) {
      path = args[i];
    } else {
      return Usage(StrCat("unexpected argument '", args[i], "': one scenario file per run"));
    }
  }
  if (!trace_gpu.empty() && trace_dir.empty() && path.empty()) return Usage("--trace-gpu needs --trace DIR");
  if (path.empty() && trace_dir.empty()) return Usage("echosim run needs a scenario file (or --trace DIR)");
  auto sc = path.empty() ? StatusOr<scenario::Scenario>(scenario::Scenario()) : LoadScenarioFile(path);
  if (!sc.ok()) return Fail(sc.status());
  if (!trace_dir.empty() || !trace_gpu.empty() || sc->workload().has_trace()) {
    if (!trace_dir.empty()) sc->mutable_workload()->mutable_trace()->set_dir(trace_dir);
    if (!sc->workload().has_trace()) return Usage("--trace-gpu needs --trace DIR");
    if (!trace_gpu.empty()) sc->mutable_workload()->mutable_trace()->set_gpu(trace_gpu);
    for (const std::string& s : sets) {
      Status st = ApplyOverride(s, &*sc);
      if (!st.ok()) return Fail(st);
    }
    if (full) return Usage("--full: a trace workload simulates one rank per trace; export with --full instead");
    if (!o.export_chakra_dir.empty()) return Usage("--export-chakra applies to training scenarios; a trace is already one");
    return RunTraceScenarioAndReport(std::move(*sc), o.json, o.timeline_file, o.out_dir, o.kineto_dir);
  }
  if (sc->workload().has_serving()) return CmdServe(args);  // a serving scenario
  for (const std::string& s : sets) {
    Status st = ApplyOverride(s, &*sc);
    if (!st.ok()) return Fail(st);
  }
  if (full) sc->mutable_simulation()->set_full(true);
  return RunAndReport(std::move(*sc), o);
}

int CmdList(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("echosim list needs one of: models, gpus, schedules");
  const std::string& what = args[0];
  if (what == "models") {
    std::cout << "model            layers  hidden  heads  kv  hd   ffn     vocab   experts  params\n";
    for (const std::string& n : ModelPresetNames()) {
      auto m = FindModelPreset(n);
      if (!m.ok()) return Fail(m.status());
      char line[256];
      std::snprintf(line, sizeof(line), "%-16s %6lld  %6lld  %5lld  %3lld %4lld %6lld  %6lld  %7lld  %.3gB\n",
                    n.c_str(), (long long)m->layers, (long long)m->hidden, (long long)m->heads,
                    (long long)m->kv_heads, (long long)m->head_dim(), (long long)m->ffn_hidden, (long long)m->vocab,
                    (long long)m->experts, m->TotalParams() / 1e9);
      std::cout << line;
    }
    std::cout << "custom           (give --layers --hidden --heads --vocab [--ffn --kv-heads --head-dim --experts --top-k])\n";
    return 0;
  }
  if (what == "gpus") {
    std::cout << "gpu         bf16 TFLOP/s  fp8 TFLOP/s  fp4 TFLOP/s  HBM GB  HBM TB/s  NVLink Gbit/s  NIC Gbit/s\n";
    for (const std::string& n : GpuPresetNames()) {
      auto g = FindGpuPreset(n);
      if (!g.ok()) return Fail(g.status());
      char line[256];
      std::snprintf(line, sizeof(line), "%-11s %12.0f  %11.0f  %11.0f  %6.0f  %8.3g  %13.0f  %10.0f\n",
                    n.c_str(), g->peak_tflops_bf16, g->peak_tflops_fp8, g->peak_tflops_fp4, g->hbm_capacity_gb,
                    g->hbm_tbps, g->nvlink_gbps, g->nic_gbps);
      std::cout << line;
    }
    return 0;
  }
  if (what == "schedules") {
    for (const PipelineSchedule* s : PipelineSchedules()) {
      std::printf("%-17s %s\n", s->name(), s->description());
    }
    return 0;
  }
  return Usage(StrCat("echosim list: unknown item '", what, "'; valid: models, gpus, schedules"));
}

int CmdValidate(const std::vector<std::string>& args) {
  if (std::find(args.begin(), args.end(), "--on-gpu") != args.end()) {
    std::vector<std::string> rest;
    for (const std::string& a : args) {
      if (a != "--on-gpu") rest.push_back(a);
    }
    return CmdValidateOnGpu(rest);  // validate_gpu_cmd.cc
  }
  ValidationOptions opts;
  bool json = false;
  std::string markdown, plots_dir;
  // The command line as the accuracy page prints it (how to regenerate the page).
  std::string page_command = "build/bin/echosim validate";
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--published") continue;
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--data-dir" || args[i] == "--markdown" || args[i] == "--plots-dir" ||
               args[i] == "--threads" || args[i] == "--scenarios") {
      if (i + 1 >= args.size()) return Usage(StrCat(args[i], " needs a value"));
      const std::string flag = args[i], value = args[++i];
      if (flag == "--threads") {
        char* end = nullptr;
        const long n = std::strtol(value.c_str(), &end, 10);
        if (end == value.c_str() || *end != '\0' || n < 1 || n > 1024) {
          return Usage(StrCat("--threads: expected an integer in [1, 1024], got '", value, "'"));
        }
        opts.threads = static_cast<int>(n);
        continue;
      }
      if (flag == "--scenarios") {
        opts.scenarios_dir = value;
        continue;
      }
      if (flag == "--data-dir") opts.data_dir = value;
      if (flag == "--markdown") markdown = value;
      if (flag == "--plots-dir") plots_dir = value;
      page_command += StrCat(" ", flag, " ", value);
    } else {
      return Usage(StrCat("unknown option '", args[i], "' for 'echosim validate'"));
    }
  }
  if (!plots_dir.empty() && markdown.empty()) return Usage("--plots-dir needs --markdown FILE");
  if (opts.data_dir.empty()) {
    for (const char* candidate : {"../shared/data/measured", "shared/data/measured"}) {
      if (std::filesystem::exists(candidate)) {
        opts.data_dir = candidate;
        break;
      }
    }
    if (opts.data_dir.empty()) {
      return Usage("no measured data found at ../shared/data/measured; pass --data-dir DIR");
    }
  }
  auto report = RunPublishedValidation(opts);
  if (!report.ok()) return Fail(report.status());
  if (!markdown.empty()) {
    const Status st = WriteAccuracyPage(*report, markdown, plots_dir, page_command);
    if (!st.ok()) return Fail(st);
  }
  if (json) {
    std::cout << ValidationReportJson(*report).dump(2) << "\n";
  } else {
    std::cout << ValidationReportText(*report);
  }
  return 0;
}

}  // namespace echosim

int main(int argc, char** argv) {
  using namespace echosim;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "--version" || cmd == "version") {
    std::cout << "echosim 0.1.0\n";
    return 0;
  }
  // One entry per subcommand; each lives in its own file under simulator/cli/.
  const std::vector<std::pair<std::string, int (*)(const std::vector<std::string>&)>> commands = {
      {"train", CmdTrain},
      {"run", CmdRun},
      {"list", CmdList},
      {"validate", CmdValidate},
      {"calibrate-interference", CmdCalibrateInterference},
      {"search", CmdSearch},
      {"serve", CmdServe},
      {"serve-search", CmdServeSearch},
      {"validate-serving", CmdValidateServing},
      {"collective", CmdCollective},
      {"calibrate", CmdCalibrate},
      {"validate-collectives", CmdValidateCollectives},
      {"trace", CmdTrace},
      {"import", CmdImport},
      {"run-trace", CmdRunTrace},
  };
  std::vector<std::string> names;
  for (const auto& [name, fn] : commands) {
    if (cmd == name) return fn(args);
    names.push_back(name);
  }
  return UsageError(StrCat("unknown command '", cmd, "'; valid commands: ", Join(names, ", ")), kUsage);
}
