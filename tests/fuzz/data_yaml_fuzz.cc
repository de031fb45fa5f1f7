// libFuzzer target for the data-file parsers (model presets, GPU specs, calibration, kernel
// calibration and the harness's JSONL): any input must give a value or a Status, never a
// crash or a hang. A kernel calibration that parses is also fitted.
#include <cstddef>
#include <cstdint>
#include <string>

#include "hardware/calibration.h"
#include "hardware/gpu_spec.h"
#include "hardware/kernel_calibration.h"
#include "hardware/kernel_harness.h"
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
  auto k = echosim::ParseKernelCalibration(text, "fuzz.yaml");
  if (k.ok() && k->samples.size() <= 64) {
    static const echosim::GpuSpec gpu = *echosim::FindGpuPreset("h100-sxm");
    const echosim::FittedComputeParams p = echosim::FitKernelSamples(gpu, k->samples);
    for (const echosim::KernelSample& s : k->samples) {
      const double t = echosim::RooflineSeconds(gpu, p, s.op);
      if (t < 0) __builtin_trap();
    }
  }
  (void)echosim::ParseMeasuredJsonl(text, "fuzz.jsonl");
  return 0;
}
