// TraceManifest: what `echosim trace` writes beside the per-rank traces (manifest.json).
//
//   {"format": "echosim-trace-set", "version": 1,
//    "world_size": 16,
//    "layout": {"tp": 2, "pp": 2, "dp": 4},                  (when given to echosim trace)
//    "gpu": "h100-sxm",                          (GPU the traces were recorded on, when known)
//    "traces": [{"rank": 0, "file": "trace.0.et", "stands_for": [0, 2, 4, 6]}, ...],
//    "communicators": [{"name": "c1", "ranks": [0, 1]}, ...],
//    "command": ["python", "train.py"]}
//
// `stands_for` lists the ranks that behave like the traced one and reuse its graph
// (every rank of the world appears in exactly one list). Communicator names match
// the `pg_name` attribute of the traces' collectives; `ranks` are global ranks in
// communicator-rank order. Errors name the file and the JSON field.
#ifndef ECHOSIM_TRACER_MANIFEST_H_
#define ECHOSIM_TRACER_MANIFEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "simulator/core/status.h"
#include "tracer/rank_trace.h"

namespace echosim {

struct TraceManifest {
  struct Entry {
    int64_t rank = 0;
    std::string file;  // relative to the manifest's folder
    std::vector<int64_t> stands_for;
    friend bool operator==(const Entry&, const Entry&) = default;
  };
  int64_t world_size = 0;
  int64_t tp = 0, pp = 0, dp = 0;  // layout; 0: not given
  std::string gpu;                 // GPU preset the traces were recorded on; empty: unknown
  std::vector<Entry> traces;
  std::vector<Communicator> communicators;
  std::vector<std::string> command;
  friend bool operator==(const TraceManifest&, const TraceManifest&) = default;
};

std::string ManifestToJson(const TraceManifest& m);
StatusOr<TraceManifest> ParseManifest(const std::string& text, const std::string& source);
StatusOr<TraceManifest> ReadManifest(const std::string& path);
// Checks ranks against the world size and that every rank is stood for exactly once.
Status ValidateManifest(const TraceManifest& m, const std::string& source);

}  // namespace echosim

#endif  // ECHOSIM_TRACER_MANIFEST_H_
