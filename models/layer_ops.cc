#include "models/layer_ops.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

// Tokens one rank processes in GEMMs, and in sequence-parallel regions.
struct Dims {
  double tokens;     // micro_batch * seq_len / cp
  double sp_tokens;  // tokens / tp when sequence parallel, else tokens
  int64_t h, tp, heads_local, kv_local, d, f_local;
  double e;          // activation bytes per element
};

Dims MakeDims(const ModelSpec& m, const LayerContext& c) {
  Dims d;
  d.tokens = static_cast<double>(c.micro_batch * c.seq_len) / static_cast<double>(c.cp);
  d.sp_tokens = c.sequence_parallel ? d.tokens / static_cast<double>(c.tp) : d.tokens;
  d.h = m.hidden;
  d.tp = c.tp;
  d.heads_local = m.heads / c.tp;
  d.kv_local = std::max<int64_t>(1, m.kv_heads / c.tp);
  d.d = m.head_dim();
  d.f_local = m.ffn_hidden / c.tp;
  d.e = ActivationBytes(c.dtype);
  return d;
}

// Transformer Engine's compute streams for grouped GEMMs (see MoeDims::gemm_concurrency).
constexpr int64_t kGroupedGemmStreams = 4;

// The MoE block's share of a rank: with expert TP 1 under TP > 1 (Megatron-Core MoE parallel
// folding, sequence parallel) the rank's own sequence shard and whole experts; otherwise the
// TP-gathered tokens and experts split over TP like the dense MLP.
struct MoeDims {
  bool folded;
  double tokens;
  int64_t f;              // expert FFN width on this rank
  int64_t up;             // first expert GEMM's output width (2f for SwiGLU)
  int64_t local_experts;  // experts on this rank (MoE models)
  double routed;          // token-expert pairs this rank's tokens make (its permute, its sends)
  // Token-expert pairs this rank's experts compute: routed times `imbalance`, the busiest EP
  // rank's load over the mean (the combine waits for it): LayerContext::moe_load_imbalance when
  // stated, else random routing's (RandomRoutingImbalance); 1 without EP.
  double received;
  double imbalance;
  int64_t per_expert;     // tokens per local expert (of `received`)
  int64_t xh;             // width of the routed tokens (ModelSpec::expert_width: latent or hidden)
  // The expert GEMMs in flight at once. Transformer Engine's GroupedLinear (Megatron-Core's
  // TEGroupedMLP) issues one cuBLASLt GEMM per local expert, round-robin over its 4 compute
  // streams (nvte_multi_tensor_gemm; transformer_engine/common/util/multi_stream.h:
  // num_compute_streams = 4), so a grouped GEMM fills the GPU like 4 expert GEMMs at a time,
  // not like one kernel of all of them. 0 with LayerContext::grouped_gemm_single_kernel.
  int64_t gemm_concurrency;
};

