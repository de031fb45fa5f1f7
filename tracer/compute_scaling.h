// ComputeScaler: kernel durations recorded on one GPU -> durations on another GPU.
//
// A trace records how long each kernel took on the GPU it ran on. To simulate the job
// on a different GPU, each GPU compute kernel's duration is multiplied by
//
//   ratio = estimate(op, target GPU) / estimate(op, traced GPU)
//
// from the compute cost model (hardware/compute_cost_model.h), for an op of the kernel's
// class:
//   - class from the node's `op_class` attribute (echosim's exporter writes it), else
//     from the kernel name (ClassifyKernelName: cuBLAS/CUTLASS GEMMs, flash/fused
//     attention, optimizer kernels, elementwise / normalisation / reduction kernels);
//   - the op is sized so that its estimate on the traced GPU equals the recorded
//     duration (a square GEMM of side d, an attention kernel of F FLOP, a memory-bound
//     kernel of B bytes; found by bisection), so a short kernel scales like a short
//     kernel of its class (fixed launch cost, low GEMM efficiency) and a long one like
//     a long one.
// When the class is unknown (a name it does not recognise), or the cost model cannot
// reach the recorded duration on the traced GPU (a kernel slower than its class can
// be there), the ratio of the two GpuSpecs' throughputs for the class is used:
// bf16 peak x GEMM efficiency for GEMMs, bf16 peak x attention efficiency for
// attention, HBM bandwidth x memory efficiency for everything else (unknown kernels
// count as memory-bound: in framework traces most unnamed kernels are elementwise).
// Device-to-device copies and memsets scale with HBM bandwidth; host-device copies
// and host operations keep their durations. Summary() says, per class, how many
// kernels were scaled, by what overall ratio and how. Deterministic.
#ifndef ECHOSIM_TRACER_COMPUTE_SCALING_H_
#define ECHOSIM_TRACER_COMPUTE_SCALING_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "hardware/compute_cost_model.h"
#include "hardware/gpu_spec.h"
#include "tracer/rank_trace.h"

namespace echosim {

// The GPU preset for a CUDA device name as CUPTI / torch.profiler report it (e.g.
// "NVIDIA H100 80GB HBM3", "NVIDIA A100-PG509-200"); `memory_bytes` (0: unknown)
// tells the A100 40 GB from the 80 GB. Empty when no preset matches.
std::string GpuPresetForDevice(const std::string& device_name, double memory_bytes);

// Kernel class from a kernel name; nullopt when the name says nothing.
std::optional<OpClass> ClassifyKernelName(const std::string& name);
// "gemm", "attention", "memory_bound", "optimizer" -> OpClass; nullopt otherwise.
std::optional<OpClass> ParseOpClass(const std::string& name);

class ComputeScaler {
 public:
  ComputeScaler(const GpuSpec& traced, const GpuSpec& target);

  // Duration of `node` on the target GPU (its recorded duration on the traced one).
  Duration Scale(const TraceNode& node);
  const GpuSpec& traced() const { return traced_; }
  const GpuSpec& target() const { return target_; }
  // {"traced_gpu", "target_gpu", "classes": {class: {"kernels", "traced_s", "scaled_s",
  //  "ratio", "method"}}, "unscaled": {"kernels", "s"}}
  nlohmann::json Summary() const;

 private:
  struct Stats {
    uint64_t kernels = 0;
    Duration traced = 0, scaled = 0;
    uint64_t by_model = 0, by_spec = 0;
  };
  // Ratio for a kernel of class `c` lasting `d` on the traced GPU (memoised).
  double ModelRatio(OpClass c, Duration d, bool* by_model);
  double SpecRatio(OpClass c) const;

  GpuSpec traced_, target_;
  ComputeCostModel traced_model_, target_model_;
  std::map<std::pair<int, int64_t>, std::pair<double, bool>> memo_;
  std::map<std::string, Stats> stats_;  // by class name ("unknown" for unrecognised)
  Stats unscaled_;
};

}  // namespace echosim

#endif  // ECHOSIM_TRACER_COMPUTE_SCALING_H_
