// Transformer-layer ComputeOps and the calibration grid (see transformer_ops.h).
#include "kernels/harness/transformer_ops.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "simulator/core/strings.h"

namespace echosim::kernels {
namespace {

constexpr double kE = 2.0;            // activation bytes per element between kernels
constexpr int64_t kGemmTileRows = 64;  // models/inference_ops.cc: GEMM rows padded to 64

OpSpec Gemm(const std::string& name, DataType dt, int64_t m, int64_t n, int64_t k) {
  OpSpec op;
  op.name = name;
  op.kind = OpKind::kGemm;
  op.dtype = dt;
  op.m = m;
  op.n = n;
  op.k = k;
  op.flops = 2.0 * static_cast<double>(m) * n * k;
  const double in = dt == DataType::kFp8 ? 1.0 : 2.0;
  op.bytes = in * (static_cast<double>(m) * k + static_cast<double>(k) * n) + 2.0 * static_cast<double>(m) * n;
  return op;
}

OpSpec Mem(const std::string& name, double bytes) {
  OpSpec op;
  op.name = name;
  op.kind = OpKind::kMemoryBound;
  op.bytes = bytes;
  return op;
}

OpSpec Attention(const LayerShape& s, bool bwd) {
  const double sq = static_cast<double>(s.seq), sk = sq, d = static_cast<double>(s.head_dim());
  const double bh = static_cast<double>(s.micro_batch * s.heads_local());
  OpSpec op;
  op.name = bwd ? "attn.bwd" : "attn.fwd";
  op.kind = OpKind::kAttention;
  op.dtype = s.dtype;
  op.m = s.seq;
  op.n = s.seq;
  op.k = s.head_dim();
  op.batch = s.micro_batch * s.heads_local();
  const double fwd_flops = 4.0 * bh * sq * sk * d * 0.5;  // causal: half the score matrix
  const double mb = static_cast<double>(s.micro_batch);
  if (bwd) {
    op.flops = 2.5 * fwd_flops;
    op.bytes = kE * (4.0 * mb * sq * s.heads_local() * d + 4.0 * mb * sk * s.kv_local() * d);
  } else {
    op.flops = fwd_flops;
    op.bytes = kE * (2.0 * mb * sq * s.heads_local() * d + 2.0 * mb * sk * s.kv_local() * d);
  }
  return op;
}

int64_t QkvWidth(const LayerShape& s) { return (s.heads_local() + 2 * s.kv_local()) * s.head_dim(); }
int64_t UpWidth(const LayerShape& s) { return s.mlp == MlpType::kSwiglu ? 2 * s.ffn_local() : s.ffn_local(); }
const char* ActName(const LayerShape& s) { return s.mlp == MlpType::kSwiglu ? "mlp.swiglu" : "mlp.gelu"; }

}  // namespace

int64_t LayerShape::LocalParams() const {
  return hidden * QkvWidth(*this) + heads_local() * head_dim() * hidden + hidden * UpWidth(*this) +
         ffn_local() * hidden;
}

Status ValidateLayerShape(const LayerShape& s) {
  if (s.hidden < 1 || s.heads < 1 || s.kv_heads < 1 || s.ffn < 1 || s.seq < 1 || s.micro_batch < 1 ||
      s.tp < 1) {
    return InvalidArgument("--hidden, --heads, --kv-heads, --ffn, --seq and --micro-batch must be >= 1");
  }
  if (s.hidden % s.heads != 0) {
    return InvalidArgument(StrCat("--hidden (", s.hidden, ") must be a multiple of --heads (", s.heads, ")"));
  }
  if (s.head_dim() != 64 && s.head_dim() != 128) {
    return InvalidArgument(StrCat("head_dim = --hidden / --heads must be 64 or 128 (the attention kernel's "
                                  "head sizes), got ", s.head_dim()));
  }
  if (s.heads % s.kv_heads != 0) {
    return InvalidArgument(StrCat("--heads (", s.heads, ") must be a multiple of --kv-heads (", s.kv_heads, ")"));
  }
  if (s.heads % s.tp != 0 || s.ffn % s.tp != 0) {
    return InvalidArgument(StrCat("tensor parallelism ", s.tp, " must divide heads and ffn"));
  }
  if (s.hidden % 8 != 0 || s.ffn_local() % 8 != 0) {
    return InvalidArgument("--hidden and --ffn must be multiples of 8 (128-bit vector kernels)");
  }
  return Status::Ok();
}

std::vector<OpSpec> LayerForwardOps(const LayerShape& s) {
  const int64_t t = s.tokens(), h = s.hidden, d = s.head_dim();
  const double td = static_cast<double>(t), hd = static_cast<double>(h);
  const double f = static_cast<double>(s.ffn_local());
  std::vector<OpSpec> ops;
  ops.push_back(Mem("norm1.fwd", td * hd * kE * 2.0));
  ops.push_back(Gemm("attn.qkv.fwd", s.dtype, t, QkvWidth(s), h));
  if (s.rope) ops.push_back(Mem("attn.rope.fwd", td * (s.heads_local() + s.kv_local()) * d * kE * 2.0));
  ops.push_back(Attention(s, false));
  ops.push_back(Gemm("attn.proj.fwd", s.dtype, t, h, s.heads_local() * d));
  ops.push_back(Mem("residual1.fwd", td * hd * (3.0 * kE + 1.0)));
  ops.push_back(Mem("norm2.fwd", td * hd * kE * 2.0));
  ops.push_back(Gemm("mlp.fc1.fwd", s.dtype, t, UpWidth(s), h));
  ops.push_back(Mem(StrCat(ActName(s), ".fwd"), td * f * kE * (s.mlp == MlpType::kSwiglu ? 3.0 : 2.0)));
  ops.push_back(Gemm("mlp.fc2.fwd", s.dtype, t, h, s.ffn_local()));
  ops.push_back(Mem("residual2.fwd", td * hd * (3.0 * kE + 1.0)));
  return ops;
}

std::vector<OpSpec> LayerBackwardOps(const LayerShape& s) {
  const int64_t t = s.tokens(), h = s.hidden, d = s.head_dim();
  const double td = static_cast<double>(t), hd = static_cast<double>(h);
  const double f = static_cast<double>(s.ffn_local());
  std::vector<OpSpec> ops;
  auto linear_bwd = [&](const std::string& name, int64_t n, int64_t k) {
    ops.push_back(Gemm(name + ".dgrad", s.dtype, t, k, n));  // dx[T,k] = dy[T,n] W^T
    ops.push_back(Gemm(name + ".wgrad", s.dtype, k, n, t));  // dW[k,n] = x^T dy
  };
  ops.push_back(Mem("residual2.bwd", td * hd * kE * 3.0));
  linear_bwd("mlp.fc2", h, s.ffn_local());
  ops.push_back(Mem(StrCat(ActName(s), ".bwd"), td * f * kE * (s.mlp == MlpType::kSwiglu ? 5.0 : 3.0)));
  linear_bwd("mlp.fc1", UpWidth(s), h);
  ops.push_back(Mem("norm2.bwd", td * hd * kE * 4.0));
  ops.push_back(Mem("residual1.bwd", td * hd * kE * 3.0));
  linear_bwd("attn.proj", h, s.heads_local() * d);
  ops.push_back(Attention(s, true));
  if (s.rope) ops.push_back(Mem("attn.rope.bwd", td * (s.heads_local() + s.kv_local()) * d * kE * 2.0));
  linear_bwd("attn.qkv", QkvWidth(s), h);
  ops.push_back(Mem("norm1.bwd", td * hd * kE * 4.0));
  return ops;
}

OpSpec OptimizerOp(int64_t params) {
  OpSpec op;
  op.name = "optimizer.adam";
  op.kind = OpKind::kOptimizer;
  op.bytes = static_cast<double>(params) * 34.0;
  return op;
}

std::vector<OpSpec> DecodeLayerOps(const LayerShape& s, int64_t seqs, int64_t context) {
  const int64_t h = s.hidden, d = s.head_dim();
  const double t = static_cast<double>(seqs), f = static_cast<double>(s.ffn_local());
  auto gemm = [&](const char* name, int64_t n, int64_t k) {
    OpSpec op = Gemm(name, s.dtype, std::max(seqs, kGemmTileRows), n, k);
    const double in = s.dtype == DataType::kFp8 ? 1.0 : 2.0;
    op.bytes = in * (t * k + static_cast<double>(k) * n) + 2.0 * t * n;  // real rows' bytes
    return op;
  };
  std::vector<OpSpec> ops;
  ops.push_back(Mem("norm1", t * h * kE * 2.0));
  ops.push_back(gemm("attn.qkv", QkvWidth(s), h));
  if (s.rope) ops.push_back(Mem("attn.rope", t * (s.heads_local() + s.kv_local()) * d * kE * 2.0));
  ops.push_back(Mem("attn.kv_cache_write", t * 2.0 * s.kv_local() * d * (kE + kE)));
  OpSpec attn;
  attn.name = "attn.decode";
  attn.kind = OpKind::kAttention;
  attn.m = seqs;
  attn.k = d;
  attn.batch = s.heads_local();
  const double ctx_tokens = t * static_cast<double>(context);
  attn.flops = 4.0 * d * s.heads_local() * ctx_tokens;
  attn.bytes = 2.0 * t * s.heads_local() * d * kE + 2.0 * ctx_tokens * s.kv_local() * d * kE;
  ops.push_back(attn);
  ops.push_back(gemm("attn.proj", h, s.heads_local() * d));
  ops.push_back(Mem("residual_norm2", t * h * kE * 4.0));
  ops.push_back(gemm("mlp.fc1", UpWidth(s), h));
  ops.push_back(Mem("mlp.act", t * f * kE * (s.mlp == MlpType::kSwiglu ? 3.0 : 2.0)));
  ops.push_back(gemm("mlp.fc2", h, s.ffn_local()));
  ops.push_back(Mem("residual2", t * h * kE * 3.0));
  return ops;
}

std::vector<OpSpec> CalibrationGrid(const GridOptions& o) {
  struct Model {
    int64_t hidden, heads, kv_heads, ffn;
    MlpType mlp;
    bool rope;
  };
  // Public architectures: GPT-3 1.3B and 175B (Brown et al. 2020, Table 2.1), Llama 3 8B,
  // Llama 2 13B and 70B (Touvron et al. 2023; Meta's Llama 3 model card).
  const Model models[] = {{2048, 16, 16, 8192, MlpType::kGelu, false},
                          {4096, 32, 8, 14336, MlpType::kSwiglu, true},
                          {5120, 40, 40, 13824, MlpType::kSwiglu, true},
                          {8192, 64, 8, 28672, MlpType::kSwiglu, true},
                          {12288, 96, 96, 49152, MlpType::kGelu, false}};
  const std::vector<int64_t> tps = o.quick ? std::vector<int64_t>{1, 8} : std::vector<int64_t>{1, 2, 4, 8};
  const std::vector<int64_t> seqs = o.quick ? std::vector<int64_t>{2048} : std::vector<int64_t>{2048, 4096};
  std::vector<DataType> gemm_types = {DataType::kBf16};
  if (!o.quick) gemm_types.push_back(DataType::kFp16);
  if (!o.quick && o.fp8) gemm_types.push_back(DataType::kFp8);

  std::vector<OpSpec> out;
  std::set<std::tuple<int, int, int64_t, int64_t, int64_t, int64_t, double, std::string>> seen;
  auto add = [&](const OpSpec& op) {
    auto key = std::make_tuple(static_cast<int>(op.kind), static_cast<int>(op.dtype), op.m, op.n, op.k,
                               op.batch, op.bytes, op.name);
    if (seen.insert(key).second) out.push_back(op);
  };
  for (const Model& m : models) {
    for (int64_t tp : tps) {
      LayerShape s;
      s.hidden = m.hidden;
      s.heads = m.heads;
      s.kv_heads = m.kv_heads;
      s.ffn = m.ffn;
      s.mlp = m.mlp;
      s.rope = m.rope;
      s.tp = tp;
      for (int64_t seq : seqs) {
        s.seq = seq;
        for (DataType dt : gemm_types) {
          s.dtype = dt;
          std::vector<OpSpec> ops = LayerForwardOps(s);
          for (OpSpec& op : LayerBackwardOps(s)) ops.push_back(std::move(op));
          for (OpSpec& op : ops) {
            if (op.kind != OpKind::kGemm) op.dtype = DataType::kBf16;  // bf16 whatever the GEMMs
            if (op.kind == OpKind::kGemm || dt == DataType::kBf16) add(op);
          }
        }
        s.dtype = DataType::kBf16;
      }
      // Optimizer shards: one layer and eight layers of this TP rank's weights.
      for (int64_t layers : {int64_t{1}, int64_t{8}}) add(OptimizerOp(layers * s.LocalParams()));
      // Serving decode: GEMM rows at the padded tile and above, attention over short and
      // long contexts.
      s.seq = 1;
      for (int64_t batch : o.quick ? std::vector<int64_t>{64} : std::vector<int64_t>{64, 128, 256}) {
        for (int64_t context : o.quick ? std::vector<int64_t>{2048} : std::vector<int64_t>{1024, 4096}) {
          for (const OpSpec& op : DecodeLayerOps(s, batch, context)) add(op);
        }
      }
    }
  }
  return out;
}

}  // namespace echosim::kernels
