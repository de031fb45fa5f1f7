// Fitting an NcclCalibration on measured collective times (least squares with Eigen).
//
// For every measured sample (collective, ranks, nodes, bytes, time) the uncalibrated model gives
// NCCL's choice and its decomposition (NcclDecision). The calibrated time is linear in the
// parameters of nccl_calibration.h once the pipeline knee is fixed:
//   t = t_lat + T * (rho[d][p] + drho[d][f][p]) + kappa[d][p] * T / ring_steps
//       + phi[d][p] * T * min(S, knee) / S + launch[p] + dlaunch[f][p]
//       + intra_steps * step_intra[p] + inter_steps * step_inter[p]
// with efficiency = 1 / (rho + drho). Each row is divided by the measured time (relative
// error) and weighted by 1/tol^2, tol = 0.10 from 64 MiB, 0.25 from 1 MiB, 1 below (the
// accuracy targets). Ridge terms pull rho to 1 (NCCL's model) and the rest to 0; the
// per-family deltas are pulled hardest, so a family keeps the protocol value unless the data
// single it out. kappa, phi, launch and the per-step latencies are kept >= 0 (active set).
// The knee is chosen on a grid (none, 1 MiB .. 8 GiB in powers of two) by the smallest
// worst-case tolerance-scaled error. Deterministic: fixed parameter order, no randomness.
#ifndef ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_CALIBRATION_FIT_H_
#define ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_CALIBRATION_FIT_H_

#include <string>
#include <vector>

#include "simulator/core/status.h"
#include "simulator/network/nccl/nccl_calibration.h"
#include "simulator/network/nccl/nccl_model.h"

namespace echosim {

struct CollectiveSample {
  NcclCollective collective = NcclCollective::kAllReduce;
  int64_t ranks = 1;
  int64_t nodes = 1;
  double bytes = 0;
  double time_us = 0;  // measured
  std::string source;  // "file:line" for reports
};

struct SampleResult {
  CollectiveSample sample;
  NcclDecision decision;
  double predicted_us = 0;
  // predicted / measured bus bandwidth - 1 (= measured time / predicted time - 1).
  double error = 0;
  double MeasuredBusBwGBps() const;
  double PredictedBusBwGBps() const;
};

struct NcclFitOptions {
  double min_bytes = 64 * 1024.0;  // smaller samples are reported but not fitted
};

struct NcclFitResult {
  NcclCalibration calibration;  // name/description/etc. left for the caller
  std::vector<SampleResult> results;
};

// `model` supplies the cluster and NCCL version (its calibration is ignored for the fit).
StatusOr<NcclFitResult> FitNcclCalibration(const NcclModel& model, const std::vector<CollectiveSample>& samples,
                                           const NcclFitOptions& options = {});
// Predictions of `calibration` on `samples`.
StatusOr<std::vector<SampleResult>> EvaluateNcclCalibration(const NcclModel& model, const NcclCalibration& calibration,
                                                            const std::vector<CollectiveSample>& samples);
// Worst |error| from 1 MiB and from 64 MiB, RMS error, over samples >= min_bytes.
NcclFitSummary SummarizeResults(const std::vector<SampleResult>& results, double min_bytes);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_CALIBRATION_FIT_H_
