#include "models/inference_ops.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace echosim {
namespace {

// C[m,n] = A[m,k] B[k,n]; A is activations, B weights. fp8 GEMMs read 1-byte inputs and
// write 2-byte outputs; others read and write 2 bytes. Tensor-core kernels compute whole
// tiles of rows (Hopper's wgmma works on M = 64 tiles; Ampere's cuBLAS kernels use CTA tiles
// of at least 64 rows), so a GEMM of fewer rows does, and costs, the work of 64: its shape
// and FLOPs use m' = max(m, 64), its bytes the real m.
ComputeOp InferGemm(const char* name, DType dt, int64_t m, int64_t n, int64_t k,
                    int64_t batch = 1) {
  ComputeOp op;
  op.name = name;
  op.cls = OpClass::kGemm;
  op.dtype = dt;
  const int64_t m_tiled = std::max<int64_t>(m, kGemmTileRows);
  op.m = m_tiled;
  op.n = n;
  op.k = k;
  op.batch = batch;
  op.flops = 2.0 * static_cast<double>(m_tiled) * n * k * batch;
  const double in = WeightBytes(dt);
  op.bytes = batch * (in * (static_cast<double>(m) * k + static_cast<double>(k) * n) +
                      2.0 * static_cast<double>(m) * n);
  return op;
}

ComputeOp InferMem(const char* name, double bytes) {
  ComputeOp op;
  op.name = name;
  op.cls = OpClass::kMemoryBound;
  op.bytes = bytes;
  return op;
}

CommOp TpAllReduce(const char* name, double bytes) {
  CommOp op;
  op.name = name;
  op.kind = CollectiveKind::kAllReduce;
  op.group = GroupKind::kTp;
  op.bytes = bytes;
  return op;
}

int64_t HeadsLocal(const ModelSpec& m, const InferenceConfig& c) { return m.heads / c.tp; }
int64_t KvHeadsLocal(const ModelSpec& m, const InferenceConfig& c) {
  return std::max<int64_t>(1, m.kv_heads / c.tp);
}

int64_t StageLayers(const ModelSpec& m, const InferenceConfig& c) {
  return (m.layers + c.pp - 1) / c.pp;
}

}  // namespace

std::vector<LayerStep> InferenceLayerOps(const ModelSpec& m, int64_t tokens,
                                         const InferenceConfig& c) {
  std::vector<LayerStep> s;
  if (tokens <= 0) return s;
  const double t = static_cast<double>(tokens);
  const int64_t h = m.hidden, d = m.head_dim();
  const int64_t hq = HeadsLocal(m, c), hkv = KvHeadsLocal(m, c);
  const int64_t f = m.ffn_hidden / c.tp;
  const double e = 2.0;  // activation bytes between kernels
  s.push_back(InferMem("norm1", t * h * e * 2.0));
  s.push_back(InferGemm("attn.qkv", c.dtype, tokens, (hq + 2 * hkv) * d, h));
  if (m.position == PositionKind::kRope) {
    s.push_back(InferMem("attn.rope", t * (hq + hkv) * d * e * 2.0));
  }
  // Writing the new K and V rows into the paged cache.
  s.push_back(InferMem("attn.kv_cache_write",
                       t * 2.0 * hkv * d * (e + KvElementBytes(c.kv_dtype))));
  s.push_back(InferGemm("attn.proj", c.dtype, tokens, h, hq * d));
  if (c.tp > 1) s.push_back(TpAllReduce("tp.all_reduce.attn", t * h * e));
  s.push_back(InferMem("residual_norm2", t * h * e * 4.0));
  const int64_t up = m.mlp == MlpKind::kSwiglu ? 2 * f : f;
  const double act_bytes = m.mlp == MlpKind::kSwiglu ? 3.0 : 2.0;
  if (!m.is_moe()) {
    s.push_back(InferGemm("mlp.fc1", c.dtype, tokens, up, h));
    s.push_back(InferMem("mlp.act", t * f * e * act_bytes));
    s.push_back(InferGemm("mlp.fc2", c.dtype, tokens, h, f));
  } else {
    // Tokens are routed to top_k of E experts; every expert is split over TP (vLLM's fused
    // MoE). With T tokens, the expected number of distinct experts hit is
    // E * (1 - (1 - k/E)^T) (independent uniform routing); their weights are all read.
    const double experts = static_cast<double>(m.experts);
    const double hit = experts * (1.0 - std::pow(1.0 - static_cast<double>(m.top_k) / experts, t));
    const int64_t active = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(hit - 1e-9)));
    const double routed = t * m.top_k;
    const int64_t per_expert = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(routed / active)));
    s.push_back(InferGemm("moe.router", c.dtype, tokens, m.experts, h));
    s.push_back(InferMem("moe.permute", routed * h * e * 2.0));
    s.push_back(InferGemm("moe.fc1", c.dtype, per_expert, up, h, active));
    s.push_back(InferMem("moe.act", routed * f * e * act_bytes));
    s.push_back(InferGemm("moe.fc2", c.dtype, per_expert, h, f, active));
    s.push_back(InferMem("moe.unpermute", routed * h * e * 2.0));
  }
  if (c.tp > 1) s.push_back(TpAllReduce("tp.all_reduce.mlp", t * h * e));
  s.push_back(InferMem("residual2", t * h * e * 3.0));
  return s;
}