// The expected maximum of n independent standard normal draws, by Blom's approximation of the
// largest order statistic: Phi^-1((n - 0.375) / (n + 0.25)) (Blom 1958; within about 1% of the
// exact value for n >= 2). Phi^-1 by bisection on erfc: deterministic and exact to 1e-12.
double ExpectedMaxOfNormals(int64_t n) {
  if (n <= 1) return 0;
  const double p = (static_cast<double>(n) - 0.375) / (static_cast<double>(n) + 0.25);
  double lo = 0, hi = 10;
  for (int i = 0; i < 64; ++i) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

double RandomRoutingImbalance(int64_t experts, int64_t top_k, int64_t ep, double routed_per_rank) {
  if (ep <= 1 || experts <= top_k || routed_per_rank <= 0) return 1.0;
  // Each of the group's ep * T tokens picks top_k distinct experts of E uniformly; the number
  // landing on one rank's E / ep experts is hypergeometric with variance
  // k (1/ep)(1 - 1/ep)(E - k)/(E - 1), so a rank's load (mean T k) has the relative spread
  // sqrt((1 - 1/ep)(E - k)/(E - 1) / (T k)), and the busiest of ep ranks sits the expected
  // maximum of ep normals above the mean.
  const double n = static_cast<double>(ep), e = static_cast<double>(experts), k = static_cast<double>(top_k);
  const double spread = std::sqrt((1.0 - 1.0 / n) * (e - k) / (e - 1.0) / routed_per_rank);
  return 1.0 + ExpectedMaxOfNormals(ep) * spread;
}

namespace {

MoeDims MakeMoeDims(const ModelSpec& m, const LayerContext& c, const Dims& d) {
  MoeDims md;
  md.folded = m.is_moe() && !c.dense_layer && c.tp > 1 && c.ExpertTp() == 1;
  md.tokens = md.folded ? d.sp_tokens : d.tokens;
  md.f = md.folded ? m.expert_ffn() : m.expert_ffn() / c.tp;
  md.up = m.mlp == MlpKind::kSwiglu ? 2 * md.f : md.f;
  md.local_experts = std::max<int64_t>(1, m.experts / c.ep);
  md.routed = md.tokens * m.top_k;
  md.imbalance = c.ep <= 1                    ? 1.0
                 : c.moe_load_imbalance >= 1.0 ? c.moe_load_imbalance
                                               : RandomRoutingImbalance(m.experts, m.top_k, c.ep, md.routed);
  md.received = md.routed * md.imbalance;
  md.per_expert = std::max<int64_t>(1, static_cast<int64_t>(md.received / md.local_experts));
  md.xh = m.expert_width();
  md.gemm_concurrency = c.grouped_gemm_single_kernel || c.fused_moe_mlp
                            ? 0
                            : std::min<int64_t>(md.local_experts, kGroupedGemmStreams);
  return md;
}

// Megatron-Core's all-to-all token dispatcher sorts the tokens it received by local expert
// after the dispatch ("permutation 2") and restores their order before the combine
// ("unpermutation 2") when a rank holds several experts (token_dispatcher.py,
// MoEAlltoAllTokenDispatcher.dispatch_postprocess / combine_preprocess, sort_chunks_by_idxs):
// one more read and write of every routed token in each direction.
bool SortsByLocalExpert(const LayerContext& c, const MoeDims& md) {
  return c.ep > 1 && md.local_experts > 1;
}

// Probability that a token's top_k experts (balanced routing: a uniform draw of top_k of the
// experts) all miss a given block of `block` experts: C(E - block, k) / C(E, k).
double MissProbability(int64_t experts, int64_t top_k, int64_t block) {
  double q = 1.0;
  for (int64_t i = 0; i < top_k; ++i) {
    q *= static_cast<double>(experts - block - i) / static_cast<double>(experts - i);
    if (q <= 0) return 0.0;
  }
  return q;
}

// Probability that none of a token's top_k experts lies in a block of `block` contiguous
// experts (block i holds experts [i * block, (i + 1) * block)), under balanced routing,
// averaged over the blocks. With group-limited routing (ModelSpec::router_groups) the token
// first picks router_group_topk of the groups of s = experts / router_groups contiguous
// experts, uniformly, then its top_k uniformly among those pool = router_group_topk * s
// experts: a block that overlaps groups by o_1..o_m experts is missed with probability
//   sum over the picked subsets T of those groups (|T| = j <= router_group_topk) of
//   C(groups - m, router_group_topk - j) / C(groups, router_group_topk) * C(pool - t, k) / C(pool, k),
// t = the sum of o over T (a dynamic programme over (j, t)). Exact whether or not blocks and
// groups line up; blocks may differ when they do not, hence the average.
double RoutedMissProbability(const ModelSpec& m, int64_t block) {
  if (m.router_groups <= 1) return MissProbability(m.experts, m.top_k, block);
  const int64_t groups = m.router_groups, kg = m.router_group_topk, s = m.experts / groups;
  const int64_t pool = kg * s, blocks = std::max<int64_t>(1, m.experts / block);
  auto log_choose = [](int64_t n, int64_t k) {
    return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
           std::lgamma(static_cast<double>(n - k) + 1);
  };
  double total = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t lo = b * block, hi = std::min(m.experts, lo + block);
    std::vector<int64_t> overlap;
    for (int64_t g = lo / s; g * s < hi; ++g) overlap.push_back(std::min(hi, (g + 1) * s) - std::max(lo, g * s));
    const int64_t span = static_cast<int64_t>(overlap.size());
    // ways[j][t]: subsets of j overlapping groups whose overlaps sum to t.
    std::vector<std::vector<double>> ways(kg + 1, std::vector<double>(hi - lo + 1, 0.0));
    ways[0][0] = 1;
    for (const int64_t o : overlap) {
      for (int64_t j = std::min(kg, span); j >= 1; --j) {
        for (int64_t t = hi - lo; t >= o; --t) ways[j][t] += ways[j - 1][t - o];
      }
    }
    double q = 0;
    for (int64_t j = 0; j <= std::min(kg, span); ++j) {
      if (kg - j > groups - span) continue;
      const double pick = std::exp(log_choose(groups - span, kg - j) - log_choose(groups, kg));
      for (int64_t t = 0; t <= hi - lo; ++t) {
        if (ways[j][t] > 0) q += ways[j][t] * pick * MissProbability(pool, m.top_k, t);
      }
    }
    total += q;
  }
  return total / static_cast<double>(blocks);
}

// Bytes one rank's dispatch (and combine) all-to-all moves: those the busiest rank receives
// (times MoeDims::imbalance), as the collective ends when it has. Megatron-Core's all-to-all
// dispatcher sends a copy per routed expert: routed tokens x hidden. The flex dispatcher
// (DeepEP, HybridEP) sends a token once to each other NVLink domain holding one of its experts
// (then forwards it over NVLink) and once to each other GPU of its own domain holding one
// (group-limited routing lowers how many it reaches: RoutedMissProbability). The
// all-to-all cost model spreads a rank's buffer evenly over its peers, so the flex volume is
// given as the buffer whose share to other domains (or, inside one domain, to the other GPUs)
// equals the expected copies there: with n EP ranks, r per domain and D = n / r domains,
// (D - 1)(1 - q_domain) copies across domains or (r - 1)(1 - q_gpu) inside a single one.
// Inside one NVLink domain that volume is scaled by LayerContext::flex_traffic_factor (a
// what-if; calibrated on published HybridEP timings, hardware/calibration/training.yaml, which
// call for 1: HybridEP moves those bytes at NCCL all_to_all's efficiency). Across domains the
// NIC bounds the transfer and the volume is not scaled.
double DispatchBytes(const ModelSpec& m, const LayerContext& c, const MoeDims& md, const Dims& d) {
  const double plain = md.received * md.xh * d.e;
  if (!c.flex_dispatch || c.ep <= 1) return plain;
  const int64_t n = c.ep;
  const int64_t r = c.ep_per_domain > 0 ? std::min(c.ep_per_domain, n) : n;
  const int64_t domains = n / r;
  const double per_token = md.tokens * md.xh * d.e;
  if (domains > 1) {
    const double remote = static_cast<double>(domains - 1) *
                          (1.0 - RoutedMissProbability(m, m.experts / domains));
    return per_token * remote * static_cast<double>(n) / static_cast<double>(n - r) * md.imbalance;
  }
  const double peers = static_cast<double>(r - 1) * (1.0 - RoutedMissProbability(m, m.experts / n));
  return per_token * peers * static_cast<double>(n) / static_cast<double>(n - 1) * c.flex_traffic_factor *
         md.imbalance;
}

// Whether this layer's MLP block routes through experts (not for dense models, nor for the
// leading dense layers of an MoE model).
bool MoeHere(const ModelSpec& m, const LayerContext& c) { return m.is_moe() && !c.dense_layer; }

// Bytes one element of a GEMM operand weighs in the recipe's precision (block scales left out).
double ElementBytes(DType dt) { return dt == DType::kFp8 ? 1.0 : dt == DType::kFp4 ? 0.5 : 2.0; }

ComputeOp Gemm(std::string name, DType dt, int64_t m, int64_t n, int64_t k, int64_t batch = 1,
               int64_t concurrency = 0) {
  ComputeOp op;
  op.name = std::move(name);
  op.cls = OpClass::kGemm;
  op.dtype = dt;
  op.m = m;
  op.n = n;
  op.k = k;
  op.batch = batch;
  op.concurrency = concurrency;
  op.flops = 2.0 * static_cast<double>(m) * n * k * batch;
  const double in_bytes = ElementBytes(dt);
  op.bytes = batch * (in_bytes * (static_cast<double>(m) * k + static_cast<double>(k) * n) +
                      2.0 * static_cast<double>(m) * n);
  return op;
}

ComputeOp Mem(std::string name, double bytes) {
  ComputeOp op;
  op.name = std::move(name);
  op.cls = OpClass::kMemoryBound;
  op.bytes = bytes;
  return op;
}

CommOp Comm(std::string name, CollectiveKind kind, GroupKind group, double bytes) {
  CommOp op;
  op.name = std::move(name);
  op.kind = kind;
  op.group = group;
  op.bytes = bytes;
  return op;
}

// Forward and backward GEMMs of a linear layer y[T,n] = x[T,k] W[k,n].
void LinearFwd(std::vector<LayerStep>* s, const std::string& name, DType dt, int64_t t, int64_t n,
               int64_t k, int64_t batch = 1) {
  s->push_back(Gemm(name + ".fwd", dt, t, n, k, batch));
}
void LinearBwd(std::vector<LayerStep>* s, const std::string& name, DType dt, int64_t t, int64_t n,
               int64_t k, int64_t batch = 1, int64_t concurrency = 0) {
  s->push_back(Gemm(name + ".dgrad", dt, t, k, n, batch, concurrency));  // dx[T,k] = dy[T,n] W^T
  ComputeOp wgrad = Gemm(name + ".wgrad", dt, k, n, t, batch, concurrency);  // dW[k,n] = x^T dy
  wgrad.weight_grad = true;
  s->push_back(std::move(wgrad));
}

// A forward expert GEMM over the rank's local experts: [per_expert, k] x [k, n] each.
ComputeOp ExpertGemm(std::string name, DType dt, const MoeDims& md, int64_t n, int64_t k) {
  return Gemm(std::move(name), dt, md.per_expert, n, k, md.local_experts, md.gemm_concurrency);
}

// Tensor-parallel communication at the entry of a column-parallel block (forward):
// all-gather of the sequence-parallel input, or nothing (the all-reduce is at the exit).
// element_bytes: what one gathered element weighs (16-bit, or quantized: see GatheredBytes).
void TpEnterFwd(std::vector<LayerStep>* s, const LayerContext& c, const Dims& d, const char* what,
                double element_bytes) {
  if (c.tp > 1 && c.sequence_parallel) {
    s->push_back(Comm(std::string("tp.all_gather.") + what, CollectiveKind::kAllGather,
                      GroupKind::kTp, d.tokens * d.h * element_bytes));
  }
}
void TpExitFwd(std::vector<LayerStep>* s, const LayerContext& c, const Dims& d, const char* what) {
  if (c.tp <= 1) return;
  if (c.sequence_parallel) {
    s->push_back(Comm(std::string("tp.reduce_scatter.") + what, CollectiveKind::kReduceScatter,
                      GroupKind::kTp, d.tokens * d.h * d.e));
  } else {
    s->push_back(Comm(std::string("tp.all_reduce.") + what, CollectiveKind::kAllReduce,
                      GroupKind::kTp, d.tokens * d.h * d.e));
  }
}

// The backward counterpart of TpEnterFwd: the input gradient of a column-parallel block is
// reduced over TP, scattered back to the sequence shards under sequence parallelism.
void TpEnterBwd(std::vector<LayerStep>* s, const LayerContext& c, const Dims& d, const char* what) {
  if (c.tp <= 1) return;
  if (c.sequence_parallel) {
    s->push_back(Comm(std::string("tp.reduce_scatter.") + what + ".grad", CollectiveKind::kReduceScatter,
                      GroupKind::kTp, d.tokens * d.h * d.e));
  } else {
    s->push_back(Comm(std::string("tp.all_reduce.") + what + ".grad", CollectiveKind::kAllReduce,
                      GroupKind::kTp, d.tokens * d.h * d.e));
  }
}

// Flash attention's matmul precision: fp8 only when asked for, else 16-bit.
DType FlashAttentionDType(const LayerContext& c) {
  if (c.dtype == DType::kFp4) return DType::kBf16;  // NVFP4 recipes keep attention in 16-bit
  return c.dtype == DType::kFp8 && !c.fp8_attention ? DType::kBf16 : c.dtype;
}

// Precision of the GEMMs that run outside Transformer Engine's low-precision region: the
// output (logits) layer is Megatron-Core's own ColumnParallelLinear and the MoE router a plain
// matmul, so both stay in 16-bit whatever the recipe (fp16 stays fp16).
DType HighPrecisionGemmDType(const LayerContext& c) {
  return c.dtype == DType::kFp8 || c.dtype == DType::kFp4 ? DType::kBf16 : c.dtype;
}

// Quantizing a GEMM input to fp8 / fp4 (Transformer Engine's cast-transpose): one 16-bit read
// and two low-precision writes, the row-wise copy for this GEMM and the column-wise one kept
// for the weight gradient (block scales, 1 byte per 16 or 32 elements, left out). Inputs that
// come out of a layer norm are quantized inside the norm kernel (LayerNormLinear) and need no
// pass of their own; under sequence parallelism the output gradient of a row-parallel GEMM is
// quantized on the rank's sequence shard before it is all-gathered in fp8. Nothing for 16-bit
// recipes.
//
// The fp8 recipe adds to that pass (Transformer Engine docs/features/low_precision_training):
// current scaling reads the tensor once more first, for its amax (fp8_current_scaling.rst: two
// reads, amax then cast); MXFP8 writes an e8m0 scale per 32 elements for each copy; delayed
// scaling takes its scale from the amax history and computes the next amax in the cast.
// With frozen weights (LoRA) no weight gradient needs the column-wise copy: one write.
void Quantize(std::vector<LayerStep>* s, const LayerContext& c, const std::string& name,
              double elements, bool recompute = false) {
  if (c.dtype != DType::kFp8 && c.dtype != DType::kFp4) return;
  const double copies = c.FrozenWeights() ? 1.0 : 2.0;
  double bytes = 2.0 + copies * ElementBytes(c.dtype);
  if (c.dtype == DType::kFp8 && c.fp8_recipe == Fp8Recipe::kCurrent) bytes += 2.0;
  if (c.dtype == DType::kFp8 && c.fp8_recipe == Fp8Recipe::kMxfp8) bytes += copies / 32.0;
  ComputeOp op = Mem(name + ".quantize", elements * bytes);
  op.recompute = recompute;
  s->push_back(std::move(op));
}

// Bytes per element of a sequence-parallel all-gather feeding a Transformer Engine GEMM: the
// shard is quantized first and gathered in fp8 (1 byte) or fp4 (half a byte; block scales left
// out), as TE's LayerNormLinear / Linear do; 16-bit recipes gather 16-bit elements. The MoE
// block's and the output layer's gathers are Megatron-Core's own and stay 16-bit.
double GatheredBytes(const LayerContext& c, const Dims& d) {
  return c.dtype == DType::kFp8 || c.dtype == DType::kFp4 ? ElementBytes(c.dtype) : d.e;
}

// Under sequence parallelism a column-parallel GEMM keeps only its input shard for the
// backward pass and gathers it again for the weight gradient, beside the data-gradient GEMM
// (Korthikanti et al. 2022, Sec. 4.2.2; Transformer Engine's LayerNormLinear backward).
// Frozen weights (LoRA) take no weight gradient, so nothing is gathered again.
void TpRegatherInput(std::vector<LayerStep>* s, const LayerContext& c, const Dims& d,
                     const char* what, double element_bytes) {
  if (c.tp <= 1 || !c.sequence_parallel || c.FrozenWeights()) return;
  CommOp op = Comm(std::string("tp.all_gather.") + what + ".input", CollectiveKind::kAllGather,
                   GroupKind::kTp, d.tokens * d.h * element_bytes);
  op.overlaps_next_gemm = true;
  s->push_back(std::move(op));
}

// Query-key pairs one rank's queries score: half the s_q x s_kv matrix when causal; with a
// sliding window of w < s_kv keys, w per query less the w^2/2 the first queries of the
// sequence lack, shared evenly over the context-parallel ranks (load-balanced CP):
// (S * w - w^2 / 2) / cp with s_q = S / cp.
double CausalScorePairs(const LayerContext& c, double s_q, double s_kv) {
  const double w = static_cast<double>(c.attention_window);
  if (w <= 0 || w >= s_kv) return s_q * s_kv * 0.5;
  return s_q * w - 0.5 * w * w / static_cast<double>(std::max<int64_t>(1, c.cp));
}

// The sliding window a flash-attention kernel runs (ComputeOp::attention_window): the layer's,
// when it is shorter than the keys.
int64_t KernelWindow(const LayerContext& c, double s_kv) {
  const bool banded = c.attention_window > 0 && static_cast<double>(c.attention_window) < s_kv;
  return banded ? c.attention_window : 0;
}

// Per-head dims the attention kernel works with: query/key (MLA: head_dim plus the rotary
// dims) and value; and the key/value heads one rank holds (MLA: every head has its own).
struct AttnDims {
  int64_t qk, v, kv_heads_local;
};
AttnDims MakeAttnDims(const ModelSpec& m, const Dims& d) {
  return {m.qk_head_dim(), m.v_dim(), m.is_mla() ? d.heads_local : d.kv_local};
}

// The sequences a flash-attention kernel attends over: the micro-batch's sequences, or with
// packed samples (LayerContext::packed_sample_tokens) each sample on its own (Transformer
// Engine's THD layout: cu_seqlens bound every sample's causal attention). Returns the query and
// key lengths and the count of (sequence, head) pairs.
struct AttentionSpan {
  double s_q, s_kv;
  int64_t bh;
};
AttentionSpan FlashAttentionSpan(const LayerContext& c, const Dims& d) {
  const int64_t bh = c.micro_batch * d.heads_local;
  if (c.packed_sample_tokens > 0 && c.packed_sample_tokens < c.seq_len) {
    const double l = static_cast<double>(c.packed_sample_tokens);
    const double samples = static_cast<double>(c.seq_len) / l;
    return {l, l, static_cast<int64_t>(std::llround(static_cast<double>(bh) * samples))};
  }
  return {static_cast<double>(c.seq_len) / c.cp, static_cast<double>(c.seq_len), bh};
}

void AttentionCoreFwd(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c,
                      const Dims& d, bool recompute) {
  const double s_q = static_cast<double>(c.seq_len) / c.cp;
  const double s_kv = static_cast<double>(c.seq_len);
  const int64_t bh = c.micro_batch * d.heads_local;
  const AttnDims a = MakeAttnDims(m, d);
  const AttentionSpan span = FlashAttentionSpan(c, d);
  if (c.cp > 1) {
    // K and V of the whole sequence are needed on every context-parallel rank.
    s->push_back(Comm("cp.all_gather.kv", CollectiveKind::kAllGather, GroupKind::kCp,
                      c.micro_batch * s_kv * a.kv_heads_local * static_cast<double>(a.qk + a.v) * d.e));
  }
  if (c.attention == AttentionImpl::kFlash) {
    ComputeOp op;
    op.name = "attn.fwd";
    op.cls = OpClass::kAttention;
    op.dtype = FlashAttentionDType(c);
    op.m = static_cast<int64_t>(span.s_q);
    op.n = static_cast<int64_t>(span.s_kv);
    op.k = a.qk;
    op.batch = span.bh;
    // Scores (qk dims) and the weighted sum of values (v dims): 2 FLOPs per multiply-add.
    op.flops = 2.0 * span.bh * static_cast<double>(a.qk + a.v) * CausalScorePairs(c, span.s_q, span.s_kv);
    op.attention_window = KernelWindow(c, span.s_kv);
    op.dropout = m.dropout;
    op.bytes = d.e * (c.micro_batch * s_q * d.heads_local * static_cast<double>(a.qk + a.v) +
                      c.micro_batch * s_kv * a.kv_heads_local * static_cast<double>(a.qk + a.v));
    op.recompute = recompute;
    s->push_back(op);
  } else {
    // Megatron-LM's unfused core attention: QK^T batched GEMM, fused scale-mask-softmax,
    // dropout, and the probabilities times V; no causal saving.
    ComputeOp qk = Gemm("attn.qk.fwd", c.dtype, static_cast<int64_t>(s_q),
                        static_cast<int64_t>(s_kv), a.qk, bh);
    ComputeOp pv = Gemm("attn.pv.fwd", c.dtype, static_cast<int64_t>(s_q), a.v,
                        static_cast<int64_t>(s_kv), bh);
    const double scores = static_cast<double>(bh) * s_q * s_kv;
    ComputeOp softmax = Mem("attn.softmax.fwd", scores * 2.0 * d.e);
    ComputeOp dropout = Mem("attn.dropout.fwd", scores * (2.0 * d.e + 1.0));
    for (ComputeOp* op : {&qk, &softmax, &dropout, &pv}) {
      op->recompute = recompute;
      s->push_back(*op);
    }
  }
}

void AttentionCoreBwd(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c,
                      const Dims& d) {
  const double s_q = static_cast<double>(c.seq_len) / c.cp;
  const double s_kv = static_cast<double>(c.seq_len);
  const int64_t bh = c.micro_batch * d.heads_local;
  const AttnDims a = MakeAttnDims(m, d);
  if (c.attention == AttentionImpl::kFlash) {
    const AttentionSpan span = FlashAttentionSpan(c, d);
    ComputeOp op;
    op.name = "attn.bwd";
    op.cls = OpClass::kAttention;
    op.dtype = FlashAttentionDType(c);
    op.m = static_cast<int64_t>(span.s_q);
    op.n = static_cast<int64_t>(span.s_kv);
    op.k = a.qk;
    op.batch = span.bh;
    // cuDNN's fp8 attention backward does not skip the key tiles outside a sliding window: its
    // time grows with the square of the sequence like a full causal backward's (NVIDIA
    // cudnn-frontend SDPA training benchmark, gpt-oss shape, head dim 64, window 128, cuDNN
    // 9.22: fp8 backward 1.48 / 5.19 / 19.4 / 74.8 ms at 4K / 8K / 16K / 32K tokens on GB300,
    // 0.44 / 0.86 / 1.71 / 3.45 ms in bf16), so it is priced on the full causal pairs.
    LayerContext scored = c;
    if (op.dtype == DType::kFp8) scored.attention_window = 0;
    op.flops = 2.5 * 2.0 * span.bh * static_cast<double>(a.qk + a.v) *
               CausalScorePairs(scored, span.s_q, span.s_kv);
    op.attention_window = KernelWindow(scored, span.s_kv);
    op.dropout = m.dropout;
    op.bytes = d.e * (2.0 * c.micro_batch * s_q * d.heads_local * static_cast<double>(a.qk + a.v) +
                      2.0 * c.micro_batch * s_kv * a.kv_heads_local * static_cast<double>(a.qk + a.v));
    s->push_back(op);
  } else {
    const double scores = static_cast<double>(bh) * s_q * s_kv;
    s->push_back(Gemm("attn.pv.dgrad", c.dtype, static_cast<int64_t>(s_q),
                      static_cast<int64_t>(s_kv), a.v, bh));
    s->push_back(Gemm("attn.pv.wgrad", c.dtype, static_cast<int64_t>(s_kv), a.v,
                      static_cast<int64_t>(s_q), bh));
    s->push_back(Mem("attn.dropout.bwd", scores * (2.0 * d.e + 1.0)));
    s->push_back(Mem("attn.softmax.bwd", scores * 3.0 * d.e));
    s->push_back(Gemm("attn.qk.dgrad", c.dtype, static_cast<int64_t>(s_q), a.qk,
                      static_cast<int64_t>(s_kv), bh));
    s->push_back(Gemm("attn.qk.wgrad", c.dtype, static_cast<int64_t>(s_kv), a.qk,
                      static_cast<int64_t>(s_q), bh));
  }
  if (c.cp > 1) {
    s->push_back(Comm("cp.reduce_scatter.dkv", CollectiveKind::kReduceScatter, GroupKind::kCp,
                      c.micro_batch * s_kv * a.kv_heads_local * static_cast<double>(a.qk + a.v) * d.e));
  }
}

// Multi-head latent attention (DeepSeek-V2/V3; Megatron-Core MLASelfAttention). The down
// projections are replicated over TP and run on the rank's (sequence-parallel) tokens; the
// latents (q_lora_rank, and kv_lora_rank plus the shared rotary key dims) are gathered over TP,
// normalised (fused into the up projections) and projected up per head (column parallel).
// Widths per rank: the latents, and the heads' query/key (qk) and value (v) dims.
double MlaLatentWidth(const ModelSpec& m) {
  return static_cast<double>(m.q_lora_rank + m.kv_lora_rank + m.qk_rope_head_dim);
}

// The up projections and the rotary embedding: what mla_up_proj recomputation re-runs.
void MlaUpFwd(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c, const Dims& d,
              bool recompute) {
  auto push = [&](ComputeOp op) {
    op.recompute = recompute;
    s->push_back(std::move(op));
  };
  const int64_t t = static_cast<int64_t>(d.tokens);
  const AttnDims a = MakeAttnDims(m, d);
  push(Mem("attn.latent_norm.fwd",
           d.tokens * static_cast<double>(m.q_lora_rank + m.kv_lora_rank) * d.e * 2.0));
  if (m.q_lora_rank > 0) {
    push(Gemm("attn.q_up.fwd", c.dtype, t, d.heads_local * a.qk, m.q_lora_rank));
  }
  push(Gemm("attn.kv_up.fwd", c.dtype, t, d.heads_local * (m.head_dim() + a.v), m.kv_lora_rank));
  // RoPE on the rotary parts, and q and k assembled at qk width (read and written once each).
  push(Mem("attn.rope.fwd", d.tokens * d.heads_local * static_cast<double>(a.qk) * d.e * 2.0 * 2.0));
}

void MlaProjectionsFwd(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c,
                       const Dims& d, bool recompute) {
  auto push = [&](ComputeOp op) {
    op.recompute = recompute;
    s->push_back(std::move(op));
  };
  const int64_t sp_t = static_cast<int64_t>(d.sp_tokens);
  const AttnDims a = MakeAttnDims(m, d);
  Quantize(s, c, "attn.down.input", d.sp_tokens * d.h, recompute);
  if (m.q_lora_rank > 0) {
    push(Gemm("attn.q_down.fwd", c.dtype, sp_t, m.q_lora_rank, d.h));
  } else {
    // One full-rank query projection, column parallel on the gathered hidden states.
    TpEnterFwd(s, c, d, "attn", GatheredBytes(c, d));
    push(Gemm("attn.q.fwd", c.dtype, static_cast<int64_t>(d.tokens), d.heads_local * a.qk, d.h));
  }
  push(Gemm("attn.kv_down.fwd", c.dtype, sp_t, m.kv_lora_rank + m.qk_rope_head_dim, d.h));
  if (c.tp > 1 && c.sequence_parallel) {
    s->push_back(Comm("tp.all_gather.attn.latent", CollectiveKind::kAllGather, GroupKind::kTp,
                      d.tokens * MlaLatentWidth(m) * d.e));
  }
  MlaUpFwd(s, m, c, d, recompute);
}

void MlaProjectionsBwd(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c,
                       const Dims& d) {
  const int64_t t = static_cast<int64_t>(d.tokens);
  const int64_t sp_t = static_cast<int64_t>(d.sp_tokens);
  const AttnDims a = MakeAttnDims(m, d);
  s->push_back(Mem("attn.rope.bwd", d.tokens * d.heads_local * static_cast<double>(a.qk) * d.e * 2.0 * 2.0));
  const int64_t kv_up = d.heads_local * (m.head_dim() + a.v);
  Quantize(s, c, "attn.kv_up.grad", d.tokens * kv_up);
  if (c.tp > 1 && c.sequence_parallel) {
    // The up projections keep the latent shard and gather it again for their weight gradients.
    CommOp op = Comm("tp.all_gather.attn.latent.input", CollectiveKind::kAllGather, GroupKind::kTp,
                     d.tokens * static_cast<double>(m.q_lora_rank + m.kv_lora_rank) * d.e);
    op.overlaps_next_gemm = true;
    s->push_back(std::move(op));
  }
  LinearBwd(s, "attn.kv_up", c.dtype, t, kv_up, m.kv_lora_rank);
  if (m.q_lora_rank > 0) {
    Quantize(s, c, "attn.q_up.grad", d.tokens * d.heads_local * a.qk);
    LinearBwd(s, "attn.q_up", c.dtype, t, d.heads_local * a.qk, m.q_lora_rank);
  }
  s->push_back(Mem("attn.latent_norm.bwd",
                   d.tokens * static_cast<double>(m.q_lora_rank + m.kv_lora_rank) * d.e * 4.0));
  // The latents' gradients are partial sums over the TP ranks' heads.
  if (c.tp > 1) {
    s->push_back(Comm(c.sequence_parallel ? "tp.reduce_scatter.attn.latent.grad" : "tp.all_reduce.attn.latent.grad",
                      c.sequence_parallel ? CollectiveKind::kReduceScatter : CollectiveKind::kAllReduce,
                      GroupKind::kTp, d.tokens * MlaLatentWidth(m) * d.e));
  }
  Quantize(s, c, "attn.down.grad", d.sp_tokens * MlaLatentWidth(m));
  LinearBwd(s, "attn.kv_down", c.dtype, sp_t, m.kv_lora_rank + m.qk_rope_head_dim, d.h);
  if (m.q_lora_rank > 0) {
    LinearBwd(s, "attn.q_down", c.dtype, sp_t, m.q_lora_rank, d.h);
  } else {
    Quantize(s, c, "attn.q.grad", d.tokens * d.heads_local * a.qk);
    TpRegatherInput(s, c, d, "attn", GatheredBytes(c, d));
    LinearBwd(s, "attn.q", c.dtype, t, d.heads_local * a.qk, d.h);
    if (c.tp > 1) {
      s->push_back(Comm(c.sequence_parallel ? "tp.reduce_scatter.attn.grad" : "tp.all_reduce.attn.grad",
                        c.sequence_parallel ? CollectiveKind::kReduceScatter : CollectiveKind::kAllReduce,
                        GroupKind::kTp, d.tokens * d.h * d.e));
    }
  }
}

// The experts' activation function over the routed token copies (fused SwiGLU / GELU).
ComputeOp MoeActFwd(const ModelSpec& m, double routed, int64_t f, double e) {
  return Mem(m.mlp == MlpKind::kSwiglu ? "moe.swiglu.fwd" : "moe.gelu.fwd",
             routed * f * e * (m.mlp == MlpKind::kSwiglu ? 3.0 : 2.0));
}

// A clamped GLU (ModelSpec::glu_clamp) outside a fused expert MLP: Megatron-Core
// (fusions/fused_bias_geglu.py, weighted_bias_quick_geglu_impl) splits the fc1 output into its
// two halves, clamps each as its own kernel and concatenates them again before the fused
// activation: each clamp reads and writes one half (f elements), the concatenation reads and
// writes both (4f per routed token in all: 8f with the clamps). Backward: each clamp's gradient
// reads the incoming gradient and the saved input and writes its half (6f), and the split's
// gradient concatenates the halves (4f): 10f.
bool ClampsGlu(const ModelSpec& m, const LayerContext& c) { return m.glu_clamp > 0 && !c.fused_moe_mlp; }
ComputeOp GluClampFwd(double routed, int64_t f, double e) {
  return Mem("moe.glu_clamp.fwd", routed * f * e * 8.0);
}
ComputeOp GluClampBwd(double routed, int64_t f, double e) {
  return Mem("moe.glu_clamp.bwd", routed * f * e * 10.0);
}

// Expert fc2 biases (ModelSpec::expert_bias) outside a fused expert MLP: Megatron-Core
// (TEGroupedMLP._apply_bias) splits the fc2 output by local expert and, for each, writes the
// bias times the routing probability (h elements per routed token), adds it to the output
// (reads 2h, writes h) and concatenates the pieces again (reads and writes h): 6h. Backward:
// the bias gradient multiplies the gradient by the probability and sums it (3h), the
// probability's gradient multiplies it by the bias and sums that (3h), and the split's gradient
// concatenates the pieces (2h): 8h.
bool AddsExpertBias(const ModelSpec& m, const LayerContext& c) { return m.expert_bias && !c.fused_moe_mlp; }
ComputeOp ExpertBiasFwd(double routed, int64_t h, double e) {
  return Mem("moe.fc2_bias.fwd", routed * static_cast<double>(h) * e * 6.0);
}
ComputeOp ExpertBiasBwd(double routed, int64_t h, double e) {
  return Mem("moe.fc2_bias.bwd", routed * static_cast<double>(h) * e * 8.0);
}

// Bytes of this rank's query and key heads (RoPE and QK-norm read and write them).
double QkBytes(const Dims& d) { return d.tokens * (d.heads_local + d.kv_local) * d.d * d.e; }

// RoPE on the queries and keys. Transformer Engine's fused kernel reads and writes each once.
// With a YaRN factor (ModelSpec::rope_mscale != 1) Megatron-Core runs its unfused PyTorch RoPE
// (rope_utils.py, _apply_rotary_pos_emb_bshd) on the queries and on the keys, in units of the
// tensor's bytes: rotate_half's negation of one half (1) and concatenation (2), the products
// with cos and sin (2 + 2), their sum (3) and the final concatenation with the empty
// pass-through part (2): 12. Its backward, by autograd: the products' gradients (2 + 2), the
// negation's (1), the halves concatenated again (2), the two uses of the input summed (3),
// and the slices' gradients made full size (zeros and copy, 3; zeros for the empty part, 1)
// and summed (3): 17. The rotation tables (cos and sin of the frequencies times the factor,
// cast) are tiny. Launch counts: models/host_launches.cc.
bool UnfusedRope(const ModelSpec& m) { return m.rope_mscale != 1.0; }
ComputeOp RopeFwd(const ModelSpec& m, const Dims& d) {
  return UnfusedRope(m) ? Mem("attn.rope_unfused.fwd", QkBytes(d) * 12.0)
                        : Mem("attn.rope.fwd", QkBytes(d) * 2.0);
}
ComputeOp RopeBwd(const ModelSpec& m, const Dims& d) {
  return UnfusedRope(m) ? Mem("attn.rope_unfused.bwd", QkBytes(d) * 17.0)
                        : Mem("attn.rope.bwd", QkBytes(d) * 2.0);
}

ComputeOp NormFwd(const char* name, const Dims& d) { return Mem(name, d.sp_tokens * d.h * d.e * 2.0); }

// Shared experts (DeepSeek-V3, Kimi K2): a dense MLP of shared_expert_ffn that every token of
// an MoE layer passes through beside its routed experts, split over TP like the dense MLP
// (Megatron-Core SharedExpertMLP). Its input is the MoE block's, quantized for fp8 GEMMs (the
// block's norm is not fused into it). Under MoE parallel folding the block holds only the
// rank's sequence shard, so the shared experts gather and scatter their own tokens.
void SharedExpertsFwd(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c,
                      const Dims& d, const MoeDims& md, bool recompute) {
  if (m.shared_expert_ffn <= 0) return;
  auto push = [&](ComputeOp op) {
    op.recompute = recompute;
    s->push_back(std::move(op));
  };
  const int64_t t = static_cast<int64_t>(d.tokens);
  const int64_t f = m.shared_expert_ffn / c.tp;
  const bool swiglu = m.mlp == MlpKind::kSwiglu;
  if (md.folded) TpEnterFwd(s, c, d, "moe.shared", d.e);
  Quantize(s, c, "moe.shared.fc1.input", d.tokens * d.h, recompute);
  push(Gemm("moe.shared.fc1.fwd", c.dtype, t, swiglu ? 2 * f : f, d.h));
  push(Mem(swiglu ? "moe.shared.swiglu.fwd" : "moe.shared.gelu.fwd",
           d.tokens * f * d.e * (swiglu ? 3.0 : 2.0)));
  Quantize(s, c, "moe.shared.fc2.input", d.tokens * f, recompute);
  push(Gemm("moe.shared.fc2.fwd", c.dtype, t, d.h, f));
  if (md.folded) TpExitFwd(s, c, d, "moe.shared");
}

void SharedExpertsBwd(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c,
                      const Dims& d, const MoeDims& md) {
  if (m.shared_expert_ffn <= 0) return;
  const int64_t t = static_cast<int64_t>(d.tokens);
  const int64_t f = m.shared_expert_ffn / c.tp;
  const bool swiglu = m.mlp == MlpKind::kSwiglu;
  if (md.folded && c.sequence_parallel) {
    s->push_back(Comm("tp.all_gather.moe.shared.grad", CollectiveKind::kAllGather, GroupKind::kTp,
                      d.tokens * d.h * d.e));
  }
  Quantize(s, c, "moe.shared.fc2.grad", d.tokens * d.h);
  LinearBwd(s, "moe.shared.fc2", c.dtype, t, d.h, f);
  s->push_back(Mem(swiglu ? "moe.shared.swiglu.bwd" : "moe.shared.gelu.bwd",
                   d.tokens * f * d.e * (swiglu ? 5.0 : 3.0)));
  Quantize(s, c, "moe.shared.fc1.grad", d.tokens * (swiglu ? 2 * f : f));
  LinearBwd(s, "moe.shared.fc1", c.dtype, t, swiglu ? 2 * f : f, d.h);
  if (md.folded && c.tp > 1) {
    s->push_back(Comm(c.sequence_parallel ? "tp.reduce_scatter.moe.shared.grad" : "tp.all_reduce.moe.shared.grad",
                      c.sequence_parallel ? CollectiveKind::kReduceScatter : CollectiveKind::kAllReduce,
                      GroupKind::kTp, d.tokens * d.h * d.e));
  }
}

void MlpFwd(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c, const Dims& d,
            bool recompute) {
  const int64_t t = static_cast<int64_t>(d.tokens);
  auto push = [&](ComputeOp op) {
    op.recompute = recompute;
    s->push_back(std::move(op));
  };
  const int64_t up = m.mlp == MlpKind::kSwiglu ? 2 * d.f_local : d.f_local;
  if (!MoeHere(m, c)) {
    TpEnterFwd(s, c, d, "mlp", GatheredBytes(c, d));
    push(Gemm("mlp.fc1.fwd", c.dtype, t, up, d.h));
    push(Mem(m.mlp == MlpKind::kSwiglu ? "mlp.swiglu.fwd" : "mlp.gelu.fwd",
             d.tokens * d.f_local * d.e * (m.mlp == MlpKind::kSwiglu ? 3.0 : 2.0)));
    Quantize(s, c, "mlp.fc2.input", d.tokens * d.f_local, recompute);
    push(Gemm("mlp.fc2.fwd", c.dtype, t, d.h, d.f_local));
    TpExitFwd(s, c, d, "mlp");
    return;
  }
  // Mixture of experts: router, token dispatch over the EP group, grouped expert GEMMs, combine.
  // With expert TP 1 under TP (MoE parallel folding) each rank routes its own sequence shard
  // through whole experts, with no TP collective around the block.
  const MoeDims md = MakeMoeDims(m, c, d);
  const double routed = md.routed, recv = md.received;
  if (!md.folded) TpEnterFwd(s, c, d, "moe", d.e);
  push(Gemm("moe.router.fwd", HighPrecisionGemmDType(c), static_cast<int64_t>(md.tokens),
            m.experts, d.h));
  const int64_t xh = md.xh;  // routed token width: the latent, or hidden
  const int64_t mt = static_cast<int64_t>(md.tokens);
  if (m.moe_latent > 0) {
    // Latent experts: project the block's tokens down before the dispatch (fc1_latent_proj).
    Quantize(s, c, "moe.latent_down.input", md.tokens * d.h, recompute);
    push(Gemm("moe.latent_down.fwd", c.dtype, mt, xh, d.h));
  }
  push(Mem("moe.permute.fwd", routed * xh * d.e * 2.0));
  if (c.ep > 1) {
    s->push_back(Comm("ep.all_to_all.dispatch", CollectiveKind::kAllToAll, GroupKind::kEp,
                      DispatchBytes(m, c, md, d)));
  }
  if (SortsByLocalExpert(c, md)) push(Mem("moe.sort.fwd", recv * xh * d.e * 2.0));
  Quantize(s, c, "moe.fc1.input", recv * xh, recompute);
  push(ExpertGemm("moe.fc1.fwd", c.dtype, md, md.up, xh));
  if (!c.fused_moe_mlp) {
    // A fused expert MLP computes the activation, the routing-probability scale and the
    // quantisation of fc2's input in fc1's epilogue (see LayerContext::fused_moe_mlp).
    if (ClampsGlu(m, c)) push(GluClampFwd(recv, md.f, d.e));
    push(MoeActFwd(m, recv, md.f, d.e));
    Quantize(s, c, "moe.fc2.input", recv * md.f, recompute);
  }
  push(ExpertGemm("moe.fc2.fwd", c.dtype, md, xh, md.f));
  if (AddsExpertBias(m, c)) push(ExpertBiasFwd(recv, xh, d.e));
  if (SortsByLocalExpert(c, md)) push(Mem("moe.unsort.fwd", recv * xh * d.e * 2.0));
  if (c.ep > 1) {
    s->push_back(Comm("ep.all_to_all.combine", CollectiveKind::kAllToAll, GroupKind::kEp,
                      DispatchBytes(m, c, md, d)));
  }
  push(Mem("moe.unpermute.fwd", routed * xh * d.e * 2.0));
  if (m.moe_latent > 0) {
    // ... and the combined output back up to hidden (fc2_latent_proj).
    Quantize(s, c, "moe.latent_up.input", md.tokens * xh, recompute);
    push(Gemm("moe.latent_up.fwd", c.dtype, mt, d.h, xh));
  }
  SharedExpertsFwd(s, m, c, d, md, recompute);
  if (!md.folded) TpExitFwd(s, c, d, "moe");
}

void MlpBwd(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c, const Dims& d) {
  const int64_t t = static_cast<int64_t>(d.tokens);
  const int64_t up = m.mlp == MlpKind::kSwiglu ? 2 * d.f_local : d.f_local;
  const double act_bytes = m.mlp == MlpKind::kSwiglu ? 5.0 : 3.0;
  const MoeDims md = MakeMoeDims(m, c, d);
  // The output gradient is quantized on the rank's shard, then (SP) gathered.
  const bool moe = MoeHere(m, c);
  if (!moe) Quantize(s, c, "mlp.fc2.grad", d.sp_tokens * d.h);
  // Mirror of the forward exit: the gradient arriving must be gathered (SP) first.
  if (c.tp > 1 && c.sequence_parallel && !md.folded) {
    s->push_back(Comm("tp.all_gather.mlp.grad", CollectiveKind::kAllGather, GroupKind::kTp,
                      d.tokens * d.h * (moe ? d.e : GatheredBytes(c, d))));
  }
  if (!moe) {
    LinearBwd(s, "mlp.fc2", c.dtype, t, d.h, d.f_local);
    s->push_back(Mem(m.mlp == MlpKind::kSwiglu ? "mlp.swiglu.bwd" : "mlp.gelu.bwd",
                     d.tokens * d.f_local * d.e * act_bytes));
    Quantize(s, c, "mlp.fc1.grad", d.tokens * up);
    TpRegatherInput(s, c, d, "mlp", GatheredBytes(c, d));
    LinearBwd(s, "mlp.fc1", c.dtype, t, up, d.h);
  } else {
    const double routed = md.routed, recv = md.received;
    SharedExpertsBwd(s, m, c, d, md);
    const int64_t xh = md.xh;
    const int64_t mt = static_cast<int64_t>(md.tokens);
    if (m.moe_latent > 0) {
      Quantize(s, c, "moe.latent_up.grad", md.tokens * d.h);
      LinearBwd(s, "moe.latent_up", c.dtype, mt, d.h, xh);
    }
    s->push_back(Mem("moe.unpermute.bwd", routed * xh * d.e * 2.0));
    if (c.ep > 1) {
      s->push_back(Comm("ep.all_to_all.combine.grad", CollectiveKind::kAllToAll, GroupKind::kEp,
                        DispatchBytes(m, c, md, d)));
    }
    if (SortsByLocalExpert(c, md)) s->push_back(Mem("moe.unsort.bwd", recv * xh * d.e * 2.0));
    if (AddsExpertBias(m, c)) s->push_back(ExpertBiasBwd(recv, xh, d.e));
    Quantize(s, c, "moe.fc2.grad", recv * xh);
    LinearBwd(s, "moe.fc2", c.dtype, md.per_expert, xh, md.f, md.local_experts,
              md.gemm_concurrency);
    if (!c.fused_moe_mlp) {
      // Fused: the activation's gradient, the probability's and the quantisation of fc1's
      // output gradient run in fc2's data-gradient epilogue.
      s->push_back(Mem(m.mlp == MlpKind::kSwiglu ? "moe.swiglu.bwd" : "moe.gelu.bwd",
                       recv * md.f * d.e * act_bytes));
      if (ClampsGlu(m, c)) s->push_back(GluClampBwd(recv, md.f, d.e));
      Quantize(s, c, "moe.fc1.grad", recv * md.up);
    }
    LinearBwd(s, "moe.fc1", c.dtype, md.per_expert, md.up, xh, md.local_experts,
              md.gemm_concurrency);
    if (SortsByLocalExpert(c, md)) s->push_back(Mem("moe.sort.bwd", recv * xh * d.e * 2.0));
    if (c.ep > 1) {
      s->push_back(Comm("ep.all_to_all.dispatch.grad", CollectiveKind::kAllToAll, GroupKind::kEp,
                        DispatchBytes(m, c, md, d)));
    }
    s->push_back(Mem("moe.permute.bwd", routed * xh * d.e * 2.0));
    if (m.moe_latent > 0) {
      Quantize(s, c, "moe.latent_down.grad", md.tokens * xh);
      LinearBwd(s, "moe.latent_down", c.dtype, mt, xh, d.h);
    }
    LinearBwd(s, "moe.router", HighPrecisionGemmDType(c), static_cast<int64_t>(md.tokens),
              m.experts, d.h);
  }
  // Input-gradient of the column-parallel GEMM: reduce over TP.
  if (!md.folded) TpEnterBwd(s, c, d, "mlp");
}

void AttentionBlockFwd(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c,
                       const Dims& d, bool recompute_all, bool norm2 = true) {
  const int64_t t = static_cast<int64_t>(d.tokens);
  auto push = [&](ComputeOp op) {
    op.recompute = recompute_all;
    s->push_back(std::move(op));
  };
  push(NormFwd("norm1.fwd", d));
  if (m.is_mla()) {
    MlaProjectionsFwd(s, m, c, d, recompute_all);
  } else {
    TpEnterFwd(s, c, d, "attn", GatheredBytes(c, d));
    push(Gemm("attn.qkv.fwd", c.dtype, t, (d.heads_local + 2 * d.kv_local) * d.d, d.h));
    // QK-norm (Qwen3): one RMSNorm kernel over the query heads and one over the key heads, each
    // reading and writing its tensor once.
    if (m.qk_norm) push(Mem("attn.qk_norm.fwd", QkBytes(d) * 2.0));
    if (m.position == PositionKind::kRope) push(RopeFwd(m, d));
  }
  AttentionCoreFwd(s, m, c, d, recompute_all);
  const int64_t out_local = d.heads_local * m.v_dim();
  Quantize(s, c, "attn.proj.input", d.tokens * out_local, recompute_all);
  push(Gemm("attn.proj.fwd", c.dtype, t, d.h, out_local));
  TpExitFwd(s, c, d, "attn");
  push(Mem("residual1.fwd", d.sp_tokens * d.h * (3.0 * d.e + 1.0)));
  if (norm2) push(NormFwd("norm2.fwd", d));
}

// A Mamba-2 mixer's shapes on one rank: tensor parallelism splits the heads and the B/C groups
// (Megatron-Core MambaMixer: in_proj column-parallel, out_proj row-parallel).
struct MambaDims {
  int64_t heads, groups, inner, in_proj, conv;
};
MambaDims MakeMambaDims(const ModelSpec& m, const LayerContext& c) {
  MambaDims md;
  md.heads = std::max<int64_t>(1, m.mamba_heads / c.tp);
  md.groups = std::max<int64_t>(1, m.mamba_groups / c.tp);
  md.inner = md.heads * m.mamba_head_dim;
  md.in_proj = 2 * md.inner + 2 * md.groups * m.mamba_state + md.heads;
  md.conv = md.inner + 2 * md.groups * m.mamba_state;
  return md;
}

// The chunked scan (Mamba-2's SSD: the Triton kernels chunk_cumsum, chunk_state, state_passing,
// bmm_chunk and chunk_scan). Its matmuls are small batched products of chunk-by-chunk tiles
// (Q x Q by Q x P for the intra-chunk part), counted as one batched GEMM of that tile with the
// FLOPs of ModelSpec::MambaScanFlopsPerToken and priced at the rate measured for the whole
// kernel (ComputeOp::chunked_scan, GpuSpec::mamba_scan_efficiency: far below what a GEMM of
// that tile would reach); its traffic reads x, B, C and dt, writes y, and writes the fp32
// chunk states (heads x P x N per chunk) once and reads them twice (state passing, then the
// output). It runs in 16-bit in every recipe. Backward (the forward's chunk states
// recomputed, then dx, dB, dC and ddt): MambaScanBackwardRatio times the forward's FLOPs and
// twice its traffic, at the forward's rate. Measured kernel times
// (--compute-backend gpu, kernel calibration samples) key on the GEMM shape, so there the scan
// is timed as that batched tile GEMM: its matmul work, without the chunk states' traffic.
// The chunked scan's backward time over its forward's, for chunks of `chunk` tokens. Two
// timings of mamba_ssm's Triton kernels (_mamba_chunk_scan_combined_fwd / _bwd) give it:
// 4.66x at chunk 32 (NVIDIA/cudnn-frontend pull request 1133,
// benchmark/linear_attention/results/mamba2/b200: B200, 2 x 2048 tokens, 64 heads of 64, state
// 64; 674.5 / 141.1 us without the gate, 720.0 / 158.7 us with it, 4.78x and 4.54x) and 2.75x
// at chunk 256 (halide/Halide apps/inductive_benchmarks_results.md, cuda_mamba2 baseline rows:
// RTX 5060 Ti, 4096 tokens, 128 heads of 64, state 128; 4.4 / 1.6 ms). Smaller chunks leave
// more of the work to the state passing, which the backward runs twice. Between the two the
// ratio is interpolated in log2(chunk), outside them held at the nearer one: chunk 128 (the
// Nemotron-H recipes) 3.39x.
double MambaScanBackwardRatio(int64_t chunk) {
  constexpr double kAt32 = 4.66, kAt256 = 2.75;
  const double t =
      std::clamp((std::log2(static_cast<double>(std::max<int64_t>(chunk, 1))) - 5.0) / 3.0, 0.0, 1.0);
  return kAt32 + (kAt256 - kAt32) * t;
}

ComputeOp MambaScan(const ModelSpec& m, const LayerContext& c, const Dims& d, const MambaDims& md,
                    bool backward) {
  const DType dt = c.dtype == DType::kFp16 ? DType::kFp16 : DType::kBf16;
  const int64_t q = m.mamba_chunk, p = m.mamba_head_dim, n = m.mamba_state;
  ModelSpec local = m;
  local.mamba_heads = md.heads;
  local.mamba_groups = md.groups;
  const double flops =
      d.tokens * local.MambaScanFlopsPerToken() * (backward ? MambaScanBackwardRatio(q) : 1.0);
  const double tile = 2.0 * static_cast<double>(q) * p * q;
  ComputeOp op = Gemm(backward ? "mamba.ssd.bwd" : "mamba.ssd.fwd", dt, q, p, q,
                      std::max<int64_t>(1, static_cast<int64_t>(flops / tile)));
  op.flops = flops;
  op.chunked_scan = true;
  const double chunks = d.tokens / static_cast<double>(q);
  const double io = d.tokens * (d.e * static_cast<double>(2 * md.inner + 2 * md.groups * n) +
                                8.0 * static_cast<double>(md.heads));
  const double states = 3.0 * 4.0 * chunks * static_cast<double>(md.heads) * p * n;
  op.bytes = (io + states) * (backward ? 2.0 : 1.0);
  return op;
}

// Megatron-Core's Mamba mixer (ssm/mamba_mixer.py, the training path around mamba_ssm's
// mamba_split_conv1d_scan_combined) runs sequence-first ([s, b, d]) while the kernels take
// batch-first tensors: it copies the in_proj output to [b, s, d] (rearrange, then
// .contiguous()) and the scan's output back to [s, b, d]; backward, the in_proj output's
// gradient comes back as a transposed view that Transformer Engine's GEMM makes contiguous.
// With one sequence per micro-batch the transposes are views and copy nothing.
bool TransposesMambaLayout(const LayerContext& c) { return c.micro_batch > 1; }

void MambaFwd(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c, const Dims& d,
              bool recompute_all) {
  const MambaDims md = MakeMambaDims(m, c);
  const int64_t t = static_cast<int64_t>(d.tokens);
  auto push = [&](ComputeOp op) {
    op.recompute = recompute_all;
    s->push_back(std::move(op));
  };
  push(NormFwd("norm1.fwd", d));
  TpEnterFwd(s, c, d, "mamba", GatheredBytes(c, d));
  push(Gemm("mamba.in_proj.fwd", c.dtype, t, md.in_proj, d.h));
  if (TransposesMambaLayout(c)) {
    push(Mem("mamba.layout.fwd", d.tokens * md.in_proj * d.e * 2.0));
  }
  // Causal depthwise convolution and SiLU over x, B and C (causal_conv1d): read and write.
  push(Mem("mamba.conv1d.fwd", d.tokens * md.conv * d.e * 2.0));
  push(MambaScan(m, c, d, md, false));
  if (TransposesMambaLayout(c)) {
    push(Mem("mamba.layout_out.fwd", d.tokens * md.inner * d.e * 2.0));
  }
  // Gated RMSNorm: y * silu(z), normalised per group; reads y and z, writes the out_proj input.
  push(Mem("mamba.gated_norm.fwd", d.tokens * md.inner * d.e * 3.0));
  Quantize(s, c, "mamba.out_proj.input", d.tokens * md.inner, recompute_all);
  push(Gemm("mamba.out_proj.fwd", c.dtype, t, d.h, md.inner));
  TpExitFwd(s, c, d, "mamba");
  push(Mem("residual1.fwd", d.sp_tokens * d.h * (3.0 * d.e + 1.0)));
}

void MambaBwd(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c, const Dims& d) {
  const MambaDims md = MakeMambaDims(m, c);
  const int64_t t = static_cast<int64_t>(d.tokens);
  s->push_back(Mem("residual1.bwd", d.sp_tokens * d.h * d.e * 3.0));
  Quantize(s, c, "mamba.out_proj.grad", d.sp_tokens * d.h);
  if (c.tp > 1 && c.sequence_parallel) {
    s->push_back(Comm("tp.all_gather.mamba.grad", CollectiveKind::kAllGather, GroupKind::kTp,
                      d.tokens * d.h * GatheredBytes(c, d)));
  }
  LinearBwd(s, "mamba.out_proj", c.dtype, t, d.h, md.inner);
  // Reads the output gradient, y and z; writes dy and dz.
  s->push_back(Mem("mamba.gated_norm.bwd", d.tokens * md.inner * d.e * 5.0));
  s->push_back(MambaScan(m, c, d, md, true));
  // Reads the gradient and the input, writes the input gradient.
  s->push_back(Mem("mamba.conv1d.bwd", d.tokens * md.conv * d.e * 3.0));
  if (TransposesMambaLayout(c)) {
    s->push_back(Mem("mamba.layout.bwd", d.tokens * md.in_proj * d.e * 2.0));
  }
  Quantize(s, c, "mamba.in_proj.grad", d.tokens * md.in_proj);
  TpRegatherInput(s, c, d, "mamba", GatheredBytes(c, d));
  LinearBwd(s, "mamba.in_proj", c.dtype, t, md.in_proj, d.h);
  TpEnterBwd(s, c, d, "mamba");
  s->push_back(Mem("norm1.bwd", d.sp_tokens * d.h * d.e * 4.0));
}

}  // namespace

