// Operators of a training step, as the simulator sees them.
//
// A ComputeOp is one GPU kernel (or a fused group) with the shape facts a cost
// model needs: GEMM dimensions, FLOPs and bytes moved. A CommOp is a collective
// or point-to-point transfer on one of the parallel groups. Both are plain data.
#ifndef ECHOSIM_MODELS_OPS_H_
#define ECHOSIM_MODELS_OPS_H_

#include <cstdint>
#include <string>

namespace echosim {

// kFp4: NVFP4 (4-bit E2M1 values, block scales) GEMMs, Blackwell only.
enum class DType : uint8_t { kBf16, kFp16, kFp8, kFp4 };
constexpr int kNumDTypes = 4;
const char* DTypeName(DType d);
// Bytes per element of activations/weights as stored for compute (fp8 GEMM inputs are
// 1 byte; activations between kernels stay 2 bytes, as Transformer Engine keeps them).
inline int ActivationBytes(DType) { return 2; }

enum class OpClass : uint8_t {
  kGemm,         // dense matmul (batch > 1: batched / grouped GEMM)
  kAttention,    // fused (flash) attention kernel, forward or backward
  kMemoryBound,  // elementwise / normalisation / softmax / embedding: bytes dominate
  kOptimizer,    // optimizer step over a parameter shard (memory bound)
};
const char* OpClassName(OpClass c);

struct ComputeOp {
  std::string name;       // e.g. "qkv.fwd", "attn.bwd", "mlp.fc1.dgrad"
  OpClass cls = OpClass::kMemoryBound;
  DType dtype = DType::kBf16;
  int64_t m = 0, n = 0, k = 0;  // GEMM dims (C[m,n] = A[m,k] B[k,n]); 0 for non-GEMMs
  int64_t batch = 1;            // batched GEMM count
  // GEMMs of a batched op in flight at once: 0 = all of them (one batched kernel); k > 0 =
  // one kernel per GEMM, k streams (a grouped GEMM issued GEMM by GEMM: its fill and launch
  // costs are those of k GEMMs at a time, not of one kernel of the whole batch).
  int64_t concurrency = 0;
  double flops = 0;             // floating-point operations of the op
  double bytes = 0;             // HBM bytes read + written
  bool recompute = false;       // part of activation recomputation (hardware FLOPs, not model FLOPs)
  // Mamba-2's chunked scan, a GEMM-class op priced by the rate measured for that kernel as a
  // whole (GpuSpec::mamba_scan_efficiency) instead of the GEMM size curve of its tiles.
  bool chunked_scan = false;
  // Flash attention with attention dropout (a Philox random number per score): the kernel runs
  // below its no-dropout rate (AttentionDropoutRate).
  bool dropout = false;
  // A GEMM on MXFP8 operands (an e8m0 scale per 32 elements along k): priced at the fp8 rate
  // times kBlockScaledGemmTimeRatio (hardware/kernel_calibration.h). An fp8 attention kernel
  // on MXFP8 operands: priced at GpuSpec::attention_mxfp8_speedup_*.
  bool block_scaled = false;
  // Flash attention over a sliding window of this many keys per query (0 = none): priced at
  // WindowedAttentionRate of the causal kernel's rate (hardware/kernel_calibration.h). The
  // window also shows in `flops` (only the scored pairs count).
  int64_t attention_window = 0;
  // A weight-gradient GEMM (a linear layer's dW = x^T dy): dropped when the weights are frozen
  // (LayerContext::lora_rank > 0).
  bool weight_grad = false;
};

enum class CollectiveKind : uint8_t {
  kAllReduce,
  kAllGather,
  kReduceScatter,
  kAllToAll,
  kBroadcast,
  kSendRecv,
};
const char* CollectiveKindName(CollectiveKind k);

// The parallel group a communication op runs on.
// kEdp (expert data parallel): the ranks holding the same experts, over which expert
// gradients are reduced and expert optimizer state is sharded.
enum class GroupKind : uint8_t { kTp, kCp, kEp, kDp, kPp, kNone, kEdp };
constexpr int kNumGroupKinds = 7;
const char* GroupKindName(GroupKind g);

struct CommOp {
  std::string name;  // e.g. "tp.allgather.qkv"
  CollectiveKind kind = CollectiveKind::kAllReduce;
  GroupKind group = GroupKind::kTp;
  // Size of the full buffer in bytes (nccl-tests convention: for all_gather the
  // gathered output, for reduce_scatter the input, for all_reduce the buffer).
  double bytes = 0;
  // Runs beside the GEMM that follows it whatever the TP-overlap setting (an asynchronous
  // all-gather the framework always overlaps: the backward re-gather of a sequence-parallel
  // GEMM input for the weight gradient, beside the data-gradient GEMM).
  bool overlaps_next_gemm = false;
};

}  // namespace echosim

#endif  // ECHOSIM_MODELS_OPS_H_
