// ComputeOp JSONL parsing and the op -> kernel mapping (see op_spec.h).
#include "kernels/harness/op_spec.h"

#include <cmath>
#include <sstream>

#include "simulator/core/strings.h"

namespace echosim::kernels {

const char* OpKindName(OpKind k) {
  switch (k) {
    case OpKind::kGemm: return "gemm";
    case OpKind::kAttention: return "attention";
    case OpKind::kMemoryBound: return "memory_bound";
    case OpKind::kOptimizer: return "optimizer";
  }
  return "?";
}

const char* DataTypeName(DataType d) {
  switch (d) {
    case DataType::kBf16: return "bf16";
    case DataType::kFp16: return "fp16";
    case DataType::kFp8: return "fp8";
  }
  return "?";
}

namespace {

using Json = nlohmann::ordered_json;

std::string At(int line_no) { return StrCat("line ", line_no, ": "); }

// A numeric field; `required` fields must be present. Integers must be whole numbers.
Status ReadNumber(const Json& j, const char* field, bool required, bool integer, int line_no,
                  const std::string& why, double* out) {
  auto it = j.find(field);
  if (it == j.end()) {
    if (required) return InvalidArgument(StrCat(At(line_no), "missing field '", field, "'", why));
    return Status::Ok();
  }
  if (!it->is_number()) {
    return InvalidArgument(StrCat(At(line_no), "field '", field, "' must be a number, got ",
                                  it->dump()));
  }
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < 0) {
    return InvalidArgument(StrCat(At(line_no), "field '", field, "' must be a finite number >= 0, got ",
                                  it->dump()));
  }
  if (integer && (v != std::floor(v) || v > 9.0e15)) {
    return InvalidArgument(StrCat(At(line_no), "field '", field, "' must be a whole number, got ",
                                  it->dump()));
  }
  *out = v;
  return Status::Ok();
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

StatusOr<OpSpec> ParseOpLine(const std::string& line, int line_no) {
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument(StrCat(At(line_no), "malformed JSON: ", line.substr(0, 80)));
  if (!j.is_object()) return InvalidArgument(StrCat(At(line_no), "expected a JSON object (one ComputeOp)"));
  OpSpec op;
  auto name = j.find("name");
  if (name == j.end()) return InvalidArgument(StrCat(At(line_no), "missing field 'name'"));
  if (!name->is_string() || name->get<std::string>().empty()) {
    return InvalidArgument(StrCat(At(line_no), "field 'name' must be a non-empty string"));
  }
  op.name = name->get<std::string>();
  auto cls = j.find("class");
  if (cls == j.end()) {
    return InvalidArgument(StrCat(At(line_no), "missing field 'class'; valid choices: gemm, attention, "
                                  "memory_bound, optimizer"));
  }
  if (!cls->is_string()) return InvalidArgument(StrCat(At(line_no), "field 'class' must be a string"));
  auto kind = ParseChoice<OpKind>(StrCat(At(line_no), "field 'class'"), cls->get<std::string>(),
                                  {{"gemm", OpKind::kGemm},
                                   {"attention", OpKind::kAttention},
                                   {"memory_bound", OpKind::kMemoryBound},
                                   {"optimizer", OpKind::kOptimizer}});
  if (!kind.ok()) return kind.status();
  op.kind = *kind;
  auto dt = j.find("dtype");
  if (dt != j.end()) {
    if (!dt->is_string()) return InvalidArgument(StrCat(At(line_no), "field 'dtype' must be a string"));
    auto d = ParseChoice<DataType>(StrCat(At(line_no), "field 'dtype'"), dt->get<std::string>(),
                                   {{"bf16", DataType::kBf16}, {"fp16", DataType::kFp16},
                                    {"fp8", DataType::kFp8}});
    if (!d.ok()) return d.status();
    op.dtype = *d;
  }
  const bool gemm = op.kind == OpKind::kGemm, attn = op.kind == OpKind::kAttention;
  const std::string for_class = StrCat(" (required for class ", OpKindName(op.kind), ")");
  double m = 0, n = 0, k = 0, batch = 1, concurrency = 0;
  ECHOSIM_RETURN_IF_ERROR(ReadNumber(j, "m", gemm || attn, true, line_no, for_class, &m));
  ECHOSIM_RETURN_IF_ERROR(ReadNumber(j, "n", gemm, true, line_no, for_class, &n));
  ECHOSIM_RETURN_IF_ERROR(ReadNumber(j, "k", gemm || attn, true, line_no, for_class, &k));
  ECHOSIM_RETURN_IF_ERROR(ReadNumber(j, "batch", false, true, line_no, for_class, &batch));
  ECHOSIM_RETURN_IF_ERROR(ReadNumber(j, "concurrency", false, true, line_no, for_class, &concurrency));
  ECHOSIM_RETURN_IF_ERROR(ReadNumber(j, "flops", false, false, line_no, for_class, &op.flops));
  ECHOSIM_RETURN_IF_ERROR(ReadNumber(j, "bytes", !gemm && !attn, false, line_no, for_class, &op.bytes));
  op.m = static_cast<int64_t>(m);
  op.n = static_cast<int64_t>(n);
  op.k = static_cast<int64_t>(k);
  op.batch = static_cast<int64_t>(batch);
  if (op.batch < 1) return InvalidArgument(StrCat(At(line_no), "field 'batch' must be >= 1"));
  op.concurrency = static_cast<int64_t>(concurrency);
  if (op.concurrency < 0 || op.concurrency > kMaxGemmStreams || (op.concurrency > 0 && !gemm)) {
    return InvalidArgument(StrCat(At(line_no), "field 'concurrency' must be 0, or 1..", kMaxGemmStreams,
                                  " for class gemm"));
  }
  if (gemm) {
    for (auto [f, v] : {std::pair{"m", op.m}, std::pair{"n", op.n}, std::pair{"k", op.k}}) {
      if (v < 1) return InvalidArgument(StrCat(At(line_no), "field '", f, "' must be >= 1 for class gemm"));
    }
    if (op.dtype == DataType::kFp8 && op.k % 16 != 0) {
      return InvalidArgument(StrCat(At(line_no), "field 'k' must be a multiple of 16 for dtype fp8 "
                                    "(cuBLASLt fp8 GEMMs), got ", op.k));
    }
  }
  if (attn) {
    if (op.m < 1) return InvalidArgument(StrCat(At(line_no), "field 'm' must be >= 1 for class attention"));
    if (op.k != 64 && op.k != 128) {
      return InvalidArgument(StrCat(At(line_no), "field 'k' (head_dim) must be 64 or 128, got ", op.k));
    }
    auto plan = PlanAttention(op);
    if (!plan.ok()) return InvalidArgument(StrCat(At(line_no), plan.status().message()));
  }
  if ((op.kind == OpKind::kMemoryBound || op.kind == OpKind::kOptimizer) && op.bytes <= 0) {
    return InvalidArgument(StrCat(At(line_no), "field 'bytes' must be > 0 for class ", OpKindName(op.kind)));
  }
  op.fields = std::move(j);
  op.line = line_no;
  return op;
}

StatusOr<std::vector<OpSpec>> ParseOpsText(const std::string& text, const std::string& source) {
  std::vector<OpSpec> ops;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    auto op = ParseOpLine(line, line_no);
    if (!op.ok()) return InvalidArgument(StrCat(source, ": ", op.status().message()));
    ops.push_back(std::move(op).value());
  }
  if (ops.empty()) return InvalidArgument(StrCat(source, ": no ComputeOp lines"));
  return ops;
}

Json OpToJson(const OpSpec& op) {
  Json j;
  j["name"] = op.name;
  j["class"] = OpKindName(op.kind);
  j["dtype"] = DataTypeName(op.dtype);
  j["m"] = op.m;
  j["n"] = op.n;
  j["k"] = op.k;
  j["batch"] = op.batch;
  if (op.concurrency > 0) j["concurrency"] = op.concurrency;
  j["flops"] = op.flops;
  j["bytes"] = op.bytes;
  return j;
}

const char* MemKernelName(MemKernel k) {
  switch (k) {
    case MemKernel::kRmsNormFwd: return "rmsnorm_fwd";
    case MemKernel::kRmsNormBwd: return "rmsnorm_bwd";
    case MemKernel::kLayerNormFwd: return "layernorm_fwd";
    case MemKernel::kLayerNormBwd: return "layernorm_bwd";
    case MemKernel::kSoftmaxFwd: return "softmax_fwd";
    case MemKernel::kSoftmaxBwd: return "softmax_bwd";
    case MemKernel::kSwigluFwd: return "swiglu_fwd";
    case MemKernel::kSwigluBwd: return "swiglu_bwd";
    case MemKernel::kGeluFwd: return "gelu_fwd";
    case MemKernel::kGeluBwd: return "gelu_bwd";
    case MemKernel::kRopeFwd: return "rope_fwd";
    case MemKernel::kRopeBwd: return "rope_bwd";
    case MemKernel::kEmbeddingFwd: return "embedding_fwd";
    case MemKernel::kCopy: return "copy";
  }
  return "?";
}

double MemKernelBytesPerElement(MemKernel k) {
  switch (k) {
    case MemKernel::kRmsNormBwd:
    case MemKernel::kLayerNormBwd:
    case MemKernel::kSoftmaxBwd:
    case MemKernel::kSwigluFwd:
    case MemKernel::kGeluBwd: return 6.0;
    case MemKernel::kSwigluBwd: return 10.0;
    default: return 4.0;
  }
}

MemKernel MemKernelForName(const std::string& name) {
  const bool bwd = EndsWith(name, ".bwd");
  if (Contains(name, "layernorm") || name.rfind("ln", 0) == 0 || Contains(name, ".ln")) {
    return bwd ? MemKernel::kLayerNormBwd : MemKernel::kLayerNormFwd;
  }
  if (Contains(name, "norm")) return bwd ? MemKernel::kRmsNormBwd : MemKernel::kRmsNormFwd;
  if (Contains(name, "softmax") || Contains(name, "cross_entropy") || Contains(name, "sampler")) {
    return bwd ? MemKernel::kSoftmaxBwd : MemKernel::kSoftmaxFwd;
  }
  if (Contains(name, "gelu")) return bwd ? MemKernel::kGeluBwd : MemKernel::kGeluFwd;
  if (Contains(name, "swiglu") || Contains(name, ".act")) {
    return bwd ? MemKernel::kSwigluBwd : MemKernel::kSwigluFwd;
  }
  if (Contains(name, "rope")) return bwd ? MemKernel::kRopeBwd : MemKernel::kRopeFwd;
  if (Contains(name, "embedding") && !bwd) return MemKernel::kEmbeddingFwd;
  return MemKernel::kCopy;
}

MemPlan PlanMemoryBound(const OpSpec& op) {
  MemPlan p;
  p.kernel = MemKernelForName(op.name);
  const double elements = op.bytes / MemKernelBytesPerElement(p.kernel);
  p.cols = kMemRowWidth;
  p.rows = std::max<int64_t>(1, static_cast<int64_t>(std::llround(elements / static_cast<double>(p.cols))));
  return p;
}

int64_t AdamParams(const OpSpec& op) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::llround(op.bytes / kAdamBytesPerParam)));
}

