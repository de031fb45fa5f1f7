// NcclCalibration: how a real system departs from NCCL's own model, as effective parameters
// fitted on measurements (nccl-tests logs, Vidur CSVs, published tables) and stored in
// hardware/calibration/nccl-*.yaml.
//
// NCCL's tuner picks the algorithm and protocol with its own constants (nccl_model.h); the time
// that choice takes on a real machine is then
//   time = latency + bandwidth_time
//   latency = NCCL's latency + launch[p] + family_launch[f][p]
//             + intra_steps * per_intra_step[p] + inter_steps * per_inter_step[p]
//   bandwidth_time = T / efficiency[d][f][p] + rank_share[d][p] * T / ring_steps
//                    + fill[d][p] * T * min(S, knee) / S
// where T = S / NCCL's algorithm bandwidth formula evaluated on the links' real speeds (NCCL
// evaluates it on the quantised rungs of its search ladder, which decides its choice but not the
// hardware's speed; NcclGraph::Physical), with Tree's size correction; p the protocol, f the
// algorithm family (ring, tree, nvls, collnet, pat, p2p), d the link domain (intra: one node,
// inter: several). Meaning of the terms:
//   efficiency  achieved / NCCL-modelled bandwidth (NCCL's per-link speeds are already ~80% of
//               the datasheet; NVLS often beats NCCL's model, NICs often fall short of it)
//   rank_share  a cost per byte of one ring step (S/n): local reduction and copies that do not
//               shrink as rings grow; it is what makes 2-GPU rings slower per byte than 8-GPU ones
//   fill        pipeline fill: below `knee` bytes the channels' chunks are not full, so bytes
//               cost (1 + fill) times more; above it the fill cost stays fixed
//   launch / per-step latency: kernel launch, flag synchronisation and network posting that
//               NCCL's latency table leaves out
// With every term at its default (efficiency 1, the rest 0) the model is NCCL's own latency and
// bandwidth formulas on unquantised link speeds.
#ifndef ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_CALIBRATION_H_
#define ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_CALIBRATION_H_

#include <array>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "simulator/core/status.h"
#include "simulator/network/nccl/nccl_types.h"

namespace echosim {

enum class NcclDomain : uint8_t { kIntra, kInter };
inline constexpr int kNumNcclDomains = 2;
const char* NcclDomainName(NcclDomain d);  // "intra", "inter"

// One collective as NCCL would run it, with the quantities the calibration needs.
struct NcclDecision {
  NcclCollective collective = NcclCollective::kAllReduce;
  NcclAlgorithm algorithm = NcclAlgorithm::kRing;  // meaningless when family == kP2p
  NcclProtocol protocol = NcclProtocol::kSimple;
  NcclFamily family = NcclFamily::kRing;
  NcclDomain domain = NcclDomain::kIntra;
  int ranks = 1;
  int nodes = 1;
  int channels = 0;
  double bytes = 0;
  double nccl_latency_us = 0;         // NCCL's modelled latency (ring plateau factor included)
  double nccl_bandwidth_time_us = 0;  // bytes / NCCL's algorithm bandwidth (Tree correction included)
  // The same on the graph's real link speeds (NCCL's speeds are rungs of its search ladder).
  double physical_bandwidth_time_us = 0;
  int intra_steps = 0;
  int inter_steps = 0;
  int ring_steps = 1;  // steps of a ring doing this collective (>= 1)
  double NcclTimeUs() const { return nccl_latency_us + nccl_bandwidth_time_us; }
  std::string AlgorithmName() const;  // "p2p" for the point-to-point family
};

struct NcclFitSummary {
  int points = 0;
  double min_bytes = 0;
  double max_error_from_1mib = 0;  // |predicted/measured bus bandwidth - 1|
  double max_error_from_64mib = 0;
  double rms_error = 0;
};

struct NcclCalibration {
  using Protocols = std::array<double, kNumNcclProtocols>;
  using ByDomain = std::array<Protocols, kNumNcclDomains>;

  std::string name;  // file stem, e.g. "nccl-echo-a100"
  std::string description;
  std::string nccl_version;  // the NCCL version whose choices the fit assumed
  std::vector<std::string> default_for_gpus;
  std::string system;  // the cluster it was fitted on (free text)
  std::vector<std::string> fitted_on;
  NcclFitSummary fit;

  ByDomain efficiency = {{{1, 1, 1}, {1, 1, 1}}};
  std::map<std::tuple<NcclDomain, NcclFamily, NcclProtocol>, double> family_efficiency;
  ByDomain rank_share = {};
  ByDomain fill = {};
  double knee_bytes = 0;  // 0: no pipeline-fill term
  Protocols launch_us = {};
  Protocols per_intra_step_us = {};
  Protocols per_inter_step_us = {};
  std::map<std::pair<NcclFamily, NcclProtocol>, double> family_launch_us;

  double Efficiency(NcclDomain d, NcclFamily f, NcclProtocol p) const;
  double LatencyUs(const NcclDecision& d) const;
  double BandwidthTimeUs(const NcclDecision& d) const;
  double TimeUs(const NcclDecision& d) const { return LatencyUs(d) + BandwidthTimeUs(d); }
  bool IsIdentity() const;
};

StatusOr<NcclCalibration> ParseNcclCalibrationYaml(const std::string& text, const std::string& source);
// Deterministic YAML (fixed key order, 6 significant digits); `header` is written as comments.
std::string NcclCalibrationToYaml(const NcclCalibration& cal, const std::string& header);
// Reads `path` from disk; a path relative to the repository (hardware/calibration/nccl-x.yaml)
// that is not on disk is looked up among the embedded data files.
StatusOr<NcclCalibration> LoadNcclCalibration(const std::string& path);
// The embedded calibration whose default_for_gpus lists `gpu`; NotFound when none does.
StatusOr<NcclCalibration> DefaultNcclCalibration(const std::string& gpu);
std::vector<std::string> EmbeddedNcclCalibrations();  // paths

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_CALIBRATION_H_