const std::vector<LoraModuleName>& LoraModuleNames() {
  static const auto* v = new std::vector<LoraModuleName>{
      {"qkv", kLoraQkv}, {"proj", kLoraProj}, {"fc1", kLoraFc1}, {"fc2", kLoraFc2}};
  return *v;
}

const std::vector<RecomputeModuleName>& RecomputeModuleNames() {
  static const auto* v = new std::vector<RecomputeModuleName>{
      {"core_attn", kRecomputeCoreAttn}, {"layernorm", kRecomputeLayernorm},
      {"moe_act", kRecomputeMoeAct},     {"mlp", kRecomputeMlp},
      {"moe", kRecomputeMoe},            {"mla_up_proj", kRecomputeMlaUpProj}};
  return *v;
}

namespace {

// The forward of one layer of kind c.layer_kind; every op marked recomputed with `recompute`.
void KindForward(std::vector<LayerStep>* s, const ModelSpec& m, const LayerContext& c, const Dims& d,
                 bool recompute) {
  const char k = c.layer_kind;
  if (k == 'M') {
    MambaFwd(s, m, c, d, recompute);
    return;
  }
  if (ModelSpec::KindHasAttention(k)) AttentionBlockFwd(s, m, c, d, recompute, k == 'T');
  if (ModelSpec::KindHasMlp(k)) {
    if (k != 'T') s->push_back(NormFwd("norm2.fwd", d));  // the block's own pre-norm
    MlpFwd(s, m, c, d, recompute);
    s->push_back(Mem("residual2.fwd", d.sp_tokens * d.h * (3.0 * d.e + 1.0)));
  }
}

}  // namespace

