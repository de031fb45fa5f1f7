#include "models/layer_ops.h"

#include <cmath>
#include <set>

#include <gtest/gtest.h>

namespace echosim {
namespace {

ModelSpec Gpt(int64_t h, int64_t heads) {
  ModelSpec m;
  m.name = "test";
  m.layers = 4;
  m.hidden = h;
  m.heads = heads;
  m.kv_heads = heads;
  m.ffn_hidden = 4 * h;
  m.vocab = 1024;
  return m;
}

// A GPT layer whose MLP is a mixture of `experts` experts, `top_k` per token.
ModelSpec GptMoe(int64_t h, int64_t heads, int64_t experts, int64_t top_k) {
  ModelSpec m = Gpt(h, heads);
  m.experts = experts;
  m.top_k = top_k;
  return m;
}

// Tensor parallel over `tp` ranks with sequence parallelism, sequences of `seq_len` tokens.
LayerContext SpContext(int64_t seq_len, int64_t tp) {
  LayerContext c;
  c.seq_len = seq_len;
  c.tp = tp;
  c.sequence_parallel = true;
  return c;
}

double GemmFlops(const std::vector<LayerStep>& steps) {
  double f = 0;
  for (const auto& s : steps) {
    if (const auto* op = std::get_if<ComputeOp>(&s); op && op->cls == OpClass::kGemm) f += op->flops;
  }
  return f;
}

// FLOPs of the expert GEMMs (moe.fc1 / moe.fc2, every direction).
double ExpertFlops(const std::vector<LayerStep>& steps) {
  double f = 0;
  for (const auto& s : steps) {
    if (const auto* op = std::get_if<ComputeOp>(&s); op && op->name.rfind("moe.fc", 0) == 0) f += op->flops;
  }
  return f;
}

int CountComm(const std::vector<LayerStep>& steps, CollectiveKind k) {
  int n = 0;
  for (const auto& s : steps) {
    if (const auto* op = std::get_if<CommOp>(&s); op && op->kind == k) ++n;
  }
  return n;
}

// Dense GEMMs of a GPT layer: QKV 3h^2, projection h^2, MLP 8h^2 = 12h^2 weights, so
// 2 * T * 12h^2 FLOPs forward, twice that backward (data and weight gradients), all / tp.
TEST(LayerOpsTest, GemmFlopsFollowTheStandardAccounting) {
  const ModelSpec m = Gpt(1024, 16);
  LayerContext c;
  c.micro_batch = 2;
  c.seq_len = 512;
  c.tp = 4;
  const double t = 2.0 * 512, h = 1024;
  EXPECT_DOUBLE_EQ(GemmFlops(LayerForward(m, c)), 2.0 * t * 12 * h * h / 4);
  EXPECT_DOUBLE_EQ(GemmFlops(LayerBackward(m, c)), 2.0 * 2.0 * t * 12 * h * h / 4);
  c.recompute = RecomputeMode::kFull;  // backward re-runs the forward first
  EXPECT_DOUBLE_EQ(GemmFlops(LayerBackward(m, c)), 3.0 * 2.0 * t * 12 * h * h / 4);
}

// Megatron's TP pattern: without SP two all-reduces per pass; with SP each becomes an
// all-gather plus a reduce-scatter, and the backward gathers the two column-parallel GEMMs'
// input shards again for their weight gradients; no communication at tp = 1.
TEST(LayerOpsTest, TensorParallelCommunicationPattern) {
  const ModelSpec m = Gpt(1024, 16);
  LayerContext c;
  c.tp = 8;
  EXPECT_EQ(CountComm(LayerForward(m, c), CollectiveKind::kAllReduce), 2);
  EXPECT_EQ(CountComm(LayerBackward(m, c), CollectiveKind::kAllReduce), 2);
  c.sequence_parallel = true;
  EXPECT_EQ(CountComm(LayerForward(m, c), CollectiveKind::kAllReduce), 0);
  EXPECT_EQ(CountComm(LayerForward(m, c), CollectiveKind::kAllGather), 2);
  EXPECT_EQ(CountComm(LayerForward(m, c), CollectiveKind::kReduceScatter), 2);
  EXPECT_EQ(CountComm(LayerBackward(m, c), CollectiveKind::kAllGather), 4);
  EXPECT_EQ(CountComm(LayerBackward(m, c), CollectiveKind::kReduceScatter), 2);
  c.tp = 1;
  c.sequence_parallel = false;
  EXPECT_EQ(CountComm(LayerForward(m, c), CollectiveKind::kAllReduce), 0);
}

// Causal flash attention forward: 4 * b * s^2 * heads * d / 2; backward 2.5x.
TEST(LayerOpsTest, FlashAttentionFlops) {
  const ModelSpec m = Gpt(1024, 16);
  LayerContext c;
  c.seq_len = 2048;
  for (const auto& s : LayerForward(m, c)) {
    if (const auto* op = std::get_if<ComputeOp>(&s); op && op->cls == OpClass::kAttention) {
      EXPECT_DOUBLE_EQ(op->flops, 4.0 * 16 * 2048.0 * 2048 * 64 / 2);
    }
  }
  for (const auto& s : LayerBackward(m, c)) {
    if (const auto* op = std::get_if<ComputeOp>(&s); op && op->cls == OpClass::kAttention) {
      EXPECT_DOUBLE_EQ(op->flops, 2.5 * 4.0 * 16 * 2048.0 * 2048 * 64 / 2);
    }
  }
}

// Korthikanti et al. eq. 1-5: sbh(34 + 5as/h) without parallelism; /t with TP+SP;
// 10 + 24/t without SP; selective recompute drops 5as/h; full keeps 2sbh (/t under SP).
TEST(LayerOpsTest, ActivationMemoryFollowsKorthikanti) {
  const ModelSpec m = Gpt(4096, 32);
  LayerContext c;
  c.micro_batch = 1;
  c.seq_len = 2048;
  c.attention = AttentionImpl::kUnfused;
  const double sbh = 2048.0 * 4096;
  const double as_h = 32.0 * 2048 / 4096;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), sbh * (34 + 5 * as_h));
  c.tp = 8;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), sbh * (10 + 24.0 / 8 + 5 * as_h / 8));
  c.sequence_parallel = true;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), sbh * (34.0 / 8 + 5 * as_h / 8));
  c.recompute = RecomputeMode::kSelective;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), sbh * 34.0 / 8);
  c.recompute = RecomputeMode::kFull;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), sbh * 2.0 / 8);
}

// Grouped-query attention keeps narrower K and V (kv_heads of heads): of Korthikanti's 2 + 2
// bytes for them, only kv_heads / heads remain.
TEST(LayerOpsTest, GroupedQueryAttentionKeepsNarrowerKeysAndValues) {
  ModelSpec mha = Gpt(4096, 32);
  ModelSpec gqa = mha;
  gqa.kv_heads = 8;
  LayerContext c = SpContext(2048, 8);
  const double sbh = 2048.0 * 4096;
  EXPECT_NEAR(LayerActivationBytes(mha, c) - LayerActivationBytes(gqa, c),
              sbh * 4.0 * (1.0 - 8.0 / 32) / 8, 1e-6 * sbh);
}

// FP8 training keeps the quantized GEMM inputs (1 byte, not 2): the QKV and fc1 inputs (2 + 2),
// the projection input (2) and the fc2 input (8) lose half: 7 of the 34 bytes.
TEST(LayerOpsTest, Fp8KeepsQuantizedGemmInputs) {
  const ModelSpec m = Gpt(4096, 32);
  LayerContext c = SpContext(2048, 8);
  const double sbh = 2048.0 * 4096;
  c.dtype = DType::kFp8;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), sbh * 27.0 / 8);
  c.recompute = RecomputeMode::kSelective;
  c.recompute_modules = kRecomputeLayernorm;  // the norms' outputs are not kept at all
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), sbh * (34.0 - 4 - 5) / 8);
}

// Bytes moved by the fp8 / fp4 quantization passes (ops named "*.quantize").
double QuantizeBytes(const std::vector<LayerStep>& steps) {
  double b = 0;
  for (const auto& s : steps) {
    const auto* op = std::get_if<ComputeOp>(&s);
    if (op && op->name.size() > 9 && op->name.compare(op->name.size() - 9, 9, ".quantize") == 0) {
      EXPECT_EQ(op->cls, OpClass::kMemoryBound) << op->name;
      b += op->bytes;
    }
  }
  return b;
}

// Low-precision GEMMs quantize their inputs: forward, the projection input (T x h) and the
// second MLP GEMM's input (T x 4h) (the QKV and first MLP inputs come quantized out of the
// norm); backward, the output gradient of every GEMM (h, 4h, h and 3h wide). Each element is
// read in 16 bits and written twice (row- and column-wise): 4 bytes in fp8, 3 in fp4. Under
// sequence parallelism the row-parallel GEMMs' output gradients are quantized on the sequence
// shard. 16-bit training has no such pass.
TEST(LayerOpsTest, LowPrecisionQuantizesGemmInputsAndGradients) {
  const ModelSpec m = Gpt(1024, 16);
  LayerContext c;
  c.seq_len = 512;
  const double th = 512.0 * 1024;
  EXPECT_EQ(QuantizeBytes(LayerForward(m, c)), 0.0);
  EXPECT_EQ(QuantizeBytes(LayerBackward(m, c)), 0.0);
  c.dtype = DType::kFp8;
  EXPECT_DOUBLE_EQ(QuantizeBytes(LayerForward(m, c)), 4.0 * th * (1 + 4));
  EXPECT_DOUBLE_EQ(QuantizeBytes(LayerBackward(m, c)), 4.0 * th * (1 + 4 + 1 + 3));
  c.dtype = DType::kFp4;
  EXPECT_DOUBLE_EQ(QuantizeBytes(LayerBackward(m, c)), 3.0 * th * (1 + 4 + 1 + 3));
  c.dtype = DType::kFp8;
  c.tp = 4;
  c.sequence_parallel = true;
  EXPECT_DOUBLE_EQ(QuantizeBytes(LayerForward(m, c)), 4.0 * th * (1 + 4) / 4);
  EXPECT_DOUBLE_EQ(QuantizeBytes(LayerBackward(m, c)), 4.0 * th * (1 + 4 + 1 + 3) / 4);
  // Full recompute quantizes the forward's inputs again.
  c.recompute = RecomputeMode::kFull;
  EXPECT_DOUBLE_EQ(QuantizeBytes(LayerBackward(m, c)), 4.0 * th * (1 + 4 + 1 + 4 + 1 + 3) / 4);
}

