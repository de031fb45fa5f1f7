// Device properties through the CUDA runtime and NVML via dlopen (see device_info.h).
#include "kernels/harness/device_info.h"

#include <cuda_runtime.h>
#include <dlfcn.h>

#include <ctime>

#include <nlohmann/json.hpp>

#include "kernels/cuda/cuda_check.h"
#include "simulator/core/strings.h"

namespace echosim::kernels {
namespace {

// The few NVML entry points used, declared from NVML's documented C API (nvml.h):
// return 0 is NVML_SUCCESS; clock types NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2.
using NvmlDevice = struct NvmlDeviceOpaque*;
constexpr int kNvmlClockSm = 1, kNvmlClockMem = 2;
struct Nvml {
  int (*init)() = nullptr;
  int (*by_pci)(const char*, NvmlDevice*) = nullptr;
  int (*clock)(NvmlDevice, int, unsigned*) = nullptr;
  int (*max_clock)(NvmlDevice, int, unsigned*) = nullptr;
  int (*driver)(char*, unsigned) = nullptr;
  bool ok = false;
};

const Nvml& LoadNvml() {
  static Nvml n = [] {
    Nvml x;
    void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return x;
    x.init = reinterpret_cast<int (*)()>(dlsym(lib, "nvmlInit_v2"));
    x.by_pci = reinterpret_cast<int (*)(const char*, NvmlDevice*)>(dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2"));
    x.clock = reinterpret_cast<int (*)(NvmlDevice, int, unsigned*)>(dlsym(lib, "nvmlDeviceGetClockInfo"));
    x.max_clock = reinterpret_cast<int (*)(NvmlDevice, int, unsigned*)>(dlsym(lib, "nvmlDeviceGetMaxClockInfo"));
    x.driver = reinterpret_cast<int (*)(char*, unsigned)>(dlsym(lib, "nvmlSystemGetDriverVersion"));
    x.ok = x.init && x.by_pci && x.clock && x.max_clock && x.driver && x.init() == 0;
    return x;
  }();
  return n;
}

bool NvmlDeviceHandle(NvmlDevice* dev) {
  const Nvml& n = LoadNvml();
  if (!n.ok) return false;
  char bus[64] = {};
  if (cudaDeviceGetPCIBusId(bus, sizeof(bus), 0) != cudaSuccess) return false;
  return n.by_pci(bus, dev) == 0;
}

std::string VersionText(int v) { return StrCat(v / 1000, ".", (v % 1000) / 10); }

}  // namespace

bool HaveCudaDevice(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    *why = cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky error
    return false;
  }
  if (count == 0) {
    *why = "the CUDA runtime sees no device";
    return false;
  }
  return true;
}

void RefreshClocks(DeviceInfo* d) {
  NvmlDevice dev;
  if (!NvmlDeviceHandle(&dev)) return;
  const Nvml& n = LoadNvml();
  unsigned sm = 0, mem = 0, max_sm = 0;
  if (n.clock(dev, kNvmlClockSm, &sm) != 0 || n.clock(dev, kNvmlClockMem, &mem) != 0 ||
      n.max_clock(dev, kNvmlClockSm, &max_sm) != 0) {
    return;
  }
  d->clocks_known = true;
  d->sm_mhz = static_cast<int>(sm);
  d->mem_mhz = static_cast<int>(mem);
  d->max_sm_mhz = static_cast<int>(max_sm);
}

DeviceInfo QueryDevice(bool idle) {
  DeviceInfo d;
  cudaDeviceProp prop{};
  ECHOSIM_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  d.name = prop.name;
  d.cc_major = prop.major;
  d.cc_minor = prop.minor;
  d.sm_count = prop.multiProcessorCount;
  d.memory_bytes = static_cast<int64_t>(prop.totalGlobalMem);
  int rt = 0, drv = 0;
  ECHOSIM_CUDA_CHECK(cudaRuntimeGetVersion(&rt));
  ECHOSIM_CUDA_CHECK(cudaDriverGetVersion(&drv));
  d.cuda_runtime_version = VersionText(rt);
  d.driver_version = StrCat("CUDA driver API ", VersionText(drv));
  const Nvml& n = LoadNvml();
  char buf[96] = {};
  if (n.ok && n.driver(buf, sizeof(buf)) == 0) d.driver_version = buf;
  RefreshClocks(&d);
  if (idle && d.clocks_known && d.max_sm_mhz > 0) d.locked = d.sm_mhz * 2 > d.max_sm_mhz;
  return d;
}

std::string DeviceInfoJson(const DeviceInfo& d) {
  nlohmann::ordered_json j;
  j["device"] = d.name;
  j["compute_capability"] = StrCat(d.cc_major, ".", d.cc_minor);
  j["sm_count"] = d.sm_count;
  j["memory_bytes"] = d.memory_bytes;
  j["driver_version"] = d.driver_version;
  j["cuda_runtime_version"] = d.cuda_runtime_version;
  if (d.clocks_known) {
    j["clocks"] = {{"sm_mhz", d.sm_mhz}, {"max_sm_mhz", d.max_sm_mhz}, {"mem_mhz", d.mem_mhz}, {"locked", d.locked}};
  } else {
    j["clocks"] = {{"known", false}};
  }
  return j.dump();
}

std::string DeviceInfoText(const DeviceInfo& d) {
  std::string s = StrCat("device: ", d.name, "\ncompute capability: ", d.cc_major, ".", d.cc_minor,
                         "\nSM count: ", d.sm_count, "\nmemory: ", d.memory_bytes / (1 << 20), " MiB",
                         "\ndriver: ", d.driver_version, "\nCUDA runtime: ", d.cuda_runtime_version, "\n");
  if (d.clocks_known) {
    s += StrCat("clocks: SM ", d.sm_mhz, " MHz (max ", d.max_sm_mhz, "), memory ", d.mem_mhz, " MHz, ",
                d.locked ? "look locked" : "do not look locked", "\n");
  } else {
    s += "clocks: unknown (libnvidia-ml.so.1 not loadable)\n";
  }
  return s;
}

std::string NowUtcIso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace echosim::kernels
