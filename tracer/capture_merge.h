// Reading the capture libraries' files (capture_format.h) and merging them into one
// rank's ActivityLog: the CUPTI activity records plus the NCCL shim's calls, each call
// placed in its stream's launch order.
//
// Placement of an NCCL call: by host time (both files use one clock), after every API
// call that started before the call began; API calls of the call's thread between its
// begin and end are the shim's own (their GPU work, the copies that keep results
// valid, is dropped). Its stream is the CUPTI stream id from the CUPTI library's mark
// for the call; without marks (the shim ran alone, or the CUPTI library did not find
// its hook) a stream numbered from the cudaStream_t value. When marks exist, calls
// without one fell outside the capture window and are dropped; without marks, calls
// outside the recorded API activity are.
//
// Communicator members (ResolveCommunicators): NCCL tells a process only its own
// position in a communicator, so members are inferred, in this order:
//   - size equal to the world: all ranks; size 1: the rank itself;
//   - with a layout (tp, pp, dp; ranks as Megatron-LM orders them, tp fastest): the
//     tensor-, data- or pipeline-parallel group of the rank whose size matches and in
//     which the rank sits at the recorded position (kinds not yet used by an earlier
//     communicator of the same size first, then tp, dp, pp);
//   - otherwise a contiguous block of ranks holding the rank at its position.
// Errors name the file and line.
#ifndef ECHOSIM_TRACER_CAPTURE_MERGE_H_
#define ECHOSIM_TRACER_CAPTURE_MERGE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/core/status.h"
#include "tracer/activity_log.h"

namespace echosim {

struct NcclCommRecord {
  uint64_t id = 0;
  int64_t nranks = 1;
  int64_t comm_rank = 0;
  uint64_t parent = 0;
  int64_t color = 0, key = 0;
  std::string how;
  int64_t device = 0;
};

struct NcclOpRecord {
  uint64_t seq = 0;
  uint64_t comm = 0;
  std::string op;
  int64_t dtype = 0;
  uint64_t count = 0;
  int64_t peer_or_root = -1;
  uint64_t stream = 0;
  int64_t group = 0;
  int64_t begin_ns = 0, end_ns = 0;
  int64_t thread = 0;
};

struct NcclCallLog {
  int64_t rank = 0;
  int64_t world_size = 0;
  std::string source;
  std::vector<NcclCommRecord> comms;
  std::vector<NcclOpRecord> ops;
};

struct NcclMark {
  uint64_t seq = 0;
  int64_t stream = 0;  // CUPTI stream id
};

struct ActivityCapture {
  ActivityLog log;  // api_calls, gpu_ops, events, syncs
  std::vector<NcclMark> marks;
  uint64_t dropped_records = 0;
};

StatusOr<NcclCallLog> ParseNcclCallLog(std::string_view text, const std::string& source);
StatusOr<ActivityCapture> ParseActivityCapture(std::string_view text, const std::string& source);
// Writes a log in the shim's format (the shim writes the same lines; used by tests and tools).
std::string FormatNcclCallLog(const NcclCallLog& log);

struct Layout {
  int64_t tp = 1, pp = 1, dp = 1;
};
// Global members of each communicator of `log`, in communicator-rank order, in the
// order of log.comms. `layout` may be null.
StatusOr<std::vector<std::vector<int64_t>>> ResolveCommunicators(const NcclCallLog& log,
                                                                 const Layout* layout);

// Merges the two files of one rank (either may be null, not both). `communicators`
// gives each NCCL communicator (in log.comms order) its name and members.
StatusOr<ActivityLog> MergeCapture(const ActivityCapture* activity, const NcclCallLog* nccl,
                                   const std::vector<Communicator>& communicators);

// Bytes per element of an ncclDataType_t; 0 if unknown.
int64_t NcclDtypeBytes(int64_t dtype);

}  // namespace echosim

#endif  // ECHOSIM_TRACER_CAPTURE_MERGE_H_
