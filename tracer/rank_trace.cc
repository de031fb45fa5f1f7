#include "tracer/rank_trace.h"

#include "simulator/core/strings.h"

namespace echosim {

const char* TraceNodeKindName(TraceNodeKind k) {
  switch (k) {
    case TraceNodeKind::kCompute: return "compute";
    case TraceNodeKind::kMemory: return "memory";
    case TraceNodeKind::kCollective: return "collective";
    case TraceNodeKind::kSend: return "send";
    case TraceNodeKind::kRecv: return "recv";
  }
  return "?";
}

const char* ChakraCommTypeName(int32_t comm_type) {
  switch (static_cast<ChakraCommType>(comm_type)) {
    case ChakraCommType::kAllReduce: return "all_reduce";
    case ChakraCommType::kReduce: return "reduce";
    case ChakraCommType::kAllGather: return "all_gather";
    case ChakraCommType::kGather: return "gather";
    case ChakraCommType::kScatter: return "scatter";
    case ChakraCommType::kBroadcast: return "broadcast";
    case ChakraCommType::kAllToAll: return "all_to_all";
    case ChakraCommType::kReduceScatter: return "reduce_scatter";
    case ChakraCommType::kReduceScatterBlock: return "reduce_scatter_block";
    case ChakraCommType::kBarrier: return "barrier";
  }
  return "unknown";
}

StatusOr<CollectiveKind> CollectiveForChakra(int32_t comm_type) {
  switch (static_cast<ChakraCommType>(comm_type)) {
    case ChakraCommType::kAllReduce:
    case ChakraCommType::kBarrier: return CollectiveKind::kAllReduce;
    case ChakraCommType::kReduce:
    case ChakraCommType::kReduceScatter:
    case ChakraCommType::kReduceScatterBlock: return CollectiveKind::kReduceScatter;
    case ChakraCommType::kAllGather:
    case ChakraCommType::kGather:
    case ChakraCommType::kScatter: return CollectiveKind::kAllGather;
    case ChakraCommType::kBroadcast: return CollectiveKind::kBroadcast;
    case ChakraCommType::kAllToAll: return CollectiveKind::kAllToAll;
  }
  return InvalidArgument(StrCat("comm_type ", comm_type,
                                " is not a collective; valid: 0 all_reduce, 1 reduce, 2 "
                                "all_gather, 3 gather, 4 scatter, 5 broadcast, 6 all_to_all, 7 "
                                "reduce_scatter, 8 reduce_scatter_block, 9 barrier"));
}

int32_t RankTrace::InternCommunicator(const std::string& name) {
  for (size_t i = 0; i < communicators.size(); ++i) {
    if (communicators[i].name == name) return static_cast<int32_t>(i);
  }
  communicators.push_back(Communicator{name, {}});
  return static_cast<int32_t>(communicators.size() - 1);
}

}  // namespace echosim
