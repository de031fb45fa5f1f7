// ComputeOp lines as the harness reads them, and which kernel runs each one.
//
// The simulator writes one ComputeOp per JSONL line (models/ops.h as JSON):
//   {"name":"attn.qkv.fwd","class":"gemm","dtype":"bf16","m":..,"n":..,"k":..,"batch":..,
//    "flops":..,"bytes":..}
// ParseOpLine validates a line completely (before any CUDA call) and names the line and the
// field on error. PlanOp maps a valid op onto the kernel that reproduces its work:
//   gemm          cuBLASLt, C[m,n] = A[m,k] B[k,n] x batch, in the op's dtype; with
//                 "concurrency": s, one GEMM per batch entry round-robin over s streams
//   attention     our flash attention: ".bwd" names run the backward, "attn.decode" the
//                 serving decode encoding (m sequences of one query each; the context per
//                 sequence is flops / (4 k batch m), models/inference_ops.cc), others the
//                 causal forward (n = 0: the prefill encoding; keys, or the number of
//                 sequences the m tokens form, derived from flops)
//   memory_bound  picked from the name (norm, activation, softmax, rope, embedding, else a
//                 copy) and sized so the kernel moves `bytes` of HBM traffic
//   optimizer     fused Adam over bytes / kAdamBytesPerParam parameters
#ifndef ECHOSIM_KERNELS_HARNESS_OP_SPEC_H_
#define ECHOSIM_KERNELS_HARNESS_OP_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "simulator/core/status.h"

namespace echosim::kernels {

enum class OpKind : uint8_t { kGemm, kAttention, kMemoryBound, kOptimizer };
enum class DataType : uint8_t { kBf16, kFp16, kFp8 };
const char* OpKindName(OpKind k);
const char* DataTypeName(DataType d);

// The most streams a grouped GEMM (OpSpec::concurrency) may be issued over.
constexpr int64_t kMaxGemmStreams = 64;

struct OpSpec {
  std::string name;
  OpKind kind = OpKind::kMemoryBound;
  DataType dtype = DataType::kBf16;
  int64_t m = 0, n = 0, k = 0, batch = 1;
  // gemm: 0 = one batched kernel; s > 0 = one GEMM per batch entry, round-robin over s
  // streams (a grouped GEMM as Transformer Engine's GroupedLinear issues it).
  int64_t concurrency = 0;
  double flops = 0, bytes = 0;
  int line = 0;                   // 1-based line of the input file (0: not from a file)
  nlohmann::ordered_json fields;  // the input line as given (echoed into the output)
};

// Parses and validates one JSONL line (1-based `line_no`, for messages).
StatusOr<OpSpec> ParseOpLine(const std::string& line, int line_no);
// Every non-empty line of a JSONL text; the first bad line's error names `source`:line.
StatusOr<std::vector<OpSpec>> ParseOpsText(const std::string& text, const std::string& source);
// The JSON object of an op (the canonical fields, in the contract's order).
nlohmann::ordered_json OpToJson(const OpSpec& op);

// The memory-bound kernels and the HBM bytes each moves per element it processes
// (bf16 storage, 2 bytes; fp32 where noted).
enum class MemKernel : uint8_t {
  kRmsNormFwd,    // read x, write y                        4 B/element
  kRmsNormBwd,    // read x, dy, write dx                   6
  kLayerNormFwd,  // 4
  kLayerNormBwd,  // 6
  kSoftmaxFwd,    // 4
  kSoftmaxBwd,    // read y, dy, write dx                   6
  kSwigluFwd,     // read gate, up, write out (per output)  6
  kSwigluBwd,     // read gate, up, dy, write dgate, dup    10
  kGeluFwd,       // 4
  kGeluBwd,       // 6
  kRopeFwd,       // 4
  kRopeBwd,       // 4
  kEmbeddingFwd,  // read table row, write out              4 (+4 B id per row)
  kCopy,          // 128-bit copy                           4
};
const char* MemKernelName(MemKernel k);
double MemKernelBytesPerElement(MemKernel k);
MemKernel MemKernelForName(const std::string& op_name);

// fp32 param, m, v, grad read (16 B), param, m, v written (12 B), bf16 weight written (2 B).
inline constexpr double kAdamBytesPerParam = 30.0;
// Row width the memory-bound kernels use when only bytes are known (a common hidden size).
inline constexpr int64_t kMemRowWidth = 4096;

enum class AttentionMode : uint8_t { kForward, kBackward, kDecode };
struct AttentionPlan {
  AttentionMode mode = AttentionMode::kForward;
  int64_t batch_heads = 1;  // independent (sequence, head) pairs
  int64_t sq = 1, sk = 1, d = 64;
};
StatusOr<AttentionPlan> PlanAttention(const OpSpec& op);

struct MemPlan {
  MemKernel kernel = MemKernel::kCopy;
  int64_t rows = 1, cols = kMemRowWidth;  // rows * cols elements
};
MemPlan PlanMemoryBound(const OpSpec& op);
int64_t AdamParams(const OpSpec& op);

}  // namespace echosim::kernels

#endif  // ECHOSIM_KERNELS_HARNESS_OP_SPEC_H_