bool HighPrecisionEdgeLayer(const ModelSpec& m, const LayerContext& c, int64_t layer) {
  const bool low_precision = c.dtype == DType::kFp8 || c.dtype == DType::kFp4;
  return low_precision && (layer < c.bf16_layers_at_start || layer >= m.layers - c.bf16_layers_at_end);
}

LayerContext LayerContextOf(const ModelSpec& m, const LayerContext& base, int64_t layer) {
  LayerContext c = base;
  if (HighPrecisionEdgeLayer(m, base, layer)) {
    c.dtype = DType::kBf16;  // bf16 GEMMs and attention, no quantisation
    c.fp8_attention = false;
  }
  c.attention_window = m.WindowedLayer(layer) ? m.sliding_window : 0;
  c.dense_layer = m.is_moe() && !m.MoeLayer(layer);
  c.layer_kind = m.LayerKind(layer);
  return c;
}

// Under MXFP8 every fp8 GEMM of a layer runs on block-scaled operands (the 16-bit ones, such
// as a bf16 MTP depth's, do not), and so does fp8 attention (cuDNN's MXFP8 attention kernels).
static void MarkBlockScaled(std::vector<LayerStep>* s, const LayerContext& c) {
  if (c.dtype != DType::kFp8 || c.fp8_recipe != Fp8Recipe::kMxfp8) return;
  for (LayerStep& st : *s) {
    auto* op = std::get_if<ComputeOp>(&st);
    if (op && (op->cls == OpClass::kGemm || op->cls == OpClass::kAttention) &&
        op->dtype == DType::kFp8 && !op->chunked_scan) {
      op->block_scaled = true;
    }
  }
}

