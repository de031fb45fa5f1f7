// TrainingCalibration: constants fitted on measured training step times, read from
// hardware/calibration/training.yaml (embedded). See that file for how they were fitted.
#ifndef ECHOSIM_HARDWARE_CALIBRATION_H_
#define ECHOSIM_HARDWARE_CALIBRATION_H_

#include <string>

#include "simulator/core/status.h"

namespace echosim {

struct TrainingCalibration {
  double compute_sustained_factor = 1.0;
  double host_overhead_per_step_ms = 0;
  std::string fitted_on;
  // Not fitted on step times: see training.yaml.
  double flex_dispatch_traffic_factor = 1.0;
};

StatusOr<TrainingCalibration> ParseTrainingCalibration(const std::string& text,
                                                       const std::string& source);
// The built-in calibration (hardware/calibration/training.yaml).
const TrainingCalibration& DefaultTrainingCalibration();

}  // namespace echosim

#endif  // ECHOSIM_HARDWARE_CALIBRATION_H_
