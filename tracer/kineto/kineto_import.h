// Kineto (PyTorch profiler) JSON -> one rank's RankTrace.
//
// Reads the Chrome-trace JSON torch.profiler writes (object form with
// "traceEvents", or a bare event list; gzip accepted) and keeps what the GPU did:
//   kernel / gpu_memcpy / gpu_memset events   -> GPU ops on args.stream, launch order from
//                                                args.correlation
//   cuda_runtime / cuda_driver events        -> API calls (host gaps, see activity_log.h)
//   cuda_sync events ("Stream Wait Event",   -> cross-stream waits and host waits
//     "Event Sync", "Stream Sync", "Context Sync"; args.wait_on_stream and
//     args.wait_on_cuda_event_record_corr_id name where the event was recorded)
//   NCCL kernels (ncclKernel_* / ncclDevKernel_*) -> collectives with their arguments:
//     "Collective name", "In msg nelems"/"Out msg nelems", "dtype", "Process Group
//     Name"/"Process Group Ranks", from the kernel or from the record_param_comms op
//     with the same "External id"; bytes follow the nccl-tests convention (all-gather:
//     output, others: input). NCCL send/recv kernels name no peer in Kineto and stay
//     GPU compute ops with their measured time.
// distributedInfo gives the rank, world size and communicators (pg_config). CPU ops,
// annotations and flow events are not needed for the GPU graph and are skipped.
// Errors name the source and the event index (traceEvents[i]) and, for invalid JSON,
// the line and column.
#ifndef ECHOSIM_TRACER_KINETO_KINETO_IMPORT_H_
#define ECHOSIM_TRACER_KINETO_KINETO_IMPORT_H_

#include <string>
#include <string_view>

#include "simulator/core/status.h"
#include "tracer/activity_log.h"
#include "tracer/rank_trace.h"

namespace echosim {

// Parses Kineto JSON text into an activity log (no graph yet). `rank` is used when
// the trace has no distributedInfo.rank (-1: 0).
StatusOr<ActivityLog> ParseKinetoJson(std::string_view text, const std::string& source,
                                      int64_t rank);
// Reads a file (plain or gzip) and builds its RankTrace.
StatusOr<RankTrace> ReadKinetoFile(const std::string& path, int64_t rank,
                                   const ActivityOptions& options = {});

}  // namespace echosim

#endif  // ECHOSIM_TRACER_KINETO_KINETO_IMPORT_H_
