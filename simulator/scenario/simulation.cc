#include "simulator/scenario/simulation.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "hardware/calibration.h"
#include "hardware/gpu_spec.h"
#include "hardware/kernel_calibration.h"
#include "hardware/kernel_harness.h"
#include "models/host_launches.h"
#include "models/model_spec.h"
#include "policies/pipeline_schedule.h"
#include "simulator/interference/interference_model.h"
#include "simulator/core/strings.h"
#include "simulator/scenario/yaml_proto.h"

namespace echosim {

StatusOr<scenario::Scenario> LoadScenarioFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(StrCat("cannot open scenario file '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  scenario::Scenario s;
  ECHOSIM_RETURN_IF_ERROR(YamlToProto(ss.str(), path, &s));
  return s;
}

void WriteModelShape(const ModelSpec& m, bool every_field, scenario::ModelShape* out) {
  out->set_layers(static_cast<uint32_t>(m.layers));
  out->set_hidden(static_cast<uint32_t>(m.hidden));
  out->set_heads(static_cast<uint32_t>(m.heads));
  out->set_kv_heads(static_cast<uint32_t>(m.kv_heads));
  out->set_ffn_hidden(static_cast<uint32_t>(m.ffn_hidden));
  if (every_field || m.head_dim_override > 0) {
    out->set_head_dim(static_cast<uint32_t>(m.head_dim_override));
  }
  if (every_field || m.sliding_window > 0) {
    out->set_sliding_window_tokens(static_cast<uint32_t>(m.sliding_window));
    out->set_full_attention_every(static_cast<uint32_t>(m.full_attention_every));
  }
  out->set_vocab(static_cast<uint32_t>(m.vocab));
  out->set_experts(static_cast<uint32_t>(m.experts));
  out->set_top_k(static_cast<uint32_t>(m.top_k));
  out->set_mlp(MlpKindName(m.mlp));
  out->set_norm(NormKindName(m.norm));
  out->set_position(PositionKindName(m.position));
  out->set_max_seq_len_tokens(static_cast<uint32_t>(m.max_seq_len_tokens));
  out->set_tied_embeddings(m.tied_embeddings);
  out->set_dropout(m.dropout);
  out->set_qk_norm(m.qk_norm);
  if (every_field || m.rope_mscale != 1.0) out->set_rope_mscale(m.rope_mscale);
  if (every_field || m.is_moe()) {
    out->set_moe_ffn_hidden(static_cast<uint32_t>(m.moe_ffn_hidden));
    out->set_dense_layers(static_cast<uint32_t>(m.dense_layers));
    out->set_shared_expert_ffn(static_cast<uint32_t>(m.shared_expert_ffn));
    out->set_router_groups(static_cast<uint32_t>(m.router_groups));
    out->set_router_group_topk(static_cast<uint32_t>(m.router_group_topk));
    out->set_glu_clamp(m.glu_clamp);
    out->set_expert_bias(m.expert_bias);
    out->set_moe_latent(static_cast<uint32_t>(m.moe_latent));
  }
  if (every_field || m.is_mla()) {
    out->set_q_lora_rank(static_cast<uint32_t>(m.q_lora_rank));
    out->set_kv_lora_rank(static_cast<uint32_t>(m.kv_lora_rank));
    out->set_qk_rope_head_dim(static_cast<uint32_t>(m.qk_rope_head_dim));
    out->set_v_head_dim(static_cast<uint32_t>(m.v_head_dim));
  }
  if (every_field || m.mtp_layers > 0) {
    out->set_mtp_layers(static_cast<uint32_t>(m.mtp_layers));
    out->set_mtp_shared_weights(m.mtp_shared_weights);
  }
  if (m.is_hybrid()) {
    out->set_layer_pattern(m.layer_pattern);
    out->set_mamba_heads(static_cast<uint32_t>(m.mamba_heads));
    out->set_mamba_head_dim(static_cast<uint32_t>(m.mamba_head_dim));
    out->set_mamba_state(static_cast<uint32_t>(m.mamba_state));
    out->set_mamba_groups(static_cast<uint32_t>(m.mamba_groups));
    out->set_mamba_conv_kernel(static_cast<uint32_t>(m.mamba_conv_kernel));
    out->set_mamba_chunk(static_cast<uint32_t>(m.mamba_chunk));
  }
}

namespace {

StatusOr<ModelSpec> ResolveModel(scenario::Training* t) {
  ModelSpec m;
  if (t->model().empty()) {
    return InvalidArgument("workload.training.model (--model) is required; see `echosim list models`");
  }
  if (t->model() != "custom") {
    ECHOSIM_ASSIGN_OR_RETURN(m, FindModelPreset(t->model()));
  } else {
    m.name = "custom";
    m.description = "custom shape";
    const auto& sh = t->shape();
    for (const auto& [field, v] : {std::pair<const char*, uint32_t>{"layers (--layers)", sh.layers()},
                                   {"hidden (--hidden)", sh.hidden()},
                                   {"heads (--heads)", sh.heads()},
                                   {"vocab (--vocab)", sh.vocab()}}) {
      if (v == 0) {
        return InvalidArgument(StrCat("workload.training.shape.", field,
                                      " is required when model is 'custom'"));
      }
    }
    m.ffn_hidden = 4 * static_cast<int64_t>(sh.hidden());
  }
  const auto& sh = t->shape();
  if (sh.layers()) m.layers = sh.layers();
  if (sh.hidden()) m.hidden = sh.hidden();
  if (sh.heads()) {
    m.heads = sh.heads();
    if (!sh.kv_heads() && t->model() == "custom") m.kv_heads = sh.heads();
  }
  if (sh.kv_heads()) m.kv_heads = sh.kv_heads();
  if (m.kv_heads == 0) m.kv_heads = m.heads;
  if (sh.ffn_hidden()) m.ffn_hidden = sh.ffn_hidden();
  if (sh.vocab()) m.vocab = sh.vocab();
  if (sh.experts()) m.experts = sh.experts();
  if (sh.top_k()) m.top_k = sh.top_k();
  else if (t->model() == "custom" && m.experts > 1) m.top_k = 2;
  if (sh.max_seq_len_tokens()) m.max_seq_len_tokens = sh.max_seq_len_tokens();
  if (!sh.mlp().empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(m.mlp, ParseChoice<MlpKind>("workload.training.shape.mlp", sh.mlp(),
                                                         {{"gelu", MlpKind::kGelu},
                                                          {"swiglu", MlpKind::kSwiglu}}));
  }
  if (!sh.norm().empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(m.norm, ParseChoice<NormKind>("workload.training.shape.norm", sh.norm(),
                                                           {{"layernorm", NormKind::kLayerNorm},
                                                            {"rmsnorm", NormKind::kRmsNorm}}));
  }
  if (!sh.position().empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(m.position,
                             ParseChoice<PositionKind>("workload.training.shape.position",
                                                       sh.position(),
                                                       {{"learned", PositionKind::kLearned},
                                                        {"rope", PositionKind::kRope},
                                                        {"none", PositionKind::kNone}}));
  }
  if (sh.tied_embeddings()) m.tied_embeddings = true;
  if (sh.has_dropout()) m.dropout = sh.dropout();
  if (sh.has_qk_norm()) m.qk_norm = sh.qk_norm();
  if (sh.head_dim()) m.head_dim_override = sh.head_dim();
  if (sh.sliding_window_tokens()) m.sliding_window = sh.sliding_window_tokens();
  if (sh.full_attention_every()) m.full_attention_every = sh.full_attention_every();
  if (sh.has_moe_ffn_hidden()) m.moe_ffn_hidden = sh.moe_ffn_hidden();
  if (sh.has_dense_layers()) m.dense_layers = sh.dense_layers();
  if (sh.has_shared_expert_ffn()) m.shared_expert_ffn = sh.shared_expert_ffn();
  if (sh.has_router_groups()) m.router_groups = sh.router_groups();
  if (sh.has_router_group_topk()) m.router_group_topk = sh.router_group_topk();
  if (sh.has_glu_clamp()) m.glu_clamp = sh.glu_clamp();
  if (sh.has_rope_mscale()) m.rope_mscale = sh.rope_mscale();
  if (sh.has_expert_bias()) m.expert_bias = sh.expert_bias();
  if (sh.has_moe_latent()) m.moe_latent = sh.moe_latent();
  if (sh.has_mtp_shared_weights()) m.mtp_shared_weights = sh.mtp_shared_weights();
  if (sh.has_q_lora_rank()) m.q_lora_rank = sh.q_lora_rank();
  if (sh.has_kv_lora_rank()) m.kv_lora_rank = sh.kv_lora_rank();
  if (sh.has_qk_rope_head_dim()) m.qk_rope_head_dim = sh.qk_rope_head_dim();
  if (sh.has_v_head_dim()) m.v_head_dim = sh.v_head_dim();
  if (sh.has_mtp_layers()) m.mtp_layers = sh.mtp_layers();
  if (sh.has_layer_pattern()) m.layer_pattern = sh.layer_pattern();
  if (sh.has_mamba_heads()) m.mamba_heads = sh.mamba_heads();
  if (sh.has_mamba_head_dim()) m.mamba_head_dim = sh.mamba_head_dim();
  if (sh.has_mamba_state()) m.mamba_state = sh.mamba_state();
  if (sh.has_mamba_groups()) m.mamba_groups = sh.mamba_groups();
  if (sh.has_mamba_conv_kernel()) m.mamba_conv_kernel = sh.mamba_conv_kernel();
  if (sh.has_mamba_chunk()) m.mamba_chunk = sh.mamba_chunk();
  ECHOSIM_RETURN_IF_ERROR(m.Validate().WithContext("workload.training.shape"));
  // Write the resolved shape back so the resolved scenario is self-contained.
  WriteModelShape(m, /*every_field=*/false, t->mutable_shape());
  return m;
}

// workload.training.dtype (fp4: NVFP4 GEMMs).
StatusOr<DType> ParseTrainingDType(const std::string& field, const std::string& value) {
  return ParseChoice<DType>(field, value,
                            {{"bf16", DType::kBf16}, {"fp16", DType::kFp16}, {"fp8", DType::kFp8},
                             {"fp4", DType::kFp4}});
}

// The entry of a name table (RecomputeModuleNames, LoraModuleNames) called `name`, or an error
// naming `field`, the unknown module and the valid names.
template <typename Entry>
StatusOr<const Entry*> FindModuleName(const std::vector<Entry>& table, const std::string& field,
                                      const std::string& name) {
  std::string valid;
  for (const Entry& n : table) {
    if (name == n.name) return &n;
    valid += StrCat(valid.empty() ? "" : ", ", n.name);
  }
  return InvalidArgument(StrCat(field, ": unknown module '", name, "'; valid: ", valid));
}

// parallelism.recompute_modules as a RecomputeModule bit set: every name known, applicable
// to the model, and only with recompute: selective.
StatusOr<uint32_t> ParseRecomputeModules(const scenario::Parallelism& p, const ModelSpec& spec) {
  const bool moe = spec.is_moe();
  const std::string& model = spec.name;
  if (p.recompute_modules().empty()) return kDefaultRecomputeModules;
  if (p.recompute() != "selective") {
    return InvalidArgument(StrCat("parallelism.recompute_modules (--recompute-modules) needs "
                                  "parallelism.recompute: selective; got recompute '",
                                  p.recompute(), "'"));
  }
  uint32_t mask = 0;
  for (int i = 0; i < p.recompute_modules_size(); ++i) {
    const std::string& name = p.recompute_modules(i);
    const std::string field = StrCat("parallelism.recompute_modules[", i, "]");
    ECHOSIM_ASSIGN_OR_RETURN(const RecomputeModuleName* found,
                             FindModuleName(RecomputeModuleNames(), field, name));
    const bool moe_only = found->module == kRecomputeMoeAct || found->module == kRecomputeMoe;
    if (moe_only && !moe) {
      return InvalidArgument(StrCat(field, ": '", name, "' needs a mixture-of-experts model; '",
                                    model, "' is dense (use mlp)"));
    }
    // In an MoE model 'mlp' applies to the leading dense layers only (Megatron-Core).
    if (found->module == kRecomputeMlp && moe && spec.dense_layers == 0 &&
        spec.layer_pattern.find('-') == std::string::npos) {
      return InvalidArgument(StrCat(field, ": 'mlp' recomputes a dense MLP; every layer of '", model,
                                    "' is a mixture-of-experts layer (use moe or moe_act)"));
    }
    if (found->module == kRecomputeMlaUpProj && !spec.is_mla()) {
      return InvalidArgument(StrCat(field, ": 'mla_up_proj' needs multi-head latent attention "
                                    "(kv_lora_rank > 0); '", model, "' has none"));
    }
    mask |= found->module;
  }
  if ((mask & kRecomputeMoe) != 0 && p.ep_comm_overlap()) {
    return InvalidArgument("parallelism.recompute_modules: 'moe' cannot be combined with "
                           "parallelism.ep_comm_overlap (the recomputed dispatch and combine "
                           "would need their own overlap); use moe_act");
  }
  return mask;
}

}  // namespace

Status ResolveCluster(scenario::Scenario* s) {
  auto* cl = s->mutable_cluster();
  if (cl->gpu().empty()) {
    return InvalidArgument("cluster.gpu (--gpu) is required; valid gpus: " + Join(GpuPresetNames(), ", "));
  }
  ECHOSIM_ASSIGN_OR_RETURN(GpuSpec gpu, FindGpuPreset(cl->gpu()));
  if (cl->gpus() == 0) return InvalidArgument("cluster.gpus (--gpus) is required and must be positive");
  if (cl->gpus_per_node() == 0) cl->set_gpus_per_node(8);
  auto* net = cl->mutable_network();
  if (net->nic_gbps() == 0) net->set_nic_gbps(gpu.nic_gbps);
  if (net->nvlink_gbps() == 0) net->set_nvlink_gbps(gpu.nvlink_gbps);
  if (net->topology().empty()) net->set_topology("nvswitch_fat_tree");
  if (net->topology() != "nvswitch_fat_tree") {
    return InvalidArgument(StrCat("cluster.network.topology: unknown value '", net->topology(),
                                  "'; valid choices: nvswitch_fat_tree"));
  }
  // Per-step latencies fitted to small-message nccl-tests all_reduce times on Azure
  // ND A100 v4 (Echo's logs): ~31 us on 8 GPUs (14 ring steps), ~35 us on 16 GPUs.
  if (net->nic_latency_us() == 0) net->set_nic_latency_us(4.0);
  if (net->nvlink_latency_us() == 0) net->set_nvlink_latency_us(2.0);
  if (net->oversubscription() == 0) net->set_oversubscription(1.0);
  if (net->nodes_per_leaf() == 0) net->set_nodes_per_leaf(32);
  if (net->collective_model().empty()) net->set_collective_model("nccl");
  ECHOSIM_RETURN_IF_ERROR(ParseChoice<int>("cluster.network.collective_model", net->collective_model(),
                                           {{"nccl", 0}, {"analytic", 1}}).status());
  if (!(net->oversubscription() >= 1.0) || !std::isfinite(net->oversubscription())) {
    return InvalidArgument(StrCat("cluster.network.oversubscription (--oversubscription) must be >= 1 "
                                  "(1 = non-blocking), got ", net->oversubscription()));
  }
  for (const auto& [field, v] : {std::pair<const char*, double>{"cluster.network.nic_gbps (--nic-gbps)", net->nic_gbps()},
                                 {"cluster.network.nvlink_gbps (--nvlink-gbps)", net->nvlink_gbps()},
                                 {"cluster.network.nic_latency_us", net->nic_latency_us()},
                                 {"cluster.network.nvlink_latency_us", net->nvlink_latency_us()}}) {
    if (!(v > 0) || !std::isfinite(v)) {
      return InvalidArgument(StrCat(field, " must be a positive number, got ", v));
    }
  }
  return Status::Ok();
}

Status ResolveScenario(scenario::Scenario* s) {
  ECHOSIM_RETURN_IF_ERROR(ResolveCluster(s));
  auto* cl = s->mutable_cluster();

  auto* t = s->mutable_workload()->mutable_training();
  ECHOSIM_ASSIGN_OR_RETURN(ModelSpec model, ResolveModel(t));
  if (t->seq_len_tokens() == 0) t->set_seq_len_tokens(static_cast<uint32_t>(model.max_seq_len_tokens));
  if (t->micro_batch_seqs() == 0) t->set_micro_batch_seqs(1);
  if (t->global_batch_seqs() == 0) {
    return InvalidArgument("workload.training.global_batch_seqs (--global-batch) is required");
  }
  if (t->dtype().empty()) t->set_dtype("bf16");
  ECHOSIM_RETURN_IF_ERROR(
      ParseTrainingDType("workload.training.dtype (--dtype)", t->dtype()).status());
  if (t->attention().empty()) t->set_attention("flash");
  ECHOSIM_RETURN_IF_ERROR(ParseChoice<AttentionImpl>("workload.training.attention", t->attention(),
                                                     {{"flash", AttentionImpl::kFlash},
                                                      {"unfused", AttentionImpl::kUnfused}}).status());

  auto* p = s->mutable_parallelism();
  for (auto [get, set] : {std::pair{&scenario::Parallelism::tp, &scenario::Parallelism::set_tp},
                          {&scenario::Parallelism::pp, &scenario::Parallelism::set_pp},
                          {&scenario::Parallelism::vpp, &scenario::Parallelism::set_vpp},
                          {&scenario::Parallelism::cp, &scenario::Parallelism::set_cp},
                          {&scenario::Parallelism::ep, &scenario::Parallelism::set_ep}}) {
    if ((p->*get)() == 0) (p->*set)(1);
  }
  const uint64_t mp = static_cast<uint64_t>(p->tp()) * p->pp() * p->cp();
  if (p->dp() == 0) {
    if (cl->gpus() % mp != 0) {
      return InvalidArgument(StrCat("--gpus (cluster.gpus): ", cl->gpus(),
                                    " GPUs are not divisible by tp*pp*cp = ", p->tp(), "*", p->pp(),
                                    "*", p->cp(), " = ", mp));
    }
    p->set_dp(static_cast<uint32_t>(cl->gpus() / mp));
  }
  if (p->recompute().empty()) p->set_recompute("none");
  ECHOSIM_RETURN_IF_ERROR(ParseChoice<RecomputeMode>("parallelism.recompute (--recompute)",
                                                     p->recompute(),
                                                     {{"none", RecomputeMode::kNone},
                                                      {"selective", RecomputeMode::kSelective},
                                                      {"full", RecomputeMode::kFull}}).status());
  if (p->pipeline_schedule().empty()) {
    p->set_pipeline_schedule(p->vpp() > 1 ? "interleaved_1f1b" : "1f1b");
  }
  ECHOSIM_RETURN_IF_ERROR(FindPipelineSchedule(p->pipeline_schedule()).status());
  if (p->grad_bucket_mparams() == 0) p->set_grad_bucket_mparams(40.0);
  if (!(p->grad_bucket_mparams() > 0)) {
    return InvalidArgument("parallelism.grad_bucket_mparams must be positive");
  }
  if (!p->has_overlap_grad_reduce()) p->set_overlap_grad_reduce(true);
  if (p->tp_comm_overlap() && !p->sequence_parallel() && p->tp() > 1) {
    return InvalidArgument("parallelism.tp_comm_overlap (--tp-comm-overlap) needs "
                           "parallelism.sequence_parallel (--sequence-parallel), as in Megatron-LM");
  }
  if (!s->output().has_timeline()) s->mutable_output()->set_timeline(true);
  auto* sim = s->mutable_simulation();
  const TrainingCalibration& cal = DefaultTrainingCalibration();
  if (!sim->has_host_overhead_per_step_ms()) {
    sim->set_host_overhead_per_step_ms(cal.host_overhead_per_step_ms);
  }
  if (!sim->has_interference()) sim->set_interference(true);
  if (!sim->has_contention()) sim->set_contention(true);
  if (sim->compute_sustained_factor() == 0) {
    sim->set_compute_sustained_factor(cal.compute_sustained_factor);
  }
  if (!(sim->host_overhead_per_step_ms() >= 0) || !std::isfinite(sim->host_overhead_per_step_ms())) {
    return InvalidArgument("simulation.host_overhead_per_step_ms (--host-overhead-ms) must be a non-negative number");
  }
  if (sim->flex_dispatch_traffic_factor() == 0) {
    sim->set_flex_dispatch_traffic_factor(cal.flex_dispatch_traffic_factor);
  }
  if (!sim->has_host_launch_us() || !sim->has_host_loop_launch_us()) {
    ECHOSIM_ASSIGN_OR_RETURN(const GpuSpec gpu, FindGpuPreset(cl->gpu()));
    if (!sim->has_host_launch_us()) sim->set_host_launch_us(gpu.host_launch_us);
    if (!sim->has_host_loop_launch_us()) {
      sim->set_host_loop_launch_us(gpu.host_loop_launch_us > 0 ? gpu.host_loop_launch_us : sim->host_launch_us());
    }
  }
  if (!(sim->host_launch_us() >= 0) || !std::isfinite(sim->host_launch_us())) {
    return InvalidArgument(StrCat("simulation.host_launch_us (--host-launch-us) must be a non-negative number of "
                                  "microseconds per kernel launch (0: no host model), got ",
                                  sim->host_launch_us()));
  }
  if (!(sim->host_loop_launch_us() >= 0) || !std::isfinite(sim->host_loop_launch_us())) {
    return InvalidArgument(StrCat("simulation.host_loop_launch_us (--host-loop-launch-us) must be a non-negative "
                                  "number of microseconds per kernel launch, got ",
                                  sim->host_loop_launch_us()));
  }
  ECHOSIM_RETURN_IF_ERROR(ParseGraphScopes({p->cuda_graph_scope().begin(), p->cuda_graph_scope().end()},
                                           "parallelism.cuda_graph_scope (--cuda-graph-scope)")
                              .status());
  if (!(sim->flex_dispatch_traffic_factor() > 0 && sim->flex_dispatch_traffic_factor() <= 2)) {
    return InvalidArgument(StrCat("simulation.flex_dispatch_traffic_factor (--flex-traffic-factor) must be in (0, 2] (1: as NCCL's all_to_all; 0: the calibration's), got ",
                                  sim->flex_dispatch_traffic_factor()));
  }
  if (!(sim->compute_sustained_factor() > 0 && sim->compute_sustained_factor() <= 1.5)) {
    return InvalidArgument(StrCat("simulation.compute_sustained_factor must be in (0, 1.5], got ",
                                  sim->compute_sustained_factor()));
  }
  if (sim->compute_backend().empty()) sim->set_compute_backend("model");
  ECHOSIM_RETURN_IF_ERROR(ParseChoice<int>("simulation.compute_backend (--compute-backend)",
                                           sim->compute_backend(), {{"model", 0}, {"gpu", 1}}).status());
  if (s->name().empty()) {
    s->set_name(StrCat(t->model(), " on ", cl->gpus(), " x ", cl->gpu()));
  }
  return Status::Ok();
}

StatusOr<TrainingSetup> MakeTrainingSetup(const scenario::Scenario& sc) {
  scenario::Scenario copy = sc;
  auto* t = copy.mutable_workload()->mutable_training();
  TrainingSetup s;
  ECHOSIM_ASSIGN_OR_RETURN(s.model, ResolveModel(t));
  ECHOSIM_ASSIGN_OR_RETURN(s.gpu, FindGpuPreset(sc.cluster().gpu()));
  s.seq_len = t->seq_len_tokens();
  ECHOSIM_ASSIGN_OR_RETURN(s.dtype, ParseTrainingDType("workload.training.dtype", t->dtype()));
  ECHOSIM_ASSIGN_OR_RETURN(s.attention, ParseChoice<AttentionImpl>(
                                            "workload.training.attention", t->attention(),
                                            {{"flash", AttentionImpl::kFlash},
                                             {"unfused", AttentionImpl::kUnfused}}));
  s.fp8_attention = t->fp8_attention();
  if (!t->fp8_recipe().empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(s.fp8_recipe, ParseChoice<Fp8Recipe>(
                                               "workload.training.fp8_recipe", t->fp8_recipe(),
                                               {{"delayed", Fp8Recipe::kDelayed},
                                                {"current", Fp8Recipe::kCurrent},
                                                {"mxfp8", Fp8Recipe::kMxfp8}}));
    if (s.dtype != DType::kFp8) {
      return InvalidArgument(StrCat("workload.training.fp8_recipe (--fp8-recipe) needs dtype fp8; got "
                                    "dtype ", t->dtype().empty() ? "bf16 (the default)" : t->dtype()));
    }
  }
  if (s.fp8_recipe == Fp8Recipe::kMxfp8 && s.gpu.sm_arch < 100) {
    return InvalidArgument(StrCat("workload.training.fp8_recipe (--fp8-recipe) mxfp8 needs a Blackwell "
                                  "GPU (block-scaled fp8 GEMMs, sm_arch >= 100); gpu '", s.gpu.name,
                                  "' has sm_arch ", s.gpu.sm_arch, ". Choices there: delayed, current"));
  }
  s.bf16_layers_at_start = t->bf16_layers_at_start();
  s.bf16_layers_at_end = t->bf16_layers_at_end();
  if (s.bf16_layers_at_start + s.bf16_layers_at_end > 0) {
    if (s.dtype != DType::kFp8 && s.dtype != DType::kFp4) {
      return InvalidArgument(StrCat("workload.training.bf16_layers_at_start / bf16_layers_at_end "
                                    "(--bf16-layers-at-start / --bf16-layers-at-end) keep layers in bf16 "
                                    "under dtype fp8 or fp4; got dtype ",
                                    t->dtype().empty() ? "bf16 (the default)" : t->dtype()));
    }
    if (s.bf16_layers_at_start + s.bf16_layers_at_end > s.model.layers) {
      return InvalidArgument(StrCat("workload.training.bf16_layers_at_start + bf16_layers_at_end (",
                                    s.bf16_layers_at_start, " + ", s.bf16_layers_at_end, ") exceeds the ",
                                    s.model.layers, " layers of model '", s.model.name, "'"));
    }
  }
  if (t->lora_rank() == 0 && t->lora_modules_size() > 0) {
    return InvalidArgument("workload.training.lora_modules (--lora-modules) needs "
                           "workload.training.lora_rank > 0 (--lora-rank)");
  }
  if (t->lora_rank() > 0) {
    if (t->lora_rank() > static_cast<uint32_t>(s.model.hidden)) {
      return InvalidArgument(StrCat("workload.training.lora_rank (--lora-rank) ", t->lora_rank(),
                                    " exceeds the hidden size ", s.model.hidden, " of model '",
                                    s.model.name, "'"));
    }
    if (s.model.mtp_layers > 0) {
      return InvalidArgument(StrCat("workload.training.lora_rank (--lora-rank): LoRA on a model with "
                                    "MTP depths is not simulated ('", s.model.name, "' has mtp_layers ",
                                    s.model.mtp_layers, ")"));
    }
    s.lora_rank = t->lora_rank();
    s.lora_modules = t->lora_modules_size() == 0 ? kAllLoraModules : 0;
    for (int i = 0; i < t->lora_modules_size(); ++i) {
      ECHOSIM_ASSIGN_OR_RETURN(const LoraModuleName* found,
                               FindModuleName(LoraModuleNames(), StrCat("workload.training.lora_modules[", i, "]"),
                                              t->lora_modules(i)));
      s.lora_modules |= found->module;
    }
  }
  if (t->packed_sample_tokens() > 0) {
    if (t->packed_sample_tokens() > static_cast<uint32_t>(s.seq_len)) {
      return InvalidArgument(StrCat("workload.training.packed_sample_tokens (--packed-sample-tokens) ",
                                    t->packed_sample_tokens(), " exceeds the sequence length ", s.seq_len,
                                    " (workload.training.seq_len_tokens) its samples are packed into"));
    }
    if (s.attention != AttentionImpl::kFlash) {
      return InvalidArgument(StrCat("workload.training.packed_sample_tokens (--packed-sample-tokens) needs "
                                    "attention flash (packed samples run in the THD layout); got ",
                                    t->attention()));
    }
    s.packed_sample_tokens = t->packed_sample_tokens();
  }
  s.mtp_bf16 = t->mtp_bf16();
  if (s.mtp_bf16 && s.model.mtp_layers <= 0) {
    return InvalidArgument(StrCat("workload.training.mtp_bf16 (--mtp-bf16) needs a model with MTP depths; '",
                                  s.model.name, "' has mtp_layers 0 (set workload.training.shape.mtp_layers)"));
  }
  if (s.model.sliding_window > 0 && s.attention != AttentionImpl::kFlash) {
    return InvalidArgument(StrCat("workload.training.attention (--attention) must be flash for a "
                                  "model with sliding-window attention ('", s.model.name,
                                  "', window ", s.model.sliding_window, " tokens); got ",
                                  t->attention()));
  }
  if (s.fp8_attention && (s.dtype != DType::kFp8 || s.attention != AttentionImpl::kFlash)) {
    return InvalidArgument(StrCat("workload.training.fp8_attention (--fp8-attention) needs dtype "
                                  "fp8 and attention flash; got dtype ", t->dtype(), ", attention ",
                                  t->attention()));
  }
  const auto& p = sc.parallelism();
  ParallelPlan& plan = s.plan;
  plan.gpus = sc.cluster().gpus();
  plan.gpus_per_node = sc.cluster().gpus_per_node();
  plan.tp = p.tp();
  plan.pp = p.pp();
  plan.vpp = p.vpp();
  plan.cp = p.cp();
  plan.ep = p.ep();
  plan.etp = p.expert_tp();
  plan.dp = p.dp();
  if (s.packed_sample_tokens > 0 && p.cp() > 1) {
    return InvalidArgument(StrCat("workload.training.packed_sample_tokens (--packed-sample-tokens) with "
                                  "parallelism.cp ", p.cp(), ": context parallelism over packed samples "
                                  "is not simulated; use cp 1"));
  }
  plan.zero = p.zero();
  if (s.lora_rank > 0 && plan.zero >= 3) {
    return InvalidArgument(StrCat("parallelism.zero (--zero) ", plan.zero, " with LoRA "
                                  "(workload.training.lora_rank): sharded frozen weights are not "
                                  "simulated; use zero 0 to 2"));
  }
  plan.sequence_parallel = p.sequence_parallel();
  plan.embedding_in_pipeline_split = p.account_for_embedding_in_pipeline_split();
  plan.loss_in_pipeline_split = p.account_for_loss_in_pipeline_split();
  plan.grad_reduce_in_fp32 = p.grad_reduce_in_fp32();
  plan.fp8_param_gather = p.fp8_param_gather();
  plan.cpu_offload_layers = p.cpu_offload_layers();
  if (!t->optimizer().empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(plan.muon, ParseChoice<bool>("workload.training.optimizer", t->optimizer(),
                                                          {{"adam", false}, {"muon", true}}));
    if (plan.muon && s.lora_rank > 0) {
      return InvalidArgument("workload.training.optimizer (--optimizer) muon with LoRA "
                             "(workload.training.lora_rank): the adapters are stepped by adam; use adam");
    }
  }
  if (!t->optimizer_moments().empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(plan.moments_bf16,
                             ParseChoice<bool>("workload.training.optimizer_moments", t->optimizer_moments(),
                                               {{"fp32", false}, {"bf16", true}}));
  }
  if (!p.pipeline_layout().empty()) {
    auto layout = ParsePipelineLayout(p.pipeline_layout());
    if (!layout.ok()) return layout.status().WithContext("parallelism.pipeline_layout (--pipeline-layout)");
    plan.layout = std::move(layout).value();
  }
  if (plan.fp8_param_gather && s.dtype != DType::kFp8) {
    return InvalidArgument(StrCat("parallelism.fp8_param_gather (--fp8-param-gather) needs dtype "
                                  "fp8 (workload.training.dtype); got ", t->dtype()));
  }
  ECHOSIM_ASSIGN_OR_RETURN(plan.recompute, ParseChoice<RecomputeMode>(
                                               "parallelism.recompute", p.recompute(),
                                               {{"none", RecomputeMode::kNone},
                                                {"selective", RecomputeMode::kSelective},
                                                {"full", RecomputeMode::kFull}}));
  ECHOSIM_ASSIGN_OR_RETURN(plan.recompute_modules,
                           ParseRecomputeModules(p, s.model));
  plan.pipeline_schedule = p.pipeline_schedule();
  plan.micro_batch = t->micro_batch_seqs();
  plan.global_batch = t->global_batch_seqs();
  const auto& net = sc.cluster().network();
  s.topology.nvlink_bytes_per_s = net.nvlink_gbps() / 8.0 * 1e9 * s.gpu.nvlink_efficiency;
  s.topology.nic_bytes_per_s = net.nic_gbps() / 8.0 * 1e9 * s.gpu.nic_efficiency;
  s.topology.nvlink_latency_s = net.nvlink_latency_us() * 1e-6;
  s.topology.nic_latency_s = net.nic_latency_us() * 1e-6;
  s.topology.oversubscription = net.oversubscription();
  s.collective_model = net.collective_model();
  s.nccl_version = net.nccl_version();
  s.nccl_calibration = net.nccl_calibration();
  s.topology.nodes_per_leaf = net.nodes_per_leaf();
  s.interference = sc.simulation().interference();
  s.contention = sc.simulation().contention();
  s.host_overhead_s = sc.simulation().host_overhead_per_step_ms() * 1e-3;
  s.host_launch_s = sc.simulation().host_launch_us() * 1e-6;
  s.host_loop_launch_s = sc.simulation().host_loop_launch_us() * 1e-6;
  ECHOSIM_ASSIGN_OR_RETURN(s.cuda_graph_scopes,
                           ParseGraphScopes({p.cuda_graph_scope().begin(), p.cuda_graph_scope().end()},
                                            "parallelism.cuda_graph_scope (--cuda-graph-scope)"));
  s.compute_sustained_factor = sc.simulation().compute_sustained_factor();
  s.flex_dispatch_traffic_factor = sc.simulation().flex_dispatch_traffic_factor();
  s.full = sc.simulation().full();
  s.overlap_grad_reduce = p.overlap_grad_reduce();
  s.overlap_param_gather = p.overlap_param_gather();
  s.tp_comm_overlap = p.tp_comm_overlap();
  s.ep_comm_overlap = p.ep_comm_overlap();
  if (!p.moe_dispatcher().empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(s.flex_dispatch, ParseChoice<bool>("parallelism.moe_dispatcher", p.moe_dispatcher(),
                                                                {{"alltoall", false}, {"flex", true}}));
  }
  if (p.flex_dispatcher_sms() > 0) {
    if (!s.flex_dispatch) {
      return InvalidArgument(StrCat("parallelism.flex_dispatcher_sms (--flex-sms) applies to the flex token "
                                    "dispatcher only: set parallelism.moe_dispatcher to flex, or leave it unset"));
    }
    // At least one SM is left to the compute kernels; a GPU without an SM count in the
    // interference table is bounded by the largest GPU in it.
    auto sms = SmCount(DefaultInterferenceParams(), s.gpu.name);
    int largest = 0;
    for (const auto& [name, count] : DefaultInterferenceParams().sm_count) largest = std::max(largest, count);
    const int most = (sms.ok() ? *sms : largest) - 1;
    if (p.flex_dispatcher_sms() > static_cast<uint32_t>(most)) {
      return InvalidArgument(StrCat("parallelism.flex_dispatcher_sms (--flex-sms) must be 1 to ", most,
                                    " (the ", s.gpu.name, "'s SMs but one; 0 or unset: ",
                                    kDefaultFlexDispatcherSms, "), got ", p.flex_dispatcher_sms()));
    }
    s.flex_dispatcher_sms = static_cast<int>(p.flex_dispatcher_sms());
  }
  if (!p.moe_grouped_gemm().empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(s.grouped_gemm_single_kernel,
                             ParseChoice<bool>("parallelism.moe_grouped_gemm (--moe-grouped-gemm)",
                                               p.moe_grouped_gemm(),
                                               {{"multi_stream", false}, {"single_kernel", true}}));
  }
  if (p.moe_fused_mlp() && !s.model.is_moe()) {
    return InvalidArgument(StrCat("parallelism.moe_fused_mlp (--moe-fused-mlp) fuses the experts' MLP: it needs an "
                                  "MoE model (experts > 1), got ", s.model.experts, " experts"));
  }
  s.fused_moe_mlp = p.moe_fused_mlp();
  const double imbalance = t->moe_load_imbalance();
  if (imbalance != 0 && imbalance != 1) {
    if (s.plan.ep <= 1 || !s.model.is_moe()) {
      return InvalidArgument(StrCat("workload.training.moe_load_imbalance (--moe-load-imbalance) needs an MoE "
                                    "model (experts > 1) and parallelism.ep > 1; got ep ", s.plan.ep, " and ",
                                    s.model.experts, " experts"));
    }
    if (!(imbalance >= 1 && imbalance <= static_cast<double>(s.plan.ep))) {
      return InvalidArgument(StrCat("workload.training.moe_load_imbalance (--moe-load-imbalance) is the busiest "
                                    "EP rank's routed tokens over the mean: it must be in [1, ep = ", s.plan.ep,
                                    "] (0 or unset: uniformly random routing's), got ", imbalance));
    }
  }
  s.moe_load_imbalance = imbalance;  // 1: exactly balanced; 0: random routing's (LayerContext)
  if (s.ep_comm_overlap && (s.plan.ep <= 1 || !s.model.is_moe())) {
    return InvalidArgument(StrCat("parallelism.ep_comm_overlap (--ep-comm-overlap) needs an MoE "
                                  "model (experts > 1) and parallelism.ep > 1; got ep ", s.plan.ep,
                                  " and ", s.model.experts, " experts"));
  }
  if (s.ep_comm_overlap && s.plan.pp > 1 && s.plan.vpp <= 1) {
    // As Megatron-Core: without interleaving, a paired forward's pipeline receive holds up
    // the backward it is merged with, and the pipeline stalls.
    return InvalidArgument("parallelism.ep_comm_overlap (--ep-comm-overlap) with pp > 1 needs "
                           "parallelism.vpp > 1 (interleaved schedule), as in Megatron-Core");
  }
  s.grad_bucket_params = p.grad_bucket_mparams() * 1e6;
  ECHOSIM_ASSIGN_OR_RETURN(s.compute_calibration,
                           ResolveComputeCalibration(s.gpu, sc.simulation().kernel_calibration()));
  return s;
}

Status SetPlanSearchJob(const TrainingSetup& setup, PlanSearchSpace* space) {
  if (!setup.plan.layout.empty()) {
    return InvalidArgument("parallelism.pipeline_layout (--pipeline-layout) fixes one pipeline split; "
                           "search explores the splits itself: leave it unset");
  }
  space->gpus = setup.plan.gpus;
  space->gpus_per_node = setup.plan.gpus_per_node;
  space->global_batch = setup.plan.global_batch;
  space->seq_len = setup.seq_len;
  space->dtype = setup.dtype;
  space->attention = setup.attention;
  space->memory_capacity_bytes = setup.gpu.HbmCapacityBytes();
  space->reserved_bytes = setup.gpu.memory_reserved_gb * 1e9;
  space->embedding_in_pipeline_split = setup.plan.embedding_in_pipeline_split;
  space->loss_in_pipeline_split = setup.plan.loss_in_pipeline_split;
  space->grad_reduce_in_fp32 = setup.plan.grad_reduce_in_fp32;
  space->fp8_param_gather = setup.plan.fp8_param_gather;
  space->cpu_offload_layers = setup.plan.cpu_offload_layers;
  space->muon = setup.plan.muon;
  space->moments_bf16 = setup.plan.moments_bf16;
  return Status::Ok();
}

StatusOr<TrainingRun> RunTrainingScenario(scenario::Scenario s) {
  ECHOSIM_RETURN_IF_ERROR(ResolveScenario(&s));
  TrainingRun run;
  run.resolved = s;
  ECHOSIM_ASSIGN_OR_RETURN(run.setup, MakeTrainingSetup(run.resolved));
  if (run.resolved.simulation().compute_backend() == "gpu" && run.setup.dtype == DType::kFp4) {
    return InvalidArgument("simulation.compute_backend (--compute-backend) gpu: echosim-kernels "
                           "measures bf16, fp16 and fp8 GEMMs, not fp4 (NVFP4); use the model "
                           "backend for workload.training.dtype fp4");
  }
  if (run.resolved.simulation().compute_backend() == "gpu") {
    // Every distinct kernel shape of the step, measured once on the local GPU.
    ECHOSIM_ASSIGN_OR_RETURN(std::vector<ComputeOp> ops, CollectComputeOps(run.setup));
    MeasureOptions mo;
    mo.cache_file = run.resolved.simulation().kernel_cache();
    auto measured = MeasureKernels(ops, mo);
    if (!measured.ok()) {
      return Status(measured.status().code(),
                    StrCat("simulation.compute_backend gpu (--compute-backend gpu): ",
                           measured.status().message()));
    }
    run.measured_device = measured->times.device;
    run.kernel_shapes = measured->distinct;
    run.kernels_measured = measured->measured;
    run.kernels_from_cache = measured->from_cache;
    run.setup.measured_kernels = std::make_shared<const MeasuredKernelTimes>(std::move(measured->times));
  }
  ECHOSIM_ASSIGN_OR_RETURN(run.result, SimulateTrainingStep(run.setup));
  return run;
}


nlohmann::json SummaryJson(const TrainingRun& run) {
  const StepResult& r = run.result;
  const ParallelPlan& p = run.setup.plan;
  nlohmann::json j;
  j["scenario"] = run.resolved.name();
  j["model"] = run.setup.model.name;
  j["gpu"] = run.setup.gpu.name;
  j["step_time_s"] = r.step_time_s;
  j["moe_load_imbalance"] = r.moe_load_imbalance;
  j["tokens_per_s_per_gpu"] = r.tokens_per_s_per_gpu;
  j["model_tflops_per_gpu"] = r.model_tflops_per_gpu;
  j["mfu"] = r.mfu;
  j["peak_memory_bytes"] = r.peak_memory_bytes;
  j["memory_capacity_bytes"] = r.memory_capacity_bytes;
  j["fits_in_memory"] = r.fits_in_memory;
  j["breakdown"] = {{"compute_s", r.breakdown.compute_s},
                    {"exposed_comm_s", r.breakdown.exposed_comm_s},
                    {"pipeline_bubble_s", r.breakdown.pipeline_bubble_s},
                    {"other_s", r.breakdown.other_s},
                    {"host_bound_s", r.breakdown.host_bound_s},
                    {"rank", r.breakdown_rank}};
  nlohmann::json by_dim;
  for (GroupKind k : {GroupKind::kTp, GroupKind::kCp, GroupKind::kEp, GroupKind::kDp, GroupKind::kPp,
                      GroupKind::kEdp}) {
    by_dim[GroupKindName(k)] = r.breakdown.exposed_comm_by_group_s[static_cast<int>(k)];
  }
  j["breakdown"]["exposed_comm_by_dim_s"] = by_dim;
  nlohmann::json mem = nlohmann::json::array();
  for (const StageMemory& sm : r.memory) {
    mem.push_back({{"stage", sm.stage},
                   {"params", sm.params},
                   {"weight_bytes", sm.weight_bytes},
                   {"gradient_bytes", sm.gradient_bytes},
                   {"optimizer_bytes", sm.optimizer_bytes},
                   {"activation_bytes", sm.activation_bytes},
                   {"reserved_bytes", sm.reserved_bytes},
                   {"total_bytes", sm.total_bytes()}});
  }
  j["memory_per_stage"] = mem;
  j["gpus"] = p.gpus;
  j["tp"] = p.tp;
  j["pp"] = p.pp;
  j["vpp"] = p.vpp;
  j["cp"] = p.cp;
  j["ep"] = p.ep;
  j["dp"] = p.dp;
  j["microbatches_per_pipeline"] = p.num_microbatches();
  j["model_params"] = run.setup.model.TotalParams();
  j["model_flops_per_step"] = r.model_flops_per_step;
  j["simulated_ranks"] = r.simulated_ranks;
  j["events"] = r.events;
  j["graph_nodes"] = r.graph_nodes;
  j["compute_backend"] = run.resolved.simulation().compute_backend();
  j["calibration"] = {
      {"compute", DescribeComputeCalibration(run.setup.compute_calibration.get())},
      {"training", StrCat("compute_sustained_factor ", FormatDouble(run.setup.compute_sustained_factor, 6),
                          ", host_overhead_per_step_ms ", FormatDouble(run.setup.host_overhead_s * 1e3, 6))}};
  if (run.setup.measured_kernels) {
    j["compute_device"] = run.measured_device;
    j["kernels"] = {{"shapes", run.kernel_shapes},
                    {"measured", run.kernels_measured},
                    {"from_cache", run.kernels_from_cache}};
  }
  j["sim_wall_s"] = r.sim_wall_s;
  return j;
}

std::string SummaryTable(const TrainingRun& run) {
  const StepResult& r = run.result;
  const ParallelPlan& p = run.setup.plan;
  std::ostringstream o;
  auto gib = [](double b) { return FormatDouble(b / (1024.0 * 1024.0 * 1024.0), 4) + " GiB"; };
  o << "echosim training step: " << run.resolved.name() << "\n";
  o << "  model " << run.setup.model.name << " (" << FormatDouble(run.setup.model.TotalParams() / 1e9, 4)
    << "B params), " << p.gpus << " x " << run.setup.gpu.name << ", tp " << p.tp << " pp " << p.pp
    << " vpp " << p.vpp << " cp " << p.cp << " ep " << p.ep << " dp " << p.dp << ", "
    << p.num_microbatches() << " micro-batches of " << p.micro_batch << "\n";
  o << "  step time            " << FormatDouble(r.step_time_s, 5) << " s\n";
  o << "  tokens/s per GPU     " << FormatDouble(r.tokens_per_s_per_gpu, 6) << "\n";
  o << "  model TFLOP/s per GPU " << FormatDouble(r.model_tflops_per_gpu, 5) << "  (MFU "
    << FormatDouble(100.0 * r.mfu, 4) << "%)\n";
  o << "  breakdown (rank " << r.breakdown_rank << "): compute " << FormatDouble(r.breakdown.compute_s, 5)
    << " s, exposed comm " << FormatDouble(r.breakdown.exposed_comm_s, 5) << " s, bubble "
    << FormatDouble(r.breakdown.pipeline_bubble_s, 5) << " s, other "
    << FormatDouble(r.breakdown.other_s, 5) << " s";
  if (run.setup.host_launch_s > 0) o << ", host-bound " << FormatDouble(r.breakdown.host_bound_s, 5) << " s";
  o << "\n";
  if (run.setup.model.is_moe() && p.ep > 1) {
    o << "  MoE routing          busiest EP rank " << FormatDouble(r.moe_load_imbalance, 4) << "x the mean load ("
      << (run.setup.moe_load_imbalance >= 1 ? "stated" : "random routing's expected maximum") << ")\n";
  }
  o << "  peak memory          " << gib(r.peak_memory_bytes) << " of " << gib(r.memory_capacity_bytes)
    << " (stage " << r.peak_memory_stage << ")" << (r.fits_in_memory ? "" : "  DOES NOT FIT") << "\n";
  if (!r.fits_in_memory) {
    const StageMemory& sm = r.memory[r.peak_memory_stage];
    o << "    weights " << gib(sm.weight_bytes) << ", gradients " << gib(sm.gradient_bytes)
      << ", optimizer " << gib(sm.optimizer_bytes) << ", activations " << gib(sm.activation_bytes)
      << ", reserved " << gib(sm.reserved_bytes) << "\n";
  }
  if (run.setup.measured_kernels) {
    o << "  compute backend      gpu: kernels measured on " << run.measured_device << " ("
      << run.kernel_shapes << " shapes: " << run.kernels_measured << " measured, "
      << run.kernels_from_cache << " from cache)\n";
  } else {
    o << "  compute model        " << DescribeComputeCalibration(run.setup.compute_calibration.get())
      << "\n";
  }
  o << "  simulated ranks " << r.simulated_ranks << ", events " << r.events << ", wall "
    << FormatDouble(r.sim_wall_s, 3) << " s\n";
  return o.str();
}

}  // namespace echosim
