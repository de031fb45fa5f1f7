// The calibrated host (CPU) time of one serving iteration.
//
// What it models: everything an inference engine's step spends outside GPU kernels and that
// the GPU does not hide: scheduling, building the batch's input tensors and block tables,
// launching the forward pass, sampling bookkeeping and detokenising/streaming outputs. It is
// a fixed part per iteration plus a part per sequence in the batch:
//   cpu_overhead = cpu_overhead_per_iteration_us + cpu_overhead_per_seq_us * seqs.
// Source: fitted on the measured vLLM results in
// ../shared/data/measured/serving/serving_vllm_trtllm_benchmarks.csv (the rows echosim can
// represent; `echosim validate-serving` lists them), by grid search minimising the sum of
// squared log errors of output throughput and median TPOT over all rows (per-iteration step
// 0.5 ms, per-sequence step 5 us). The validation command reports every row predicted with
// constants fitted on the other rows only (leave-one-out), and a test fails if a refit on all
// rows moves away from the values below.
#ifndef ECHOSIM_SIMULATOR_SERVING_SERVING_CALIBRATION_H_
#define ECHOSIM_SIMULATOR_SERVING_SERVING_CALIBRATION_H_

namespace echosim {

struct ServingCalibration {
  double cpu_overhead_per_iteration_us = 0;
  double cpu_overhead_per_seq_us = 0;
  const char* fitted_on = "";
};

inline const ServingCalibration& DefaultServingCalibration() {
  static const ServingCalibration kCalibration = {
      /*cpu_overhead_per_iteration_us=*/3000.0,
      /*cpu_overhead_per_seq_us=*/20.0,
      /*fitted_on=*/"vLLM v0.5.4 / v0.6.0 rows of serving_vllm_trtllm_benchmarks.csv",
  };
  return kCalibration;
}

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SERVING_SERVING_CALIBRATION_H_
