// The files the capture libraries write, one line per record (header-only, no
// dependencies: the NCCL shim and the CUPTI injection library include it too).
//
// Thread ids are gettid() values (the CUPTI library sets CUPTI's thread-id type to
// the system one). Both are text, tab-separated, one record per line, names last (kernel names contain
// spaces but never tabs or newlines; any that did are replaced by spaces). Times are
// nanoseconds of CLOCK_MONOTONIC_RAW: the CUPTI library registers that clock as
// CUPTI's timestamp source, and the shim reads the same clock, so the two files
// share one time base.
//
// ECHOSIM_TRACE_DIR/nccl.<rank>.tsv, written by the NCCL shim at exit:
//   echosim-nccl <version> <rank> <world_size>
//   M <comm> <nranks> <comm_rank> <parent> <color> <key> <how> <device>
//       a communicator: id (per process, from 1), size, this rank's position, parent
//       communicator (0: none), split colour and key, how it was made (init_rank,
//       init_rank_config, init_all, split), CUDA device
//       (nranks 0: not known, as after ncclCommSplit; the layout then decides)
//   O <seq> <comm> <op> <dtype> <count> <peer_or_root> <stream> <group> <begin_ns> <end_ns> <thread>
//       an operation: launch sequence number, communicator, op (all_reduce, all_gather,
//       reduce_scatter, broadcast, reduce, all_to_all, send, recv, gather, scatter),
//       ncclDataType_t, element count as passed to NCCL, peer (send/recv) or root (-1),
//       cudaStream_t value, NCCL group it was issued in (0: none), host time when the
//       call began and returned, thread id (gettid)
//
// ECHOSIM_TRACE_DIR/activity.<rank>.tsv, written by the CUPTI library at exit (holding the
// capture window's records when ECHOSIM_TRACE_ITERS selects one):
//   echosim-activity <version> <rank> <world_size>
//   A <corr> <thread> <start_ns> <end_ns> <name>           runtime / driver API call
//   K <corr> <stream> <start_ns> <end_ns> <name>           kernel
//   C <corr> <stream> <start_ns> <end_ns> <bytes> <kind>   memcpy (CUPTI copy kind)
//   S <corr> <stream> <start_ns> <end_ns> <bytes>          memset
//   E <corr> <stream> <event_id>                           cudaEventRecord
//   Y <corr> <type> <stream> <event_id> <start_ns> <end_ns>
//       synchronisation; type as CUpti_ActivitySynchronizationType (1 event synchronize,
//       2 stream wait event, 3 stream synchronize, 4 context synchronize)
//   N <seq> <stream>
//       an NCCL call the shim announced inside the capture window, with the CUPTI id of
//       its stream (API calls the shim made itself are those of its thread between the
//       call's begin and end times)
//   D <dropped_records>                                    records CUPTI dropped
#ifndef ECHOSIM_TRACER_CAPTURE_FORMAT_H_
#define ECHOSIM_TRACER_CAPTURE_FORMAT_H_

#include <cstdint>
#include <cstdio>
#include <string>

namespace echosim {

inline constexpr int kCaptureFormatVersion = 1;

// Appends `s` with tabs and line breaks replaced by spaces.
inline void AppendField(std::string* out, const char* s) {
  for (; s != nullptr && *s != '\0'; ++s) {
    out->push_back(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
  }
}

inline void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v));
  out->append(buf);
}

inline void AppendUint(std::string* out, uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(v));
  out->append(buf);
}

}  // namespace echosim

#endif  // ECHOSIM_TRACER_CAPTURE_FORMAT_H_
