// The CUDA device the harness measures on: properties from the CUDA runtime, clocks and
// the driver version from NVML (libnvidia-ml.so.1, loaded with dlopen: no link dependency;
// without it the clocks are reported unknown).
//
// "locked" is a heuristic: an idle GPU whose clocks are not locked drops its SM clock far
// below the maximum (H100 idles at a few hundred MHz), so an idle SM clock above half the
// maximum means clocks were locked (nvidia-smi --lock-gpu-clocks). Sample it before work.
#ifndef ECHOSIM_KERNELS_HARNESS_DEVICE_INFO_H_
#define ECHOSIM_KERNELS_HARNESS_DEVICE_INFO_H_

#include <string>

#include "kernels/harness/calibration_yaml.h"

namespace echosim::kernels {

// Whether a CUDA device is usable; `why` says why not (driver missing, no device, ...).
bool HaveCudaDevice(std::string* why);
// Properties of device 0 and its clocks now (`idle`: sample taken before any work, which
// sets `locked`).
DeviceInfo QueryDevice(bool idle);
// Refreshes the current SM/memory clocks of `info` (after work).
void RefreshClocks(DeviceInfo* info);
std::string DeviceInfoJson(const DeviceInfo& d);
std::string DeviceInfoText(const DeviceInfo& d);
std::string NowUtcIso8601();

}  // namespace echosim::kernels

#endif  // ECHOSIM_KERNELS_HARNESS_DEVICE_INFO_H_
