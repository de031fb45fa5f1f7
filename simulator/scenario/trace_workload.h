// Trace workloads in scenarios, and exports of simulated training steps.
//
// RunTraceScenario: a scenario whose workload is `trace` (scenario.proto TraceWorkload;
// `echosim run --trace DIR`) simulates a traced, imported or exported step on the
// scenario's cluster (tracer/trace_set.h):
//   - world: cluster.gpus (default: the traced world); GPUs per node, NVLink and NIC
//     bandwidths and latencies, oversubscription from cluster.*;
//   - collectives and transfers re-timed by the scenario's collective model
//     (cluster.network.collective_model: the NCCL model by default, as training uses);
//   - compute durations scaled from the trace's GPU (workload.trace.gpu, else the
//     trace's metadata) to cluster.gpu by tracer/compute_scaling.h; the summary says how
//     ("compute_scaling"); when the trace's GPU is unknown durations are kept and the
//     summary says so;
//   - ranks without a trace rebuilt from the manifest (who stands for whom).
//   - compute/communication interference as in training (simulation.interference,
//     default on), kernel classes from the export's op_class or the kernel names.
// Not modelled on this path: flow-level link contention (simulation.contention).
//
// Exports of a training run: ExportTrainingChakra writes Chakra ET (one file per
// pipeline stage with the manifest saying which ranks each stands for, or one per rank
// with `full`); WriteTrainingKineto / WriteTraceKineto write Kineto-layout JSON per
// simulated rank (tracer/kineto/kineto_export.h).
#ifndef ECHOSIM_SIMULATOR_SCENARIO_TRACE_WORKLOAD_H_
#define ECHOSIM_SIMULATOR_SCENARIO_TRACE_WORKLOAD_H_

#include <nlohmann/json.hpp>
#include <string>

#include "scenario.pb.h"
#include "simulator/core/status.h"
#include "simulator/scenario/simulation.h"
#include "tracer/manifest.h"
#include "tracer/trace_set.h"

namespace echosim {

struct TraceRun {
  scenario::Scenario resolved;
  TraceSet set;
  TraceSimResult result;
  std::string traced_gpu;          // preset the trace's durations are for; empty: unknown
  std::string traced_gpu_from;     // "workload.trace.gpu", "trace metadata" or ""
  nlohmann::json compute_scaling;  // ComputeScaler::Summary(), or why nothing was scaled
};

// Resolves the cluster (cluster.gpus defaults to the traced world) and simulates.
StatusOr<TraceRun> RunTraceScenario(scenario::Scenario s);
// summary.json of a trace run: TraceSimJson plus scenario, gpu, format, source,
// traced_gpu, collective_model, compute_scaling.
nlohmann::json TraceRunSummaryJson(const TraceRun& run);
std::string TraceRunSummaryTable(const TraceRun& run);

// Chakra ET of a training run into DIR (prefix "trace"); one file per pipeline stage
// (the manifest lists the ranks each stands for) or, with `full`, per rank.
StatusOr<TraceManifest> ExportTrainingChakra(const TrainingRun& run, const std::string& dir, bool full);
// Kineto-layout JSON (DIR/rank<r>.json) of the recorded ranks of a training run.
Status WriteTrainingKineto(const TrainingRun& run, const std::string& dir);
// Kineto-layout JSON of the simulated ranks of a trace set.
Status WriteTraceKineto(const TraceSet& set, const TraceSimResult& result, const std::string& gpu,
                        const std::string& dir);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SCENARIO_TRACE_WORKLOAD_H_