namespace {

// The base linear layer a LoRA module wraps (LoraModuleNames), by its ops' name prefix.
const char* LoraBaseName(LoraModule mod) {
  switch (mod) {
    case kLoraQkv:
      return "attn.qkv";
    case kLoraProj:
      return "attn.proj";
    case kLoraFc1:
      return "mlp.fc1";
    case kLoraFc2:
      return "mlp.fc2";
  }
  return "";
}

// Frozen base weights (LayerContext::FrozenWeights): no weight-gradient GEMM runs.
void DropWeightGradients(std::vector<LayerStep>* s) {
  s->erase(std::remove_if(s->begin(), s->end(),
                          [](const LayerStep& st) {
                            const auto* op = std::get_if<ComputeOp>(&st);
                            return op != nullptr && op->weight_grad;
                          }),
           s->end());
}

// The LoRA adapters of the wrapped linear layers, placed after the base layer's forward GEMM
// (and its recomputation) or its data-gradient GEMM. Megatron-Bridge's ParallelLinearAdapter
// (src/megatron/bridge/peft/lora_layers.py): y += (x A) B * alpha / rank, A [in, rank] and
// B [rank, out] in bf16 (Megatron-Core's own parallel linears, outside Transformer Engine's fp8
// autocast), its input the base layer's input (the norm's output for qkv and fc1). `in` and
// `out` are the base GEMM's on this rank: a column-parallel layer's adapter keeps A whole and
// splits B's output, a row-parallel one splits A's input. Row-parallel adapters reduce their
// [tokens, rank] partial sums over TP; that collective is not simulated. Backward: the scale,
// B's and A's data and weight gradients, and the adapter's input gradient added to the base's.
void AddLoraAdapters(std::vector<LayerStep>* s, const LayerContext& c) {
  if (c.lora_rank <= 0 || c.lora_modules == 0) return;
  const int64_t r = c.lora_rank;
  const double e = ElementBytes(DType::kBf16);
  std::vector<LayerStep> out;
  out.reserve(s->size());
  for (LayerStep& st : *s) {
    out.push_back(st);
    const auto* op = std::get_if<ComputeOp>(&st);
    if (op == nullptr || op->cls != OpClass::kGemm) continue;
    for (const LoraModuleName& lm : LoraModuleNames()) {
      if ((c.lora_modules & lm.module) == 0) continue;
      const std::string base = LoraBaseName(lm.module);
      const std::string prefix = StrCat("lora.", lm.name);
      auto push = [&](ComputeOp a) {
        a.recompute = op->recompute;
        out.push_back(std::move(a));
      };
      if (op->name == base + ".fwd") {
        const int64_t t = op->m, n = op->n, k = op->k;  // y[t, n] = x[t, k] W
        push(Gemm(prefix + ".a.fwd", DType::kBf16, t, r, k));
        push(Gemm(prefix + ".b.fwd", DType::kBf16, t, n, r));
        // Scale by alpha / rank (read, write), then add to the base output (two reads, write).
        push(Mem(prefix + ".add.fwd", static_cast<double>(t) * n * e * 5.0));
      } else if (op->name == base + ".dgrad") {
        const int64_t t = op->m, k = op->n, n = op->k;  // dx[t, k] = dy[t, n] W^T
        push(Mem(prefix + ".scale.bwd", static_cast<double>(t) * n * e * 2.0));
        push(Gemm(prefix + ".b.dgrad", DType::kBf16, t, r, n));
        push(Gemm(prefix + ".b.wgrad", DType::kBf16, r, n, t));
        push(Gemm(prefix + ".a.dgrad", DType::kBf16, t, k, r));
        push(Gemm(prefix + ".a.wgrad", DType::kBf16, k, r, t));
        push(Mem(prefix + ".add.bwd", static_cast<double>(t) * k * e * 3.0));
      }
    }
  }
  *s = std::move(out);
}

}  // namespace

