// Validation of the expert-parallel token dispatch against published kernel timings.
//
// The Megatron-Core MoE report (NVIDIA, "Scalable Training of Mixture-of-Experts Models with
// Megatron Core", arXiv 2603.07685, Table 7) times one dispatch and one combine of a
// DeepSeek-V3-sized MoE layer (hidden 7168, 4096 tokens per GPU, 256 experts) on GB200 and
// H100 for EP 8 to 64, with HybridEP (the flex dispatcher) and with an NCCL all-to-all. Each
// cell is rebuilt here as a one-layer training step on that cluster (GB200: one NVLink domain
// of EP GPUs; H100: 8-GPU nodes, EP 16 and up across nodes) and the simulated dispatch and
// combine are compared with the published microseconds.
//
// The report does not state the router; the cells are simulated with DeepSeek-V3's: top-8 of
// the experts of 4 of 8 groups (node-limited routing), picks uniform (balanced), in BF16 (the
// combine, always 16-bit, takes as long as the dispatch in every cell). Under unlimited top-8
// routing the EP 64 cells would need more than the 400 Gb/s NIC's line rate across nodes.
#ifndef ECHOSIM_SIMULATOR_VALIDATION_EP_DISPATCH_H_
#define ECHOSIM_SIMULATOR_VALIDATION_EP_DISPATCH_H_

#include <string>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {

struct EpDispatchCell {
  const char* gpu;    // echosim GPU preset
  int ep;             // EP group size (= GPUs)
  const char* op;     // "dispatch" or "combine"
  bool flex;          // HybridEP (echosim's flex dispatcher), else NCCL all-to-all
  double measured_us;
};

// The 32 published cells (Table 7).
const std::vector<EpDispatchCell>& EpDispatchCells();

struct EpDispatchResult {
  EpDispatchCell cell;
  double predicted_us = 0;
  double error = 0;           // predicted / measured - 1
  bool cross_domain = false;  // the EP group spans more than one NVLink domain
};

// Simulates every cell (in the order of EpDispatchCells()) with the given
// simulation.flex_dispatch_traffic_factor (0: the calibration's).
StatusOr<std::vector<EpDispatchResult>> ValidateEpDispatch(double flex_traffic_factor = 0);

// The flex dispatcher's traffic factor that the cells call for: the median of measured /
// predicted over the HybridEP cells inside one NVLink domain (the factor scales only those),
// from results simulated at factor 1. This is the fit recorded in
// hardware/calibration/training.yaml.
double FitFlexTrafficFactor(const std::vector<EpDispatchResult>& at_factor_one);

// A table of the cells with a summary: median |error| per dispatcher, single-domain and
// cross-domain cells apart.
// `fitted`: FitFlexTrafficFactor's value, shown beside the shipped one.
std::string EpDispatchText(const std::vector<EpDispatchResult>& results, double fitted);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_VALIDATION_EP_DISPATCH_H_
