#include "models/ops.h"

namespace echosim {

const char* DTypeName(DType d) {
  switch (d) {
    case DType::kBf16: return "bf16";
    case DType::kFp16: return "fp16";
    case DType::kFp8: return "fp8";
    case DType::kFp4: return "fp4";
  }
  return "?";
}

const char* OpClassName(OpClass c) {
  switch (c) {
    case OpClass::kGemm: return "gemm";
    case OpClass::kAttention: return "attention";
    case OpClass::kMemoryBound: return "memory_bound";
    case OpClass::kOptimizer: return "optimizer";
  }
  return "?";
}

const char* CollectiveKindName(CollectiveKind k) {
  switch (k) {
    case CollectiveKind::kAllReduce: return "all_reduce";
    case CollectiveKind::kAllGather: return "all_gather";
    case CollectiveKind::kReduceScatter: return "reduce_scatter";
    case CollectiveKind::kAllToAll: return "all_to_all";
    case CollectiveKind::kBroadcast: return "broadcast";
    case CollectiveKind::kSendRecv: return "send_recv";
  }
  return "?";
}

const char* GroupKindName(GroupKind g) {
  switch (g) {
    case GroupKind::kTp: return "tp";
    case GroupKind::kCp: return "cp";
    case GroupKind::kEp: return "ep";
    case GroupKind::kDp: return "dp";
    case GroupKind::kEdp: return "edp";
    case GroupKind::kPp: return "pp";
    case GroupKind::kNone: return "none";
  }
  return "?";
}

}  // namespace echosim
