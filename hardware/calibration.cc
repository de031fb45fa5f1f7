#include "hardware/calibration.h"

#include <yaml-cpp/yaml.h>

#include "simulator/core/embedded_data.h"
#include "simulator/core/strings.h"
#include "simulator/core/yaml_load.h"

namespace echosim {

StatusOr<TrainingCalibration> ParseTrainingCalibration(const std::string& text,
                                                       const std::string& source) {
  ECHOSIM_ASSIGN_OR_RETURN(const YAML::Node doc, LoadYamlMap(text, source, "must be a YAML map"));
  TrainingCalibration c;
  for (const auto& kv : doc) {
    const int line = kv.first.Mark().line + 1;
    if (!kv.first.IsScalar()) {
      return InvalidArgument(StrCat(source, ":", line, ": a field name must be a plain word"));
    }
    const std::string key = kv.first.as<std::string>();
    try {
      if (key == "compute_sustained_factor") {
        c.compute_sustained_factor = kv.second.as<double>();
      } else if (key == "host_overhead_per_step_ms") {
        c.host_overhead_per_step_ms = kv.second.as<double>();
      } else if (key == "fitted_on") {
        c.fitted_on = kv.second.as<std::string>();
      } else if (key == "flex_dispatch_traffic_factor") {
        c.flex_dispatch_traffic_factor = kv.second.as<double>();
      } else {
        return InvalidArgument(StrCat(source, ":", line, ": unknown field '", key,
                                      "'; valid fields: compute_sustained_factor, "
                                      "host_overhead_per_step_ms, fitted_on, "
                                      "flex_dispatch_traffic_factor"));
      }
    } catch (const YAML::Exception&) {
      return InvalidArgument(StrCat(source, ":", line, ": field '", key, "': bad value"));
    }
  }
  if (!(c.compute_sustained_factor > 0 && c.compute_sustained_factor <= 1.5)) {
    return InvalidArgument(StrCat(source, ": compute_sustained_factor must be in (0, 1.5]"));
  }
  if (!(c.host_overhead_per_step_ms >= 0)) {
    return InvalidArgument(StrCat(source, ": host_overhead_per_step_ms must be >= 0"));
  }
  if (!(c.flex_dispatch_traffic_factor > 0 && c.flex_dispatch_traffic_factor <= 2)) {
    return InvalidArgument(StrCat(source, ": flex_dispatch_traffic_factor must be in (0, 2], got ",
                                  c.flex_dispatch_traffic_factor));
  }
  return c;
}

const TrainingCalibration& DefaultTrainingCalibration() {
  static const TrainingCalibration* cal = [] {
    for (const EmbeddedFile& f : EmbeddedFilesUnder("hardware/calibration/training.yaml")) {
      auto c = ParseTrainingCalibration(std::string(f.contents), std::string(f.path));
      ECHOSIM_CHECK_MSG(c.ok(), c.status().ToString());
      return new TrainingCalibration(*c);
    }
    return new TrainingCalibration();
  }();
  return *cal;
}

}  // namespace echosim
