// `echosim collective`: one collective swept over message sizes on a cluster, as NCCL would run
// it (simulator/network/nccl/nccl_model.h), printed like nccl-tests or as JSON.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hardware/gpu_spec.h"
#include "simulator/cli/commands.h"
#include "simulator/core/strings.h"
#include "simulator/network/nccl/nccl_model.h"
#include "simulator/network/nccl/nccl_tests_log.h"

namespace echosim {
namespace {

constexpr const char* kCollectiveUsage = R"(usage:
  echosim collective --op OP --gpu NAME --gpus N [options]

Predicts one collective over all N GPUs for each message size, as NCCL would run it: the
algorithm and protocol its tuner picks, its channels, and the time the calibrated model gives.

  --op OP                 all_reduce | all_gather | reduce_scatter | broadcast | reduce |
                          all_to_all | send_recv
  --gpu NAME              GPU preset (echosim list gpus)
  --gpus N                GPUs in the communicator (the whole cluster)
  --gpus-per-node N       default 8; N must be a multiple of it (or smaller than it)
  --nic-gbps X            NIC line rate per GPU, Gbit/s per direction (default: the preset's)
  --nvlink-gbps X         NVLink bandwidth per GPU, Gbit/s per direction (default: the preset's)
  --nics-per-node N       NICs per node (default: one per GPU)
  --collnet               the fabric has SHARP switches and NCCL's CollNet plugin (CollNet
                          Direct/Chain, NVLS across nodes)
  --nccl-version V        2.18 | 2.21 | 2.30 (default: the calibration's, else 2.21)
  --calibration FILE      NCCL calibration YAML (default: the built-in one for the GPU, if any)
  --algorithm A           force an algorithm (NCCL_ALGO): ring, tree, nvls, nvls_tree,
                          collnet_direct, collnet_chain, pat; p2p for all_to_all/send_recv
  --protocol P            force a protocol (NCCL_PROTO): LL, LL128, Simple
  --sizes MIN:MAX | SIZE  sizes in bytes, doubling from MIN to MAX (K, M, G, T = 2^10, 2^20,
                          2^30, 2^40); default 1K:16G. nccl-tests conventions: all_gather is the
                          gathered output, reduce_scatter the input, all_to_all the per-rank buffer
  --json                  one JSON object; algbw_gbps and busbw_gbps are GB/s (1e9 bytes/s),
                          nccl-tests' algbw and busbw
)";

int Usage(const std::string& msg) { return UsageError(msg, kCollectiveUsage); }

StatusOr<double> ParseNumber(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || end == v.c_str() || *end != '\0' || !std::isfinite(x)) {
    return InvalidArgument(StrCat(flag, ": expected a number, got '", v, "'"));
  }
  return x;
}

StatusOr<int64_t> ParseCount(const std::string& flag, const std::string& v) {
  ECHOSIM_ASSIGN_OR_RETURN(double x, ParseNumber(flag, v));
  if (x < 1 || x != std::floor(x) || x > 1e9)
    return InvalidArgument(StrCat(flag, ": expected a positive integer, got '", v, "'"));
  return static_cast<int64_t>(x);
}

std::string Fmt(double v, int width, int prec) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%*.*f", width, prec, v);
  return buf;
}

}  // namespace

