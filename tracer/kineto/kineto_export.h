// Kineto-layout JSON of a simulated timeline: one file per simulated rank, laid out as
// torch.profiler (Kineto) writes traces, so tools made for those (HolisticTraceAnalysis,
// Perfetto, TensorBoard's profiler plugin) read echosim's predictions.
//
// Per rank (`rank<r>.json`):
//   top level: "schemaVersion": 1, "deviceProperties" (the GPU), "distributedInfo"
//     {"backend": "nccl", "rank", "world_size", "pg_count", "pg_config": [{"pg_name",
//     "pg_desc", "backend_config", "pg_size", "ranks"}]}, "traceEvents",
//     "displayTimeUnit": "ms", "baseTimeNanoseconds";
//   GPU work: "kernel" events on pid 0 (the device), tid = CUDA stream id, with args
//     "device", "context", "stream", "correlation", "External id", "grid", "block";
//     memory operations as "gpu_memcpy" / "gpu_memset";
//   collectives and transfers: NCCL kernels named as NCCL 2.19+ names them
//     (ncclDevKernel_AllReduce_Sum_bf16_RING_LL, ncclDevKernel_SendRecv, ...) with args
//     "Collective name", "In msg nelems", "Out msg nelems", "Group size", "dtype",
//     "In split size", "Out split size", "Process Group Name", "Process Group
//     Description", "Process Group Ranks";
//   host side: a "cuda_runtime" cudaLaunchKernel (or cudaMemcpyAsync / cudaMemsetAsync)
//     event per GPU operation, ending before it starts, with the same "correlation",
//     and an "ac2g" flow pair (ph "s" at the launch, ph "f" at the kernel) as Kineto
//     links them; host delays as "cpu_op" events on a second host thread; one
//     "ProfilerStep#<n>" user annotation spanning the step.
// Timestamps are microseconds (picosecond digits kept) from a fixed origin; output is
// byte-identical across runs.
#ifndef ECHOSIM_TRACER_KINETO_KINETO_EXPORT_H_
#define ECHOSIM_TRACER_KINETO_KINETO_EXPORT_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "simulator/core/status.h"
#include "simulator/graph/execution_graph.h"
#include "simulator/graph/executor.h"

namespace echosim {

enum class KinetoOpKind : uint8_t { kKernel, kMemcpy, kMemset, kHost };

struct KinetoCommunicator {
  std::string name;   // "Process Group Name"
  std::string desc;   // "Process Group Description" (e.g. "tp")
  std::vector<int64_t> ranks;
};

struct KinetoRankTimeline {
  int64_t rank = 0;
  int64_t world_size = 1;
  const ExecutionGraph* graph = nullptr;
  const std::vector<Span>* spans = nullptr;
  std::string device_name;           // deviceProperties[0].name
  double device_memory_bytes = 0;
  int sm_arch = 0;                   // compute capability x10
  std::string dtype = "BFloat16";    // element type of collectives
  int64_t dtype_bytes = 2;
  int64_t step = 0;                  // ProfilerStep#<step>
  // Communicator of a collective node (index into `communicators`); empty or -1: none.
  std::function<int32_t(NodeId)> communicator;
  std::vector<KinetoCommunicator> communicators;
  // What a node is; empty: kDelay nodes are host work, everything else a kernel.
  std::function<KinetoOpKind(NodeId)> kind;
};

void WriteKinetoTrace(const KinetoRankTimeline& t, std::ostream& out);
// Writes DIR/rank<r>.json for every rank (creates DIR).
Status WriteKinetoDir(const std::vector<KinetoRankTimeline>& ranks, const std::string& dir);

}  // namespace echosim

#endif  // ECHOSIM_TRACER_KINETO_KINETO_EXPORT_H_
