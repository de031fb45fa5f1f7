// Presets: the built-in models, GPUs and pipeline schedules (what `echosim list` shows).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "hardware/gpu_spec.h"
#include "models/model_spec.h"
#include "policies/pipeline_schedule.h"
#include "python/src/bindings.h"
#include "python/src/status_exception.h"

namespace py = pybind11;

namespace echosim::python {

void RegisterPresets(py::module_& m) {
  m.def(
      "model_presets",
      []() {
        py::list out;
        for (const std::string& n : ModelPresetNames()) {
          const ModelSpec s = ValueOrThrow(FindModelPreset(n));
          py::dict d;
          d["name"] = s.name;
          d["description"] = s.description;
          d["layers"] = s.layers;
          d["hidden"] = s.hidden;
          d["heads"] = s.heads;
          d["kv_heads"] = s.kv_heads;
          d["head_dim"] = s.head_dim();
          d["ffn_hidden"] = s.ffn_hidden;
          d["vocab"] = s.vocab;
          d["experts"] = s.experts;
          d["top_k"] = s.top_k;
          d["mlp"] = MlpKindName(s.mlp);
          d["norm"] = NormKindName(s.norm);
          d["position"] = PositionKindName(s.position);
          d["max_seq_len_tokens"] = s.max_seq_len_tokens;
          d["tied_embeddings"] = s.tied_embeddings;
          d["dropout"] = s.dropout;
          d["qk_norm"] = s.qk_norm;
          d["sliding_window"] = s.sliding_window;
          d["full_attention_every"] = s.full_attention_every;
          d["moe_ffn_hidden"] = s.expert_ffn();
          d["dense_layers"] = s.dense_layers;
          d["shared_expert_ffn"] = s.shared_expert_ffn;
          d["router_groups"] = s.router_groups;
          d["router_group_topk"] = s.router_group_topk;
          d["glu_clamp"] = s.glu_clamp;
          d["rope_mscale"] = s.rope_mscale;
          d["expert_bias"] = s.expert_bias;
          d["moe_latent"] = s.moe_latent;
          d["mtp_shared_weights"] = s.mtp_shared_weights;
          d["q_lora_rank"] = s.q_lora_rank;
          d["kv_lora_rank"] = s.kv_lora_rank;
          d["qk_rope_head_dim"] = s.qk_rope_head_dim;
          d["v_head_dim"] = s.v_dim();
          d["mtp_layers"] = s.mtp_layers;
          d["layer_pattern"] = s.layer_pattern;
          d["mamba_heads"] = s.mamba_heads;
          d["mamba_head_dim"] = s.mamba_head_dim;
          d["mamba_state"] = s.mamba_state;
          d["mamba_groups"] = s.mamba_groups;
          d["mamba_conv_kernel"] = s.mamba_conv_kernel;
          d["mamba_chunk"] = s.mamba_chunk;
          d["params"] = s.TotalParams();
          out.append(d);
        }
        return out;
      },
      "Built-in model presets (sorted by name), one dict each.");
  m.def(
      "gpu_presets",
      []() {
        py::list out;
        for (const std::string& n : GpuPresetNames()) {
          const GpuSpec g = ValueOrThrow(FindGpuPreset(n));
          py::dict d;
          d["name"] = g.name;
          d["description"] = g.description;
          d["peak_tflops_bf16"] = g.peak_tflops_bf16;
          d["peak_tflops_fp16"] = g.peak_tflops_fp16;
          d["peak_tflops_fp8"] = g.peak_tflops_fp8;
          d["peak_tflops_fp4"] = g.peak_tflops_fp4;
          d["peak_tflops_fp32"] = g.peak_tflops_fp32;
          d["hbm_capacity_gb"] = g.hbm_capacity_gb;
          d["hbm_tbps"] = g.hbm_tbps;
          d["nvlink_gbps"] = g.nvlink_gbps;
          d["nic_gbps"] = g.nic_gbps;
          d["memory_reserved_gb"] = g.memory_reserved_gb;
          out.append(d);
        }
        return out;
      },
      "Built-in GPU presets (sorted by name), one dict each.");
  m.def(
      "pipeline_schedules",
      []() {
        py::list out;
        for (const PipelineSchedule* s : PipelineSchedules()) {
          py::dict d;
          d["name"] = s->name();
          d["description"] = s->description();
          out.append(d);
        }
        return out;
      },
      "Registered pipeline schedules, one dict each.");
}

}  // namespace echosim::python