// The fp8 recipe prices its own passes: current scaling reads each quantized tensor once more
// (its amax), MXFP8 writes a scale per 32 elements for each copy and runs every fp8 GEMM on
// block-scaled operands; delayed scaling is the bare cast. 16-bit GEMMs stay unscaled.
TEST(LayerOpsTest, Fp8RecipesPriceTheirPasses) {
  const ModelSpec m = GptMoe(1024, 16, 8, 2);
  LayerContext c;
  c.seq_len = 512;
  c.ep = 4;
  c.dtype = DType::kFp8;
  auto quantized = [&] { return QuantizeBytes(LayerForward(m, c)) + QuantizeBytes(LayerBackward(m, c)); };
  auto scaled_gemms = [&](const std::vector<LayerStep>& steps, int* low, int* high) {
    int scaled = 0;
    for (const auto& s : steps) {
      const auto* op = std::get_if<ComputeOp>(&s);
      if (!op || op->cls != OpClass::kGemm) continue;
      if (op->dtype == DType::kFp8) ++*low; else ++*high;
      if (op->block_scaled) {
        ++scaled;
        EXPECT_EQ(op->dtype, DType::kFp8) << op->name;
      }
    }
    return scaled;
  };
  const double delayed = quantized();
  ASSERT_GT(delayed, 0.0);
  c.fp8_recipe = Fp8Recipe::kCurrent;
  EXPECT_DOUBLE_EQ(quantized(), delayed * 6.0 / 4.0);
  c.fp8_recipe = Fp8Recipe::kMxfp8;
  EXPECT_DOUBLE_EQ(quantized(), delayed * (4.0 + 2.0 / 32.0) / 4.0);
  for (Fp8Recipe r : {Fp8Recipe::kDelayed, Fp8Recipe::kCurrent, Fp8Recipe::kMxfp8}) {
    c.fp8_recipe = r;
    for (const auto& steps : {LayerForward(m, c), LayerBackward(m, c)}) {
      int low = 0, high = 0;
      const int scaled = scaled_gemms(steps, &low, &high);
      EXPECT_GT(low, 0);
      EXPECT_GT(high, 0);  // the router's GEMMs, in 16 bits
      EXPECT_EQ(scaled, r == Fp8Recipe::kMxfp8 ? low : 0);
    }
  }
  // A 16-bit run ignores the recipe.
  c.dtype = DType::kBf16;
  int low = 0, high = 0;
  EXPECT_EQ(scaled_gemms(LayerForward(m, c), &low, &high), 0);
  EXPECT_EQ(QuantizeBytes(LayerBackward(m, c)), 0.0);
}

// The output (logits) layer and the MoE router run outside Transformer Engine's fp8 region:
// their GEMMs stay in 16 bits under fp8 and fp4 recipes.
TEST(LayerOpsTest, OutputLayerAndRouterStayIn16Bit) {
  const ModelSpec m = GptMoe(1024, 16, 8, 2);
  LayerContext c;
  c.seq_len = 512;
  c.ep = 4;
  for (DType dt : {DType::kFp8, DType::kFp4}) {
    c.dtype = dt;
    int head = 0, router = 0, low = 0;
    std::vector<LayerStep> all = HeadForward(m, c);
    auto add = [&all](std::vector<LayerStep> v) { all.insert(all.end(), v.begin(), v.end()); };
    add(HeadBackward(m, c));
    add(LayerForward(m, c));
    add(LayerBackward(m, c));
    for (const auto& s : all) {
      const auto* op = std::get_if<ComputeOp>(&s);
      if (!op || op->cls != OpClass::kGemm) continue;
      if (op->name.rfind("head.logits", 0) == 0) {
        ++head;
        EXPECT_EQ(op->dtype, DType::kBf16) << op->name;
      } else if (op->name.rfind("moe.router", 0) == 0) {
        ++router;
        EXPECT_EQ(op->dtype, DType::kBf16) << op->name;
      } else {
        ++low;
        EXPECT_EQ(op->dtype, dt) << op->name;
      }
    }
    EXPECT_EQ(head, 3);    // forward, data and weight gradients
    EXPECT_EQ(router, 3);
    EXPECT_GT(low, 0);
  }
  c.dtype = DType::kFp16;  // 16-bit recipes keep their own precision
  for (const auto& s : HeadForward(m, c)) {
    if (const auto* op = std::get_if<ComputeOp>(&s); op && op->cls == OpClass::kGemm) {
      EXPECT_EQ(op->dtype, DType::kFp16);
    }
  }
}

// Without dropout (Llama, Qwen3, ...) the two 1-byte masks are not kept; without sequence
// parallelism they were replicated over TP.
TEST(LayerOpsTest, NoDropoutKeepsNoMasks) {
  ModelSpec m = Gpt(4096, 32);
  m.dropout = false;
  LayerContext c;
  c.seq_len = 2048;
  c.tp = 8;
  const double sbh = 2048.0 * 4096;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), sbh * (10 - 2 + 24.0 / 8));
  c.sequence_parallel = true;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), sbh * 32.0 / 8);
}

// QK-norm (Qwen3) adds one memory-bound pass over the query and key heads in each direction
// (2 and 4 bytes per element, as the layer norms) and keeps its input for the backward.
TEST(LayerOpsTest, QkNormNormalisesQueryAndKeyHeads) {
  ModelSpec m = Gpt(2048, 32);
  m.kv_heads = 4;
  m.head_dim_override = 128;
  LayerContext c;
  c.seq_len = 4096;
  c.tp = 2;
  auto bytes_of = [](const std::vector<LayerStep>& steps, const std::string& name) {
    double b = -1;
    for (const auto& s : steps) {
      if (const auto* op = std::get_if<ComputeOp>(&s); op && op->name == name) b = op->bytes;
    }
    return b;
  };
  EXPECT_LT(bytes_of(LayerForward(m, c), "attn.qk_norm.fwd"), 0);
  EXPECT_LT(bytes_of(LayerBackward(m, c), "attn.qk_norm.bwd"), 0);
  const double plain = LayerActivationBytes(m, c);
  m.qk_norm = true;
  const double qk_elements = 4096.0 * (16 + 2) * 128;  // 16 query and 2 key heads per TP rank
  EXPECT_DOUBLE_EQ(bytes_of(LayerForward(m, c), "attn.qk_norm.fwd"), qk_elements * 2 * 2);
  EXPECT_DOUBLE_EQ(bytes_of(LayerBackward(m, c), "attn.qk_norm.bwd"), qk_elements * 2 * 4);
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c) - plain, 4096.0 * (32 + 4) * 128 * 2 / 2);
}

int CountRecomputed(const std::vector<LayerStep>& steps, const std::string& name) {
  int n = 0;
  for (const auto& s : steps) {
    if (const auto* op = std::get_if<ComputeOp>(&s); op && op->recompute && op->name == name) ++n;
  }
  return n;
}

// Selective recompute re-runs the chosen modules (Megatron-Core --recompute-modules) before
// the backward: core attention by default (flash attention too), the norms, the MoE
// activation, or the whole MLP / MoE block with its communication.
TEST(LayerOpsTest, SelectiveRecomputeRerunsTheChosenModules) {
  ModelSpec m = Gpt(1024, 16);
  LayerContext c;
  c.seq_len = 1024;
  c.ep = 4;
  EXPECT_EQ(CountRecomputed(LayerBackward(m, c), "attn.fwd"), 0);
  c.recompute = RecomputeMode::kSelective;  // default modules: core attention
  EXPECT_EQ(CountRecomputed(LayerBackward(m, c), "attn.fwd"), 1);
  EXPECT_EQ(CountRecomputed(LayerBackward(m, c), "norm1.fwd"), 0);
  c.recompute_modules = kRecomputeLayernorm | kRecomputeMlp;
  const auto dense = LayerBackward(m, c);
  EXPECT_EQ(CountRecomputed(dense, "attn.fwd"), 0);
  EXPECT_EQ(CountRecomputed(dense, "norm1.fwd") + CountRecomputed(dense, "norm2.fwd"), 2);
  EXPECT_EQ(CountRecomputed(dense, "mlp.fc1.fwd"), 1);
  m.experts = 16;
  m.top_k = 2;
  c.recompute_modules = kRecomputeMoeAct;
  const auto moe_act = LayerBackward(m, c);
  EXPECT_EQ(CountRecomputed(moe_act, "moe.gelu.fwd"), 1);
  EXPECT_EQ(CountRecomputed(moe_act, "moe.fc1.fwd"), 0);
  EXPECT_EQ(CountComm(moe_act, CollectiveKind::kAllToAll), 2);
  c.recompute_modules = kRecomputeMoe;  // dispatch and combine run again too
  const auto moe = LayerBackward(m, c);
  EXPECT_EQ(CountRecomputed(moe, "moe.fc1.fwd"), 1);
  EXPECT_EQ(CountComm(moe, CollectiveKind::kAllToAll), 4);
}

// What the recomputed modules do not keep: the norms' outputs (2 x 2 bytes per element, / t
// only with SP), the MoE activation's output (8 of the MLP's 19 bytes), or the whole block
// but its input (17 of 19).
TEST(LayerOpsTest, SelectiveRecomputeSavesActivationMemory) {
  const ModelSpec m = GptMoe(4096, 32, 8, 2);
  LayerContext c;
  c.seq_len = 2048;
  c.tp = 4;
  c.sequence_parallel = true;
  const double sbh = 2048.0 * 4096;
  const double none = LayerActivationBytes(m, c);
  const double mlp_bytes = 34.0 / 4 * 19.0 / 34.0 * 2.0;  // top-2 doubles the MLP share
  c.recompute = RecomputeMode::kSelective;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), none);  // flash keeps no scores anyway
  c.recompute_modules = kRecomputeLayernorm;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), none - sbh * 4.0 / 4);
  c.recompute_modules = kRecomputeLayernorm | kRecomputeMoeAct;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), none - sbh * (4.0 / 4 + mlp_bytes * 8 / 19));
  c.recompute_modules = kRecomputeMoe;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), none - sbh * mlp_bytes * 17 / 19);
  c.sequence_parallel = false;
  const double none_no_sp = [&] {
    LayerContext d = c;
    d.recompute = RecomputeMode::kNone;
    return LayerActivationBytes(m, d);
  }();
  c.recompute_modules = kRecomputeLayernorm;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), none_no_sp - sbh * 4.0);
}

