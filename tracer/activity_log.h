// ActivityLog: what a CUDA program did on one rank, as CUPTI or a profiler records it,
// and its conversion into a RankTrace.
//
// Both capture paths fill an ActivityLog: echosim's CUPTI injection library (through
// the activity file it writes, plus the NCCL shim's call records) and PyTorch's
// profiler (Kineto JSON). BuildRankTrace then derives one rank's graph:
//
// - GPU work (kernels, memcpys, memsets, collectives) runs on its CUDA stream in
//   launch order (CUPTI correlation ids increase in the order calls are made).
// - Host gaps: each thread that launches GPU work gets a host stream "host <tid>";
//   before each launch or synchronisation call sits a host node lasting the time since
//   the thread's previous such call began (or, after a synchronisation, ended: the
//   wait itself is reproduced by dependencies, not by a duration). A GPU op depends on
//   its launch's host node, so launch-bound phases stay launch-bound.
// - Synchronisation: cudaStreamWaitEvent makes the next op on the waiting stream
//   depend on the last op launched on the event's stream before the event was recorded;
//   stream, event and device synchronisation make the host wait for that work.
// - Collectives from the NCCL shim (or NCCL kernels in a Kineto trace) become
//   collective / send / receive nodes on their stream; GPU work the shim launched
//   itself (the copies that keep results valid) is dropped. Operations of one NCCL
//   group (ncclGroupStart/End) run side by side on "<stream> group lane k" streams
//   between the work before and after the group on their stream, as NCCL fuses them.
// Timestamps are nanoseconds (host and device clocks as CUPTI reports them).
#ifndef ECHOSIM_TRACER_ACTIVITY_LOG_H_
#define ECHOSIM_TRACER_ACTIVITY_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "simulator/core/status.h"
#include "tracer/rank_trace.h"

namespace echosim {

struct ApiCall {
  uint64_t correlation = 0;
  std::string name;      // e.g. cudaLaunchKernel
  int64_t thread = 0;
  int64_t start_ns = 0, end_ns = 0;
};

enum class GpuOpKind : uint8_t { kKernel, kMemcpy, kMemset };

struct GpuOp {
  GpuOpKind kind = GpuOpKind::kKernel;
  uint64_t correlation = 0;  // of the launching API call
  int64_t stream = 0;
  int64_t start_ns = 0, end_ns = 0;
  std::string name;
  int64_t bytes = 0;         // memcpy / memset
};

// cudaEventRecord: event `event_id` captured the work launched on `stream` so far.
struct EventRecord {
  uint64_t correlation = 0;
  int64_t stream = 0;
  uint64_t event_id = 0;
};

enum class SyncKind : uint8_t { kEventSync, kStreamWaitEvent, kStreamSync, kContextSync };

struct SyncRecord {
  SyncKind kind = SyncKind::kStreamSync;
  uint64_t correlation = 0;
  int64_t stream = -1;          // waiting stream (wait event) or synchronised stream
  uint64_t event_id = 0;        // event waited on (event sync, wait event)
  // Where the event was recorded, when the recorder knows it (Kineto does); else
  // looked up in the EventRecords by event id.
  int64_t wait_on_stream = -1;
  int64_t record_correlation = -1;
  int64_t start_ns = 0, end_ns = 0;
};

// One communication call (NCCL shim record merged with the tracer's marks, or an
// NCCL kernel of a Kineto trace).
struct CommCall {
  uint64_t seq = 0;              // order of calls on the rank
  TraceNodeKind kind = TraceNodeKind::kCollective;
  int32_t comm_type = 0;         // ChakraCommType of a collective
  int64_t bytes = 0;             // nccl-tests size convention
  int32_t communicator = -1;     // index into ActivityLog::communicators
  int64_t peer = -1;             // send/recv: global rank
  int64_t stream = 0;
  // Launch position: the call comes after every API call with a correlation id up to
  // `launch_correlation` (and before later ones).
  uint64_t launch_correlation = 0;
  // API calls made inside the shim for this call (their GPU work is dropped).
  uint64_t first_inner_correlation = 0, last_inner_correlation = 0;
  int64_t thread = -1;           // launching thread (-1: unknown)
  int64_t host_ns = -1;          // host time of the call (-1: unknown)
  int64_t group = 0;             // NCCL group the call belongs to (0: none)
  int64_t duration_ns = -1;      // measured duration (Kineto NCCL kernels); -1: none
  std::string name;
};

struct ActivityLog {
  int64_t rank = 0;
  int64_t world_size = 0;
  std::string source;
  std::string device_name;        // e.g. "NVIDIA H100 80GB HBM3"; empty: not recorded
  double device_memory_bytes = 0; // total memory of that device; 0: not recorded
  std::vector<Communicator> communicators;
  std::vector<ApiCall> api_calls;
  std::vector<GpuOp> gpu_ops;
  std::vector<EventRecord> events;
  std::vector<SyncRecord> syncs;
  std::vector<CommCall> comms;
};

struct ActivityOptions {
  // Model host gaps (host streams). Off: GPU work depends only on stream order,
  // waits and collectives.
  bool host_gaps = true;
  // Without stream-wait records (older PyTorch profilers), a collective waits for the
  // work launched before it on the other streams (ProcessGroupNCCL makes its stream
  // wait on the caller's current stream before each collective).
  bool collectives_wait_on_launch = true;
};

// Builds the RankTrace of one rank. The result is deterministic for a given log.
StatusOr<RankTrace> BuildRankTrace(const ActivityLog& log, const ActivityOptions& options);

}  // namespace echosim

#endif  // ECHOSIM_TRACER_ACTIVITY_LOG_H_
