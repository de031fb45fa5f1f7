// The scenario facade: a Scenario (YAML file or CLI flags) in, results out.
//
// ResolveScenario() is the one place defaults are applied: after it every field
// the simulator reads is set explicitly, so the resolved scenario reproduces the run.
// Every error names the scenario field (and the CLI flag where one exists).
#ifndef ECHOSIM_SIMULATOR_SCENARIO_SIMULATION_H_
#define ECHOSIM_SIMULATOR_SCENARIO_SIMULATION_H_

#include <nlohmann/json.hpp>
#include <string>

#include "models/model_spec.h"
#include "scenario.pb.h"
#include "simulator/core/status.h"
#include "policies/plan_search.h"
#include "simulator/training/training_step.h"

namespace echosim {

// Reads a scenario file (YAML or JSON); errors name the file and line.
StatusOr<scenario::Scenario> LoadScenarioFile(const std::string& path);
// Fills every default in place; validates names (model, GPU, dtype, recompute, ...).
Status ResolveScenario(scenario::Scenario* s);
// Fills the cluster's defaults (cluster.*) in place and validates them; ResolveScenario
// calls it, and so do workloads other than training (trace_workload.h).
Status ResolveCluster(scenario::Scenario* s);
// Writes a model's shape as the scenario's workload.training.shape. Without every_field it
// writes what the shape uses (the resolved scenario's form: no MoE, MLA, MTP, head-dim or
// window fields on a model without them); with every_field it also writes those as set,
// zeros included. Zero still means "the preset's" for head_dim and the window fields,
// tied_embeddings false does not untie a tied preset, and the Mamba-2 fields are written only
// for a hybrid model: applied to the preset the shape came from (or to "custom"), the result
// resolves to the same shape.
void WriteModelShape(const ModelSpec& m, bool every_field, scenario::ModelShape* out);
// Builds the training setup from a resolved scenario.
StatusOr<TrainingSetup> MakeTrainingSetup(const scenario::Scenario& resolved);

// Writes into `space` the plan search's job as `setup` states it (GPUs, batch, sequence,
// precision, memory, and the choices every plan keeps: gradient and weight precision,
// offloading, optimizer, pipeline split flags), leaving its candidate lists as they are. An
// error when the setup fixes what the search explores (a pipeline layout).
Status SetPlanSearchJob(const TrainingSetup& setup, PlanSearchSpace* space);
// Resolves and simulates.
struct TrainingRun {
  scenario::Scenario resolved;
  TrainingSetup setup;
  StepResult result;
  // simulation.compute_backend gpu: the device measured and where the kernel times came from.
  std::string measured_device;
  int64_t kernel_shapes = 0, kernels_measured = 0, kernels_from_cache = 0;
};
StatusOr<TrainingRun> RunTrainingScenario(scenario::Scenario s);

// The summary object (the CLI's --json output and summary.json).
nlohmann::json SummaryJson(const TrainingRun& run);
// A short human-readable table.
std::string SummaryTable(const TrainingRun& run);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SCENARIO_SIMULATION_H_
