#include "simulator/scenario/trace_workload.h"

#include <algorithm>
#include <cinttypes>
#include <memory>

#include "hardware/gpu_spec.h"
#include "simulator/core/strings.h"
#include "simulator/interference/interference_model.h"
#include "simulator/training/collective_costs.h"
#include "tracer/compute_scaling.h"
#include "tracer/graph_export.h"
#include "tracer/kineto/kineto_export.h"

namespace echosim {
namespace {

// Megatron-order peer of `rank` `peer` stages away (ring over pp).
int64_t StagePeer(const ParallelPlan& p, int64_t rank, int32_t peer) {
  ParallelPlan::Coords c = p.CoordsOf(rank);
  c.pp = ((c.pp + peer) % p.pp + p.pp) % p.pp;
  return p.RankOf(c);
}

}  // namespace

StatusOr<TraceRun> RunTraceScenario(scenario::Scenario s) {
  if (!s.workload().has_trace()) return InvalidArgument("the scenario's workload is not a trace");
  const scenario::TraceWorkload& tw = s.workload().trace();
  if (tw.dir().empty()) {
    return InvalidArgument("workload.trace.dir (--trace) is required: a trace folder, prefix or file");
  }
  // A trace keeps its recorded kernel times (scaled to cluster.gpu by the datasheet compute
  // model): kernel measurements and calibrations would be silently unused.
  if (s.simulation().compute_backend() == "gpu") {
    return InvalidArgument("simulation.compute_backend (--compute-backend) gpu applies to training and serving "
                           "scenarios; a trace keeps its recorded kernel times");
  }
  if (!s.simulation().kernel_calibration().empty() && s.simulation().kernel_calibration() != "none") {
    return InvalidArgument("simulation.kernel_calibration (--kernel-calibration) applies to training and serving "
                           "scenarios; a trace's compute is scaled by the datasheet compute model");
  }
  TraceRun run;
  ECHOSIM_ASSIGN_OR_RETURN(run.set, LoadTraceSet(tw.dir(), /*stream=*/true));
  auto* cl = s.mutable_cluster();
  if (cl->gpus() == 0) cl->set_gpus(static_cast<uint32_t>(run.set.world_size));
  if (cl->gpus() < run.set.world_size) {
    return InvalidArgument(StrCat("cluster.gpus (--gpus) ", cl->gpus(), " is smaller than the traced world of ",
                                  run.set.world_size, " ranks (", tw.dir(), ")"));
  }
  ECHOSIM_RETURN_IF_ERROR(ResolveCluster(&s));
  if (s.name().empty()) s.set_name(StrCat("trace ", tw.dir(), " on ", cl->gpus(), " x ", cl->gpu()));
  run.resolved = s;
  ECHOSIM_ASSIGN_OR_RETURN(const GpuSpec target, FindGpuPreset(cl->gpu()));

  // The trace's GPU and the compute scaling.
  std::unique_ptr<ComputeScaler> scaler;
  if (!tw.gpu().empty()) {
    run.traced_gpu = tw.gpu();
    run.traced_gpu_from = "workload.trace.gpu";
  } else if (!run.set.gpu.empty()) {
    run.traced_gpu = run.set.gpu;
    run.traced_gpu_from = "trace metadata";
  }
  if (run.traced_gpu.empty()) {
    run.compute_scaling = {{"applied", false},
                           {"reason", "the trace does not say which GPU it was recorded on; give "
                                      "workload.trace.gpu (--trace-gpu) to scale compute to cluster.gpu"}};
  } else {
    auto traced = FindGpuPreset(run.traced_gpu);
    if (!traced.ok()) {
      return InvalidArgument(StrCat(run.traced_gpu_from == "workload.trace.gpu" ? "workload.trace.gpu (--trace-gpu)"
                                                                                : StrCat(tw.dir(), ": trace GPU"),
                                    ": ", traced.status().message()));
    }
    if (traced->name == target.name) {
      run.compute_scaling = {{"applied", false},
                             {"reason", StrCat("the trace was recorded on ", target.name, ", the target GPU")}};
    } else {
      scaler = std::make_unique<ComputeScaler>(*traced, target);
    }
  }

  const auto& net = cl->network();
  TraceSimOptions o;
  o.world_size = cl->gpus();
  o.gpu = cl->gpu();
  o.gpus_per_node = cl->gpus_per_node();
  o.nvlink_gbps = net.nvlink_gbps();
  o.nic_gbps = net.nic_gbps();
  o.nvlink_latency_s = net.nvlink_latency_us() * 1e-6;
  o.nic_latency_s = net.nic_latency_us() * 1e-6;
  o.oversubscription = net.oversubscription();
  o.nodes_per_leaf = net.nodes_per_leaf();
  o.keep_comm_durations = tw.keep_comm_durations();
  if (scaler) o.compute_duration = [&scaler](const TraceNode& n) { return scaler->Scale(n); };
  const std::string model = net.collective_model(), version = net.nccl_version(),
                    calibration = net.nccl_calibration();
  o.comm_model = [target, model, version, calibration](const Topology& topo)
      -> StatusOr<TraceSimOptions::CommCostFn> {
    ECHOSIM_ASSIGN_OR_RETURN(std::shared_ptr<CollectiveCosts> costs,
                             CollectiveCosts::Create(target, &topo, model, version, calibration));
    return TraceSimOptions::CommCostFn(
        [costs](CollectiveKind k, double bytes, const GroupShape& shape) -> StatusOr<Duration> {
          ECHOSIM_ASSIGN_OR_RETURN(const CommCost c, costs->Cost(k, bytes, shape));
          return SecondsToDuration(c.latency_s + c.bandwidth_s);
        });
  };
  // Interference as in training (simulation.interference, default on); link contention
  // is not modelled on this path.
  auto* sim = s.mutable_simulation();
  if (!sim->has_interference()) sim->set_interference(true);
  run.resolved = s;
  std::unique_ptr<InterferenceModel> interference;
  if (sim->interference()) {
    ECHOSIM_ASSIGN_OR_RETURN(const int sms, SmCount(DefaultInterferenceParams(), target.name));
    interference = std::make_unique<InterferenceModel>(DefaultInterferenceParams(), sms);
    o.interference = interference.get();
  }
  ECHOSIM_ASSIGN_OR_RETURN(run.result, SimulateTraceSet(run.set, o));
  if (scaler) {
    run.compute_scaling = scaler->Summary();
    run.compute_scaling["applied"] = true;
    run.compute_scaling["traced_gpu_from"] = run.traced_gpu_from;
  }
  return run;
}

nlohmann::json TraceRunSummaryJson(const TraceRun& run) {
  nlohmann::json j = TraceSimJson(run.result);
  j["scenario"] = run.resolved.name();
  j["gpu"] = run.resolved.cluster().gpu();
  j["gpus"] = run.resolved.cluster().gpus();
  j["format"] = run.set.format;
  j["source"] = run.resolved.workload().trace().dir();
  j["traced_gpu"] = run.traced_gpu;
  j["collective_model"] = run.resolved.workload().trace().keep_comm_durations()
                              ? "recorded durations"
                              : run.resolved.cluster().network().collective_model();
  j["compute_scaling"] = run.compute_scaling;
  j["interference"] = run.resolved.simulation().interference();
  j["contention"] = "not modelled for traces";
  return j;
}

std::string TraceRunSummaryTable(const TraceRun& run) {
  std::string s = StrCat("scenario            ", run.resolved.name(), "\n", "trace               ",
                         run.resolved.workload().trace().dir(), " (", run.set.format, ")\n");
  s += StrCat("cluster             ", run.resolved.cluster().gpus(), " x ", run.resolved.cluster().gpu(), "\n");
  if (run.compute_scaling.value("applied", false)) {
    s += StrCat("compute scaling     from ", run.traced_gpu, " (", run.traced_gpu_from, ")\n");
    for (const auto& [cls, v] : run.compute_scaling["classes"].items()) {
      s += StrCat("  ", cls, ": ", v["kernels"].get<uint64_t>(), " kernels x ",
                  FormatDouble(v["ratio"].get<double>(), 4), " (", v["method"].get<std::string>(), ")\n");
    }
  } else {
    s += StrCat("compute scaling     none: ", run.compute_scaling.value("reason", std::string()), "\n");
  }
  return s + TraceSimTable(run.result);
}

StatusOr<TraceManifest> ExportTrainingChakra(const TrainingRun& run, const std::string& dir, bool full) {
  const ParallelPlan& p = run.setup.plan;
  const StepResult& r = run.result;
  if (r.graphs.size() != static_cast<size_t>(p.pp)) {
    return InvalidArgument(StrCat("export: the run kept ", r.graphs.size(), " of its ", p.pp,
                                  " stage graphs (runs without a timeline drop them; keep it to export)"));
  }
  std::vector<ExportRank> ranks;
  auto make = [&](int64_t rank) {
    ExportRank e;
    e.rank = rank;
    e.graph = r.graphs[p.CoordsOf(rank).pp].get();
    e.members = [&p, rank](GroupKind g) { return p.GroupMembers(rank, g); };
    e.peer = [&p, rank](int32_t peer) { return StagePeer(p, rank, peer); };
    return e;
  };
  if (full) {
    for (int64_t g = 0; g < p.gpus; ++g) {
      ExportRank e = make(g);
      e.stands_for = {g};
      ranks.push_back(std::move(e));
    }
  } else {
    for (int64_t st = 0; st < p.pp; ++st) {
      ParallelPlan::Coords c;
      c.pp = st;
      ExportRank e = make(p.RankOf(c));
      for (int64_t g = 0; g < p.gpus; ++g) {
        if (p.CoordsOf(g).pp == st) e.stands_for.push_back(g);
      }
      ranks.push_back(std::move(e));
    }
  }
  ExportOptions o;
  o.world_size = p.gpus;
  o.gpu = run.setup.gpu.name;
  o.tp = p.tp;
  o.pp = p.pp;
  o.dp = p.dp * p.cp;
  o.command = {"echosim", "export", run.resolved.name()};
  return ExportChakraSet(ranks, o, dir);
}

Status WriteTrainingKineto(const TrainingRun& run, const std::string& dir) {
  const ParallelPlan& p = run.setup.plan;
  const GpuSpec& gpu = run.setup.gpu;
  std::vector<KinetoRankTimeline> ranks;
  for (const TimelineTrack& t : run.result.tracks) {
    KinetoRankTimeline k;
    k.rank = t.global_rank;
    k.world_size = p.gpus;
    k.graph = t.graph;
    k.spans = &t.spans;
    k.device_name = gpu.name;
    k.device_memory_bytes = gpu.HbmCapacityBytes();
    k.sm_arch = gpu.sm_arch;
    if (run.setup.dtype == DType::kFp16) k.dtype = "Half";
    // One communicator per parallel dimension the rank's collectives use.
    std::vector<int32_t> comm_of_group(kNumGroupKinds, -1);
    for (GroupKind g : {GroupKind::kTp, GroupKind::kCp, GroupKind::kEp, GroupKind::kDp, GroupKind::kPp,
                        GroupKind::kEdp}) {
      std::vector<int64_t> members = p.GroupMembers(t.global_rank, g);
      comm_of_group[static_cast<int>(g)] = static_cast<int32_t>(k.communicators.size());
      k.communicators.push_back({StrCat(GroupKindName(g), ".", members.empty() ? 0 : members.front()),
                                 GroupKindName(g), std::move(members)});
    }
    const ExecutionGraph* g = t.graph;
    k.communicator = [g, comm_of_group](NodeId v) {
      const NodeKind nk = g->kind(v);
      if (nk != NodeKind::kCollective) return nk == NodeKind::kCompute || nk == NodeKind::kDelay
                                                  ? -1
                                                  : comm_of_group[static_cast<int>(GroupKind::kPp)];
      return comm_of_group[static_cast<int>(g->comm(v).group)];
    };
    ranks.push_back(std::move(k));
  }
  return WriteKinetoDir(ranks, dir);
}

Status WriteTraceKineto(const TraceSet& streamed, const TraceSimResult& result, const std::string& gpu_name,
                        const std::string& dir) {
  // The graphs map back to trace nodes: read the nodes of streamed traces again.
  ECHOSIM_ASSIGN_OR_RETURN(const TraceSet set, LoadStreamedTraces(streamed));
  auto gpu = FindGpuPreset(gpu_name);
  std::vector<KinetoRankTimeline> ranks;
  for (size_t i = 0; i < result.graphs.size(); ++i) {
    const RankTrace& t = set.traces[i];
    const TraceGraph* tg = &result.graphs[i];
    KinetoRankTimeline k;
    k.rank = t.rank;
    k.world_size = result.world_size;
    k.graph = &tg->graph;
    k.spans = &result.spans[i];
    k.device_name = gpu.ok() ? gpu->name : gpu_name;
    if (gpu.ok()) {
      k.device_memory_bytes = gpu->HbmCapacityBytes();
      k.sm_arch = gpu->sm_arch;
    }
    for (const Communicator& c : t.communicators) {
      std::vector<int64_t> ranks_of = c.ranks;
      if (ranks_of.empty()) {
        for (const Communicator& m : set.communicators) {
          if (m.name == c.name) ranks_of = m.ranks;
        }
      }
      k.communicators.push_back({c.name, c.name, std::move(ranks_of)});
    }
    k.communicator = [tg, &t](NodeId v) { return t.nodes[tg->trace_node[v]].communicator; };
    k.kind = [tg, &t](NodeId v) {
      const TraceNode& n = t.nodes[tg->trace_node[v]];
      if (tg->graph.kind(v) == NodeKind::kDelay) return KinetoOpKind::kHost;
      if (n.kind == TraceNodeKind::kMemory) {
        std::string lower = n.name;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return lower.find("memset") != std::string::npos ? KinetoOpKind::kMemset : KinetoOpKind::kMemcpy;
      }
      return KinetoOpKind::kKernel;
    };
    ranks.push_back(std::move(k));
  }
  return WriteKinetoDir(ranks, dir);
}

}  // namespace echosim