double LoraLayerParams(const ModelSpec& m, const LayerContext& c) {
  if (c.lora_rank <= 0) return 0;
  const Dims d = MakeDims(m, c);
  const double r = static_cast<double>(c.lora_rank);
  double params = 0;
  auto add = [&](LoraModule mod, int64_t in, int64_t out) {
    if ((c.lora_modules & mod) != 0) params += r * static_cast<double>(in + out);
  };
  if (ModelSpec::KindHasAttention(c.layer_kind) && !m.is_mla()) {
    add(kLoraQkv, d.h, (d.heads_local + 2 * d.kv_local) * d.d);
    add(kLoraProj, d.heads_local * m.v_dim(), d.h);
  }
  if (ModelSpec::KindHasMlp(c.layer_kind) && !MoeHere(m, c)) {
    add(kLoraFc1, d.h, m.mlp == MlpKind::kSwiglu ? 2 * d.f_local : d.f_local);
    add(kLoraFc2, d.f_local, d.h);
  }
  return params;
}

std::vector<LayerStep> LayerForward(const ModelSpec& m, const LayerContext& c) {
  const Dims d = MakeDims(m, c);
  std::vector<LayerStep> s;
  KindForward(&s, m, c, d, false);
  MarkBlockScaled(&s, c);
  AddLoraAdapters(&s, c);
  return s;
}