StatusOr<AttentionPlan> PlanAttention(const OpSpec& op) {
  AttentionPlan p;
  p.d = op.k;
  p.batch_heads = op.batch;
  if (op.name == "attn.decode" || EndsWith(op.name, ".decode")) {
    // models/inference_ops.cc: m = decoding sequences, batch = local heads,
    // flops = 4 * d * heads * (context tokens summed over the sequences).
    const double context = op.flops / (4.0 * static_cast<double>(op.k) * op.batch);
    if (!(context >= op.m)) {
      return InvalidArgument(StrCat("field 'flops' of a decode attention op must be at least "
                                    "4*k*batch*m (one context token per sequence), got ", op.flops));
    }
    p.mode = AttentionMode::kDecode;
    p.batch_heads = op.batch * op.m;
    p.sq = 1;
    p.sk = std::max<int64_t>(1, std::llround(context / static_cast<double>(op.m)));
    return p;
  }
  p.mode = EndsWith(op.name, ".bwd") ? AttentionMode::kBackward : AttentionMode::kForward;
  p.sq = op.m;
  if (op.n > 0) {
    if (op.n < op.m) {
      return InvalidArgument(StrCat("field 'n' (key length) must be >= m (query length) for causal "
                                    "attention, got n=", op.n, " m=", op.m));
    }
    p.sk = op.n;
  } else {
    // Prefill encoding (n absent): flops = 4 * d * heads * (query, key) pairs, m the
    // prefill tokens of the whole batch. With at least m (m + 1) / 2 pairs: one sequence
    // whose m queries are its last positions, pairs = m (sk - m) + m (m + 1) / 2. With
    // fewer: several new sequences of L tokens each, pairs = m (L + 1) / 2.
    const double mm = static_cast<double>(op.m);
    const double pairs = op.flops / (4.0 * static_cast<double>(op.k) * op.batch);
    if (pairs + 0.5 >= mm * (mm + 1.0) / 2.0) {
      const double extra = (pairs - mm * (mm + 1.0) / 2.0) / mm;
      p.sk = op.m + std::max<int64_t>(0, std::llround(extra));
    } else {
      const int64_t len = std::max<int64_t>(1, std::llround(2.0 * pairs / mm - 1.0));
      const int64_t seqs = std::max<int64_t>(1, std::llround(mm / static_cast<double>(len)));
      p.sq = p.sk = len;
      p.batch_heads = op.batch * seqs;
    }
  }
  return p;
}

}  // namespace echosim::kernels