int CmdCollective(const std::vector<std::string>& args) {
  std::string op, gpu_name, calibration, version, algorithm, protocol, sizes = "1K:16G";
  int64_t gpus = 0, gpus_per_node = 8, nics_per_node = 0;
  double nic_gbps = -1, nvlink_gbps = -1;
  bool json = false, collnet = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kCollectiveUsage;
      return 0;
    }
    if (a == "--json" || a == "--collnet") {
      (a == "--json" ? json : collnet) = true;
      continue;
    }
    if (i + 1 >= args.size()) {
      static const std::vector<std::string> kValued = {
          "--op",           "--gpu",         "--gpus",      "--gpus-per-node", "--nic-gbps", "--nvlink-gbps",
          "--nccl-version", "--calibration", "--algorithm", "--protocol",      "--sizes", "--nics-per-node"};
      for (const std::string& f : kValued) {
        if (a == f) return Usage(StrCat(a, " needs a value"));
      }
      return Usage(StrCat("unknown option '", a, "' for 'echosim collective'"));
    }
    const std::string& v = args[i + 1];
    Status st;
    if (a == "--op") {
      op = v;
    } else if (a == "--gpu") {
      gpu_name = v;
    } else if (a == "--gpus") {
      auto n = ParseCount(a, v);
      st = n.status();
      if (n.ok()) gpus = *n;
    } else if (a == "--gpus-per-node" || a == "--nics-per-node") {
      auto n = ParseCount(a, v);
      st = n.status();
      if (n.ok()) (a == "--gpus-per-node" ? gpus_per_node : nics_per_node) = *n;
    } else if (a == "--nic-gbps" || a == "--nvlink-gbps") {
      auto x = ParseNumber(a, v);
      st = x.status();
      if (x.ok() && !(*x > 0)) st = InvalidArgument(StrCat(a, ": must be positive, got ", v));
      if (st.ok()) (a == "--nic-gbps" ? nic_gbps : nvlink_gbps) = *x;
    } else if (a == "--nccl-version") {
      version = v;
    } else if (a == "--calibration") {
      calibration = v;
    } else if (a == "--algorithm") {
      algorithm = v;
    } else if (a == "--protocol") {
      protocol = v;
    } else if (a == "--sizes") {
      sizes = v;
    } else {
      return Usage(StrCat("unknown option '", a, "' for 'echosim collective'"));
    }
    if (!st.ok()) return Fail(st);
    ++i;
  }
  if (op.empty()) return Usage(StrCat("--op is required; valid: ", Join(NcclCollectiveNames(), ", ")));
  if (gpu_name.empty()) return Usage("--gpu is required (echosim list gpus)");
  if (gpus == 0) return Usage("--gpus is required");
  auto coll = ParseNcclCollective("--op", op);
  if (!coll.ok()) return Fail(coll.status());
  auto gpu = FindGpuPreset(gpu_name);
  if (!gpu.ok()) return Fail(gpu.status().WithContext("--gpu"));
  if (gpus > gpus_per_node && gpus % gpus_per_node != 0) {
    return Fail(InvalidArgument(StrCat("--gpus ", gpus, " is not a multiple of --gpus-per-node ", gpus_per_node,
                                       ": the communicator must fill whole nodes")));
  }
  auto size_list = ParseSizeRange("--sizes", sizes);
  if (!size_list.ok()) return Fail(size_list.status());

  NcclCalibration cal;
  cal.name = "nccl-model-only";
  if (!calibration.empty()) {
    auto c = LoadNcclCalibration(calibration);
    if (!c.ok()) return Fail(c.status().WithContext("--calibration"));
    cal = *c;
  } else if (auto c = DefaultNcclCalibration(gpu->name); c.ok()) {
    cal = *c;
  }
  if (version.empty()) version = cal.nccl_version.empty() ? "2.21" : cal.nccl_version;

  TopologyConfig topo;
  topo.gpus = gpus;
  topo.gpus_per_node = gpus_per_node;
  topo.nic_bytes_per_s = (nic_gbps > 0 ? nic_gbps : gpu->nic_gbps) / 8.0 * 1e9 * gpu->nic_efficiency;
  topo.nvlink_bytes_per_s = (nvlink_gbps > 0 ? nvlink_gbps : gpu->nvlink_gbps) / 8.0 * 1e9 * gpu->nvlink_efficiency;
  auto hw = HardwareFromPreset(*gpu, topo);
  if (!hw.ok()) return Fail(hw.status());
  if (nics_per_node > 0) hw->nics_per_node = static_cast<int>(nics_per_node);
  hw->collnet = collnet;
  auto model = NcclModel::FromHardware(*hw, gpus, version, cal);
  if (!model.ok()) return Fail(model.status().WithContext(version.empty() ? "--nccl-version" : "cluster"));

  GroupShape group;
  group.size = gpus;
  group.nodes = gpus <= gpus_per_node ? 1 : gpus / gpus_per_node;
  group.per_node = gpus / group.nodes;

  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  std::vector<std::string> lines;
  for (double bytes : *size_list) {
    auto e = model->EstimateCollective(*coll, bytes, group, algorithm, protocol);
    if (!e.ok()) return Fail(e.status());
    const double time_us = e->time_s * 1e6;
    const double algbw = e->time_s > 0 ? bytes / e->time_s / 1e9 : 0;
    const double busbw = algbw * BusBandwidthFactor(*coll, gpus);
    nlohmann::ordered_json r;
    r["size_bytes"] = static_cast<int64_t>(bytes);
    r["time_us"] = std::round(time_us * 1000) / 1000;
    r["algbw_gbps"] = std::round(algbw * 1000) / 1000;
    r["busbw_gbps"] = std::round(busbw * 1000) / 1000;
    r["algorithm"] = e->algorithm;
    r["protocol"] = e->protocol;
    r["channels"] = e->channels;
    results.push_back(r);
    const bool reduces = *coll == NcclCollective::kAllReduce || *coll == NcclCollective::kReduceScatter ||
                         *coll == NcclCollective::kReduce;
    const bool rooted = *coll == NcclCollective::kBroadcast || *coll == NcclCollective::kReduce;
    char line[256];
    std::snprintf(line, sizeof(line), "%12lld  %12lld  %8s  %6s  %6d  %7s  %6s  %6s  %-14s %-8s %3d\n",
                  static_cast<long long>(bytes), static_cast<long long>(bytes / 4), "float", reduces ? "sum" : "none",
                  rooted ? 0 : -1, Fmt(time_us, 7, time_us < 1e4 ? 2 : 0).c_str(), Fmt(algbw, 6, 2).c_str(),
                  Fmt(busbw, 6, 2).c_str(), e->algorithm.c_str(), e->protocol.c_str(), e->channels);
    lines.push_back(line);
  }
  const int64_t nodes = group.nodes;
  if (json) {
    nlohmann::ordered_json out;
    out["op"] = NcclCollectiveName(*coll);
    out["gpu"] = gpu->name;
    out["gpus"] = gpus;
    out["gpus_per_node"] = group.per_node;
    out["nodes"] = nodes;
    out["nic_gbps"] = nic_gbps > 0 ? nic_gbps : gpu->nic_gbps;
    out["nccl_version"] = model->constants().version;
    out["calibration"] = model->calibration().name;
    if (*coll == NcclCollective::kAllToAll) {
      out["alltoall_efficiency"] = {{"nvlink", model->constants().alltoall.nvlink},
                                    {"network", model->constants().alltoall.network}};
    }
    out["results"] = results;
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "# echosim collective: " << NcclCollectiveName(*coll) << " on " << gpus << " x " << gpu->name << " ("
            << group.per_node << " per node, " << nodes << " node" << (nodes > 1 ? "s" : "") << ", "
            << (nic_gbps > 0 ? nic_gbps : gpu->nic_gbps) << " Gbit/s NIC per GPU)\n"
            << "# NCCL " << model->constants().version << " tuning model, calibration: " << model->calibration().name
            << "\n";
  if (*coll == NcclCollective::kAllToAll) {
    std::cout << "# all_to_all at " << model->constants().alltoall.nvlink << " of NVLink's and "
              << model->constants().alltoall.network << " of the NICs' line rate (" << kAllToAllEfficiencyPath
              << ")\n";
  }
  std::cout << "#\n"
            << "#       size         count      type   redop    root     time   algbw   busbw  algorithm      proto  "
               "channels\n"
            << "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)\n";
  for (const std::string& l : lines) std::cout << l;
  return 0;
}

}  // namespace echosim
