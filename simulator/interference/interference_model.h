// InterferenceModel: how compute and communication kernels slow each other down when
// they run at the same time on one GPU.
//
// A communication kernel occupies one SM per channel (NCCL runs one thread block per
// channel) and moves data through HBM; a compute kernel beside it loses those SMs and a
// share of memory bandwidth. The model (rates are fractions of the stand-alone speed):
//   compute rate  = 1 / (1 + a_class * channels / sm_count + b_class)   while comm runs
//   comm rate     = 1 / (1 + comm_slowdown)                             while compute runs
// a_class = 1 is pure SM loss for a compute-bound kernel (it keeps sm_count - channels
// SMs); b_class is the contention for L2 and HBM that remains at zero channels.
// Parameters per kernel class live in hardware/calibration/interference.yaml with their
// source; FitInterference() refits them (least squares, Eigen) from measured slowdowns,
// the table the kernels harness writes (class, channels, slowdown).
#ifndef ECHOSIM_SIMULATOR_INTERFERENCE_INTERFERENCE_MODEL_H_
#define ECHOSIM_SIMULATOR_INTERFERENCE_INTERFERENCE_MODEL_H_

#include <map>
#include <string>
#include <vector>

#include "models/ops.h"
#include "simulator/graph/executor.h"
#include "simulator/core/status.h"

namespace echosim {

struct InterferenceParams {
  // Indexed by OpClass: kGemm, kAttention, kMemoryBound, kOptimizer.
  double a[4] = {1.0, 1.0, 0.5, 0.5};
  double b[4] = {0.0, 0.0, 0.0, 0.0};
  double comm_slowdown = 0.0;
  std::map<std::string, int> sm_count;  // per GPU preset name
  std::string source;
};

class InterferenceModel : public KernelInterference {
 public:
  InterferenceModel(InterferenceParams params, int sm_count)
      : p_(std::move(params)), sm_count_(sm_count) {}
  // Rate of a compute kernel of class `cls` while `channels` communication channels run.
  double ComputeRate(OpClass cls, int channels) const override {
    if (channels <= 0) return 1.0;
    const int c = static_cast<int>(cls);
    return 1.0 / (1.0 + p_.a[c] * channels / static_cast<double>(sm_count_) + p_.b[c]);
  }
  // Rate of a communication kernel while compute runs beside it.
  double CommRate(bool compute_running) const override {
    return compute_running ? 1.0 / (1.0 + p_.comm_slowdown) : 1.0;
  }
  const InterferenceParams& params() const { return p_; }

 private:
  InterferenceParams p_;
  int sm_count_;
};

StatusOr<InterferenceParams> ParseInterferenceYaml(const std::string& text, const std::string& source);
// The built-in parameters (hardware/calibration/interference.yaml).
const InterferenceParams& DefaultInterferenceParams();
// SMs of a GPU preset, from the parameters' table; NotFound names the valid GPUs.
StatusOr<int> SmCount(const InterferenceParams& p, const std::string& gpu);

struct InterferenceSample {
  OpClass cls;
  int channels;
  double slowdown;  // stand-alone time / time measured beside communication, minus 1 = s
  int sm_count;
};
// Least-squares fit of (a, b) per class present in `samples` (slowdown - 1 = a c/SMs + b);
// classes without samples keep `prior`'s values. Needs two distinct channel counts per class.
StatusOr<InterferenceParams> FitInterference(const std::vector<InterferenceSample>& samples,
                                             const InterferenceParams& prior);
// Reads a measured table: CSV with header class,channels,sm_count,slowdown (class names as
// OpClassName: gemm, attention, memory_bound, optimizer). Errors name the line.
StatusOr<std::vector<InterferenceSample>> ReadInterferenceCsv(const std::string& text,
                                                               const std::string& source);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_INTERFERENCE_INTERFERENCE_MODEL_H_
