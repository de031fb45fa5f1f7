#include "models/host_launches.h"

#include <utility>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

bool Starts(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool Has(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

const std::vector<std::pair<const char*, GraphScope>>& ScopeNames() {
  static const auto* v = new std::vector<std::pair<const char*, GraphScope>>{
      {"attn", kGraphAttn},
      {"mlp", kGraphMlp},
      {"moe", kGraphMoe},
      {"moe_router", kGraphMoeRouter},
      {"moe_preprocess", kGraphMoePreprocess},
      {"mamba", kGraphMamba},
      {"full_iteration", kGraphFullIteration}};
  return *v;
}

// Transformer Engine's GroupedLinear (Megatron-Core TEGroupedMLP): one GEMM per local expert,
// and with fp8 one quantisation per expert's slice of the input or gradient; one kernel when
// the grouped GEMM is a single kernel or the expert MLP one fused op. 0: `name` is not one.
int64_t GroupedGemmLaunches(std::string_view name, const LaunchContext& c) {
  if (!(Starts(name, "moe.fc1.") || Starts(name, "moe.fc2.")) || Starts(name, "moe.fc2_bias")) return 0;
  const bool per_expert = !c.grouped_gemm_single_kernel && !c.fused_moe_mlp;
  return per_expert && c.local_experts > 1 ? c.local_experts : 1;
}

}  // namespace

StatusOr<uint32_t> ParseGraphScopes(const std::vector<std::string>& names, const std::string& field) {
  uint32_t bits = 0;
  for (const std::string& n : names) {
    bool found = false;
    for (const auto& [name, bit] : ScopeNames()) {
      if (n == name) {
        bits |= bit;
        found = true;
      }
    }
    if (!found) {
      std::string valid;
      for (const auto& [name, bit] : ScopeNames()) valid += StrCat(valid.empty() ? "" : ", ", name);
      return InvalidArgument(StrCat(field, ": unknown value '", n, "'; valid choices: ", valid));
    }
  }
  return bits;
}

uint32_t GraphScopeOf(std::string_view name, bool moe_layer, bool mamba_layer) {
  // Tensor-parallel and context-parallel collectives of a block are captured with it.
  if (Starts(name, "norm1.") || Starts(name, "residual1.")) return mamba_layer ? kGraphMamba : kGraphAttn;
  if (Starts(name, "attn.") || Starts(name, "cp.") || (Starts(name, "tp.") && Has(name, ".attn"))) {
    return kGraphAttn;
  }
  if (Starts(name, "mamba.") || (Starts(name, "tp.") && Has(name, ".mamba"))) return kGraphMamba;
  if (Starts(name, "mlp.") || (Starts(name, "tp.") && Has(name, ".mlp"))) return kGraphMlp;
  if (Starts(name, "norm2.")) return moe_layer ? kGraphMoeRouter | kGraphMoe : kGraphMlp;
  if (Starts(name, "residual2.")) return moe_layer ? kGraphMoe : kGraphMlp;
  if (Starts(name, "moe.router.")) return kGraphMoeRouter | kGraphMoe;
  if (Starts(name, "moe.permute.")) return kGraphMoePreprocess | kGraphMoe;
  if (Starts(name, "moe.") || Starts(name, "ep.") || (Starts(name, "tp.") && Has(name, ".moe"))) {
    return kGraphMoe;
  }
  return 0;
}

int64_t KernelLaunches(std::string_view name, const LaunchContext& c) {
  const int64_t experts = c.local_experts > 0 ? c.local_experts : 1;
  if (const int64_t grouped = GroupedGemmLaunches(name, c); grouped > 0) return grouped;
  // TEGroupedMLP._apply_bias, eager: per local expert the bias times the routing probability
  // and its sum with the expert's output rows (2 kernels), then the concatenation and the
  // cast; backward: per expert the two products' gradients and their reductions (5 kernels).
  if (name == "moe.fc2_bias.fwd") return 2 * experts + 2;
  if (name == "moe.fc2_bias.bwd") return 5 * experts + 2;
  // The clamped GLU: two clamps and a concatenation around the fused activation.
  if (name == "moe.glu_clamp.fwd") return 3;
  if (name == "moe.glu_clamp.bwd") return 4;
  // Router: the gating GEMM, then the score, top-k, probability and load-balancing kernels.
  if (name == "moe.router.fwd") return 6;
  if (name == "moe.router.dgrad") return 3;
  // Permutation: the routing map's row ids and token counts, then the gather.
  if (name == "moe.permute.fwd") return 4;
  if (Starts(name, "moe.permute.") || Starts(name, "moe.unpermute.") || Starts(name, "moe.sort.") ||
      Starts(name, "moe.unsort.")) {
    return 2;
  }
  // Token dispatch: the all-to-all (or the flex dispatcher's kernels, with its metadata
  // preprocessing before the forward dispatch).
  if (name == "ep.all_to_all.dispatch") return c.flex_dispatch ? 3 : 2;
  if (Starts(name, "ep.")) return 2;
  // Fused attention backward (and its dQ conversion); RoPE and QK-norm on queries and keys.
  if (name == "attn.bwd") return 2;
  if (Starts(name, "attn.rope.") || Starts(name, "attn.qk_norm.")) return 2;
  // Megatron-Core's unfused RoPE (a YaRN factor), on the queries and on the keys: forward the
  // table's cos, sin, scalings and casts (6) and the negation, two concatenations, two
  // products and the sum (6); backward two products, the negation, a concatenation, two
  // zero fills, a copy and two sums (9). See layer_ops.cc, RopeFwd / RopeBwd.
  if (name == "attn.rope_unfused.fwd") return 2 * 12;
  if (name == "attn.rope_unfused.bwd") return 2 * 9;
  if (name == "loss.cross_entropy.fwd") return 4;
  if (name == "loss.cross_entropy.bwd") return 2;
  return 1;
}

int64_t LoopLaunches(std::string_view name, const LaunchContext& c) {
  // The unfused RoPE's tensor operations, issued back to back by two consecutive calls of one
  // function (queries, then keys): all but the first at the loop cost.
  if (Starts(name, "attn.rope_unfused.")) return KernelLaunches(name, c) - 1;
  // The expert-bias path's per-expert products and sums: a Python loop of bare tensor
  // operations forward, the autograd engine's C++ backward: all but the first at the loop cost.
  if (Starts(name, "moe.fc2_bias.")) return KernelLaunches(name, c) - 1;
  const int64_t grouped = GroupedGemmLaunches(name, c);
  return grouped > 1 ? grouped - 1 : 0;
}

bool SynchronizesHost(std::string_view name) {
  // Megatron-Core's clamped quick-GEGLU (fusions/fused_bias_geglu.py,
  // weighted_bias_quick_geglu_impl, gpt-oss's expert activation), after its clamps and their
  // concatenation, builds its linear offset with torch.tensor(..., device=input.device) on
  // every call: a copy from pageable host memory that PyTorch makes synchronously
  // (cudaMemcpyAsync, then cudaStreamSynchronize: c10 memcpy_and_sync), so the host waits for
  // the GPU to drain before it issues the activation. The recompute of the activation repeats it.
  return name == "moe.glu_clamp.fwd";
}

}  // namespace echosim
