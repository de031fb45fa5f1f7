// ServingConfig: everything one serving simulation needs, validated at the edge.
//
// A cluster of identical replicas (model + GPU + TP + PP), a batch scheduler per replica, a
// router, a workload, and optional SLOs and prices. With prefill_replicas and
// decode_replicas both set, the cluster is disaggregated (DistServe, Zhong et al. OSDI'24;
// Splitwise, Patel et al. ISCA'24): prompts run on the prefill pool, their KV cache moves
// over the network to a decode replica, and decoding continues there.
//
// KV capacity per replica (vLLM's sizing, vllm/worker determine_num_available_blocks):
//   blocks = floor((gpu_memory_utilization * GPU memory - weights - activation peak
//            - non-torch memory) / (block_size * kv bytes per token of the GPU's layers))
// with the activation peak of a profile run of max_batched_tokens tokens and max_num_seqs
// sampled rows (models/inference_ops.h) and the non-torch memory (CUDA context, NCCL
// buffers) the GPU preset's memory_reserved_gb. Or given directly (kv_blocks).
#ifndef ECHOSIM_SIMULATOR_SERVING_SERVING_CONFIG_H_
#define ECHOSIM_SIMULATOR_SERVING_SERVING_CONFIG_H_

#include <cstdint>
#include <string>

#include "hardware/gpu_spec.h"
#include "models/inference_ops.h"
#include "models/model_spec.h"
#include "simulator/core/status.h"
#include "simulator/network/topology.h"
#include "simulator/serving/workload.h"

namespace echosim {

struct ReplicaConfig {
  ModelSpec model;
  GpuSpec gpu;
  InferenceConfig inference;            // tp, pp, dtype, kv_dtype
  std::string scheduler = "vllm";
  int32_t max_num_seqs = 256;
  int32_t max_batched_tokens = 0;       // 0 = the scheduler's default
  int32_t max_model_len = 0;            // 0 = the model's max_seq_len_tokens
  int32_t block_size_tokens = 16;
  double gpu_memory_utilization = 0.9;
  int64_t kv_blocks = 0;                // 0 = sized from memory as vLLM does
  bool prefix_caching = false;
  double cpu_overhead_per_iteration_us = -1;  // < 0: the calibrated default
  double cpu_overhead_per_seq_us = -1;
  double cpu_overhead_per_new_request_us = -1;  // iterations holding prefill tokens
};

struct ServingConfig {
  ReplicaConfig replica;
  int32_t replicas = 1;
  int32_t prefill_replicas = 0;  // both > 0: disaggregated prefill/decode pools
  int32_t decode_replicas = 0;
  std::string router = "round_robin";
  std::string workload;          // spec string, see workload.h
  WorkloadOptions workload_options;
  double slo_ttft_ms = 0;        // 0 = no TTFT SLO
  double slo_tpot_ms = 0;        // 0 = no TPOT SLO
  double usd_per_gpu_hour = 0;   // 0 = no cost reported
  TopologyConfig network;        // filled from the GPU preset by ResolveServingConfig
  double nic_gbps = 0, nvlink_gbps = 0;  // 0 = the GPU preset's
  double sample_interval_s = 0;  // KV/batch time series resolution; 0 = automatic
  std::string out_dir;           // per-request CSV, time series, timeline (empty = none)
  bool timeline = true;
  std::string compute_backend = "model";  // model | gpu (kernels measured by echosim-kernels)
  std::string kernel_cache;               // measured kernel times cache; empty: the default

  bool disaggregated() const { return prefill_replicas > 0 && decode_replicas > 0; }
  int32_t total_replicas() const {
    return disaggregated() ? prefill_replicas + decode_replicas : replicas;
  }
  int64_t gpus_per_replica() const { return replica.inference.tp * replica.inference.pp; }
  int64_t total_gpus() const { return gpus_per_replica() * total_replicas(); }
};

// What the KV sizing found for one replica (per GPU unless stated).
struct KvSizing {
  double gpu_memory_bytes = 0;
  double usable_bytes = 0;        // utilisation * memory
  double weight_bytes = 0;
  double activation_peak_bytes = 0;
  double non_torch_bytes = 0;
  double kv_bytes = 0;
  double kv_bytes_per_block = 0;
  int64_t blocks = 0;
  int32_t block_size_tokens = 16;
  int64_t capacity_tokens() const { return blocks * block_size_tokens; }
};

// Fills defaults (scheduler token budget, max_model_len, calibration, network from the GPU
// preset) and validates every field; the errors name the CLI flag and the valid choices.
Status ResolveServingConfig(ServingConfig* config);
// The KV cache of one replica (resolved config); InvalidArgument when the model does not fit
// or the cache cannot hold one max_model_len sequence (the message gives the numbers and what
// to change).
StatusOr<KvSizing> SizeKvCache(const ReplicaConfig& replica);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SERVING_SERVING_CONFIG_H_
