// Serving scenarios: a Scenario (scenarios/schema/scenario.proto) whose workload is
// `serving` (scenarios/schema/serving.proto) <-> ServingConfig.
//
// The replica's GPU is cluster.gpu, its parallelism parallelism.tp / parallelism.pp, the
// seed the scenario's seed, network bandwidths cluster.network.nic_gbps / nvlink_gbps.
// Errors name the scenario field.
#ifndef ECHOSIM_SIMULATOR_SERVING_SERVING_SCENARIO_H_
#define ECHOSIM_SIMULATOR_SERVING_SERVING_SCENARIO_H_

#include "scenario.pb.h"
#include "simulator/core/status.h"
#include "simulator/serving/serving_config.h"

namespace echosim {

// Builds the (unresolved) config of a serving scenario; InvalidArgument when the scenario
// has no serving workload, names an unknown model / GPU / dtype, or sets training fields.
// A relative trace path (workload "trace:FILE") is taken relative to `base_dir` when given
// (the scenario file's folder).
StatusOr<ServingConfig> ServingConfigFromScenario(const scenario::Scenario& s,
                                                  const std::string& base_dir = "");
// Writes a resolved config's values back into `s` (the scenario.resolved.yaml of a run).
void FillResolvedServingScenario(const ServingConfig& c, scenario::Scenario* s);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SERVING_SERVING_SCENARIO_H_
