// libFuzzer target for the data-file parsers (model presets, GPU specs, calibration):
// any input must give a value or a Status, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "hardware/calibration.h"
#include "hardware/gpu_spec.h"
#include "models/model_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto m = echosim::ParseModelYaml(text, "fuzz.yaml");
  if (m.ok()) {
    // A valid model has consistent derived quantities.
    if (m->TotalParams() <= 0) __builtin_trap();
  }
  (void)echosim::ParseGpuYaml(text, "fuzz.yaml");
  (void)echosim::ParseTrainingCalibration(text, "fuzz.yaml");
  return 0;
}