static std::vector<LayerStep> LayerBackwardSteps(const ModelSpec& m, const LayerContext& c) {
  const Dims d = MakeDims(m, c);
  std::vector<LayerStep> s;
  const int64_t t = static_cast<int64_t>(d.tokens);
  const char kind = c.layer_kind;
  const bool has_attn = ModelSpec::KindHasAttention(kind), has_mlp = ModelSpec::KindHasMlp(kind);
  if (c.recompute == RecomputeMode::kFull) {
    // Re-run the whole forward (with its TP communication) from the stored layer input.
    KindForward(&s, m, c, d, true);
    for (LayerStep& st : s) {
      if (auto* op = std::get_if<ComputeOp>(&st)) op->recompute = true;
    }
  } else if (c.recompute == RecomputeMode::kSelective) {
    // Selective recompute: the chosen modules' forwards run again first.
    auto recomputed = [&s](ComputeOp op) {
      op.recompute = true;
      s.push_back(std::move(op));
    };
    if (c.Recomputes(kRecomputeLayernorm)) {
      if (has_attn || kind == 'M') recomputed(NormFwd("norm1.fwd", d));
      if (has_mlp) recomputed(NormFwd("norm2.fwd", d));
    }
    if (has_attn && c.Recomputes(kRecomputeCoreAttn)) {
      // Core attention (Korthikanti et al. Sec. 5; Megatron-Core checkpoints it whatever the
      // kernel, so flash attention's forward runs twice too). The K/V gathered for context
      // parallelism are kept, not gathered again.
      std::vector<LayerStep> core;
      AttentionCoreFwd(&core, m, c, d, true);
      for (LayerStep& st : core) {
        if (std::holds_alternative<ComputeOp>(st)) s.push_back(st);
      }
    }
    if (!has_mlp) {
      // A Mamba or attention-only layer has no MLP to re-run.
    } else if (c.Recomputes(MoeHere(m, c) ? kRecomputeMoe : kRecomputeMlp)) {
      MlpFwd(&s, m, c, d, true);  // with its TP / EP communication
    } else if (MoeHere(m, c) && c.Recomputes(kRecomputeMoeAct) && !c.fused_moe_mlp) {
      // (A fused expert MLP keeps its activation: nothing of its own to re-run.)
      const MoeDims md = MakeMoeDims(m, c, d);
      if (ClampsGlu(m, c)) recomputed(GluClampFwd(md.received, md.f, d.e));
      recomputed(MoeActFwd(m, md.received, md.f, d.e));
      Quantize(&s, c, "moe.fc2.input", md.received * md.f, true);
    }
  }
  if (kind == 'M') {
    MambaBwd(&s, m, c, d);
    return s;
  }
  if (has_mlp) {
    s.push_back(Mem("residual2.bwd", d.sp_tokens * d.h * d.e * 3.0));
    MlpBwd(&s, m, c, d);
    s.push_back(Mem("norm2.bwd", d.sp_tokens * d.h * d.e * 4.0));
  }
  if (!has_attn) return s;
  s.push_back(Mem("residual1.bwd", d.sp_tokens * d.h * d.e * 3.0));
  Quantize(&s, c, "attn.proj.grad", d.sp_tokens * d.h);
  if (c.tp > 1 && c.sequence_parallel) {
    s.push_back(Comm("tp.all_gather.attn.grad", CollectiveKind::kAllGather, GroupKind::kTp,
                     d.tokens * d.h * GatheredBytes(c, d)));
  }
  LinearBwd(&s, "attn.proj", c.dtype, t, d.h, d.heads_local * m.v_dim());
  if (m.is_mla()) {
    // With mla_up_proj recomputation q, k and v were not kept: made again from the latents.
    if (c.Recomputes(kRecomputeMlaUpProj)) MlaUpFwd(&s, m, c, d, true);
    AttentionCoreBwd(&s, m, c, d);
    MlaProjectionsBwd(&s, m, c, d);
  } else {
    AttentionCoreBwd(&s, m, c, d);
    if (m.position == PositionKind::kRope) s.push_back(RopeBwd(m, d));
    // QK-norm backward, priced as the layer norms' backward (norm1.bwd / norm2.bwd).
    if (m.qk_norm) {
      s.push_back(Mem("attn.qk_norm.bwd", QkBytes(d) * 4.0));
    }
    Quantize(&s, c, "attn.qkv.grad", d.tokens * (d.heads_local + 2 * d.kv_local) * d.d);
    TpRegatherInput(&s, c, d, "attn", GatheredBytes(c, d));
    LinearBwd(&s, "attn.qkv", c.dtype, t, (d.heads_local + 2 * d.kv_local) * d.d, d.h);
    TpEnterBwd(&s, c, d, "attn");
  }
  s.push_back(Mem("norm1.bwd", d.sp_tokens * d.h * d.e * 4.0));
  return s;
}

std::vector<LayerStep> LayerBackward(const ModelSpec& m, const LayerContext& c) {
  std::vector<LayerStep> s = LayerBackwardSteps(m, c);
  MarkBlockScaled(&s, c);
  if (c.FrozenWeights()) {
    DropWeightGradients(&s);
    AddLoraAdapters(&s, c);
  }
  return s;
}

std::vector<LayerStep> EmbeddingForward(const ModelSpec& m, const LayerContext& c) {
  const Dims d = MakeDims(m, c);
  std::vector<LayerStep> s;
  s.push_back(Mem("embedding.fwd", d.tokens * d.h * d.e * 2.0));
  if (c.tp > 1) {
    // Vocab-parallel embedding: partial lookups are summed over TP (scattered under SP).
    s.push_back(Comm(c.sequence_parallel ? "tp.reduce_scatter.embedding" : "tp.all_reduce.embedding",
                     c.sequence_parallel ? CollectiveKind::kReduceScatter : CollectiveKind::kAllReduce,
                     GroupKind::kTp, d.tokens * d.h * d.e));
  }
  return s;
}

std::vector<LayerStep> EmbeddingBackward(const ModelSpec& m, const LayerContext& c) {
  const Dims d = MakeDims(m, c);
  std::vector<LayerStep> s;
  // A frozen embedding needs no gradient (and nothing before it does).
  if (c.FrozenWeights()) return s;
  if (c.tp > 1 && c.sequence_parallel) {
    s.push_back(Comm("tp.all_gather.embedding.grad", CollectiveKind::kAllGather, GroupKind::kTp,
                     d.tokens * d.h * d.e));
  }
  s.push_back(Mem("embedding.bwd", d.tokens * d.h * 4.0 * 2.0));
  return s;
}

std::vector<LayerStep> HeadForward(const ModelSpec& m, const LayerContext& c) {
  const Dims d = MakeDims(m, c);
  std::vector<LayerStep> s;
  const int64_t t = static_cast<int64_t>(d.tokens);
  const int64_t v_local = m.vocab / c.tp;
  s.push_back(Mem("final_norm.fwd", d.sp_tokens * d.h * d.e * 2.0));
  TpEnterFwd(&s, c, d, "head", d.e);
  LinearFwd(&s, "head.logits", HighPrecisionGemmDType(c), t, v_local, d.h);
  // Vocab-parallel cross entropy in fp32: max, exp-sum and target passes over the logits.
  s.push_back(Mem("loss.cross_entropy.fwd", d.tokens * v_local * (d.e + 4.0 * 2.0)));
  return s;
}

std::vector<LayerStep> HeadBackward(const ModelSpec& m, const LayerContext& c) {
  const Dims d = MakeDims(m, c);
  std::vector<LayerStep> s;
  const int64_t t = static_cast<int64_t>(d.tokens);
  const int64_t v_local = m.vocab / c.tp;
  s.push_back(Mem("loss.cross_entropy.bwd", d.tokens * v_local * (4.0 + d.e)));
  LinearBwd(&s, "head.logits", HighPrecisionGemmDType(c), t, v_local, d.h);
  if (c.tp > 1) {
    s.push_back(Comm(c.sequence_parallel ? "tp.reduce_scatter.head.grad" : "tp.all_reduce.head.grad",
                     c.sequence_parallel ? CollectiveKind::kReduceScatter : CollectiveKind::kAllReduce,
                     GroupKind::kTp, d.tokens * d.h * d.e));
  }
  s.push_back(Mem("final_norm.bwd", d.sp_tokens * d.h * d.e * 4.0));
  if (c.FrozenWeights()) DropWeightGradients(&s);
  return s;
}

namespace {

void AppendPrefixed(std::vector<LayerStep>* s, std::vector<LayerStep> ops) {
  for (LayerStep& st : ops) {
    if (auto* op = std::get_if<ComputeOp>(&st)) op->name = "mtp." + op->name;
    if (auto* op = std::get_if<CommOp>(&st)) op->name = "mtp." + op->name;
    s->push_back(std::move(st));
  }
}

// The MTP depth's own ops around its transformer layer: the two norms (hidden states and
// embeddings) and the projection of their concatenation, 2h -> h, column parallel with its
// output gathered over TP (Megatron-Core MultiTokenPredictionLayer.eh_proj).
void MtpProjectionFwd(std::vector<LayerStep>* s, const LayerContext& c, const Dims& d) {
  s->push_back(Mem("norms.fwd", 2.0 * d.tokens * d.h * d.e * 2.0));
  Quantize(s, c, "eh_proj.input", 2.0 * d.tokens * d.h);
  s->push_back(Gemm("eh_proj.fwd", c.dtype, static_cast<int64_t>(d.tokens), d.h / c.tp, 2 * d.h));
  if (c.tp > 1) {
    s->push_back(Comm("tp.all_gather.eh_proj", CollectiveKind::kAllGather, GroupKind::kTp,
                      d.tokens * d.h * d.e));
  }
}

void MtpProjectionBwd(std::vector<LayerStep>* s, const LayerContext& c, const Dims& d) {
  Quantize(s, c, "eh_proj.grad", d.tokens * d.h / c.tp);
  LinearBwd(s, "eh_proj", c.dtype, static_cast<int64_t>(d.tokens), d.h / c.tp, 2 * d.h);
  if (c.tp > 1) {
    s->push_back(Comm("tp.all_reduce.eh_proj.grad", CollectiveKind::kAllReduce, GroupKind::kTp,
                      2.0 * d.tokens * d.h * d.e));
  }
  s->push_back(Mem("norms.bwd", 2.0 * d.tokens * d.h * d.e * 4.0));
}

// The MTP depth's transformer layer: of the model's MoE kind, attending to the whole sequence.
LayerContext MtpLayerContext(const LayerContext& c) {
  LayerContext lc = c;
  lc.dense_layer = false;
  lc.attention_window = 0;
  if (c.mtp_bf16) {
    lc.dtype = DType::kBf16;
    lc.fp8_attention = false;
  }
  return lc;
}

}  // namespace

