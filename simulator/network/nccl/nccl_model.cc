#include "simulator/network/nccl/nccl_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "simulator/core/strings.h"
#include "simulator/network/nccl/algorithms.h"

namespace echosim {
namespace {

int Log2Floor(double bytes_over_64) {
  if (bytes_over_64 < 1) return -1;
  return static_cast<int>(std::floor(std::log2(bytes_over_64) + 1e-12));
}

int RingSteps(NcclCollective c, int n) {
  switch (c) {
    case NcclCollective::kAllReduce:
      return std::max(1, 2 * (n - 1));
    case NcclCollective::kAllGather:
    case NcclCollective::kReduceScatter:
    case NcclCollective::kAllToAll:
      return std::max(1, n - 1);
    case NcclCollective::kBroadcast:
    case NcclCollective::kReduce:
      return std::max(1, n);
    case NcclCollective::kSendRecv:
      return 1;
  }
  return 1;
}

bool IsP2p(NcclCollective c) { return c == NcclCollective::kAllToAll || c == NcclCollective::kSendRecv; }

// ncclTopoGetAlgoTime: NCCL's time for one (algorithm, protocol), with the Tree size correction
// and the ring plateau factor. Returns latency and bandwidth parts separately.
void NcclTimeParts(const NcclConstants& c, const NcclComm& m, NcclCollective coll, NcclAlgorithm a, NcclProtocol p,
                   const AlgorithmCost& cost, double bytes, double* latency_us, double* bandwidth_us,
                   double* physical_bandwidth_us) {
  double lat = cost.latency_us;
  double bw = cost.alg_bw_GBps;
  double corr = 1.0;
  const int log_size = Log2Floor(bytes / 64.0);
  const std::vector<double>& tcf = c.tree_correction[static_cast<int>(p)];
  if (a == NcclAlgorithm::kTree && coll == NcclCollective::kAllReduce && log_size >= 0 && log_size < 23 &&
      log_size < static_cast<int>(tcf.size())) {
    corr = tcf[log_size];
  }
  if (a == NcclAlgorithm::kNvlsTree && coll == NcclCollective::kAllReduce && c.formula_generation >= 230 &&
      m.arch >= NcclArch::kBlackwell && log_size >= 0 && log_size < 24 && log_size < static_cast<int>(tcf.size())) {
    corr = tcf[log_size];
  }
  bw *= corr;
  if (a == NcclAlgorithm::kRing && p == NcclProtocol::kSimple && m.nodes > 1 && coll == NcclCollective::kAllReduce &&
      cost.channels > 0 && bytes / (static_cast<double>(cost.channels) * m.ranks) >= 64) {
    lat *= m.sm_arch >= 80 ? c.ring_plateau_factor : c.ring_plateau_factor_pre_sm80;
  }
  *latency_us = lat;
  *bandwidth_us = bytes / (1000.0 * bw);
  const double phys = cost.physical_alg_bw_GBps > 0 ? cost.physical_alg_bw_GBps : cost.alg_bw_GBps;
  *physical_bandwidth_us = bytes / (1000.0 * phys * corr);
}

}  // namespace

StatusOr<NcclHardware> HardwareFromPreset(const GpuSpec& gpu, const TopologyConfig& topo) {
  if (gpu.sm_arch <= 0) {
    return InvalidArgument(StrCat("gpu '", gpu.name, "': no sm_arch (CUDA compute capability x10) in its preset; ",
                                  "add it to hardware/gpus/", gpu.name, ".yaml"));
  }
  if (topo.gpus < 1) return InvalidArgument(StrCat("gpus must be at least 1, got ", topo.gpus));
  if (topo.gpus_per_node < 1)
    return InvalidArgument(StrCat("gpus_per_node must be at least 1, got ", topo.gpus_per_node));
  if (topo.gpus > topo.gpus_per_node && topo.gpus % topo.gpus_per_node != 0) {
    return InvalidArgument(StrCat("gpus (", topo.gpus, ") is not a multiple of gpus_per_node (", topo.gpus_per_node,
                                  "): the cluster would have a partial node"));
  }
  if (!(topo.nic_bytes_per_s > 0))
    return InvalidArgument(StrCat("NIC bandwidth must be positive, got ", topo.nic_bytes_per_s, " B/s"));
  if (!(topo.nvlink_bytes_per_s > 0) && gpu.nvlink_links > 0) {
    return InvalidArgument(StrCat("NVLink bandwidth must be positive, got ", topo.nvlink_bytes_per_s, " B/s"));
  }
  NcclHardware hw;
  hw.sm_arch = gpu.sm_arch;
  hw.nvlink_links = gpu.nvlink_links;
  hw.nvswitch = gpu.nvswitch;
  hw.pcie_gen = gpu.pcie_gen > 0 ? gpu.pcie_gen : 4;
  hw.gpus_per_node = static_cast<int>(std::min<int64_t>(topo.gpus_per_node, 1 << 20));
  hw.nics_per_node = hw.gpus_per_node;
  const double nic_eff = gpu.nic_efficiency > 0 ? gpu.nic_efficiency : 1.0;
  hw.nic_GBps = topo.nic_bytes_per_s / nic_eff / 1e9;
  if (gpu.nvlink_gbps > 0 && gpu.nvlink_links > 0) {
    const double nvl_eff = gpu.nvlink_efficiency > 0 ? gpu.nvlink_efficiency : 1.0;
    hw.nvlink_scale = (topo.nvlink_bytes_per_s / nvl_eff) / (gpu.nvlink_gbps / 8.0 * 1e9);
    hw.nvlink_GBps = topo.nvlink_bytes_per_s / nvl_eff / 1e9;
  }
  return hw;
}

StatusOr<NcclModel> NcclModel::FromHardware(const NcclHardware& hw, int64_t cluster_gpus, const std::string& version,
                                            NcclCalibration calibration) {
  ECHOSIM_ASSIGN_OR_RETURN(NcclConstants constants, FindNcclConstants(version));
  if (cluster_gpus < 1) return InvalidArgument(StrCat("gpus must be at least 1, got ", cluster_gpus));
  if (hw.gpus_per_node < 1) return InvalidArgument(StrCat("gpus_per_node must be at least 1, got ", hw.gpus_per_node));
  if (!(hw.nic_GBps > 0)) return InvalidArgument(StrCat("NIC bandwidth must be positive, got ", hw.nic_GBps, " GB/s"));
  if (!(hw.nvlink_scale > 0)) return InvalidArgument("NVLink bandwidth must be positive");
  NcclModel m;
  m.constants_ = std::move(constants);
  m.calibration_ = std::move(calibration);
  m.hardware_ = hw;
  m.cluster_gpus_ = cluster_gpus;
  return m;
}

StatusOr<NcclModel> NcclModel::CreateWithCalibration(const GpuSpec& gpu, const TopologyConfig& topo,
                                                     const std::string& version, NcclCalibration calibration) {
  ECHOSIM_ASSIGN_OR_RETURN(NcclHardware hw, HardwareFromPreset(gpu, topo));
  return FromHardware(hw, topo.gpus, version, std::move(calibration));
}

StatusOr<NcclModel> NcclModel::Create(const GpuSpec& gpu, const TopologyConfig& topo, const std::string& version,
                                      const std::string& calibration_path) {
  NcclCalibration cal;
  cal.name = "nccl-model-only";
  if (!calibration_path.empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(cal, LoadNcclCalibration(calibration_path));
  } else {
    auto def = DefaultNcclCalibration(gpu.name);
    if (def.ok()) {
      cal = std::move(*def);
    } else if (def.status().code() != StatusCode::kNotFound) {
      return def.status();
    }
  }
  return CreateWithCalibration(gpu, topo, version, std::move(cal));
}

StatusOr<NcclComm> NcclModel::Communicator(const GroupShape& group) const {
  if (group.size < 1) return InvalidArgument(StrCat("group size must be at least 1, got ", group.size));
  if (group.nodes < 1) return InvalidArgument(StrCat("group must span at least 1 node, got ", group.nodes));
  if (group.size > cluster_gpus_) {
    return InvalidArgument(
        StrCat("group of ", group.size, " GPUs is larger than the cluster (", cluster_gpus_, " GPUs)"));
  }
  const int64_t cluster_nodes = (cluster_gpus_ + hardware_.gpus_per_node - 1) / hardware_.gpus_per_node;
  if (group.nodes > cluster_nodes) {
    return InvalidArgument(StrCat("group spans ", group.nodes, " nodes but the cluster has ", cluster_nodes));
  }
  if (group.nodes > group.size || group.size % group.nodes != 0) {
    return InvalidArgument(StrCat("group of ", group.size, " GPUs over ", group.nodes,
                                  " nodes is not uniform (the same number of GPUs on every node)"));
  }
  if (group.size / group.nodes > hardware_.gpus_per_node) {
    return InvalidArgument(
        StrCat("group puts ", group.size / group.nodes, " GPUs on each node but nodes have ", hardware_.gpus_per_node));
  }
  return BuildNcclComm(hardware_, constants_, group.size, group.nodes);
}

StatusOr<NcclDecision> NcclModel::Decide(NcclCollective coll, double bytes, const GroupShape& group,
                                         const std::string& algorithm_override,
                                         const std::string& protocol_override) const {
  if (!(bytes > 0) || !std::isfinite(bytes)) {
    return InvalidArgument(StrCat("size must be a positive number of bytes, got ", bytes));
  }
  GroupShape shape = group;
  if (coll == NcclCollective::kSendRecv) {
    if (group.size < 2) return InvalidArgument(StrCat("send_recv needs 2 ranks, the group has ", group.size));
    // A transfer between two members: across nodes when the group spans several.
    ECHOSIM_RETURN_IF_ERROR(Communicator(group).status());
    shape.size = 2;
    shape.nodes = group.nodes > 1 ? 2 : 1;
    shape.per_node = shape.size / shape.nodes;
  }
  ECHOSIM_ASSIGN_OR_RETURN(NcclComm comm, Communicator(shape));
  if (comm.ranks < 2) return FailedPrecondition("a 1-rank communicator does not communicate");

  NcclDecision d;
  d.collective = coll;
  d.ranks = comm.ranks;
  d.nodes = comm.nodes;
  d.bytes = bytes;
  d.domain = comm.nodes == 1 ? NcclDomain::kIntra : NcclDomain::kInter;
  d.ring_steps = RingSteps(coll, comm.ranks);

  AlgorithmInput in;
  in.constants = &constants_;
  in.comm = &comm;
  in.collective = coll;
  in.explain = !algorithm_override.empty() || !protocol_override.empty();

  // Protocol filter.
  bool proto_allowed[kNumNcclProtocols] = {true, true, true};
  if (!protocol_override.empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(NcclProtocol p, ParseNcclProtocol("protocol", protocol_override));
    for (int i = 0; i < kNumNcclProtocols; ++i) proto_allowed[i] = i == static_cast<int>(p);
  }

  if (IsP2p(coll)) {
    if (!algorithm_override.empty() && algorithm_override != "p2p") {
      return InvalidArgument(StrCat("algorithm '", algorithm_override, "' does not run ", NcclCollectiveName(coll),
                                    "; NCCL schedules it point-to-point (valid: p2p)"));
    }
    if (!proto_allowed[static_cast<int>(NcclProtocol::kSimple)]) {
      return InvalidArgument(StrCat(NcclCollectiveName(coll), " is modelled with the Simple protocol only"));
    }
    in.protocol = NcclProtocol::kSimple;
    const AlgorithmCost cost = P2pCost(in);
    if (!cost.available) return FailedPrecondition(cost.unavailable_reason);
    d.family = NcclFamily::kP2p;
    d.protocol = NcclProtocol::kSimple;
    d.channels = cost.channels;
    d.nccl_latency_us = cost.latency_us;
    d.nccl_bandwidth_time_us = bytes / (1000.0 * cost.alg_bw_GBps);
    d.physical_bandwidth_time_us = bytes / (1000.0 * cost.physical_alg_bw_GBps);
    d.intra_steps = cost.intra_steps;
    d.inter_steps = cost.inter_steps;
    return d;
  }

  int only_algorithm = -1;
  if (!algorithm_override.empty()) {
    if (algorithm_override == "p2p") {
      return InvalidArgument(
          StrCat("algorithm 'p2p' runs only all_to_all and send_recv, not ", NcclCollectiveName(coll)));
    }
    ECHOSIM_ASSIGN_OR_RETURN(NcclAlgorithm a, ParseNcclAlgorithm("algorithm", algorithm_override));
    only_algorithm = static_cast<int>(a);
  }
  double best = std::numeric_limits<double>::infinity();
  std::vector<std::string> reasons;
  for (int a = 0; a < kNumNcclAlgorithms; ++a) {
    if (only_algorithm >= 0 && a != only_algorithm) continue;
    const NcclAlgorithm alg = static_cast<NcclAlgorithm>(a);
    for (int p = 0; p < kNumNcclProtocols; ++p) {
      if (!proto_allowed[p]) continue;
      in.protocol = static_cast<NcclProtocol>(p);
      const AlgorithmCost cost = CostOf(alg, in);
      if (!cost.available || !(cost.alg_bw_GBps > 0)) {
        if (only_algorithm >= 0 || protocol_override.size()) reasons.push_back(cost.unavailable_reason);
        continue;
      }
      double lat = 0, bwt = 0, phys = 0;
      NcclTimeParts(constants_, comm, coll, alg, in.protocol, cost, bytes, &lat, &bwt, &phys);
      if (lat + bwt < best) {
        best = lat + bwt;
        d.algorithm = alg;
        d.protocol = in.protocol;
        d.family = FamilyOf(alg);
        d.channels = cost.channels;
        d.nccl_latency_us = lat;
        d.nccl_bandwidth_time_us = bwt;
        d.physical_bandwidth_time_us = phys;
        d.intra_steps = cost.intra_steps;
        d.inter_steps = cost.inter_steps;
      }
    }
  }
  if (!std::isfinite(best)) {
    // The last reason is the Simple protocol's: about the algorithm rather than the protocol.
    std::string why = reasons.empty() ? "no algorithm is available" : reasons.back();
    return FailedPrecondition(StrCat("cannot run ", NcclCollectiveName(coll), " on ", comm.ranks, " GPUs over ",
                                     comm.nodes, " nodes with algorithm '",
                                     algorithm_override.empty() ? "any" : algorithm_override, "' and protocol '",
                                     protocol_override.empty() ? "any" : protocol_override, "': ", why));
  }
  return d;
}

StatusOr<CollectiveEstimate> NcclModel::EstimateCollective(NcclCollective coll, double bytes, const GroupShape& group,
                                                           const std::string& algorithm_override,
                                                           const std::string& protocol_override) const {
  if (!(bytes > 0) || !std::isfinite(bytes)) {
    return InvalidArgument(StrCat("size must be a positive number of bytes, got ", bytes));
  }
  if (group.size == 1 && coll != NcclCollective::kSendRecv) {
    ECHOSIM_RETURN_IF_ERROR(Communicator(group).status());
    // NCCL short-circuits one-rank communicators to a local copy; nothing crosses a link.
    CollectiveEstimate e;
    e.algorithm = "none";
    e.protocol = "none";
    return e;
  }
  ECHOSIM_ASSIGN_OR_RETURN(NcclDecision d, Decide(coll, bytes, group, algorithm_override, protocol_override));
  CollectiveEstimate e;
  const double t_us = calibration_.TimeUs(d);
  e.time_s = t_us * 1e-6;
  e.latency_s = calibration_.LatencyUs(d) * 1e-6;
  e.bus_bytes_per_s = e.time_s > 0 ? bytes * BusBandwidthFactor(coll, d.ranks) / e.time_s : 0;
  e.algorithm = d.AlgorithmName();
  e.protocol = NcclProtocolName(d.protocol);
  e.channels = d.channels;
  return e;
}

StatusOr<CollectiveEstimate> NcclModel::Estimate(CollectiveKind kind, double bytes, const GroupShape& group,
                                                 const std::string& algorithm_override,
                                                 const std::string& protocol_override) const {
  return EstimateCollective(ToNcclCollective(kind), bytes, group, algorithm_override, protocol_override);
}

}  // namespace echosim