// An explicit head dimension (Qwen3: heads * head_dim = 2 * hidden) widens Q, K, V and the
// output projection's input: 8 of the 34 bytes/element scale with heads * head_dim / hidden.
TEST(LayerOpsTest, ActivationMemoryFollowsHeadDim) {
  ModelSpec m = Gpt(4096, 32);
  m.head_dim_override = 256;  // q_dim 8192 = 2 * hidden
  LayerContext c;
  c.micro_batch = 1;
  c.seq_len = 2048;
  c.attention = AttentionImpl::kUnfused;
  const double sbh = 2048.0 * 4096;
  const double as_h = 32.0 * 2048 / 4096;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), sbh * (34 + 8 + 5 * as_h));
  c.tp = 8;
  c.sequence_parallel = true;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), sbh * ((34.0 + 8) / 8 + 5 * as_h / 8));
  c.recompute = RecomputeMode::kFull;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, c), sbh * 2.0 / 8);
}

TEST(LayerOpsTest, MoeDispatchesOverExpertParallelGroup) {
  const ModelSpec m = GptMoe(1024, 16, 8, 2);
  LayerContext c;
  c.moe_load_imbalance = 1.0;  // exactly balanced routing (unset: random routing's)
  c.ep = 4;
  EXPECT_EQ(CountComm(LayerForward(m, c), CollectiveKind::kAllToAll), 2);
  EXPECT_EQ(CountComm(LayerBackward(m, c), CollectiveKind::kAllToAll), 2);
  // Experts' GEMM FLOPs: top_k experts per token, 2 matrices of h x ffn each.
  EXPECT_DOUBLE_EQ(ExpertFlops(LayerForward(m, c)), 2.0 * 2048 * 2 * (2.0 * 1024 * 4096));
}

// Expert TP 1 under TP 4 (MoE parallel folding): the MoE block runs on the rank's sequence
// shard with whole experts and no TP collective; the attention block keeps its TP pattern.
// Expert FLOPs per rank equal the TP-split ones (a quarter of the tokens, four times the width).
// Megatron-Core's all-to-all dispatcher sorts the received tokens by local expert after the
// dispatch and restores them before the combine (one more pass over the routed tokens each
// way, forward and backward), only when a rank holds several experts and EP > 1.
TEST(LayerOpsTest, AllToAllDispatcherSortsTokensByLocalExpert) {
  auto count = [](const std::vector<LayerStep>& steps, const std::string& name) {
    int n = 0;
    for (const auto& s : steps) {
      if (const auto* op = std::get_if<ComputeOp>(&s); op && op->name == name) {
        EXPECT_DOUBLE_EQ(op->bytes, 2048.0 * 2 * 1024 * 2 * 2) << name;  // routed x h x 2 B, r+w
        ++n;
      }
    }
    return n;
  };
  const ModelSpec m = GptMoe(1024, 16, 8, 2);
  LayerContext c;
  c.moe_load_imbalance = 1.0;  // exactly balanced routing (unset: random routing's)
  c.seq_len = 2048;
  c.ep = 4;  // 2 experts per rank
  for (const char* name : {"moe.sort.fwd", "moe.unsort.fwd"}) EXPECT_EQ(count(LayerForward(m, c), name), 1);
  for (const char* name : {"moe.sort.bwd", "moe.unsort.bwd"}) EXPECT_EQ(count(LayerBackward(m, c), name), 1);
  c.ep = 8;  // one expert per rank: nothing to sort
  EXPECT_EQ(count(LayerForward(m, c), "moe.sort.fwd"), 0);
  EXPECT_EQ(count(LayerBackward(m, c), "moe.unsort.bwd"), 0);
  c.ep = 1;
  EXPECT_EQ(count(LayerForward(m, c), "moe.sort.fwd"), 0);
}

TEST(LayerOpsTest, MoeWithExpertTpOneSkipsTensorParallelCollectives) {
  const ModelSpec m = GptMoe(1024, 16, 8, 2);
  LayerContext c;
  c.moe_load_imbalance = 1.0;  // exactly balanced routing (unset: random routing's)
  c.tp = 4;
  c.ep = 4;
  c.sequence_parallel = true;
  const auto split_fwd = LayerForward(m, c);
  const auto split_bwd = LayerBackward(m, c);
  c.etp = 1;
  const auto folded_fwd = LayerForward(m, c);
  const auto folded_bwd = LayerBackward(m, c);
  // Attention: all-gather in, reduce-scatter out (both directions); the MoE block adds none.
  EXPECT_EQ(CountComm(split_fwd, CollectiveKind::kAllGather), 2);
  EXPECT_EQ(CountComm(folded_fwd, CollectiveKind::kAllGather), 1);
  EXPECT_EQ(CountComm(folded_fwd, CollectiveKind::kReduceScatter), 1);
  EXPECT_EQ(CountComm(folded_bwd, CollectiveKind::kAllGather), 2);  // + the QKV input re-gather
  EXPECT_EQ(CountComm(folded_bwd, CollectiveKind::kReduceScatter), 1);
  EXPECT_EQ(CountComm(folded_fwd, CollectiveKind::kAllToAll), 2);
  EXPECT_DOUBLE_EQ(ExpertFlops(folded_fwd), ExpertFlops(split_fwd));
  EXPECT_DOUBLE_EQ(ExpertFlops(folded_bwd), ExpertFlops(split_bwd));
  for (const auto& s : folded_fwd) {
    if (const auto* op = std::get_if<ComputeOp>(&s); op && op->name == "moe.router.fwd") {
      EXPECT_EQ(op->m, 2048 / 4);  // the rank's sequence shard
    }
  }
  // Expert TP means nothing to a dense model: its MLP keeps the TP collectives.
  ModelSpec dense = Gpt(1024, 16);
  c.ep = 1;
  const auto dense_folded_fwd = LayerForward(dense, c);
  const auto dense_folded_bwd = LayerBackward(dense, c);
  c.etp = 0;
  EXPECT_EQ(CountComm(dense_folded_fwd, CollectiveKind::kAllGather),
            CountComm(LayerForward(dense, c), CollectiveKind::kAllGather));
  EXPECT_EQ(CountComm(dense_folded_bwd, CollectiveKind::kReduceScatter),
            CountComm(LayerBackward(dense, c), CollectiveKind::kReduceScatter));
  EXPECT_EQ(CountComm(dense_folded_bwd, CollectiveKind::kAllGather), 4);
}

// Sequence-parallel all-gathers feeding Transformer Engine GEMMs move quantized elements under
// fp8 (1 byte) and fp4 (half a byte); the backward re-gathers of the column-parallel inputs run
// beside the data-gradient GEMM after them (overlaps_next_gemm), the other gathers do not.
TEST(LayerOpsTest, SequenceParallelGathersAreQuantizedAndRegathered) {
  const ModelSpec m = Gpt(1024, 16);
  LayerContext c = SpContext(512, 4);
  const double th = 512.0 * 1024;
  for (const auto& [dt, bytes] : {std::pair<DType, double>{DType::kBf16, 2.0},
                                  {DType::kFp8, 1.0},
                                  {DType::kFp4, 0.5}}) {
    c.dtype = dt;
    for (const auto& steps : {LayerForward(m, c), LayerBackward(m, c)}) {
      for (size_t i = 0; i < steps.size(); ++i) {
        const auto* op = std::get_if<CommOp>(&steps[i]);
        if (!op || op->kind != CollectiveKind::kAllGather) continue;
        EXPECT_DOUBLE_EQ(op->bytes, th * bytes) << op->name;
        const bool regather = op->name.size() > 6 && op->name.compare(op->name.size() - 6, 6, ".input") == 0;
        EXPECT_EQ(op->overlaps_next_gemm, regather) << op->name;
        if (regather) {
          ASSERT_LT(i + 1, steps.size());
          const auto* next = std::get_if<ComputeOp>(&steps[i + 1]);
          ASSERT_NE(next, nullptr) << op->name;
          EXPECT_EQ(next->cls, OpClass::kGemm) << op->name;
          EXPECT_NE(next->name.find(".dgrad"), std::string::npos) << next->name;
        }
      }
    }
  }
  // The output layer's gather is Megatron-Core's own: 16-bit under fp8.
  c.dtype = DType::kFp8;
  for (const auto& st : HeadForward(m, c)) {
    if (const auto* op = std::get_if<CommOp>(&st); op && op->kind == CollectiveKind::kAllGather) {
      EXPECT_DOUBLE_EQ(op->bytes, th * 2.0);
    }
  }
}

}  // namespace
}  // namespace echosim

