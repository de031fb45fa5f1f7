#include "simulator/serving/serving_scenario.h"

#include <filesystem>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

StatusOr<DType> ParseDType(const std::string& field, const std::string& v) {
  return ParseChoice<DType>(field, v, {{"bf16", DType::kBf16}, {"fp16", DType::kFp16}, {"fp8", DType::kFp8}});
}

}  // namespace

StatusOr<ServingConfig> ServingConfigFromScenario(const scenario::Scenario& s, const std::string& base_dir) {
  if (!s.workload().has_serving()) {
    return InvalidArgument("workload.serving is not set: this is not a serving scenario");
  }
  const scenario::Serving& v = s.workload().serving();
  ServingConfig c;
  ReplicaConfig& r = c.replica;
  if (v.model().empty()) {
    return InvalidArgument("workload.serving.model (--model) is required; see `echosim list models`");
  }
  auto model = FindModelPreset(v.model());
  if (!model.ok()) return InvalidArgument(StrCat("workload.serving.model (--model): ", model.status().message()));
  // Serving prices the KV cache and decode attention of grouped-query attention; a latent
  // (MLA) cache and absorbed decode attention, leading dense layers, shared experts, latent
  // experts and MTP drafts are training-side model features only.
  if (model->is_mla() || model->dense_layers > 0 || model->shared_expert_ffn > 0 || model->mtp_layers > 0 ||
      model->moe_latent > 0 || model->is_hybrid()) {
    return InvalidArgument(StrCat("workload.serving.model (--model): '", v.model(),
                                  "' has multi-head latent attention, leading dense layers, shared "
                                  "experts, latent experts, multi-token prediction or state-space (Mamba) layers, "
                                  "which serving does not model "
                                  "(training does); serve a grouped-query-attention model"));
  }
  r.model = *model;
  if (s.cluster().gpu().empty()) {
    return InvalidArgument("cluster.gpu (--gpu) is required; valid gpus: " + Join(GpuPresetNames(), ", "));
  }
  auto gpu = FindGpuPreset(s.cluster().gpu());
  if (!gpu.ok()) return InvalidArgument(StrCat("cluster.gpu (--gpu): ", gpu.status().message()));
  r.gpu = *gpu;
  r.inference.tp = s.parallelism().tp() ? s.parallelism().tp() : 1;
  r.inference.pp = s.parallelism().pp() ? s.parallelism().pp() : 1;
  const auto& p = s.parallelism();
  if (p.vpp() > 1 || p.cp() > 1 || p.ep() > 1 || p.dp() > 1 || p.zero() != 0) {
    return InvalidArgument("parallelism: a serving replica takes tp and pp only (vpp, cp, ep, dp, zero are training fields)");
  }
  if (!v.dtype().empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(r.inference.dtype, ParseDType("workload.serving.dtype (--dtype)", v.dtype()));
  }
  if (!v.kv_dtype().empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(r.inference.kv_dtype, ParseDType("workload.serving.kv_dtype (--kv-dtype)", v.kv_dtype()));
  }
  if (!v.scheduler().empty()) r.scheduler = v.scheduler();
  if (v.max_num_seqs()) r.max_num_seqs = static_cast<int32_t>(v.max_num_seqs());
  r.max_batched_tokens = static_cast<int32_t>(std::min<uint32_t>(v.max_batch_tokens(), 2'000'000'000u));
  r.max_model_len = static_cast<int32_t>(std::min<uint32_t>(v.max_model_len(), 2'000'000'000u));
  if (v.block_size_tokens()) r.block_size_tokens = static_cast<int32_t>(std::min<uint32_t>(v.block_size_tokens(), 1u << 30));
  if (v.gpu_memory_utilization() != 0) r.gpu_memory_utilization = v.gpu_memory_utilization();
  if (v.kv_blocks() > (uint64_t{1} << 40)) return InvalidArgument("workload.serving.kv_blocks (--kv-blocks) is too large");
  r.kv_blocks = static_cast<int64_t>(v.kv_blocks());
  r.prefix_caching = v.prefix_caching();
  if (v.has_cpu_overhead_per_iteration_us()) {
    if (v.cpu_overhead_per_iteration_us() < 0) return InvalidArgument("workload.serving.cpu_overhead_per_iteration_us must not be negative");
    r.cpu_overhead_per_iteration_us = v.cpu_overhead_per_iteration_us();
  }
  if (v.has_cpu_overhead_per_seq_us()) {
    if (v.cpu_overhead_per_seq_us() < 0) return InvalidArgument("workload.serving.cpu_overhead_per_seq_us must not be negative");
    r.cpu_overhead_per_seq_us = v.cpu_overhead_per_seq_us();
  }
  if (v.has_cpu_overhead_per_new_request_us()) {
    if (v.cpu_overhead_per_new_request_us() < 0) return InvalidArgument("workload.serving.cpu_overhead_per_new_request_us must not be negative");
    r.cpu_overhead_per_new_request_us = v.cpu_overhead_per_new_request_us();
  }
  c.replicas = v.replicas() ? static_cast<int32_t>(std::min<uint32_t>(v.replicas(), 1u << 30)) : 1;
  c.prefill_replicas = static_cast<int32_t>(std::min<uint32_t>(v.prefill_replicas(), 1u << 30));
  c.decode_replicas = static_cast<int32_t>(std::min<uint32_t>(v.decode_replicas(), 1u << 30));
  if (!v.router().empty()) c.router = v.router();
  c.workload = v.workload();
  if (!base_dir.empty() && c.workload.rfind("trace:", 0) == 0) {
    const std::filesystem::path file(c.workload.substr(6));
    if (file.is_relative()) c.workload = "trace:" + (std::filesystem::path(base_dir) / file).lexically_normal().string();
  }
  WorkloadOptions& o = c.workload_options;
  o.seed = s.seed() ? s.seed() : 1;
  o.duration_s = v.duration_s();
  o.max_requests = static_cast<int64_t>(std::min<uint64_t>(v.max_requests(), uint64_t{1} << 62));
  o.time_scale = v.time_scale() != 0 ? v.time_scale() : 1.0;
  o.target_qps = v.target_qps();
  o.skip_bad_lines = v.skip_bad_lines();
  c.slo_ttft_ms = v.slo_ttft_ms();
  c.slo_tpot_ms = v.slo_tpot_ms();
  c.usd_per_gpu_hour = v.usd_per_gpu_hour();
  c.nic_gbps = s.cluster().network().nic_gbps();
  c.nvlink_gbps = s.cluster().network().nvlink_gbps();
  c.timeline = !s.output().has_timeline() || s.output().timeline();
  c.compute_backend = v.compute_backend().empty() ? "model" : v.compute_backend();
  ECHOSIM_RETURN_IF_ERROR(ParseChoice<int>("workload.serving.compute_backend (--compute-backend)",
                                           c.compute_backend, {{"model", 0}, {"gpu", 1}}).status());
  c.kernel_cache = v.kernel_cache();
  return c;
}

void FillResolvedServingScenario(const ServingConfig& c, scenario::Scenario* s) {
  const ReplicaConfig& r = c.replica;
  if (s->name().empty()) {
    s->set_name(StrCat(r.model.name, " serving on ", c.total_replicas(), " x ", c.gpus_per_replica(), " ", r.gpu.name));
  }
  s->set_seed(c.workload_options.seed);
  s->mutable_cluster()->set_gpu(r.gpu.name);
  s->mutable_cluster()->set_gpus(static_cast<uint32_t>(c.total_gpus()));
  s->mutable_cluster()->mutable_network()->set_nic_gbps(c.nic_gbps);
  s->mutable_cluster()->mutable_network()->set_nvlink_gbps(c.nvlink_gbps);
  s->mutable_parallelism()->set_tp(static_cast<uint32_t>(r.inference.tp));
  s->mutable_parallelism()->set_pp(static_cast<uint32_t>(r.inference.pp));
  s->mutable_output()->set_timeline(c.timeline);
  scenario::Serving* v = s->mutable_workload()->mutable_serving();
  v->set_model(r.model.name);
  v->set_dtype(DTypeName(r.inference.dtype));
  v->set_kv_dtype(DTypeName(r.inference.kv_dtype));
  v->set_replicas(static_cast<uint32_t>(c.disaggregated() ? 0 : c.replicas));
  v->set_prefill_replicas(static_cast<uint32_t>(c.prefill_replicas));
  v->set_decode_replicas(static_cast<uint32_t>(c.decode_replicas));
  v->set_scheduler(r.scheduler);
  v->set_router(c.router);
  v->set_workload(c.workload);
  v->set_duration_s(c.workload_options.duration_s);
  v->set_max_requests(static_cast<uint64_t>(c.workload_options.max_requests));
  v->set_time_scale(c.workload_options.time_scale);
  v->set_target_qps(c.workload_options.target_qps);
  v->set_skip_bad_lines(c.workload_options.skip_bad_lines);
  v->set_max_batch_tokens(static_cast<uint32_t>(r.max_batched_tokens));
  v->set_max_num_seqs(static_cast<uint32_t>(r.max_num_seqs));
  v->set_max_model_len(static_cast<uint32_t>(r.max_model_len));
  v->set_block_size_tokens(static_cast<uint32_t>(r.block_size_tokens));
  v->set_gpu_memory_utilization(r.gpu_memory_utilization);
  v->set_kv_blocks(static_cast<uint64_t>(r.kv_blocks));
  v->set_prefix_caching(r.prefix_caching);
  v->set_cpu_overhead_per_iteration_us(r.cpu_overhead_per_iteration_us);
  v->set_cpu_overhead_per_seq_us(r.cpu_overhead_per_seq_us);
  v->set_cpu_overhead_per_new_request_us(r.cpu_overhead_per_new_request_us);
  v->set_slo_ttft_ms(c.slo_ttft_ms);
  v->set_slo_tpot_ms(c.slo_tpot_ms);
  v->set_usd_per_gpu_hour(c.usd_per_gpu_hour);
  v->set_compute_backend(c.compute_backend);
  v->set_kernel_cache(c.kernel_cache);
}

}  // namespace echosim
