// What the host (CPU) does to run a training step's operators: how many kernels it launches
// for each one, and which of them a CUDA graph captures.
//
// The simulator's host model (simulation.host_launch_us) charges the host a fixed time per
// kernel launch and lets no kernel start before the host has issued it. These counts are
// those of eager Megatron-Core / Transformer Engine execution, read from their code paths;
// they are approximate (a PyTorch op that launches no kernel, or one kernel that the
// framework fuses on one version and not another, moves them by one or two).
#ifndef ECHOSIM_MODELS_HOST_LAUNCHES_H_
#define ECHOSIM_MODELS_HOST_LAUNCHES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {

// The parts of a step a framework captures in CUDA graphs (parallelism.cuda_graph_scope).
enum GraphScope : uint32_t {
  kGraphAttn = 1u << 0,           // attention block: norm, projections, core attention, residual
  kGraphMlp = 1u << 1,            // a dense MLP block
  kGraphMoe = 1u << 2,            // the whole MoE block
  kGraphMoeRouter = 1u << 3,      // the router (with the pre-MLP norm)
  kGraphMoePreprocess = 1u << 4,  // the dispatcher's permutation before the all-to-all
  kGraphMamba = 1u << 5,          // a Mamba mixer block
  kGraphFullIteration = 1u << 6,  // the whole forward and backward pass
};

// Parses scope names ("attn", "mlp", "moe", "moe_router", "moe_preprocess", "mamba",
// "full_iteration"); the error names `field` and the valid choices.
StatusOr<uint32_t> ParseGraphScopes(const std::vector<std::string>& names, const std::string& field);

// The scope (one GraphScope bit) that captures the operator `name` of a layer, or 0 when no
// scope does; several bits when nested scopes both capture it (the router and the
// permutation are part of the MoE block). `moe_layer`: the layer's MLP is a mixture of experts
// (its pre-MLP norm and residual then belong to the MoE block); `mamba_layer`: the layer is a
// Mamba mixer (its norm and residual belong to the mamba scope). Embedding, head, loss and
// optimizer ops: 0.
uint32_t GraphScopeOf(std::string_view name, bool moe_layer, bool mamba_layer);

struct LaunchContext {
  int64_t local_experts = 1;          // experts held by one rank (experts / ep)
  bool grouped_gemm_single_kernel = false;
  bool fused_moe_mlp = false;
  bool flex_dispatch = false;         // DeepEP / HybridEP: more kernels per dispatch
};

// Kernels the framework launches for the operator `name` in eager execution (at least 1).
int64_t KernelLaunches(std::string_view name, const LaunchContext& c);

// How many of KernelLaunches(name, c) a C++ loop inside one framework call issues (Transformer
// Engine's grouped GEMM and its fp8 quantisation: one Python-level call, then one cuBLAS GEMM
// or quantisation per further local expert), costing the host a bare kernel launch
// (simulation.host_loop_launch_us) instead of a Python-level operator's.
int64_t LoopLaunches(std::string_view name, const LaunchContext& c);

// Whether the host, in eager execution, waits for the GPU to finish the operator `name`'s
// kernels before it issues anything after them (a synchronising call in the framework's code
// path: the next operator cannot be issued ahead of the GPU).
bool SynchronizesHost(std::string_view name);

}  // namespace echosim

#endif  // ECHOSIM_MODELS_HOST_LAUNCHES_H_
