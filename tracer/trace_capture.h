// What `echosim trace` does around the traced program: choose the ranks to run, and
// turn the capture libraries' files of each run into a Chakra trace plus the manifest.
//
// Rank selection (SelectTracedRanks), with a layout tp x pp x dp (Megatron-LM order,
// tp fastest, rank = tp_i + tp * (dp_i + dp * pp_i)):
//   auto   per pipeline stage, the rank with tp_i = 0, dp_i = 0, standing for every rank
//          of the stage with tp_i = 0; and when tp > 1, the rank with tp_i = 1, dp_i = 0,
//          standing for the stage's other tensor-parallel ranks. The two roles differ in
//          Megatron-style programs (tensor-parallel rank 0 loads the batch and broadcasts
//          it); data-parallel replicas run the same graph. 2 * pp traces at most.
//   list   each listed rank stands for itself; every other rank is stood for by the
//          listed rank of the same stage and role, else of the same stage, else by the
//          lowest listed rank (without a layout: by the lowest listed rank).
#ifndef ECHOSIM_TRACER_TRACE_CAPTURE_H_
#define ECHOSIM_TRACER_TRACE_CAPTURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "simulator/core/status.h"
#include "tracer/activity_log.h"
#include "tracer/capture_merge.h"
#include "tracer/manifest.h"

namespace echosim {

struct TracedRank {
  int64_t rank = 0;
  std::vector<int64_t> stands_for;  // ascending, includes `rank`
};

// `spec` is "auto" or a comma-separated rank list; `layout` may be null (then "auto"
// traces rank 0 for everyone). Errors name the flag (--ranks, --tp/--pp/--dp).
StatusOr<std::vector<TracedRank>> SelectTracedRanks(int64_t world_size, const std::string& spec,
                                                    const Layout* layout);

struct AssembleOptions {
  std::string raw_dir;   // where the capture libraries wrote activity.<r>.tsv / nccl.<r>.tsv
  std::string out_dir;   // where trace.<r>.et and manifest.json go
  std::string prefix = "trace";
  int64_t world_size = 0;
  const Layout* layout = nullptr;
  std::vector<std::string> command;
  ActivityOptions activity;
  std::string gpu;       // GPU preset the traces were recorded on (manifest and metadata); may be empty
};

// Builds one rank's trace from its capture files (either may be missing, not both).
// Communicator names are taken from `names` (members -> name), adding new ones.
StatusOr<RankTrace> AssembleRank(const AssembleOptions& o, int64_t rank,
                                 std::vector<Communicator>* names);

// Assembles every traced rank, writes prefix.<rank>.et and manifest.json, and returns
// the manifest.
StatusOr<TraceManifest> AssembleTraceSet(const AssembleOptions& o,
                                         const std::vector<TracedRank>& ranks);

}  // namespace echosim

#endif  // ECHOSIM_TRACER_TRACE_CAPTURE_H_
