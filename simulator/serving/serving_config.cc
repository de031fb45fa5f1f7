#include "simulator/serving/serving_config.h"

#include <cmath>

#include "policies/batch_scheduler.h"
#include "policies/request_router.h"
#include "simulator/core/strings.h"
#include "simulator/serving/serving_calibration.h"

namespace echosim {
namespace {

Status Positive(const char* flag, double v) {
  if (!(v > 0) || !std::isfinite(v)) return InvalidArgument(StrCat(flag, " must be a positive number, got ", v));
  return Status::Ok();
}

std::string Gib(double bytes) { return FormatDouble(bytes / (1024.0 * 1024.0 * 1024.0), 4) + " GiB"; }

}  // namespace

Status ResolveServingConfig(ServingConfig* c) {
  ReplicaConfig& r = c->replica;
  ECHOSIM_RETURN_IF_ERROR(r.model.Validate().WithContext("--model"));
  ECHOSIM_RETURN_IF_ERROR(r.gpu.Validate().WithContext("--gpu"));
  InferenceConfig& inf = r.inference;
  if (inf.tp < 1 || inf.tp > 1024) return InvalidArgument(StrCat("--tp must be 1 to 1024, got ", inf.tp));
  if (inf.pp < 1 || inf.pp > 1024) return InvalidArgument(StrCat("--pp must be 1 to 1024, got ", inf.pp));
  if (r.model.heads % inf.tp != 0) {
    return InvalidArgument(StrCat("--tp: model heads (", r.model.heads, ") are not divisible by tp = ", inf.tp));
  }
  if (r.model.ffn_hidden % inf.tp != 0 || r.model.vocab % inf.tp != 0) {
    return InvalidArgument(StrCat("--tp: the model's ffn_hidden (", r.model.ffn_hidden, ") and vocab (",
                                  r.model.vocab, ") must be divisible by tp = ", inf.tp));
  }
  if (inf.pp > r.model.layers) {
    return InvalidArgument(StrCat("--pp: ", inf.pp, " stages for ", r.model.layers, " layers"));
  }
  auto sched = MakeBatchScheduler(r.scheduler);
  if (!sched.ok()) return InvalidArgument(StrCat("--scheduler: ", sched.status().message()));
  if (r.max_batched_tokens == 0) r.max_batched_tokens = (*sched)->default_max_batched_tokens();
  if (r.max_model_len == 0) r.max_model_len = static_cast<int32_t>(r.model.max_seq_len_tokens);
  if (r.scheduler == "vllm_v0" && r.max_batched_tokens < r.max_model_len) {
    // vLLM V0 without chunked prefill needs the budget to hold the longest prompt.
    r.max_batched_tokens = std::max(r.max_model_len, r.max_batched_tokens);
  }
  if (r.max_num_seqs < 1 || r.max_num_seqs > 1'000'000) {
    return InvalidArgument(StrCat("--max-num-seqs must be 1 to 1000000, got ", r.max_num_seqs));
  }
  if (r.max_batched_tokens < 1 || r.max_batched_tokens > 10'000'000) {
    return InvalidArgument(StrCat("--max-batch-tokens must be 1 to 10000000, got ", r.max_batched_tokens));
  }
  if (r.max_model_len < 2 || r.max_model_len > 100'000'000) {
    return InvalidArgument(StrCat("--max-model-len must be 2 to 100000000, got ", r.max_model_len));
  }
  if (r.block_size_tokens < 1 || r.block_size_tokens > 4096) {
    return InvalidArgument(StrCat("--block-size must be 1 to 4096 tokens, got ", r.block_size_tokens));
  }
  if (!(r.gpu_memory_utilization > 0 && r.gpu_memory_utilization <= 1)) {
    return InvalidArgument(StrCat("--gpu-memory-utilization must be in (0, 1], got ", r.gpu_memory_utilization));
  }
  if (r.kv_blocks < 0) return InvalidArgument(StrCat("--kv-blocks must be positive, got ", r.kv_blocks));
  const ServingCalibration& cal = DefaultServingCalibration(r.gpu.name);
  if (r.cpu_overhead_per_iteration_us < 0) r.cpu_overhead_per_iteration_us = cal.cpu_overhead_per_iteration_us;
  if (r.cpu_overhead_per_seq_us < 0) r.cpu_overhead_per_seq_us = cal.cpu_overhead_per_seq_us;
  if (r.cpu_overhead_per_new_request_us < 0) r.cpu_overhead_per_new_request_us = cal.cpu_overhead_per_new_request_us;
  if (!std::isfinite(r.cpu_overhead_per_iteration_us) || !std::isfinite(r.cpu_overhead_per_seq_us) ||
      !std::isfinite(r.cpu_overhead_per_new_request_us) || r.cpu_overhead_per_iteration_us > 1e7 ||
      r.cpu_overhead_per_seq_us > 1e7 || r.cpu_overhead_per_new_request_us > 1e7) {
    return InvalidArgument("--cpu-overhead-us, --cpu-overhead-per-seq-us and --cpu-overhead-per-new-request-us must be finite and below 10 s");
  }

  if (c->disaggregated()) {
    if (c->prefill_replicas < 1 || c->decode_replicas < 1) {
      return InvalidArgument("--prefill-replicas and --decode-replicas must both be at least 1");
    }
  } else if (c->prefill_replicas != 0 || c->decode_replicas != 0) {
    return InvalidArgument("--prefill-replicas and --decode-replicas go together (disaggregation needs both pools)");
  }
  if (c->total_replicas() < 1 || c->total_replicas() > 100'000) {
    return InvalidArgument(StrCat("--replicas must be 1 to 100000, got ", c->total_replicas()));
  }
  auto router = MakeRouter(c->router);
  if (!router.ok()) return InvalidArgument(StrCat("--router: ", router.status().message()));
  if (c->workload.empty()) {
    return InvalidArgument("--workload is required: trace:FILE or poisson:qps=Q,input=DIST,output=DIST");
  }
  for (const auto& [flag, v] : {std::pair<const char*, double>{"--slo-ttft-ms", c->slo_ttft_ms},
                                {"--slo-tpot-ms", c->slo_tpot_ms},
                                {"--usd-per-gpu-hour", c->usd_per_gpu_hour}}) {
    if (v < 0 || !std::isfinite(v)) return InvalidArgument(StrCat(flag, " must be a positive number, got ", v));
  }
  if (c->sample_interval_s < 0 || !std::isfinite(c->sample_interval_s)) {
    return InvalidArgument("sample interval must be positive");
  }
  if (c->nic_gbps == 0) c->nic_gbps = r.gpu.nic_gbps;
  if (c->nvlink_gbps == 0) c->nvlink_gbps = r.gpu.nvlink_gbps;
  ECHOSIM_RETURN_IF_ERROR(Positive("--nic-gbps", c->nic_gbps));
  ECHOSIM_RETURN_IF_ERROR(Positive("--nvlink-gbps", c->nvlink_gbps));
  c->network.gpus = c->gpus_per_replica();
  c->network.gpus_per_node = 8;
  c->network.nvlink_bytes_per_s = c->nvlink_gbps / 8.0 * 1e9 * r.gpu.nvlink_efficiency;
  c->network.nic_bytes_per_s = c->nic_gbps / 8.0 * 1e9 * r.gpu.nic_efficiency;
  // The scenario defaults' per-step latencies (simulator/scenario/simulation.cc), fitted to
  // small-message nccl-tests all_reduce times.
  c->network.nvlink_latency_s = 2e-6;
  c->network.nic_latency_s = 4e-6;
  return Status::Ok();
}

StatusOr<KvSizing> SizeKvCache(const ReplicaConfig& r) {
  KvSizing k;
  k.block_size_tokens = r.block_size_tokens;
  const InferenceConfig& inf = r.inference;
  const double layers = static_cast<double>((r.model.layers + inf.pp - 1) / inf.pp);
  k.kv_bytes_per_block = KvBytesPerTokenPerLayer(r.model, inf) * layers * r.block_size_tokens;
  k.gpu_memory_bytes = r.gpu.HbmCapacityBytes();
  k.usable_bytes = r.gpu_memory_utilization * k.gpu_memory_bytes;
  k.weight_bytes = InferenceWeightBytesPerGpu(r.model, inf);
  k.activation_peak_bytes = InferenceActivationPeakBytes(r.model, r.max_batched_tokens, r.max_num_seqs, inf);
  k.non_torch_bytes = r.gpu.memory_reserved_gb * 1e9;
  k.kv_bytes = k.usable_bytes - k.weight_bytes - k.activation_peak_bytes - k.non_torch_bytes;
  const std::string where = StrCat(r.model.name, " on ", inf.tp * inf.pp, " x ", r.gpu.name, " (tp ", inf.tp,
                                   " pp ", inf.pp, ", ", DTypeName(inf.dtype), ")");
  if (r.kv_blocks > 0) {
    if (k.usable_bytes - k.weight_bytes - k.non_torch_bytes <= 0) {
      return InvalidArgument(StrCat("the model does not fit: ", where, " needs ", Gib(k.weight_bytes),
                                    " of weights per GPU, and ", Gib(k.usable_bytes), " are usable"));
    }
    k.blocks = r.kv_blocks;
  } else {
    if (k.kv_bytes <= 0) {
      return InvalidArgument(StrCat(
          "the model does not fit: ", where, " needs per GPU ", Gib(k.weight_bytes), " of weights + ",
          Gib(k.activation_peak_bytes), " of activations (", r.max_batched_tokens, " batched tokens) + ",
          Gib(k.non_torch_bytes), " reserved, but only ", Gib(k.usable_bytes), " are usable (--gpu-memory-utilization ",
          r.gpu_memory_utilization, " of ", Gib(k.gpu_memory_bytes),
          "); raise --tp or --pp, use --dtype fp8, or a larger GPU"));
    }
    k.blocks = static_cast<int64_t>(std::floor(k.kv_bytes / k.kv_bytes_per_block));
  }
  if (k.capacity_tokens() < r.max_model_len) {
    return InvalidArgument(StrCat("the KV cache of ", where, " holds ", k.capacity_tokens(),
                                  " tokens, fewer than one sequence of --max-model-len ", r.max_model_len,
                                  "; lower --max-model-len, raise --gpu-memory-utilization, --tp or --kv-blocks"));
  }
  if (k.blocks >= (int64_t{1} << 31) - 1) {
    return InvalidArgument(StrCat("--kv-blocks: ", k.blocks, " blocks is beyond the 2^31 supported"));
  }
  return k;
}

}  // namespace echosim