namespace echosim {
namespace {

// A 128-token window scores s*w - w^2/2 query-key pairs instead of s^2/2; the model FLOPs
// count the window for windowed layers (every other layer with full_attention_every 2).
TEST(LayerOpsTest, SlidingWindowAttentionScoresTheWindow) {
  ModelSpec m = Gpt(1024, 16);
  LayerContext c;
  c.seq_len = 4096;
  auto attn_flops = [](const std::vector<LayerStep>& steps) {
    double f = 0;
    for (const auto& s : steps) {
      if (const auto* op = std::get_if<ComputeOp>(&s); op && op->cls == OpClass::kAttention) f += op->flops;
    }
    return f;
  };
  const double full = attn_flops(LayerForward(m, c));
  c.attention_window = 128;
  const double windowed = attn_flops(LayerForward(m, c));
  EXPECT_DOUBLE_EQ(full, 4.0 * 16 * 64 * 4096.0 * 4096.0 * 0.5);
  EXPECT_DOUBLE_EQ(windowed, 4.0 * 16 * 64 * (4096.0 * 128 - 0.5 * 128 * 128));
  c.attention_window = 8192;  // wider than the sequence: plain causal attention
  EXPECT_DOUBLE_EQ(attn_flops(LayerForward(m, c)), full);
  // Context parallel 2: each rank scores half of S*w - w^2/2, never more than its causal share.
  c.cp = 2;
  c.attention_window = 4000;
  const double cp_windowed = attn_flops(LayerForward(m, c));
  EXPECT_DOUBLE_EQ(cp_windowed, 4.0 * 16 * 64 * (4096.0 * 4000 - 0.5 * 4000.0 * 4000) / 2);
  c.attention_window = 0;
  EXPECT_LE(cp_windowed, attn_flops(LayerForward(m, c)));
  c.cp = 1;
  // In fp8 the backward pays the full causal pairs (cuDNN does not skip the tiles outside the
  // window there); the forward and the 16-bit backward score the window only.
  c.attention_window = 128;
  const double bwd16 = attn_flops(LayerBackward(m, c));
  EXPECT_DOUBLE_EQ(bwd16, 2.5 * windowed);
  c.dtype = DType::kFp8;
  c.fp8_attention = true;
  EXPECT_DOUBLE_EQ(attn_flops(LayerForward(m, c)), windowed);
  EXPECT_DOUBLE_EQ(attn_flops(LayerBackward(m, c)), 2.5 * full);
  c.dtype = DType::kBf16;
  c.fp8_attention = false;
  c.attention_window = 0;

  const double dense = m.TrainingFlops(4096, 4096);
  m.sliding_window = 128;
  m.full_attention_every = 2;
  EXPECT_EQ(m.WindowedLayers(), 2);  // layers 0 and 2 of 4
  const double attn_per_layer = 3.0 * 4.0 * 4096.0 * 1024 * 4096;  // 3 x fwd, tokens = 4096
  EXPECT_NEAR(dense - m.TrainingFlops(4096, 4096), 2 * attn_per_layer * (1.0 - 128.0 / 4096.0),
              1e-6 * dense);
  EXPECT_TRUE(m.Validate().ok());
  m.sliding_window = -1;
  EXPECT_FALSE(m.Validate().ok());
}


// The op named `name` in `steps` (a pointer into `steps`: keep the vector alive).
const ComputeOp* FindCompute(const std::vector<LayerStep>& steps, const std::string& name) {
  for (const LayerStep& st : steps) {
    if (const auto* op = std::get_if<ComputeOp>(&st); op != nullptr && op->name == name) return op;
  }
  return nullptr;
}

// A clamped GLU and expert biases (gpt-oss) outside a fused expert MLP. Megatron-Core clamps
// the two halves and concatenates them again as separate kernels, 8 elements of the
// activation's width per routed token forward and 10 backward, 2 bytes each, re-run with the
// activation when moe_act is recomputed; nothing in a fused expert MLP or without a clamp.
TEST(LayerOpsTest, ClampedGluAndExpertBiasPassesOutsideAFusedExpertMlp) {
  ModelSpec m = GptMoe(1024, 16, 16, 4);
  m.mlp = MlpKind::kSwiglu;
  m.moe_ffn_hidden = 512;
  LayerContext c;
  c.moe_load_imbalance = 1.0;  // exactly balanced routing (unset: random routing's)
  c.seq_len = 1024;
  c.ep = 4;
  EXPECT_EQ(FindCompute(LayerForward(m, c), "moe.glu_clamp.fwd"), nullptr);
  m.glu_clamp = 7.0;
  const double routed = 1024.0 * 4;  // tokens x top_k, kept by the rank under balanced routing
  const auto clamp_fwd = LayerForward(m, c);  // FindCompute points into it
  const ComputeOp* fwd = FindCompute(clamp_fwd, "moe.glu_clamp.fwd");
  ASSERT_NE(fwd, nullptr);
  EXPECT_DOUBLE_EQ(fwd->bytes, routed * 512 * 2.0 * 8.0);
  EXPECT_EQ(fwd->cls, OpClass::kMemoryBound);
  const auto bwd = LayerBackward(m, c);
  const ComputeOp* back = FindCompute(bwd, "moe.glu_clamp.bwd");
  ASSERT_NE(back, nullptr);
  EXPECT_DOUBLE_EQ(back->bytes, routed * 512 * 2.0 * 10.0);
  EXPECT_EQ(CountRecomputed(bwd, "moe.glu_clamp.fwd"), 0);
  c.recompute = RecomputeMode::kSelective;
  c.recompute_modules = kRecomputeMoeAct;
  EXPECT_EQ(CountRecomputed(LayerBackward(m, c), "moe.glu_clamp.fwd"), 1);
  // Expert fc2 biases: weighted by the routing probability per local expert, then concatenated
  // (6 elements of the model width per routed token forward, 8 backward).
  EXPECT_EQ(FindCompute(LayerForward(m, c), "moe.fc2_bias.fwd"), nullptr);
  m.expert_bias = true;
  const auto bias_steps = LayerForward(m, c);
  const ComputeOp* bias = FindCompute(bias_steps, "moe.fc2_bias.fwd");
  ASSERT_NE(bias, nullptr);
  EXPECT_DOUBLE_EQ(bias->bytes, routed * 1024 * 2.0 * 6.0);
  const auto bias_back_steps = LayerBackward(m, c);
  const ComputeOp* bias_bwd = FindCompute(bias_back_steps, "moe.fc2_bias.bwd");
  ASSERT_NE(bias_bwd, nullptr);
  EXPECT_DOUBLE_EQ(bias_bwd->bytes, routed * 1024 * 2.0 * 8.0);
  // Fused: the activation, the quantisations between the expert GEMMs, their gradients and the
  // biases run in the GEMMs' epilogues; the expert GEMMs are one kernel (no stream concurrency).
  c.dtype = DType::kFp8;
  c.fp8_recipe = Fp8Recipe::kMxfp8;
  for (const char* n : {"moe.swiglu.fwd", "moe.fc2.input.quantize", "moe.fc1.input.quantize"}) {
    EXPECT_NE(FindCompute(LayerForward(m, c), n), nullptr) << n;
  }
  for (const char* n : {"moe.swiglu.bwd", "moe.fc1.grad.quantize", "moe.fc2.grad.quantize"}) {
    EXPECT_NE(FindCompute(LayerBackward(m, c), n), nullptr) << n;
  }
  EXPECT_GT(FindCompute(LayerForward(m, c), "moe.fc1.fwd")->concurrency, 0);
  c.fused_moe_mlp = true;
  for (const char* n : {"moe.swiglu.fwd", "moe.fc2.input.quantize"}) {
    EXPECT_EQ(FindCompute(LayerForward(m, c), n), nullptr) << n;
  }
  for (const char* n : {"moe.swiglu.bwd", "moe.fc1.grad.quantize"}) {
    EXPECT_EQ(FindCompute(LayerBackward(m, c), n), nullptr) << n;
  }
  EXPECT_NE(FindCompute(LayerForward(m, c), "moe.fc1.input.quantize"), nullptr);
  EXPECT_NE(FindCompute(LayerBackward(m, c), "moe.fc2.grad.quantize"), nullptr);
  EXPECT_EQ(FindCompute(LayerForward(m, c), "moe.fc1.fwd")->concurrency, 0);
  EXPECT_EQ(FindCompute(LayerForward(m, c), "moe.fc2_bias.fwd"), nullptr);
  EXPECT_EQ(FindCompute(LayerBackward(m, c), "moe.fc2_bias.bwd"), nullptr);
  EXPECT_EQ(FindCompute(LayerForward(m, c), "moe.glu_clamp.fwd"), nullptr);
  EXPECT_EQ(FindCompute(LayerBackward(m, c), "moe.glu_clamp.bwd"), nullptr);
  EXPECT_EQ(CountRecomputed(LayerBackward(m, c), "moe.glu_clamp.fwd"), 0);
}

// RoPE with a YaRN factor runs Megatron-Core's unfused PyTorch RoPE: 12 passes over the query
// and key bytes forward and 17 backward, where the fused kernel makes 2 each way.
TEST(LayerOpsTest, YarnRopeRunsTheUnfusedPasses) {
  ModelSpec m = Gpt(1024, 16);
  m.position = PositionKind::kRope;
  LayerContext c;
  c.seq_len = 2048;
  const double qk_bytes = 2048.0 * (16 + 16) * 64 * 2.0;
  const auto fused_fwd = LayerForward(m, c);
  const auto fused_bwd = LayerBackward(m, c);
  ASSERT_NE(FindCompute(fused_fwd, "attn.rope.fwd"), nullptr);
  EXPECT_DOUBLE_EQ(FindCompute(fused_fwd, "attn.rope.fwd")->bytes, qk_bytes * 2.0);
  EXPECT_DOUBLE_EQ(FindCompute(fused_bwd, "attn.rope.bwd")->bytes, qk_bytes * 2.0);
  EXPECT_EQ(FindCompute(fused_fwd, "attn.rope_unfused.fwd"), nullptr);
  m.rope_mscale = 1.3466;
  const auto fwd = LayerForward(m, c);
  const auto bwd = LayerBackward(m, c);
  EXPECT_EQ(FindCompute(fwd, "attn.rope.fwd"), nullptr);
  ASSERT_NE(FindCompute(fwd, "attn.rope_unfused.fwd"), nullptr);
  ASSERT_NE(FindCompute(bwd, "attn.rope_unfused.bwd"), nullptr);
  EXPECT_DOUBLE_EQ(FindCompute(fwd, "attn.rope_unfused.fwd")->bytes, qk_bytes * 12.0);
  EXPECT_DOUBLE_EQ(FindCompute(bwd, "attn.rope_unfused.bwd")->bytes, qk_bytes * 17.0);
}

// Under fp8 or fp4 the edge layers kept in bf16 run bf16 GEMMs and attention without
// quantisation; the others keep the run's precision; a bf16 run has no edge layers.
TEST(LayerOpsTest, Bf16EdgeLayersRunInBf16) {
  const ModelSpec m = FindModelPreset("llama3-8b").value();  // 32 layers
  LayerContext base;
  base.seq_len = 2048;
  base.dtype = DType::kFp8;
  base.fp8_attention = true;
  base.bf16_layers_at_start = 2;
  base.bf16_layers_at_end = 1;
  for (int64_t layer : {0, 1, 31}) {
    EXPECT_TRUE(HighPrecisionEdgeLayer(m, base, layer)) << layer;
    const LayerContext c = LayerContextOf(m, base, layer);
    EXPECT_EQ(c.dtype, DType::kBf16);
    EXPECT_FALSE(c.fp8_attention);
    const auto fwd = LayerForward(m, c);
    EXPECT_EQ(FindCompute(fwd, "attn.qkv.fwd")->dtype, DType::kBf16);
    EXPECT_EQ(FindCompute(fwd, "attn.proj.input.quantize"), nullptr);
  }
  for (int64_t layer : {2, 30}) {
    EXPECT_FALSE(HighPrecisionEdgeLayer(m, base, layer)) << layer;
    const LayerContext c = LayerContextOf(m, base, layer);
    EXPECT_EQ(c.dtype, DType::kFp8);
    const auto fwd = LayerForward(m, c);
    EXPECT_EQ(FindCompute(fwd, "attn.qkv.fwd")->dtype, DType::kFp8);
    EXPECT_NE(FindCompute(fwd, "attn.proj.input.quantize"), nullptr);
  }
  base.dtype = DType::kBf16;
  EXPECT_FALSE(HighPrecisionEdgeLayer(m, base, 0));
}

// A banded layer's flash attention carries its window (priced at WindowedAttentionRate); a
// dense layer's, or a window as long as the sequence, carries none.
TEST(LayerOpsTest, SlidingWindowLayersCarryTheirWindow) {
  const ModelSpec m = FindModelPreset("gpt-oss-120b").value();
  LayerContext c;
  c.seq_len = 4096;
  c.attention_window = 128;
  const auto fwd = LayerForward(m, c);
  const auto bwd = LayerBackward(m, c);
  ASSERT_NE(FindCompute(fwd, "attn.fwd"), nullptr);
  EXPECT_EQ(FindCompute(fwd, "attn.fwd")->attention_window, 128);
  EXPECT_EQ(FindCompute(bwd, "attn.bwd")->attention_window, 128);
  // cuDNN's fp8 backward does not skip the keys outside the window: full causal pairs, no window.
  c.dtype = DType::kFp8;
  c.fp8_attention = true;
  const auto fp8_bwd = LayerBackward(m, c);
  EXPECT_EQ(FindCompute(fp8_bwd, "attn.bwd")->attention_window, 0);
  c.dtype = DType::kBf16;
  c.fp8_attention = false;
  c.attention_window = 4096;
  EXPECT_EQ(FindCompute(LayerForward(m, c), "attn.fwd")->attention_window, 0);
  c.attention_window = 0;
  EXPECT_EQ(FindCompute(LayerForward(m, c), "attn.fwd")->attention_window, 0);
}

// A model trained with dropout (GPT-3 as NeMo and Megatron-LM configure it) runs its flash
// attention with dropout, forward and backward; one without (Llama, Nemotron) does not.
TEST(LayerOpsTest, FlashAttentionCarriesTheModelsDropout) {
  LayerContext c;
  c.seq_len = 2048;
  for (const char* name : {"gpt3-5b", "llama3-8b", "nemotron3-8b"}) {
    const ModelSpec m = FindModelPreset(name).value();
    const auto fwd_steps = LayerForward(m, c);
    const auto bwd_steps = LayerBackward(m, c);
    const ComputeOp* fwd = FindCompute(fwd_steps, "attn.fwd");
    const ComputeOp* bwd = FindCompute(bwd_steps, "attn.bwd");
    ASSERT_TRUE(fwd && bwd) << name;
    EXPECT_EQ(fwd->dropout, std::string(name) == "gpt3-5b") << name;
    EXPECT_EQ(bwd->dropout, fwd->dropout) << name;
  }
}

// Multi-head latent attention: down projections to the latents, up projections per head, and
// attention scoring with 192 dims and returning 128 (DeepSeek-V3).
TEST(LayerOpsTest, LatentAttentionProjectsDownAndUp) {
  const ModelSpec m = FindModelPreset("deepseek-v3").value();
  LayerContext c;
  c.seq_len = 4096;
  c.tp = 2;
  c.sequence_parallel = true;
  const auto fwd = LayerForward(m, c);
  EXPECT_EQ(FindCompute(fwd, "attn.qkv.fwd"), nullptr);
  const ComputeOp* q_down = FindCompute(fwd, "attn.q_down.fwd");
  const ComputeOp* kv_down = FindCompute(fwd, "attn.kv_down.fwd");
  const ComputeOp* q_up = FindCompute(fwd, "attn.q_up.fwd");
  const ComputeOp* kv_up = FindCompute(fwd, "attn.kv_up.fwd");
  const ComputeOp* core = FindCompute(fwd, "attn.fwd");
  const ComputeOp* proj = FindCompute(fwd, "attn.proj.fwd");
  ASSERT_TRUE(q_down && kv_down && q_up && kv_up && core && proj);
  // Down projections on the rank's sequence shard (2048 tokens), whole.
  EXPECT_EQ(q_down->m, 2048);
  EXPECT_EQ(q_down->n, 1536);
  EXPECT_EQ(kv_down->n, 512 + 64);
  // Up projections on all 4096 tokens, for this rank's 64 heads.
  EXPECT_EQ(q_up->m, 4096);
  EXPECT_EQ(q_up->n, 64 * 192);
  EXPECT_EQ(q_up->k, 1536);
  EXPECT_EQ(kv_up->n, 64 * (128 + 128));
  EXPECT_EQ(kv_up->k, 512);
  EXPECT_EQ(proj->k, 64 * 128);
  // Causal attention: 2 * heads * (192 + 128) FLOPs per scored pair, s^2 / 2 pairs.
  EXPECT_DOUBLE_EQ(core->flops, 2.0 * 64 * (192 + 128) * 4096.0 * 4096.0 / 2);
  EXPECT_EQ(core->k, 192);
  // The latents are gathered over TP; their gradients scattered back.
  bool gathered = false;
  for (const LayerStep& st : fwd) {
    if (const auto* op = std::get_if<CommOp>(&st); op && op->name == "tp.all_gather.attn.latent") {
      gathered = true;
      EXPECT_DOUBLE_EQ(op->bytes, 4096.0 * (1536 + 512 + 64) * 2);
    }
  }
  EXPECT_TRUE(gathered);
  const auto bwd = LayerBackward(m, c);
  EXPECT_NE(FindCompute(bwd, "attn.kv_down.wgrad"), nullptr);
  EXPECT_EQ(FindCompute(bwd, "attn.q_up.fwd"), nullptr);  // nothing recomputed by default
}

// mla_up_proj recomputation re-runs the up projections before the attention's backward and
// keeps neither q, k nor v.
TEST(LayerOpsTest, MlaUpProjRecomputation) {
  const ModelSpec m = FindModelPreset("deepseek-v3").value();
  LayerContext c;
  c.seq_len = 4096;
  const double kept = LayerActivationBytes(m, c);
  c.recompute = RecomputeMode::kSelective;
  c.recompute_modules = kRecomputeMlaUpProj;
  const auto bwd = LayerBackward(m, c);
  const ComputeOp* q_up = FindCompute(bwd, "attn.q_up.fwd");
  ASSERT_NE(q_up, nullptr);
  EXPECT_TRUE(q_up->recompute);
  // q and k at 128 heads x 192 dims and v at 128 x 128, 2 bytes each, per token.
  EXPECT_DOUBLE_EQ(kept - LayerActivationBytes(m, c), 4096.0 * 2 * 128 * (192 + 192 + 128));
}

// DeepSeek-V3's first three layers are dense (FFN 18432); the others route each token to 8 of
// 256 experts of FFN 2048 and through one shared expert of 2048.
TEST(LayerOpsTest, LeadingDenseLayersAndSharedExperts) {
  const ModelSpec m = FindModelPreset("deepseek-v3").value();
  LayerContext c;
  c.seq_len = 4096;
  c.ep = 8;
  const auto moe = LayerForward(m, c);
  const ComputeOp* fc1 = FindCompute(moe, "moe.fc1.fwd");
  const ComputeOp* shared = FindCompute(moe, "moe.shared.fc1.fwd");
  ASSERT_TRUE(fc1 && shared);
  EXPECT_EQ(fc1->n, 2 * 2048);
  EXPECT_EQ(fc1->batch, 32);  // local experts
  // Issued one GEMM per expert over Transformer Engine's 4 compute streams; the shared
  // expert is one plain GEMM.
  EXPECT_EQ(fc1->concurrency, 4);
  EXPECT_EQ(shared->concurrency, 0);
  for (const char* grad : {"moe.fc1.dgrad", "moe.fc1.wgrad", "moe.fc2.dgrad", "moe.fc2.wgrad"}) {
    const auto grad_steps = LayerBackward(m, c);
    const ComputeOp* g = FindCompute(grad_steps, grad);
    ASSERT_NE(g, nullptr) << grad;
    EXPECT_EQ(g->concurrency, 4) << grad;
  }
  c.ep = 128;  // two experts per rank: both in flight
  EXPECT_EQ(FindCompute(LayerForward(m, c), "moe.fc1.fwd")->concurrency, 2);
  c.ep = 8;
  c.grouped_gemm_single_kernel = true;  // one grouped kernel over all 32 experts
  EXPECT_EQ(FindCompute(LayerForward(m, c), "moe.fc1.fwd")->concurrency, 0);
  c.grouped_gemm_single_kernel = false;
  EXPECT_EQ(shared->m, 4096);
  EXPECT_EQ(shared->n, 2 * 2048);
  EXPECT_EQ(FindCompute(moe, "mlp.fc1.fwd"), nullptr);
  c.dense_layer = true;
  const auto dense = LayerForward(m, c);
  const ComputeOp* mlp = FindCompute(dense, "mlp.fc1.fwd");
  ASSERT_NE(mlp, nullptr);
  EXPECT_EQ(mlp->n, 2 * 18432);
  EXPECT_EQ(FindCompute(dense, "moe.fc1.fwd"), nullptr);
  EXPECT_NE(FindCompute(LayerBackward(m, c), "mlp.fc1.wgrad"), nullptr);
  c.dense_layer = false;
  EXPECT_NE(FindCompute(LayerBackward(m, c), "moe.shared.fc1.wgrad"), nullptr);
  EXPECT_GT(LayerActivationBytes(m, c), 0);
}

// A multi-token-prediction depth: the embedding lookup, the 2h -> h projection, one MoE layer
// and its own output layer and loss.
TEST(LayerOpsTest, MtpDepthRunsALayerAndItsOwnOutputLayer) {
  const ModelSpec m = FindModelPreset("deepseek-v3").value();
  LayerContext c;
  c.seq_len = 4096;
  const auto fwd = MtpForward(m, c);
  const ComputeOp* proj = FindCompute(fwd, "mtp.eh_proj.fwd");
  ASSERT_NE(proj, nullptr);
  EXPECT_EQ(proj->k, 2 * 7168);
  EXPECT_EQ(proj->n, 7168);
  EXPECT_NE(FindCompute(fwd, "mtp.moe.fc1.fwd"), nullptr);
  EXPECT_NE(FindCompute(fwd, "mtp.head.logits.fwd"), nullptr);
  EXPECT_NE(FindCompute(fwd, "mtp.embedding.fwd"), nullptr);
  const auto bwd = MtpBackward(m, c);
  EXPECT_NE(FindCompute(bwd, "mtp.eh_proj.wgrad"), nullptr);
  EXPECT_NE(FindCompute(bwd, "mtp.head.logits.dgrad"), nullptr);
}

// The flex dispatcher (DeepEP / HybridEP) sends a token once per destination NVLink domain
// across domains and once per destination GPU inside one: with balanced top-8 routing over 256
// experts, EP 32 over four domains of 8 GPUs moves 3 (1 - q4) copies across domains instead of
// 8 x 24 / 32 (q4 = C(192, 8) / C(256, 8)); EP 8 inside one domain 7 (1 - q8) instead of 7.
TEST(LayerOpsTest, FlexDispatcherSendsOneCopyPerDestination) {
  ModelSpec m = FindModelPreset("deepseek-v3").value();
  m.router_groups = m.router_group_topk = 0;  // unlimited routing here; next test: limited
  auto dispatch = [&](const LayerContext& c) {
    for (const LayerStep& st : LayerForward(m, c)) {
      if (const auto* op = std::get_if<CommOp>(&st); op && op->name == "ep.all_to_all.dispatch") return op->bytes;
    }
    return -1.0;
  };
  auto miss = [](double block) {
    double q = 1;
    for (int i = 0; i < 8; ++i) q *= (256.0 - block - i) / (256.0 - i);
    return q;
  };
  LayerContext c;
  c.moe_load_imbalance = 1.0;  // exactly balanced routing (unset: random routing's)
  c.seq_len = 4096;
  c.ep = 32;
  c.ep_per_domain = 8;
  const double plain = dispatch(c);
  EXPECT_DOUBLE_EQ(plain, 4096.0 * 8 * 7168 * 2);
  c.flex_dispatch = true;
  // The buffer whose share to other domains (24 of 32 peers) is the expected copies there.
  EXPECT_NEAR(dispatch(c) * 24 / 32, 4096.0 * 7168 * 2 * 3 * (1 - miss(64)), 1.0);
  c.ep = 8;
  c.ep_per_domain = 8;
  EXPECT_NEAR(dispatch(c) * 7 / 8, 4096.0 * 7168 * 2 * 7 * (1 - miss(32)), 1.0);
  EXPECT_LT(dispatch(c), plain);
}

// A routing imbalance (workload.training.moe_load_imbalance) prices every rank as the busiest
// of its EP group: its experts compute, sort and receive `imbalance` times the mean token-expert
// pairs, and keep that many activations; the rank's own permute and its sends do not grow.
// Under EP 1 the rank holds every expert and the knob changes nothing.
TEST(LayerOpsTest, LoadImbalancePricesTheBusiestExpertParallelRank) {
  const ModelSpec m = GptMoe(1024, 16, 8, 2);
  auto named = [](const std::vector<LayerStep>& steps, const std::string& name) {
    for (const LayerStep& st : steps) {
      if (const auto* op = std::get_if<ComputeOp>(&st); op && op->name == name) return op->bytes;
      if (const auto* op = std::get_if<CommOp>(&st); op && op->name == name) return op->bytes;
    }
    ADD_FAILURE() << "no op " << name;
    return -1.0;
  };
  LayerContext c;
  c.seq_len = 2048;
  c.ep = 4;  // 2 experts per rank
  c.moe_load_imbalance = 1.0;  // exactly balanced
  const auto fwd = LayerForward(m, c), bwd = LayerBackward(m, c);
  const double act = LayerActivationBytes(m, c);
  c.moe_load_imbalance = 1.25;
  const auto hot_fwd = LayerForward(m, c), hot_bwd = LayerBackward(m, c);
  EXPECT_DOUBLE_EQ(ExpertFlops(hot_fwd), 1.25 * ExpertFlops(fwd));
  EXPECT_DOUBLE_EQ(ExpertFlops(hot_bwd), 1.25 * ExpertFlops(bwd));
  for (const char* name : {"moe.sort.fwd", "moe.unsort.fwd", "moe.gelu.fwd", "ep.all_to_all.dispatch",
                           "ep.all_to_all.combine"}) {
    EXPECT_DOUBLE_EQ(named(hot_fwd, name), 1.25 * named(fwd, name)) << name;
  }
  for (const char* name : {"moe.sort.bwd", "moe.gelu.bwd", "ep.all_to_all.dispatch.grad"}) {
    EXPECT_DOUBLE_EQ(named(hot_bwd, name), 1.25 * named(bwd, name)) << name;
  }
  EXPECT_DOUBLE_EQ(named(hot_fwd, "moe.permute.fwd"), named(fwd, "moe.permute.fwd"));
  EXPECT_DOUBLE_EQ(named(hot_bwd, "moe.unpermute.bwd"), named(bwd, "moe.unpermute.bwd"));
  // The dense attention block is untouched: only the routed experts' activations grow.
  EXPECT_GT(LayerActivationBytes(m, c), act);
  EXPECT_LT(LayerActivationBytes(m, c), 1.25 * act);
  // The flex dispatcher's buffer grows alike.
  c.flex_dispatch = true;
  const double flex_hot = named(LayerForward(m, c), "ep.all_to_all.dispatch");
  c.moe_load_imbalance = 1.0;
  EXPECT_DOUBLE_EQ(flex_hot, 1.25 * named(LayerForward(m, c), "ep.all_to_all.dispatch"));
  c.flex_dispatch = false;
  // Unset (0): uniformly random routing's expected busiest rank, a little above balanced.
  c.moe_load_imbalance = 0;
  const double random = RandomRoutingImbalance(8, 2, 4, 2048.0 * 2);
  EXPECT_GT(random, 1.0);
  // (tokens per expert are whole tokens)
  EXPECT_NEAR(ExpertFlops(LayerForward(m, c)) / ExpertFlops(fwd), random, 1e-3);
  EXPECT_GT(ExpertFlops(LayerForward(m, c)), ExpertFlops(fwd));
  c.ep = 1;
  const double all_local = ExpertFlops(LayerForward(m, c));
  c.moe_load_imbalance = 1.25;
  EXPECT_DOUBLE_EQ(ExpertFlops(LayerForward(m, c)), all_local);
}

// Random routing (Megatron-Core's moe_router_force_load_balancing): a rank's share of the
// group's token-expert pairs is hypergeometric per token, so with T k pairs per rank its load
// spreads by sqrt((1 - 1/ep)(E - k)/(E - 1) / (T k)); the busiest of ep ranks sits Blom's
// expected maximum of ep normals above the mean (ep 8: Phi^-1(7.625 / 8.25) = 1.4338; the exact
// expected maximum of 8 standard normals is 1.4236).
TEST(LayerOpsTest, RandomRoutingImbalanceIsTheExpectedBusiestRank) {
  const double spread = std::sqrt(0.875 * 120.0 / 127.0 / 32768.0);
  EXPECT_NEAR(RandomRoutingImbalance(128, 8, 8, 32768), 1.0 + 1.4338 * spread, 1e-5);
  EXPECT_DOUBLE_EQ(RandomRoutingImbalance(128, 8, 1, 32768), 1.0);
  // Fewer pairs per rank spread more; a larger group has a busier maximum.
  EXPECT_GT(RandomRoutingImbalance(128, 8, 8, 8192), RandomRoutingImbalance(128, 8, 8, 32768));
  EXPECT_GT(RandomRoutingImbalance(128, 8, 64, 32768), RandomRoutingImbalance(128, 8, 8, 32768));
  // Every expert picked by every token: no spread.
  EXPECT_DOUBLE_EQ(RandomRoutingImbalance(8, 8, 4, 1000), 1.0);
}

// DeepSeek-V3's node-limited routing (8 groups of 32 experts, 4 picked per token, then the top-8
// among their 128): a GPU holding one group (EP 8) is reached with probability
// 1/2 (1 - C(96, 8) / C(128, 8)); a domain holding two groups (EP 32 over four domains) is
// missed when none of its groups is picked (15/70), or when 1 (40/70) or 2 (15/70) are and the
// top-8 miss their 32 or 64 experts of the 128.
TEST(LayerOpsTest, GroupLimitedRoutingReachesFewerDestinations) {
  const ModelSpec m = FindModelPreset("deepseek-v3").value();
  ASSERT_EQ(m.router_groups, 8);
  ASSERT_EQ(m.router_group_topk, 4);
  auto dispatch = [&](const ModelSpec& spec, const LayerContext& c) {
    for (const LayerStep& st : LayerForward(spec, c)) {
      if (const auto* op = std::get_if<CommOp>(&st); op && op->name == "ep.all_to_all.dispatch") return op->bytes;
    }
    return -1.0;
  };
  auto miss = [](double experts, double block) {
    double q = 1;
    for (int i = 0; i < 8; ++i) q *= (experts - block - i) / (experts - i);
    return q;
  };
  ModelSpec unlimited = m;
  unlimited.router_groups = unlimited.router_group_topk = 0;
  LayerContext c;
  c.moe_load_imbalance = 1.0;  // exactly balanced routing (unset: random routing's)
  c.seq_len = 4096;
  c.flex_dispatch = true;
  c.ep = 8;
  c.ep_per_domain = 8;
  const double token = 4096.0 * 7168 * 2;
  EXPECT_NEAR(dispatch(m, c) * 7 / 8, token * 7 * 0.5 * (1 - miss(128, 32)), 1.0);
  EXPECT_LT(dispatch(m, c), 0.75 * dispatch(unlimited, c));
  c.ep = 32;
  const double q_domain = 15.0 / 70 + 40.0 / 70 * miss(128, 32) + 15.0 / 70 * miss(128, 64);
  EXPECT_NEAR(dispatch(m, c) * 24 / 32, token * 3 * (1 - q_domain), 1.0);
  EXPECT_LT(dispatch(m, c), dispatch(unlimited, c));
  // The all-to-all dispatcher sends a copy per routed expert whatever the routing.
  c.flex_dispatch = false;
  EXPECT_DOUBLE_EQ(dispatch(m, c), dispatch(unlimited, c));

  // Blocks that do not line up with the groups: 96 experts in 4 groups of 24, 2 picked, top-8,
  // EP 3 (blocks of 32 experts straddle two groups). Enumerated: each GPU's block, each of the
  // C(4, 2) = 6 picked pairs, the top-8 missing the block's t experts among the pair's 48.
  ModelSpec odd = m;
  odd.experts = 96;
  odd.router_groups = 4;
  odd.router_group_topk = 2;
  ASSERT_TRUE(odd.Validate().ok());
  auto miss48 = [](double t) {
    double q = 1;
    for (int i = 0; i < 8; ++i) q *= (48.0 - t - i) / (48.0 - i);
    return q;
  };
  double q_sum = 0;
  for (int b = 0; b < 3; ++b) {
    for (int g1 = 0; g1 < 4; ++g1) {
      for (int g2 = g1 + 1; g2 < 4; ++g2) {
        int t = 0;
        for (int e = 32 * b; e < 32 * (b + 1); ++e) t += (e / 24 == g1 || e / 24 == g2) ? 1 : 0;
        q_sum += miss48(t) / 6;
      }
    }
  }
  c.flex_dispatch = true;
  c.ep = 3;
  c.ep_per_domain = 3;
  EXPECT_NEAR(dispatch(odd, c) * 2 / 3, token * 2 * (1 - q_sum / 3), 1.0);
}

// A Mamba-2 layer runs its mixer and nothing else: the input projection (split over TP), the
// scan with ModelSpec::MambaScanFlopsPerToken per token, the output projection; no attention,
// no MLP. The scan's backward costs the measured ratio to its forward: 4.66x at chunk 32 and
// 2.75x at chunk 256 (two timings of mamba_ssm's kernels), interpolated in log2(chunk) between
// them (the preset's chunk of 128: 4.66 - 1.91 * 2/3 = 3.387) and held outside.
TEST(LayerOpsTest, MambaLayerRunsTheMixer) {
  const ModelSpec m = FindModelPreset("nemotron3-nano").value();
  LayerContext c;
  c.seq_len = 8192;
  c.micro_batch = 2;
  c.tp = 2;
  c.layer_kind = 'M';
  const auto fwd = LayerForward(m, c);
  const auto bwd = LayerBackward(m, c);
  const double tokens = 2.0 * 8192;
  bool in_proj = false, scan = false, scan_bwd = false;
  for (const auto& st : fwd) {
    const auto* op = std::get_if<ComputeOp>(&st);
    if (!op) continue;
    EXPECT_EQ(op->name.find("attn"), std::string::npos) << op->name;
    EXPECT_EQ(op->name.find("mlp"), std::string::npos) << op->name;
    EXPECT_EQ(op->name.find("moe"), std::string::npos) << op->name;
    if (op->name == "mamba.in_proj.fwd") {
      in_proj = true;
      EXPECT_EQ(op->n, m.mamba_in_proj() / 2);  // every term splits over the 2 TP ranks
    }
    if (op->name == "mamba.ssd.fwd") {
      scan = true;
      ModelSpec half = m;
      half.mamba_heads /= 2;
      half.mamba_groups /= 2;
      EXPECT_DOUBLE_EQ(op->flops, tokens * half.MambaScanFlopsPerToken());
      EXPECT_EQ(op->dtype, DType::kBf16);
      EXPECT_TRUE(op->chunked_scan);
    }
  }
  double fwd_scan = 0;
  for (const auto& st : fwd) {
    if (const auto* op = std::get_if<ComputeOp>(&st); op && op->name == "mamba.ssd.fwd") fwd_scan = op->flops;
  }
  for (const auto& st : bwd) {
    if (const auto* op = std::get_if<ComputeOp>(&st); op && op->name == "mamba.ssd.bwd") {
      scan_bwd = true;
      EXPECT_NEAR(op->flops / fwd_scan, 4.66 - (4.66 - 2.75) * 2.0 / 3.0, 1e-9);
      EXPECT_TRUE(op->chunked_scan);
    }
  }
  EXPECT_TRUE(in_proj && scan && scan_bwd);
  auto ratio = [&](int64_t chunk) {
    ModelSpec mc = m;
    mc.mamba_chunk = chunk;
    double f = 0, b = 0;
    for (const auto& st : LayerForward(mc, c)) {
      if (const auto* op = std::get_if<ComputeOp>(&st); op && op->name == "mamba.ssd.fwd") f = op->flops;
    }
    for (const auto& st : LayerBackward(mc, c)) {
      if (const auto* op = std::get_if<ComputeOp>(&st); op && op->name == "mamba.ssd.bwd") b = op->flops;
    }
    return b / f;
  };
  EXPECT_NEAR(ratio(32), 4.66, 1e-9);
  EXPECT_NEAR(ratio(256), 2.75, 1e-9);
  EXPECT_NEAR(ratio(16), 4.66, 1e-9);   // held at the nearer measurement outside them
  EXPECT_NEAR(ratio(512), 2.75, 1e-9);
  EXPECT_NEAR(ratio(64), 4.66 - (4.66 - 2.75) / 3.0, 1e-9);
  EXPECT_EQ(CountComm(fwd, CollectiveKind::kAllReduce), 1);  // out_proj's row-parallel exit
  EXPECT_EQ(CountComm(bwd, CollectiveKind::kAllReduce), 1);
  EXPECT_GT(LayerActivationBytes(m, c), 0);
}

// Megatron-Core's mixer is sequence-first and mamba_ssm's kernels batch-first: with more than
// one sequence per micro-batch the in_proj output is copied to [b, s, d] and the scan's output
// back (forward), and the in_proj output's gradient made contiguous for its GEMM (backward),
// each a read and a write of 16-bit elements; with one sequence the transposes are views.
TEST(LayerOpsTest, MambaCopiesItsLayoutOnlyForSeveralSequences) {
  const ModelSpec m = FindModelPreset("nemotron3-nano").value();
  LayerContext c;
  c.seq_len = 8192;
  c.layer_kind = 'M';
  c.micro_batch = 1;
  auto fwd = LayerForward(m, c);
  auto bwd = LayerBackward(m, c);
  EXPECT_EQ(FindCompute(fwd, "mamba.layout.fwd"), nullptr);
  EXPECT_EQ(FindCompute(fwd, "mamba.layout_out.fwd"), nullptr);
  EXPECT_EQ(FindCompute(bwd, "mamba.layout.bwd"), nullptr);
  c.micro_batch = 4;
  fwd = LayerForward(m, c);
  bwd = LayerBackward(m, c);
  const ComputeOp* in_copy = FindCompute(fwd, "mamba.layout.fwd");
  const ComputeOp* out_copy = FindCompute(fwd, "mamba.layout_out.fwd");
  const ComputeOp* grad_copy = FindCompute(bwd, "mamba.layout.bwd");
  ASSERT_TRUE(in_copy != nullptr && out_copy != nullptr && grad_copy != nullptr);
  const double tokens = 4.0 * 8192;
  const double inner = static_cast<double>(m.mamba_heads * m.mamba_head_dim);
  EXPECT_DOUBLE_EQ(in_copy->bytes, tokens * m.mamba_in_proj() * 4.0);
  EXPECT_DOUBLE_EQ(out_copy->bytes, tokens * inner * 4.0);
  EXPECT_DOUBLE_EQ(grad_copy->bytes, tokens * m.mamba_in_proj() * 4.0);
}

// A transformer layer is an attention block and an MLP block: a hybrid model's '*' and 'E'
// layers split its GEMMs and, each with its own norm and dropout mask, its activations.
TEST(LayerOpsTest, HybridSingleBlockLayersSplitATransformerLayer) {
  ModelSpec m = GptMoe(1024, 16, 8, 2);
  LayerContext c;
  c.seq_len = 2048;
  c.ep = 2;
  const auto gemm = [&](char kind) {
    LayerContext k = c;
    k.layer_kind = kind;
    return GemmFlops(LayerForward(m, k)) + GemmFlops(LayerBackward(m, k));
  };
  EXPECT_DOUBLE_EQ(gemm('*') + gemm('E'), gemm('T'));
  LayerContext attn = c, moe = c;
  attn.layer_kind = '*';
  moe.layer_kind = 'E';
  for (const auto& st : LayerForward(m, attn)) {
    if (const auto* op = std::get_if<ComputeOp>(&st)) EXPECT_EQ(op->name.find("moe"), std::string::npos);
  }
  EXPECT_EQ(CountComm(LayerForward(m, attn), CollectiveKind::kAllToAll), 0);
  EXPECT_EQ(CountComm(LayerForward(m, moe), CollectiveKind::kAllToAll), 2);
  for (const auto& st : LayerForward(m, moe)) {
    if (const auto* op = std::get_if<ComputeOp>(&st)) EXPECT_EQ(op->name.find("attn"), std::string::npos);
  }
  for (bool fp8 : {false, true}) {
    for (bool norms : {false, true}) {
      for (bool dropout : {false, true}) {
        LayerContext t = c;
        t.dtype = fp8 ? DType::kFp8 : DType::kBf16;
        t.recompute = norms ? RecomputeMode::kSelective : RecomputeMode::kNone;
        t.recompute_modules = kRecomputeLayernorm | kRecomputeMoeAct;
        m.dropout = dropout;
        LayerContext a = t, e = t;
        a.layer_kind = '*';
        e.layer_kind = 'E';
        const double whole = LayerActivationBytes(m, t);
        EXPECT_NEAR(LayerActivationBytes(m, a) + LayerActivationBytes(m, e), whole, 1e-6 * whole)
            << fp8 << norms << dropout;
        // The experts block alone keeps its norm's input: more than the MLP's share alone.
        EXPECT_GT(LayerActivationBytes(m, e), 0);
        EXPECT_GT(LayerActivationBytes(m, a), 0);
      }
    }
  }
}


// Latent experts (Nemotron 3 Super): the block projects its tokens to the latent before the
// dispatch and back after the combine; the dispatch, the combine and the expert GEMMs are
// latent wide, the router and the shared expert hidden wide.
TEST(LayerOpsTest, LatentExpertsDispatchTheLatent) {
  const ModelSpec m = FindModelPreset("nemotron3-super").value();
  ModelSpec wide = m;
  wide.moe_latent = 0;
  LayerContext c;
  c.moe_load_imbalance = 1.0;  // exactly balanced routing (unset: random routing's)
  c.seq_len = 8192;
  c.ep = 64;
  c.layer_kind = 'E';
  auto find = [](const std::vector<LayerStep>& steps, const std::string& name) -> const LayerStep* {
    for (const auto& st : steps) {
      if (const auto* op = std::get_if<ComputeOp>(&st); op && op->name == name) return &st;
      if (const auto* op = std::get_if<CommOp>(&st); op && op->name == name) return &st;
    }
    return nullptr;
  };
  const auto fwd = LayerForward(m, c), wide_fwd = LayerForward(wide, c);
  const auto bwd = LayerBackward(m, c);
  const double tokens = 8192;
  const auto* down = find(fwd, "moe.latent_down.fwd");
  const auto* up = find(fwd, "moe.latent_up.fwd");
  ASSERT_NE(down, nullptr);
  ASSERT_NE(up, nullptr);
  EXPECT_DOUBLE_EQ(std::get<ComputeOp>(*down).flops, 2.0 * tokens * 4096 * 1024);
  EXPECT_DOUBLE_EQ(std::get<ComputeOp>(*up).flops, 2.0 * tokens * 1024 * 4096);
  EXPECT_EQ(find(wide_fwd, "moe.latent_down.fwd"), nullptr);
  for (const char* name : {"moe.latent_down.dgrad", "moe.latent_down.wgrad", "moe.latent_up.dgrad",
                           "moe.latent_up.wgrad"}) {
    EXPECT_NE(find(bwd, name), nullptr) << name;
  }
  // The all-to-all carries a quarter of the bytes: 1024 of 4096 dims per routed copy.
  const auto* d = find(fwd, "ep.all_to_all.dispatch");
  const auto* wd = find(wide_fwd, "ep.all_to_all.dispatch");
  ASSERT_NE(d, nullptr);
  ASSERT_NE(wd, nullptr);
  EXPECT_DOUBLE_EQ(std::get<CommOp>(*d).bytes, tokens * 22 * 1024 * 2.0);
  EXPECT_DOUBLE_EQ(std::get<CommOp>(*d).bytes * 4, std::get<CommOp>(*wd).bytes);
  // Expert GEMMs: 22 routed copies of latent x 2688 (up) and 2688 x latent (down).
  EXPECT_DOUBLE_EQ(ExpertFlops(fwd), 2.0 * 2.0 * tokens * 22 * 1024 * 2688);
  EXPECT_DOUBLE_EQ(ExpertFlops(wide_fwd) / ExpertFlops(fwd), 4.0);
  // The router and the shared expert still read the hidden states.
  EXPECT_EQ(std::get<ComputeOp>(*find(fwd, "moe.router.fwd")).k, 4096);
  EXPECT_EQ(std::get<ComputeOp>(*find(fwd, "moe.shared.fc1.fwd")).k, 4096);
}


// keep_mtp_spec_in_bf16 (LayerContext::mtp_bf16): the MTP depth's GEMMs run in bf16 with no
// quantisation, the main layers keep the run's fp8.
TEST(LayerOpsTest, MtpDepthsCanRunInBf16) {
  const ModelSpec m = FindModelPreset("nemotron3-super").value();
  LayerContext c;
  c.seq_len = 8192;
  c.dtype = DType::kFp8;
  auto gemm_dtypes = [](const std::vector<LayerStep>& steps, int* quantize) {
    std::set<DType> out;
    *quantize = 0;
    for (const auto& st : steps) {
      const auto* op = std::get_if<ComputeOp>(&st);
      if (!op) continue;
      if (op->name.find("quantize") != std::string::npos) ++*quantize;
      if (op->cls == OpClass::kGemm && op->name.find("router") == std::string::npos &&
          op->name.find("head.") == std::string::npos) {
        out.insert(op->dtype);
      }
    }
    return out;
  };
  int quantize = 0;
  EXPECT_EQ(gemm_dtypes(MtpForward(m, c), &quantize), std::set<DType>{DType::kFp8});
  EXPECT_GT(quantize, 0);
  c.mtp_bf16 = true;
  EXPECT_EQ(gemm_dtypes(MtpForward(m, c), &quantize), std::set<DType>{DType::kBf16});
  EXPECT_EQ(quantize, 0);
  EXPECT_EQ(gemm_dtypes(MtpBackward(m, c), &quantize), std::set<DType>{DType::kBf16});
  EXPECT_EQ(quantize, 0);
  // The model's own layers are not affected.
  LayerContext layer = LayerContextOf(m, c, 1);
  EXPECT_EQ(gemm_dtypes(LayerForward(m, layer), &quantize), std::set<DType>{DType::kFp8});
}


// LoRA freezes every base weight: the backward keeps each data-gradient GEMM and drops every
// weight-gradient one (and the embedding's backward); the wrapped layers gain rank-r adapters,
// x A (T x r x k) and (x A) B (T x n x r) forward, B's and A's data and weight gradients
// backward, all in bf16 whatever the base dtype.
TEST(LayerOpsTest, LoraFreezesTheBaseWeightsAndAddsAdapters) {
  const ModelSpec m = Gpt(1024, 16);
  LayerContext c;
  c.seq_len = 512;
  c.dtype = DType::kFp8;
  const auto full_bwd = LayerBackward(m, c);
  EXPECT_NE(FindCompute(full_bwd, "attn.qkv.wgrad"), nullptr);
  EXPECT_FALSE(EmbeddingBackward(m, c).empty());
  EXPECT_DOUBLE_EQ(LoraLayerParams(m, c), 0.0);

  c.lora_rank = 16;
  c.lora_modules = kLoraQkv | kLoraFc2;
  const auto fwd = LayerForward(m, c);
  const auto bwd = LayerBackward(m, c);
  for (const auto& steps : {fwd, bwd}) {
    for (const LayerStep& st : steps) {
      const auto* op = std::get_if<ComputeOp>(&st);
      if (op == nullptr) continue;
      EXPECT_FALSE(op->weight_grad) << op->name;
      if (op->name.rfind("lora.", 0) == 0 && op->cls == OpClass::kGemm) {
        EXPECT_EQ(op->dtype, DType::kBf16) << op->name;
      }
    }
  }
  EXPECT_EQ(FindCompute(bwd, "attn.qkv.wgrad"), nullptr);
  EXPECT_EQ(FindCompute(bwd, "mlp.fc1.wgrad"), nullptr);
  EXPECT_NE(FindCompute(bwd, "attn.qkv.dgrad"), nullptr);
  EXPECT_NE(FindCompute(bwd, "mlp.fc1.dgrad"), nullptr);
  EXPECT_TRUE(EmbeddingBackward(m, c).empty());
  EXPECT_EQ(FindCompute(HeadBackward(m, c), "head.logits.wgrad"), nullptr);
  EXPECT_NE(FindCompute(HeadBackward(m, c), "head.logits.dgrad"), nullptr);

  // The qkv adapter: k = hidden, n = 3 * hidden (multi-head), T = 512 tokens.
  const ComputeOp* a = FindCompute(fwd, "lora.qkv.a.fwd");
  const ComputeOp* b = FindCompute(fwd, "lora.qkv.b.fwd");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_DOUBLE_EQ(a->flops, 2.0 * 512 * 16 * 1024);
  EXPECT_DOUBLE_EQ(b->flops, 2.0 * 512 * 3 * 1024 * 16);
  for (const char* name : {"lora.qkv.b.dgrad", "lora.qkv.b.wgrad", "lora.qkv.a.dgrad", "lora.qkv.a.wgrad",
                           "lora.fc2.b.dgrad", "lora.fc2.a.wgrad"}) {
    EXPECT_NE(FindCompute(bwd, name), nullptr) << name;
  }
  // Only the named layers: no proj or fc1 adapter.
  EXPECT_EQ(FindCompute(fwd, "lora.proj.a.fwd"), nullptr);
  EXPECT_EQ(FindCompute(fwd, "lora.fc1.a.fwd"), nullptr);
  // Adapter parameters: r (in + out) of each wrapped layer: qkv 16 (1024 + 3072), fc2
  // 16 (4096 + 1024).
  EXPECT_DOUBLE_EQ(LoraLayerParams(m, c), 16.0 * (1024 + 3072) + 16.0 * (4096 + 1024));
  // Under TP 2 each rank holds its share of the base layer's split side.
  LayerContext tp2 = c;
  tp2.tp = 2;
  EXPECT_DOUBLE_EQ(LoraLayerParams(m, tp2), 16.0 * (1024 + 1536) + 16.0 * (2048 + 1024));
  // The step's GEMM work falls by about the weight gradients' third.
  EXPECT_LT(GemmFlops(bwd), 0.55 * GemmFlops(full_bwd));
  // No weight gradient needs the column-wise fp8 copy: a quantisation reads 2 bytes and
  // writes 1 per element instead of 2 (delayed scaling).
  LayerContext full = c;
  full.lora_rank = 0;
  const auto full_fwd = LayerForward(m, full);
  const ComputeOp* q_full = FindCompute(full_fwd, "mlp.fc2.input.quantize");
  const ComputeOp* q_lora = FindCompute(fwd, "mlp.fc2.input.quantize");
  ASSERT_NE(q_full, nullptr);
  ASSERT_NE(q_lora, nullptr);
  EXPECT_DOUBLE_EQ(q_lora->bytes / q_full->bytes, 3.0 / 4.0);
  // Frozen MLP layers without an adapter keep neither the second GEMM's input nor the first's
  // (the norm's output); with adapters on both they are kept as in full training.
  LayerContext all = c;
  all.lora_modules = kAllLoraModules;
  EXPECT_DOUBLE_EQ(LayerActivationBytes(m, all), LayerActivationBytes(m, full));
  LayerContext qkv_only = c;
  qkv_only.lora_modules = kLoraQkv;
  LayerContext with_fc1 = c;
  with_fc1.lora_modules = kLoraQkv | kLoraFc1;
  EXPECT_LT(LayerActivationBytes(m, qkv_only), LayerActivationBytes(m, with_fc1));
  EXPECT_LT(LayerActivationBytes(m, with_fc1), LayerActivationBytes(m, full));
  // fp8, GELU MLP at 4h, no SP: the fc2 input's quantized copy (1 byte x 4h) and the norm's
  // output's (1 byte x h) per token.
  const double tokens = 512.0;
  EXPECT_NEAR(LayerActivationBytes(m, full) - LayerActivationBytes(m, qkv_only),
              tokens * (4.0 * 1024 + 1024), 1e-6);
  // Under sequence parallelism nothing is gathered again for a weight gradient.
  LayerContext sp = SpContext(512, 2);
  sp.lora_rank = 16;
  sp.lora_modules = kLoraQkv;
  EXPECT_EQ(CountComm(LayerBackward(m, sp), CollectiveKind::kAllGather),
            CountComm(LayerBackward(m, SpContext(512, 2)), CollectiveKind::kAllGather) - 2);
}


// Packed samples attend only within themselves: a sequence of S tokens packing samples of L
// scores S / L causal L x L triangles, L / S of one causal S x S one, in both directions; the
// kernel sees S / L times the (sequence, head) pairs of length L. The other ops are unchanged.
TEST(LayerOpsTest, PackedSamplesAttendWithinThemselves) {
  const ModelSpec m = Gpt(1024, 16);
  LayerContext c;
  c.seq_len = 4096;
  c.micro_batch = 2;
  const auto whole_fwd = LayerForward(m, c);
  const auto whole_bwd = LayerBackward(m, c);
  c.packed_sample_tokens = 512;
  const auto packed_fwd = LayerForward(m, c);
  const auto packed_bwd = LayerBackward(m, c);
  for (const char* name : {"attn.fwd", "attn.bwd"}) {
    const bool fwd = std::string(name) == "attn.fwd";
    const ComputeOp* whole = FindCompute(fwd ? whole_fwd : whole_bwd, name);
    const ComputeOp* packed = FindCompute(fwd ? packed_fwd : packed_bwd, name);
    ASSERT_NE(whole, nullptr);
    ASSERT_NE(packed, nullptr);
    EXPECT_NEAR(packed->flops / whole->flops, 512.0 / 4096, 1e-12) << name;
    EXPECT_EQ(packed->m, 512);
    EXPECT_EQ(packed->n, 512);
    EXPECT_EQ(packed->batch, whole->batch * 8);
    EXPECT_DOUBLE_EQ(packed->bytes, whole->bytes) << name;
  }
  EXPECT_DOUBLE_EQ(GemmFlops(packed_fwd), GemmFlops(whole_fwd));
  // One sample per sequence is no packing.
  c.packed_sample_tokens = 4096;
  EXPECT_DOUBLE_EQ(FindCompute(LayerForward(m, c), "attn.fwd")->flops,
                   FindCompute(whole_fwd, "attn.fwd")->flops);
}

}  // namespace
}  // namespace echosim