std::vector<ComputeOp> InferenceAttentionOps(const ModelSpec& m, const AttentionWork& w,
                                             const InferenceConfig& c) {
  std::vector<ComputeOp> ops;
  const double d = static_cast<double>(m.head_dim());
  const double hq = static_cast<double>(HeadsLocal(m, c));
  const double hkv = static_cast<double>(KvHeadsLocal(m, c));
  const double e = 2.0;
  const double kv_e = KvElementBytes(c.kv_dtype);
  if (w.prefill_tokens > 0) {
    ComputeOp op;
    op.name = "attn.prefill";
    op.cls = OpClass::kAttention;
    op.dtype = DType::kBf16;
    op.m = w.prefill_tokens;
    op.k = m.head_dim();
    op.batch = HeadsLocal(m, c);
    op.flops = 4.0 * d * hq * w.prefill_pairs;
    op.bytes = 2.0 * static_cast<double>(w.prefill_tokens) * hq * d * e +
               2.0 * w.prefill_kv_tokens * hkv * d * kv_e;
    ops.push_back(op);
  }
  if (w.decode_tokens > 0) {
    ComputeOp op;
    op.name = "attn.decode";
    op.cls = OpClass::kAttention;
    op.dtype = DType::kBf16;
    op.m = w.decode_tokens;
    op.k = m.head_dim();
    op.batch = HeadsLocal(m, c);
    op.flops = 4.0 * d * hq * w.decode_context_tokens;
    op.bytes = 2.0 * static_cast<double>(w.decode_tokens) * hq * d * e +
               2.0 * w.decode_context_tokens * hkv * d * kv_e;
    ops.push_back(op);
  }
  return ops;
}

std::vector<LayerStep> InferenceEmbeddingOps(const ModelSpec& m, int64_t tokens,
                                             const InferenceConfig& c) {
  std::vector<LayerStep> s;
  if (tokens <= 0) return s;
  const double t = static_cast<double>(tokens);
  s.push_back(InferMem("embedding", t * m.hidden * 2.0 * 2.0));
  if (c.tp > 1) s.push_back(TpAllReduce("tp.all_reduce.embedding", t * m.hidden * 2.0));
  return s;
}

std::vector<LayerStep> InferenceHeadOps(const ModelSpec& m, int64_t sampled,
                                        const InferenceConfig& c) {
  std::vector<LayerStep> s;
  if (sampled <= 0) return s;
  const double r = static_cast<double>(sampled);
  const int64_t v_local = m.vocab / c.tp;
  s.push_back(InferMem("final_norm", r * m.hidden * 2.0 * 2.0));
  // The LM head stays in 16-bit in vLLM's fp8 checkpoints (lm_head is not quantised).
  s.push_back(InferGemm("head.logits", DType::kBf16, sampled, v_local, m.hidden));
  if (c.tp > 1) {
    CommOp g;
    g.name = "tp.all_gather.logits";
    g.kind = CollectiveKind::kAllGather;
    g.group = GroupKind::kTp;
    g.bytes = r * static_cast<double>(m.vocab) * 2.0;
    s.push_back(g);
  }
  // Sampling: fp32 upcast, softmax and top-k/top-p passes over the full logits.
  s.push_back(InferMem("sampler", r * static_cast<double>(m.vocab) * (2.0 + 4.0 * 3.0)));
  return s;
}

double KvBytesPerTokenPerLayer(const ModelSpec& m, const InferenceConfig& c) {
  return 2.0 * static_cast<double>(KvHeadsLocal(m, c)) * m.head_dim() * KvElementBytes(c.kv_dtype);
}

double InferenceWeightBytesPerGpu(const ModelSpec& m, const InferenceConfig& c) {
  const double layers = static_cast<double>(StageLayers(m, c));
  // Norm weights are replicated and tiny; everything else is split over TP.
  const double layer_bytes = static_cast<double>(m.LayerParams()) / c.tp * WeightBytes(c.dtype);
  const double vocab_bytes = static_cast<double>(m.vocab) * m.hidden / c.tp * 2.0;
  const double first = layers * layer_bytes + vocab_bytes;
  const double last = layers * layer_bytes + (m.tied_embeddings && c.pp == 1 ? 0.0 : vocab_bytes);
  return c.pp == 1 ? first + (m.tied_embeddings ? 0.0 : vocab_bytes) : std::max(first, last);
}

double InferenceActivationPeakBytes(const ModelSpec& m, int64_t tokens, int64_t seqs,
                                    const InferenceConfig& c) {
  const double t = static_cast<double>(tokens);
  const double f = static_cast<double>(m.ffn_hidden) / c.tp *
                   (m.is_moe() ? static_cast<double>(m.top_k) : 1.0);
  const double mlp_and_residual = t * (3.0 * f + 4.0 * m.hidden) * 2.0;
  const double logits = 3.0 * static_cast<double>(seqs) * m.vocab * 4.0;
  return mlp_and_residual + logits;
}

}  // namespace echosim