std::vector<LayerStep> MtpForward(const ModelSpec& m, const LayerContext& c) {
  const Dims d = MakeDims(m, c);
  const LayerContext lc = MtpLayerContext(c);
  std::vector<LayerStep> s;
  AppendPrefixed(&s, EmbeddingForward(m, c));
  std::vector<LayerStep> proj;
  MtpProjectionFwd(&proj, lc, d);
  MarkBlockScaled(&proj, lc);
  AppendPrefixed(&s, std::move(proj));
  AppendPrefixed(&s, LayerForward(m, lc));
  AppendPrefixed(&s, HeadForward(m, c));
  return s;
}

std::vector<LayerStep> MtpBackward(const ModelSpec& m, const LayerContext& c) {
  const Dims d = MakeDims(m, c);
  const LayerContext lc = MtpLayerContext(c);
  std::vector<LayerStep> s;
  AppendPrefixed(&s, HeadBackward(m, c));
  AppendPrefixed(&s, LayerBackward(m, lc));
  std::vector<LayerStep> proj;
  MtpProjectionBwd(&proj, lc, d);
  MarkBlockScaled(&proj, lc);
  AppendPrefixed(&s, std::move(proj));
  AppendPrefixed(&s, EmbeddingBackward(m, c));
  if (c.FrozenWeights()) DropWeightGradients(&s);
  return s;
}

double MoeLoadImbalance(const ModelSpec& m, const LayerContext& c) {
  if (!m.is_moe() || c.ep <= 1) return 1.0;
  LayerContext moe = c;
  moe.dense_layer = false;
  return MakeMoeDims(m, moe, MakeDims(m, moe)).imbalance;
}

double LayerActivationBytes(const ModelSpec& m, const LayerContext& c) {
  // Korthikanti et al. eq. 1: per layer s*b*h*(34 + 5*a*s/h) bytes with 16-bit activations,
  // without parallelism. Under TP with SP every term divides by t (eq. 4); without SP the
  // 10 bytes/element of norms and dropouts stay replicated (eq. 3). Context parallelism
  // divides the sequence. Recomputing the core attention (or flash attention, which never
  // stores the scores) removes the 5*a*s/h term; full recompute keeps only the layer input
  // (2 bytes).
  const double sbh = static_cast<double>(c.micro_batch) * c.seq_len / c.cp * m.hidden;
  const double t = static_cast<double>(c.tp);
  if (c.recompute == RecomputeMode::kFull) return sbh * 2.0 / (c.sequence_parallel ? t : 1.0);
  const bool low_precision = c.dtype == DType::kFp8 || c.dtype == DType::kFp4;
  if (c.layer_kind == 'M') {
    // A Mamba-2 mixer keeps its norm's input (2 bytes per element), the in_proj input (2, or
    // 1 quantized), the in_proj output (z, x, B, C, dt), the convolution's output (x, B, C),
    // the scan's output y (2 bytes each) and the out_proj input (2, or 1 quantized); the scan's
    // chunk states are recomputed in its backward. Per element of s*b*h.
    const MambaDims md = MakeMambaDims(m, c);
    const double replicated = c.sequence_parallel ? t : 1.0;
    const double q = low_precision ? 1.0 : 2.0;
    const double norm_in = c.Recomputes(kRecomputeLayernorm) ? 0.0 : q;
    const double per_token = (2.0 + norm_in) * static_cast<double>(m.hidden) / replicated +
                             2.0 * static_cast<double>(md.in_proj + md.conv + md.inner) +
                             q * static_cast<double>(md.inner);
    return sbh * per_token / static_cast<double>(m.hidden);
  }
  const double base = c.sequence_parallel ? 34.0 / t : 10.0 + 24.0 / t;
  double scores = 5.0 * m.heads * static_cast<double>(c.seq_len) / m.hidden / t;
  if (c.Recomputes(kRecomputeCoreAttn) || c.attention == AttentionImpl::kFlash) scores = 0;
  // Wider MLPs (SwiGLU, ffn != 4h) scale the MLP share (19 of the 34 bytes/element at ffn = 4h).
  // An MoE layer keeps the activations of its top_k routed experts and its shared experts
  // (the busiest EP rank's, under a routing imbalance).
  const double routed_share = MoeHere(m, c) ? MoeLoadImbalance(m, c) : 1.0;
  const double mlp_width = MoeHere(m, c) ? static_cast<double>(m.expert_ffn()) * m.top_k * routed_share +
                                               static_cast<double>(m.shared_expert_ffn)
                                         : static_cast<double>(m.ffn_hidden);
  const double mlp_scale = mlp_width / (4.0 * m.hidden) * (m.mlp == MlpKind::kSwiglu ? 1.5 : 1.0);
  const double mlp_share = 19.0 / 34.0;
  // Of the attention block's 11 bytes/element, Q, K, V and the output projection's input
  // (2 bytes each, split over TP) are not hidden wide: Q and the projection input are
  // heads * head_dim (Qwen3: wider), K and V kv_heads * head_dim (grouped-query attention:
  // narrower).
  const double q_ratio = static_cast<double>(m.q_dim()) / m.hidden;
  const int64_t kv_heads = m.kv_heads > 0 ? m.kv_heads : m.heads;
  const double kv_ratio = static_cast<double>(kv_heads * m.head_dim()) / m.hidden;
  double qkv_extra = (4.0 * q_ratio + 4.0 * kv_ratio - 8.0) / t;
  // The output projection's input: heads * v dims.
  const double out_ratio = static_cast<double>(m.attn_out_dim()) / m.hidden;
  if (m.is_mla()) {
    // MLA keeps q and k at heads * qk dims, v and the projection input at heads * v dims (split
    // over TP), and the up projections' inputs, the latents, whole on every TP rank (2 bytes
    // per element each). With mla_up_proj recomputation q, k and v are not kept.
    const double qk_ratio = static_cast<double>(m.heads * m.qk_head_dim()) / m.hidden;
    const double kept_qkv = c.Recomputes(kRecomputeMlaUpProj) ? 0.0 : 2.0 * (2.0 * qk_ratio + out_ratio);
    const double latents = 2.0 * static_cast<double>(m.q_lora_rank + m.kv_lora_rank) / m.hidden;
    qkv_extra = (kept_qkv + 2.0 * out_ratio - 8.0) / t + latents;
  }
  // QK-norm keeps its input, the query and key heads before the norm (2 bytes per element,
  // split over TP), for its backward.
  const double qk_norm_in =
      m.qk_norm ? 2.0 * static_cast<double>((m.heads + m.kv_heads) * m.head_dim()) / m.hidden / t : 0.0;
  const double adj =
      base * ((1.0 - mlp_share) + mlp_share * mlp_scale) + qkv_extra + qk_norm_in;
  // Bytes per sbh element not kept. Terms of eq. 3's replicated 10 bytes (the norms' outputs,
  // the dropout masks) divide by t only under sequence parallelism.
  const double replicated = c.sequence_parallel ? t : 1.0;
  const double mlp_bytes = base * mlp_share * mlp_scale;  // the MLP / MoE block's bytes
  const bool norms_recomputed = c.Recomputes(kRecomputeLayernorm);
  const bool block_recomputed = c.Recomputes(MoeHere(m, c) ? kRecomputeMoe : kRecomputeMlp);
  const bool act_recomputed = block_recomputed || (MoeHere(m, c) && c.Recomputes(kRecomputeMoeAct));
  // The norms' outputs (the QKV and first MLP GEMM inputs, 2 bytes each), the projection's
  // input (2 bytes, q_dim wide) and the second MLP GEMM's input (8 of the MLP's 19 bytes).
  const double norms_out = 4.0 / replicated;
  const double proj_in = 2.0 * out_ratio / t;
  const double act_out = mlp_bytes * 8.0 / 19.0;
  double saved = 0;
  if (norms_recomputed) saved += norms_out;
  // A recomputed block keeps only its input (2 of its 19 bytes at ffn = 4h); a recomputed MoE
  // activation does not keep its output.
  if (block_recomputed) {
    saved += mlp_bytes * 17.0 / 19.0;
  } else if (act_recomputed) {
    saved += act_out;
  }
  // No dropout: neither the attention output's nor the MLP output's 1-byte mask.
  if (!m.dropout) saved += 2.0 / replicated;
  if (low_precision) {
    // Transformer Engine keeps the quantized copy of each GEMM input still stored for the
    // backward pass, not the 16-bit one: 1 byte per element instead of 2 (MXFP8 / NVFP4 block
    // scales, 1 byte per 32 or 16 elements, left out).
    saved += 0.5 * ((norms_recomputed ? 0.0 : norms_out) + proj_in + (act_recomputed ? 0.0 : act_out));
  }
  // Of which the MLP / MoE block's own.
  double mlp_saved = (block_recomputed ? mlp_bytes * 17.0 / 19.0 : act_recomputed ? act_out : 0.0) +
                     (low_precision && !act_recomputed ? 0.5 * act_out : 0.0);
  // Frozen weights (LoRA): Transformer Engine keeps a linear layer's input only for its weight
  // gradient, so a dense MLP's layers without an adapter keep neither the second GEMM's input
  // nor the norm's output that feeds the first (what is left of them after the lines above).
  // Attention keeps its inputs for the attention kernel's own backward; frozen experts'
  // inputs are still counted (an upper bound).
  double frozen_norm_saved = 0;
  if (c.FrozenWeights() && ModelSpec::KindHasMlp(c.layer_kind) && !MoeHere(m, c)) {
    const double kept = low_precision ? 0.5 : 1.0;
    if ((c.lora_modules & kLoraFc2) == 0 && !act_recomputed) {
      saved += kept * act_out;
      mlp_saved += kept * act_out;
    }
    if ((c.lora_modules & kLoraFc1) == 0 && !norms_recomputed) frozen_norm_saved = kept * norms_out / 2.0;
  }
  saved += frozen_norm_saved;
  // A hybrid model's single-block layer has one norm (2 of norms_out's 4 bytes) and one
  // dropout mask (1 byte): the MLP / experts block takes the second norm and mask, the
  // attention block the rest, so that the two blocks keep what a transformer layer keeps.
  const double norm_one = norms_out / 2.0;
  const double mlp_norm_saved = (norms_recomputed ? norm_one : 0.0) + (!m.dropout ? 1.0 / replicated : 0.0) +
                                (low_precision && !norms_recomputed ? 0.5 * norm_one : 0.0) + frozen_norm_saved;
  // Hybrid models' single-block layers: the MLP / experts with their norm's input, or the
  // attention block without them.
  if (c.layer_kind == 'E' || c.layer_kind == '-') {
    return sbh * (mlp_bytes + norm_one - mlp_saved - mlp_norm_saved);
  }
  if (c.layer_kind == '*') {
    return sbh * (adj - mlp_bytes - norm_one + scores - (saved - mlp_saved - mlp_norm_saved));
  }
  return sbh * (adj + scores - saved);
}

}  // namespace echosim
