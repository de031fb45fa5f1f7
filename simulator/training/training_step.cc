#include "simulator/training/training_step.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "hardware/compute_cost_model.h"
#include "models/host_launches.h"
#include "policies/pipeline_schedule.h"
#include "simulator/core/engine.h"
#include "simulator/core/strings.h"
#include "simulator/interference/interference_model.h"
#include "simulator/network/collective_model.h"
#include "simulator/training/collective_costs.h"

namespace echosim {
namespace {

// Peer selectors of point-to-point nodes.
constexpr int32_t kPeerNext = 1;
constexpr int32_t kPeerPrev = -1;
// Thread blocks (SMs) a communication kernel occupies: NCCL's usual channel counts for
// bandwidth-bound collectives on NVSwitch systems (16) and for point-to-point (4). They
// matter for compute/communication interference.
constexpr int kCollectiveChannels = 16;
constexpr int kP2pChannels = 4;

LayerContext MakeLayerContext(const TrainingSetup& s) {
  LayerContext c;
  c.micro_batch = s.plan.micro_batch;
  c.seq_len = s.seq_len;
  c.tp = s.plan.tp;
  c.cp = s.plan.cp;
  c.ep = s.plan.ep;
  c.etp = s.plan.etp;
  c.sequence_parallel = s.plan.sequence_parallel && s.plan.tp > 1;
  c.dtype = s.dtype;
  c.attention = s.attention;
  c.fp8_attention = s.fp8_attention;
  c.fp8_recipe = s.fp8_recipe;
  c.mtp_bf16 = s.mtp_bf16;
  c.bf16_layers_at_start = s.bf16_layers_at_start;
  c.bf16_layers_at_end = s.bf16_layers_at_end;
  c.moe_load_imbalance = s.moe_load_imbalance;
  c.lora_rank = s.lora_rank;
  c.lora_modules = s.lora_modules;
  c.packed_sample_tokens = s.packed_sample_tokens;
  c.recompute = s.plan.recompute;
  c.recompute_modules = s.plan.recompute_modules;
  c.flex_dispatch = s.flex_dispatch;
  c.flex_traffic_factor = s.flex_dispatch_traffic_factor;
  c.grouped_gemm_single_kernel = s.grouped_gemm_single_kernel;
  c.fused_moe_mlp = s.fused_moe_mlp;
  if (s.plan.ep > 1) {
    // NVLink domains the EP group of rank 0 spans (the groups are uniform).
    std::vector<int64_t> nodes;
    for (int64_t r : s.plan.GroupMembers(0, GroupKind::kEp)) nodes.push_back(r / s.plan.gpus_per_node);
    std::sort(nodes.begin(), nodes.end());
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
    c.ep_per_domain = s.plan.ep / static_cast<int64_t>(nodes.size());
  }
  return c;
}

// EP all-to-all overlapped with the paired micro-batch's compute (Megatron-Core
// overlap_moe_expert_parallel_comm): only then does a stage graph have an ep_comm stream.
bool EpOverlap(const TrainingSetup& s) {
  return s.ep_comm_overlap && s.plan.ep > 1 && s.model.is_moe();
}

// The host model (simulation.host_launch_us): a host thread per rank issues the kernels.
// Full-iteration CUDA graphs replay the whole step from one launch: nothing to simulate.
bool HostModel(const TrainingSetup& s) {
  return s.host_launch_s > 0 && (s.cuda_graph_scopes & kGraphFullIteration) == 0;
}

std::vector<std::string> StreamNames(const TrainingSetup& s) {
  std::vector<std::string> names = {"compute",     "dp_comm",     "pp_send_fwd", "pp_recv_fwd",
                                    "pp_send_bwd", "pp_recv_bwd", "tp_comm",     "dp_reduce"};
  if (EpOverlap(s)) names.push_back("ep_comm");
  if (HostModel(s)) names.push_back("host");
  return names;
}

int64_t RepresentativeRank(const ParallelPlan& p, int64_t stage) {
  ParallelPlan::Coords c;
  c.pp = stage;
  return p.RankOf(c);
}

// Builds the graph of one stage: the schedule's forward/backward steps lowered to
// kernels and collectives on the compute stream, pipeline transfers on their own
// streams, DP gradient reduction on the DP stream, then the optimizer step.
class StageGraphBuilder {
 public:
  StageGraphBuilder(const TrainingSetup& s, int64_t stage, ComputeCostModel* compute,
                    const Topology* topo, const CollectiveCosts* costs)
      : s_(s),
        stage_(stage),
        compute_(compute),
        topo_(topo),
        costs_(costs),
        ctx_(MakeLayerContext(s)),
        b_(StreamNames(s)) {
    if (HostModel(s)) {
      host_stream_ = static_cast<int>(StreamNames(s).size()) - 1;
      launch_ctx_.local_experts = s.model.experts > 0 ? std::max<int64_t>(1, s.model.experts / s.plan.ep) : 1;
      launch_ctx_.grouped_gemm_single_kernel = s.grouped_gemm_single_kernel;
      launch_ctx_.fused_moe_mlp = s.fused_moe_mlp;
      launch_ctx_.flex_dispatch = s.flex_dispatch;
    }
    const int64_t rep = RepresentativeRank(s.plan, stage);
    for (GroupKind g : {GroupKind::kTp, GroupKind::kCp, GroupKind::kEp, GroupKind::kDp, GroupKind::kEdp}) {
      shapes_[static_cast<int>(g)] = topo_->ShapeOf(s.plan.GroupMembers(rep, g));
    }
    const int64_t pp = s.plan.pp;
    next_shape_ = topo_->ShapeOf({rep, RepresentativeRank(s.plan, (stage + 1) % pp)});
    prev_shape_ = topo_->ShapeOf({rep, RepresentativeRank(s.plan, (stage + pp - 1) % pp)});
  }

  StatusOr<ExecutionGraph> Build();

 private:
  // Lowering of one operator list, resumable (EP overlap interleaves two of them).
  struct LowerCursor {
    explicit LowerCursor(const std::vector<LayerStep>* s) : steps(s) {}
    const std::vector<LayerStep>* steps;
    size_t next = 0;
    NodeId first = ExecutionGraph::Builder::kNoNode, last = first, join = first,
           before_last = first;
    // An asynchronous all-gather (CommOp::overlaps_next_gemm): the GEMM after it runs beside
    // it, and the compute node after that GEMM waits for it (it becomes `join` then).
    NodeId deferred = first;
    // Host model: the CUDA-graph scopes of the region being issued (0: eager), whether the
    // list is an MoE or a Mamba layer (what its norms belong to), and a GPU node the host
    // waits for before it issues the next kernel (a synchronisation).
    uint32_t graph_region = 0;
    bool scanned = false, moe_layer = false, mamba_layer = false;
    NodeId sync_on = first;
  };
  // One layer (or embedding / head) of a schedule step, and what to add once it is lowered.
  struct Unit {
    const std::vector<LayerStep>* ops;
    int32_t layer;
    std::function<void(NodeId first, NodeId last)> done;
  };
  // A schedule step (one chunk's forward or backward of one micro-batch) being lowered.
  struct StepRun {
    int32_t mb = 0;
    std::vector<Unit> units;
    size_t unit = 0;
    std::optional<LowerCursor> cur;
    NodeId first = ExecutionGraph::Builder::kNoNode, last = first;
    std::function<void(NodeId first, NodeId last)> finish;
  };
  // Lowers from the cursor to the end of its list (true) or, with `yield_at_ep`, until an EP
  // collective has been issued on the ep_comm stream (false).
  bool Advance(LowerCursor* cur, bool yield_at_ep);
  // Lowers `run` to its end (true) or to its next EP collective (false, `yield_at_ep`).
  bool AdvanceStep(StepRun* run, bool yield_at_ep);
  NodeId AddComm(uint8_t stream, const CommOp& op);
  // Host model: the host issues GPU node `id` (operator `name`) after everything issued before
  // it, taking the launch time of its kernels (none for a kernel inside a CUDA graph already
  // launched); `wait_for` (a GPU node, if any) must finish first (a synchronisation).
  void Issue(LowerCursor* cur, NodeId id, const std::string& name,
             NodeId wait_for = ExecutionGraph::Builder::kNoNode);
  // Parameters held by one rank, dense (reduced and sharded over the DP group) and expert
  // (over the expert-DP group: the ranks holding the same experts).
  struct LocalParams {
    double dense = 0, expert = 0;
    double total() const { return dense + expert; }
    LocalParams& operator+=(const LocalParams& o) {
      dense += o.dense;
      expert += o.expert;
      return *this;
    }
    LocalParams Scaled(double f) const { return {dense * f, expert * f}; }
  };
  // One DP collective of `kind` per non-empty part, on the DP group and the expert-DP group;
  // `after` (if any) precedes them and `before` (if any) waits for them.
  // bytes_per_param 0: the 16-bit training dtype.
  void AddDpCollectives(uint8_t stream, CollectiveKind kind, const LocalParams& params,
                        const std::string& name, NodeId after, NodeId before,
                        double bytes_per_param = 0);
  void AddDpReduce(const LocalParams& params, NodeId after, const std::string& name);
  // Bytes per weight of a ZeRO parameter all-gather (0: the 16-bit training dtype); fp8 primary
  // weights (fp8_param_gather) travel in fp8.
  double ParamGatherBytes() const { return s_.plan.fp8_param_gather ? 1.0 : 0.0; }
  LocalParams LayerParamsLocal(int64_t layer) const;
  // Muon's Newton-Schulz orthogonalisation of this rank's weight matrices (compute stream);
  // returns its first node, or kNoNode when there is nothing to do.
  NodeId AddNewtonSchulz();

  const TrainingSetup& s_;
  int64_t stage_;
  ComputeCostModel* compute_;
  const Topology* topo_;
  const CollectiveCosts* costs_;
  Status status_;  // first cost-model error, reported by Build()
  LayerContext ctx_;
  ExecutionGraph::Builder b_;
  GroupShape shapes_[kNumGroupKinds];
  GroupShape next_shape_, prev_shape_;
  int host_stream_ = -1;  // the host thread's stream (host model only)
  LaunchContext launch_ctx_;
  // What the host does for an operator, by interned name (the same few names recur every
  // layer and micro-batch): its Python-level and C++-loop launches, and its CUDA-graph scope
  // for each (moe_layer, mamba_layer) pair (kScopeUnknown until first needed).
  static constexpr uint32_t kScopeUnknown = 0xffffffffu;
  struct HostOp {
    int64_t launches = -1;
    int64_t loop_launches = 0;
    bool synchronizes = false;  // SynchronizesHost(name), set with the launch counts
    uint32_t scope[4] = {kScopeUnknown, kScopeUnknown, kScopeUnknown, kScopeUnknown};
  };
  std::vector<HostOp> host_ops_;
};

void StageGraphBuilder::Issue(LowerCursor* cur, NodeId id, const std::string& name, NodeId wait_for) {
  if (host_stream_ < 0) return;
  constexpr NodeId kNone = ExecutionGraph::Builder::kNoNode;
  const uint8_t host = static_cast<uint8_t>(host_stream_);
  int64_t launches = 0;
  int64_t loop_launches = 0;
  uint32_t region = 0;
  if (cur != nullptr) {
    const uint32_t name_id = b_.NameIdOf(id);
    if (name_id >= host_ops_.size()) host_ops_.resize(name_id + 1);
    HostOp& op = host_ops_[name_id];
    uint32_t& scope = op.scope[(cur->moe_layer ? 1 : 0) | (cur->mamba_layer ? 2 : 0)];
    if (scope == kScopeUnknown) scope = GraphScopeOf(name, cur->moe_layer, cur->mamba_layer);
    region = scope & s_.cuda_graph_scopes;
    if (region == 0) {
      if (op.launches < 0) {
        op.loop_launches = LoopLaunches(name, launch_ctx_);
        op.launches = KernelLaunches(name, launch_ctx_) - op.loop_launches;
        op.synchronizes = SynchronizesHost(name);
      }
      launches = op.launches;
      loop_launches = op.loop_launches;
    } else if (region != cur->graph_region) {
      launches = 1;  // the graph's replay
    }
    cur->graph_region = region;
    if (cur->sync_on != kNone) {
      wait_for = cur->sync_on;
      cur->sync_on = kNone;
    }
    // A synchronising operator run eagerly: the host issues nothing more until it has finished.
    if (region == 0 && op.synchronizes) cur->sync_on = id;
  } else {
    launches = 1;
  }
  NodeId h = b_.LastOn(host);
  if (launches > 0 || loop_launches > 0 || wait_for != kNone || h == kNone) {
    const double busy = static_cast<double>(launches) * s_.host_launch_s +
                        static_cast<double>(loop_launches) * s_.host_loop_launch_s;
    h = b_.AddDelay(host, name, SecondsToDuration(busy), NodeCategory::kHost);
    if (wait_for != kNone) b_.AddDependency(wait_for, h);
  }
  b_.AddDependency(h, id);
}

// Parameters of layer `layer` held by one rank (dense / tp, experts / (expert tp * ep)).
StageGraphBuilder::LocalParams StageGraphBuilder::LayerParamsLocal(int64_t layer) const {
  const ModelSpec& m = s_.model;
  // LoRA: only the adapters train (the base weights are frozen).
  if (ctx_.FrozenWeights()) return {LoraLayerParams(m, LayerContextOf(m, ctx_, layer)), 0};
  const double dense = static_cast<double>(m.LayerParamsAt(layer) - m.LayerExpertParamsAt(layer));
  const double expert = static_cast<double>(m.LayerExpertParamsAt(layer));
  return {dense / s_.plan.tp, expert / (s_.plan.ExpertTp() * s_.plan.ep)};
}

// Megatron-Core's Muon orthogonalises each weight matrix of the transformer layers every step
// with 5 Newton-Schulz iterations in bf16 (X <- aX + (bA + cA^2) X with A = X X^T, on the
// matrix laid with its shorter side first: 4 m^2 n + 2 m^3 FLOPs per iteration for m <= n;
// Jordan et al. 2024, "Muon: an optimizer for hidden layers"). Each rank orthogonalises its
// own matrices: experts split over EP (and expert TP), the others over TP, and with a
// distributed optimizer (ZeRO >= 1) the matrices are shared out over the (expert-)DP group.
// The TP gathers of a split matrix are not simulated.
NodeId StageGraphBuilder::AddNewtonSchulz() {
  const ParallelPlan& p = s_.plan;
  const ModelSpec& m = s_.model;
  constexpr int kIterations = 5;
  std::map<std::pair<int64_t, int64_t>, double> shapes;  // (m, n), matrices on this rank
  auto add_layer = [&](int64_t layer) {
    for (const ModelSpec::Matrix& mat : m.LayerMatrices(layer)) {
      const bool expert = mat.count > 1;  // the routed experts
      double count = static_cast<double>(mat.count);
      double split = static_cast<double>(expert ? p.ExpertTp() : p.tp);
      if (expert) count /= static_cast<double>(p.ep);
      if (p.zero >= 1) {
        count /= static_cast<double>(expert ? p.GroupSize(GroupKind::kEdp) : p.GroupSize(GroupKind::kDp));
      }
      const int64_t rows = std::max<int64_t>(1, mat.rows / static_cast<int64_t>(split));
      shapes[{std::min(rows, mat.cols), std::max(rows, mat.cols)}] += count;
    }
  };
  p.ForEachStageLayer(m, stage_, add_layer);
  for (int64_t i = 0; i < m.MtpWeightDepths(p.StageMtpLayers(m, stage_)); ++i) add_layer(m.layers + i);
  NodeId first_node = ExecutionGraph::Builder::kNoNode;
  for (const auto& [mn, count] : shapes) {
    const int64_t batch = static_cast<int64_t>(std::ceil(count * kIterations));
    if (batch <= 0) continue;
    const auto [rows, cols] = mn;
    ComputeOp ops[3];
    // A = X X^T, A^2, (bA + cA^2) X, each for every matrix and iteration.
    const int64_t dims[3][3] = {{rows, rows, cols}, {rows, rows, rows}, {rows, cols, rows}};
    for (int i = 0; i < 3; ++i) {
      ops[i].name = "optimizer.muon.newton_schulz";
      ops[i].cls = OpClass::kGemm;
      ops[i].dtype = DType::kBf16;
      ops[i].m = dims[i][0];
      ops[i].n = dims[i][1];
      ops[i].k = dims[i][2];
      ops[i].batch = batch;
      ops[i].flops = 2.0 * static_cast<double>(dims[i][0]) * dims[i][1] * dims[i][2] * batch;
      ops[i].bytes = 2.0 * batch * (static_cast<double>(dims[i][0]) * dims[i][2] +
                                    static_cast<double>(dims[i][2]) * dims[i][1] +
                                    static_cast<double>(dims[i][0]) * dims[i][1]);
      const NodeId id = b_.AddCompute(kStreamCompute, ops[i].name, compute_->Estimate(ops[i]),
                                      NodeCategory::kOther, OpClass::kOptimizer);
      if (first_node == ExecutionGraph::Builder::kNoNode) first_node = id;
    }
  }
  return first_node;
}

NodeId StageGraphBuilder::AddComm(uint8_t stream, const CommOp& op) {
  CommInfo info;
  info.kind = op.kind;
  info.group = op.group;
  info.bytes = op.bytes;
  auto cost = costs_->Cost(op.kind, op.bytes, shapes_[static_cast<int>(op.group)]);
  if (!cost.ok()) {
    if (status_.ok()) status_ = cost.status().WithContext(op.name);
    return b_.AddCollective(stream, op.name, info, 0);
  }
  info.algorithm = cost->algorithm;
  info.protocol = cost->protocol;
  info.channels = cost->channels > 0 ? cost->channels : kCollectiveChannels;
  // The flex dispatcher (DeepEP / HybridEP) is not NCCL: its kernels hold the SMs it was
  // given, whatever channel count NCCL would pick for the same all-to-all.
  if (op.group == GroupKind::kEp && s_.flex_dispatch) info.channels = s_.flex_dispatcher_sms;
  return b_.AddCollective(stream, op.name, info,
                          SecondsToDuration(cost->latency_s + cost->bandwidth_s));
}

bool StageGraphBuilder::Advance(LowerCursor* cur, bool yield_at_ep) {
  constexpr NodeId kNone = ExecutionGraph::Builder::kNoNode;
  const std::vector<LayerStep>& steps = *cur->steps;
  // Tensor-parallel communication overlap (Megatron-LM --tp-comm-overlap, sequence parallel
  // only): a reduce-scatter runs beside the GEMM that produces it (on the tp_comm stream) and
  // the kernel after that GEMM waits for both. An all-gather goes to the tp_comm stream too,
  // but the GEMM that consumes it waits for it: modelling Transformer Engine's chunk-pipelined
  // all-gather as wholly hidden behind its GEMM predicts the Megatron-Core H100 rows (which
  // state --tp-comm-overlap) 11% fast at the median, against 3% with this. An all-gather
  // marked overlaps_next_gemm (the framework's asynchronous backward re-gather) does run
  // beside the GEMM after it, whatever the setting.
  const bool overlap = s_.tp_comm_overlap && ctx_.sequence_parallel;
  NodeId& first = cur->first;
  NodeId& last = cur->last;
  NodeId& join = cur->join;                // overlapped comm the next compute node waits for
  NodeId& deferred = cur->deferred;        // overlapped all-gather beside the next compute node
  NodeId& before_last = cur->before_last;  // compute-stream node before `last`
  auto add = [&](NodeId id, bool on_compute) {
    if (first == kNone) first = id;
    if (on_compute) {
      if (join != kNone) {
        b_.AddDependency(join, id);
        join = kNone;
      }
      if (deferred != kNone) {
        join = deferred;
        deferred = kNone;
      }
      before_last = last;
      last = id;
    }
  };
  if (host_stream_ >= 0 && !cur->scanned) {
    cur->scanned = true;
    for (const LayerStep& st : steps) {
      const std::string& n = std::holds_alternative<ComputeOp>(st) ? std::get<ComputeOp>(st).name
                                                                   : std::get<CommOp>(st).name;
      if (n.rfind("moe.", 0) == 0) cur->moe_layer = true;
      if (n.rfind("mamba.", 0) == 0) cur->mamba_layer = true;
    }
  }
  // The forward token dispatch needs the per-expert token counts on the host (Megatron-Core,
  // eager execution: Transformer Engine's grouped GEMMs take them as a host list). The
  // all-to-all dispatcher computes its split sizes before the all-to-all (the host waits for
  // the kernel before it); the flex dispatcher (DeepEP, HybridEP) returns them with the
  // dispatch (the host waits for the dispatch itself). For HybridEP the Qwen3-30B H100
  // profile (tests/validation/profiled_run_test.cc) tells the two apart: waiting for the
  // dispatch reproduces both its idle GPU without EP overlap (1.80 s of 1.89 s) and none with
  // it; waiting for the kernel before the dispatch leaves 5 s of idle GPU with EP overlap.
  auto issue_comm = [&](const CommOp& c, NodeId id, NodeId before) {
    const bool dispatch = host_stream_ >= 0 && c.name == "ep.all_to_all.dispatch";
    Issue(cur, id, c.name, dispatch && !s_.flex_dispatch ? before : kNone);
    if (dispatch && s_.flex_dispatch) cur->sync_on = id;
  };
  while (cur->next < steps.size()) {
    const size_t i = cur->next++;
    const LayerStep& st = steps[i];
    if (const auto* op = std::get_if<ComputeOp>(&st)) {
      const NodeId id = b_.AddCompute(kStreamCompute, op->name, compute_->Estimate(*op),
                                      NodeCategory::kCompute, op->cls);
      Issue(cur, id, op->name);
      add(id, true);
      continue;
    }
    const CommOp& c = std::get<CommOp>(st);
    if (yield_at_ep && c.group == GroupKind::kEp) {
      // EP all-to-all on its own stream after this pass's previous kernel; the pass's next
      // kernel waits for it, and meanwhile the paired pass computes.
      const NodeId id = AddComm(kStreamEpComm, c);
      issue_comm(c, id, last);
      if (last != kNone) b_.AddDependency(last, id);
      if (join != kNone) b_.AddDependency(join, id);
      if (deferred != kNone) {
        b_.AddDependency(deferred, id);
        deferred = kNone;
      }
      if (first == kNone) first = id;
      join = id;
      return false;
    }
    const bool next_is_gemm = i + 1 < steps.size() && std::holds_alternative<ComputeOp>(steps[i + 1]) &&
                              std::get<ComputeOp>(steps[i + 1]).cls == OpClass::kGemm;
    const bool prev_is_gemm = i > 0 && std::holds_alternative<ComputeOp>(steps[i - 1]) &&
                              std::get<ComputeOp>(steps[i - 1]).cls == OpClass::kGemm;
    if ((overlap || c.overlaps_next_gemm) && c.group == GroupKind::kTp && join == kNone &&
        deferred == kNone &&
        ((c.kind == CollectiveKind::kAllGather && next_is_gemm) ||
         (c.kind == CollectiveKind::kReduceScatter && prev_is_gemm))) {
      const NodeId id = AddComm(kStreamTpComm, c);
      Issue(cur, id, c.name);
      // All-gather: starts with the GEMM after it (after `last`); reduce-scatter: starts
      // with the GEMM before it (after `before_last`).
      const bool gather = c.kind == CollectiveKind::kAllGather;
      const NodeId after = gather ? last : before_last;
      if (after != kNone) b_.AddDependency(after, id);
      if (first == kNone) first = id;
      (gather && c.overlaps_next_gemm ? deferred : join) = id;
      continue;
    }
    const NodeId id = AddComm(kStreamCompute, c);
    issue_comm(c, id, last);
    add(id, true);
  }
  if (deferred != kNone) {
    // An all-gather with no GEMM after it in the block (not produced by the layer ops): a
    // marker stands for that GEMM, so the closing marker below waits for the gather.
    add(b_.AddDelay(kStreamCompute, "tp.overlap.join", 0), true);
  }
  if (join != kNone) {
    // Nothing follows on the compute stream: a zero-length marker closes the block.
    add(b_.AddDelay(kStreamCompute, "tp.overlap.join", 0), true);
  }
  return true;
}

bool StageGraphBuilder::AdvanceStep(StepRun* run, bool yield_at_ep) {
  while (run->unit < run->units.size()) {
    Unit& u = run->units[run->unit];
    if (!run->cur) run->cur.emplace(u.ops);
    b_.SetLabels(u.layer, run->mb);
    if (!Advance(&*run->cur, yield_at_ep)) return false;
    const NodeId f = run->cur->first, l = run->cur->last;
    u.done(f, l);
    if (run->first == ExecutionGraph::Builder::kNoNode) run->first = f;
    run->last = l;
    run->cur.reset();
    ++run->unit;
  }
  run->finish(run->first, run->last);
  return true;
}

void StageGraphBuilder::AddDpCollectives(uint8_t stream, CollectiveKind kind,
                                         const LocalParams& params, const std::string& name,
                                         NodeId after, NodeId before, double bytes_per_param) {
  constexpr NodeId kNone = ExecutionGraph::Builder::kNoNode;
  for (const auto& [group, count] : {std::pair<GroupKind, double>{GroupKind::kDp, params.dense},
                                     {GroupKind::kEdp, params.expert}}) {
    if (s_.plan.GroupSize(group) <= 1 || count <= 0) continue;
    CommOp op;
    op.name = group == GroupKind::kEdp ? "e" + name : name;  // "edp.grads.bucket", ...
    op.group = group;
    op.kind = kind;
    op.bytes = count * (bytes_per_param > 0 ? bytes_per_param : ActivationBytes(s_.dtype));
    const NodeId id = AddComm(stream, op);
    if (after != kNone) b_.AddDependency(after, id);
    if (before != kNone) b_.AddDependency(id, before);
  }
}

void StageGraphBuilder::AddDpReduce(const LocalParams& params, NodeId after,
                                    const std::string& name) {
  b_.SetLabels(-1, -1);
  // Gradients travel in fp32 with grad_reduce_in_fp32, else in the 16-bit training dtype.
  AddDpCollectives(kStreamDpComm,
                   s_.plan.zero >= 1 ? CollectiveKind::kReduceScatter : CollectiveKind::kAllReduce,
                   params, name, after, ExecutionGraph::Builder::kNoNode,
                   s_.plan.grad_reduce_in_fp32 ? 4.0 : 0.0);
}

StatusOr<ExecutionGraph> StageGraphBuilder::Build() {
  const ParallelPlan& p = s_.plan;
  const ModelSpec& m = s_.model;
  ECHOSIM_ASSIGN_OR_RETURN(const PipelineSchedule* schedule,
                           FindPipelineSchedule(p.pipeline_schedule));
  const int64_t mbs = p.num_microbatches();
  const int64_t V = p.pp * p.vpp;  // virtual stages
  const std::vector<PipelineStep> order = schedule->Order(stage_, p.pp, p.vpp, mbs);

  // Operator sequences depend on a layer only through its kind: sliding-window layers differ
  // in their attention kernels, the leading dense layers of an MoE model in their MLP, and the
  // layers of a hybrid model in their block (ModelSpec::LayerKind), the bf16 edge layers of an
  // fp8 / fp4 run in their precision. Each kind is generated once.
  constexpr int kBlockKinds = 5 * 4;  // block x windowed x dense, in one precision
  constexpr int kKinds = 2 * kBlockKinds;
  std::vector<LayerStep> kind_fwd[kKinds], kind_bwd[kKinds];
  bool generated[kKinds] = {};
  auto block_of = [](char k) { return k == 'T' ? 0 : k == 'M' ? 1 : k == '*' ? 2 : k == 'E' ? 3 : 4; };
  auto kind_of = [&](int64_t layer) {
    return block_of(m.LayerKind(layer)) * 4 + (m.WindowedLayer(layer) ? 1 : 0) +
           (m.is_moe() && !m.MoeLayer(layer) ? 2 : 0) + (HighPrecisionEdgeLayer(m, ctx_, layer) ? kBlockKinds : 0);
  };
  for (int64_t layer = 0; layer < m.layers; ++layer) {
    const int k = kind_of(layer);
    if (generated[k]) continue;
    generated[k] = true;
    const LayerContext kc = LayerContextOf(m, ctx_, layer);
    kind_fwd[k] = LayerForward(m, kc);
    kind_bwd[k] = LayerBackward(m, kc);
  }
  auto fwd_of = [&](int64_t layer) { return &kind_fwd[kind_of(layer)]; };
  auto bwd_of = [&](int64_t layer) { return &kind_bwd[kind_of(layer)]; };
  // Multi-token-prediction depths (on the last virtual stage, or where the layout puts them).
  const std::vector<LayerStep> mtp_fwd = m.mtp_layers > 0 ? MtpForward(m, ctx_) : std::vector<LayerStep>();
  const std::vector<LayerStep> mtp_bwd = m.mtp_layers > 0 ? MtpBackward(m, ctx_) : std::vector<LayerStep>();
  const std::vector<LayerStep> emb_fwd = EmbeddingForward(m, ctx_);
  const std::vector<LayerStep> emb_bwd = EmbeddingBackward(m, ctx_);
  const std::vector<LayerStep> head_fwd = HeadForward(m, ctx_);
  const std::vector<LayerStep> head_bwd = HeadBackward(m, ctx_);
  // Activation (and gradient) tensor passed between stages.
  const double p2p_bytes = static_cast<double>(p.micro_batch * s_.seq_len) / p.cp * m.hidden *
                           ActivationBytes(s_.dtype) /
                           (ctx_.sequence_parallel ? static_cast<double>(p.tp) : 1.0);
  Duration next_d = 0, prev_d = 0;
  if (p.pp > 1) {
    ECHOSIM_ASSIGN_OR_RETURN(CommCost next_c, costs_->Cost(CollectiveKind::kSendRecv, p2p_bytes, next_shape_));
    ECHOSIM_ASSIGN_OR_RETURN(CommCost prev_c, costs_->Cost(CollectiveKind::kSendRecv, p2p_bytes, prev_shape_));
    next_d = SecondsToDuration(next_c.latency_s + next_c.bandwidth_s);
    prev_d = SecondsToDuration(prev_c.latency_s + prev_c.bandwidth_s);
  }

  // The last backward of each chunk is where its gradients are final (DP reduction point).
  std::vector<int64_t> last_bwd(p.vpp, -1);
  for (size_t i = 0; i < order.size(); ++i) {
    if (!order[i].forward) last_bwd[order[i].chunk] = static_cast<int64_t>(i);
  }
  const int64_t dp_group = p.GroupSize(GroupKind::kDp);
  // Sharding needs a DP group or an expert-DP group of more than one rank (with MoE folding the
  // expert-DP group can be larger than the DP group).
  const bool sharded_groups = dp_group > 1 || p.GroupSize(GroupKind::kEdp) > 1;
  const bool zero3 = p.zero >= 3 && sharded_groups;
  // (A frozen embedding and output layer under LoRA have no gradients to reduce.)
  const LocalParams embed_params{ctx_.FrozenWeights() ? 0.0 : static_cast<double>(m.vocab * m.hidden) / p.tp, 0};
  const LocalParams no_params;
  // An MTP depth's weights: its layer (experts over expert TP * EP), projection and norms, and,
  // away from the first stage, its copy of the input embedding.
  LocalParams mtp_params{static_cast<double>(m.MtpLayerParams() - m.LayerExpertParams()) / p.tp +
                             (p.pp > 1 ? embed_params.dense : 0.0),
                         static_cast<double>(m.LayerExpertParams()) / (p.ExpertTp() * p.ep)};
  const bool overlap = s_.overlap_grad_reduce;
  LocalParams pending_bucket;  // gradients not yet handed to a DP reduction (no-overlap mode)
  auto param_gather = [&](int32_t layer, int32_t mb, const LocalParams& params, NodeId before_first) {
    // ZeRO-3: gather the layer's weights before use.
    b_.SetLabels(layer, mb);
    AddDpCollectives(kStreamDpComm, CollectiveKind::kAllGather, params, "dp.all_gather.params",
                     ExecutionGraph::Builder::kNoNode, before_first, ParamGatherBytes());
  };

  constexpr NodeId kNone = ExecutionGraph::Builder::kNoNode;
  // The StepRun of order[idx]: its pipeline receive (added now), its units, and what follows
  // once it is lowered (pipeline send, DP reduction of the last gradient bucket).
  auto make_run = [&](size_t idx) {
    auto run = std::make_unique<StepRun>();
    const PipelineStep& st = order[idx];
    const int64_t v = st.chunk * p.pp + stage_;
    const int32_t mb = st.microbatch;
    run->mb = mb;
    const int64_t first_layer = p.ChunkFirstLayer(m, v);
    const int64_t lpc = p.ChunkLayers(m, v);
    NodeId recv = kNone;
    if (st.forward) {
      if (v > 0 && p.pp > 1) {
        CommInfo info{CollectiveKind::kSendRecv, GroupKind::kPp, p2p_bytes, kPeerPrev,
                      static_cast<uint32_t>(mb * V + v), "p2p", "simple", kP2pChannels};
        b_.SetLabels(-1, mb);
        recv = b_.AddRecv(kStreamRecvFwd, "pp.recv.activations", info, prev_d);
      }
      auto unit = [&](const std::vector<LayerStep>* ops, int32_t layer, LocalParams params) {
        run->units.push_back({ops, layer, [&, layer, mb, params](NodeId f, NodeId) {
                                if (zero3 && params.total() > 0) param_gather(layer, mb, params, f);
                              }});
      };
      if (v == 0) unit(&emb_fwd, -1, embed_params);
      for (int64_t l = 0; l < lpc; ++l) {
        unit(fwd_of(first_layer + l), static_cast<int32_t>(first_layer + l), LayerParamsLocal(first_layer + l));
      }
      for (int64_t i = 0; i < p.ChunkMtpLayers(m, v); ++i) {
        unit(&mtp_fwd, static_cast<int32_t>(m.layers + i), i > 0 && m.mtp_shared_weights ? no_params : mtp_params);
      }
      if (v == V - 1) unit(&head_fwd, -1, m.tied_embeddings && p.pp == 1 ? no_params : embed_params);
      run->finish = [&, recv, v, mb](NodeId first, NodeId last) {
        if (recv != kNone) b_.AddDependency(recv, first);
        if (v < V - 1 && p.pp > 1) {
          CommInfo info{CollectiveKind::kSendRecv, GroupKind::kPp, p2p_bytes, kPeerNext,
                        static_cast<uint32_t>(mb * V + v + 1), "p2p", "simple", kP2pChannels};
          b_.SetLabels(-1, mb);
          const NodeId send = b_.AddSend(kStreamSendFwd, "pp.send.activations", info, next_d);
          b_.AddDependency(last, send);
        }
      };
      return run;
    }
    if (v < V - 1 && p.pp > 1) {
      CommInfo info{CollectiveKind::kSendRecv, GroupKind::kPp, p2p_bytes, kPeerNext,
                    static_cast<uint32_t>(mbs * V + mb * V + v), "p2p", "simple", kP2pChannels};
      b_.SetLabels(-1, mb);
      recv = b_.AddRecv(kStreamRecvBwd, "pp.recv.gradients", info, next_d);
    }
    const bool last_of_chunk = static_cast<int64_t>(idx) == last_bwd[st.chunk];
    const bool reduce_here = overlap && last_of_chunk;
    auto bucket = std::make_shared<LocalParams>();  // gradients not yet handed to a reduction
    auto unit = [&](const std::vector<LayerStep>* ops, int32_t layer, LocalParams params) {
      run->units.push_back({ops, layer, [&, layer, mb, params, bucket, reduce_here,
                                         last_of_chunk](NodeId f, NodeId l) {
                              if (zero3 && params.total() > 0) {
                                param_gather(layer, mb, params, f);
                                // FSDP reduce-scatters each layer's gradients after every
                                // micro-batch's backward, on its own stream as FSDP does: the
                                // next layer's gather prefetches meanwhile.
                                AddDpCollectives(kStreamDpReduce, CollectiveKind::kReduceScatter,
                                                 params, "dp.reduce_scatter.grads", l,
                                                 ExecutionGraph::Builder::kNoNode);
                              } else if (!zero3) {
                                *bucket += params;
                                if (reduce_here && bucket->total() >= s_.grad_bucket_params) {
                                  AddDpReduce(*bucket, l, "dp.grads.bucket");
                                  *bucket = LocalParams();
                                } else if (!reduce_here && last_of_chunk) {
                                  pending_bucket += params;
                                  *bucket = LocalParams();
                                }
                              }
                            }});
    };
    if (v == V - 1) unit(&head_bwd, -1, m.tied_embeddings && p.pp == 1 ? no_params : embed_params);
    for (int64_t i = p.ChunkMtpLayers(m, v) - 1; i >= 0; --i) {
      unit(&mtp_bwd, static_cast<int32_t>(m.layers + i), i > 0 && m.mtp_shared_weights ? no_params : mtp_params);
    }
    for (int64_t l = lpc - 1; l >= 0; --l) {
      unit(bwd_of(first_layer + l), static_cast<int32_t>(first_layer + l), LayerParamsLocal(first_layer + l));
    }
    if (v == 0) unit(&emb_bwd, -1, embed_params);
    run->finish = [&, recv, v, mb, bucket, reduce_here](NodeId first, NodeId last) {
      if (reduce_here && bucket->total() > 0) AddDpReduce(*bucket, last, "dp.grads.bucket");
      if (recv != kNone) b_.AddDependency(recv, first);
      if (v > 0 && p.pp > 1) {
        CommInfo info{CollectiveKind::kSendRecv, GroupKind::kPp, p2p_bytes, kPeerPrev,
                      static_cast<uint32_t>(mbs * V + mb * V + v - 1), "p2p", "simple", kP2pChannels};
        b_.SetLabels(-1, mb);
        const NodeId send = b_.AddSend(kStreamSendBwd, "pp.send.gradients", info, prev_d);
        b_.AddDependency(last, send);
      }
    };
    return run;
  };

  // EP communication overlap (Megatron-Core overlap_moe_expert_parallel_comm, "combined
  // 1F1B"): a backward followed by the forward of another micro-batch run as one pass whose
  // kernels interleave at the all-to-alls, so one pass's dispatch / combine runs on the
  // ep_comm stream while the other computes. Pairing a backward with the forward after it
  // (never a forward with a later backward) keeps every pipeline receive of the pair
  // independent of the pair itself.
  const bool ep_overlap = EpOverlap(s_);
  for (size_t idx = 0; idx < order.size();) {
    const bool pair = ep_overlap && idx + 1 < order.size() && !order[idx].forward &&
                      order[idx + 1].forward && order[idx].microbatch != order[idx + 1].microbatch;
    if (!pair) {
      auto run = make_run(idx);
      while (!AdvanceStep(run.get(), false)) {
      }
      ++idx;
      continue;
    }
    auto bwd = make_run(idx);
    auto fwd = make_run(idx + 1);
    bool bwd_done = false, fwd_done = false;
    while (!bwd_done || !fwd_done) {
      if (!bwd_done) bwd_done = AdvanceStep(bwd.get(), true);
      if (!fwd_done) fwd_done = AdvanceStep(fwd.get(), true);
    }
    idx += 2;
  }
  b_.SetLabels(-1, -1);
  const NodeId last_compute = b_.LastOn(kStreamCompute);
  if (!overlap && !zero3) {
    // Reduce everything after the backward pass, still bucketed.
    const double total = pending_bucket.total();
    double left = total;
    while (left > 0) {
      const double chunk = std::min(left, s_.grad_bucket_params);
      AddDpReduce(pending_bucket.Scaled(chunk / total), last_compute, "dp.grads.bucket");
      left -= chunk;
    }
  }
  // Optimizer step on this rank's shard of the parameters, after all gradient reductions.
  // Dense parameters shard over the DP group, expert parameters over the expert-DP group.
  // Under LoRA the adapters alone: the base weights take no step.
  const double stage_params = ctx_.FrozenWeights() ? StageLoraParams(m, p, ctx_, stage_) : StageParams(m, p, stage_);
  const double stage_expert = ctx_.FrozenWeights() ? 0.0 : StageExpertParams(m, p, stage_);
  const LocalParams stage_local{stage_params - stage_expert, stage_expert};
  const double shard =
      p.zero >= 1 ? stage_local.dense / static_cast<double>(dp_group) +
                        stage_local.expert / static_cast<double>(p.GroupSize(GroupKind::kEdp))
                  : stage_params;
  ComputeOp opt;
  opt.name = p.muon ? "optimizer.muon" : "optimizer.adam";
  opt.cls = OpClass::kOptimizer;
  // Adam: fp32 master weight, m and v read and written (24 B), fp32 grad read twice (norm,
  // update: 8 B), 16-bit weight written (2 B). Muon (the layers' matrices): master weight and
  // one momentum read and written (16 B), the gradient read and the orthogonalised update
  // written and read (8 B), 16-bit weight written (2 B); the embeddings stay with Adam. bf16
  // moments (optimizer_moments) are read and written at 2 bytes each instead of 4.
  const double embed_shard = StageEmbeddingParams(m, p, stage_) /
                             (p.zero >= 1 ? static_cast<double>(dp_group) : 1.0);
  const double moment_rw = p.moments_bf16 ? 4.0 : 8.0;  // one moment read and written
  const double adam_bytes = 8.0 + 2.0 * moment_rw + 8.0 + 2.0;
  const double muon_bytes = 8.0 + moment_rw + 8.0 + 2.0;
  opt.bytes = p.muon ? (shard - embed_shard) * muon_bytes + embed_shard * adam_bytes : shard * adam_bytes;
  NodeId first_opt = ExecutionGraph::Builder::kNoNode;
  if (p.muon) first_opt = AddNewtonSchulz();
  const NodeId opt_id = b_.AddCompute(kStreamCompute, opt.name, compute_->Estimate(opt),
                                      NodeCategory::kOther, OpClass::kOptimizer);
  Issue(nullptr, opt_id, opt.name);
  if (first_opt == ExecutionGraph::Builder::kNoNode) first_opt = opt_id;
  if (b_.LastOn(kStreamDpReduce) != ExecutionGraph::Builder::kNoNode) {
    b_.AddDependency(b_.LastOn(kStreamDpReduce), first_opt);
  }
  if (b_.LastOn(kStreamDpComm) != ExecutionGraph::Builder::kNoNode) {
    b_.AddDependency(b_.LastOn(kStreamDpComm), first_opt);
  }
  if (p.zero >= 1 && p.zero < 3 && sharded_groups && !s_.overlap_param_gather) {
    AddDpCollectives(kStreamDpComm, CollectiveKind::kAllGather, stage_local, "dp.all_gather.params",
                     opt_id, ExecutionGraph::Builder::kNoNode, ParamGatherBytes());
  }
  if (s_.host_overhead_s > 0) {
    b_.AddDelay(kStreamCompute, "host.overhead", SecondsToDuration(s_.host_overhead_s));
  }
  ECHOSIM_RETURN_IF_ERROR(status_);
  return std::move(b_).Build();
}

class SymmetricRankMap : public RankMap {
 public:
  explicit SymmetricRankMap(int64_t pp) : pp_(pp) {}
  int64_t NumRanks() const override { return pp_; }
  uint32_t ClassOf(int64_t rank) const override { return static_cast<uint32_t>(rank); }
  int64_t GroupId(int64_t rank, GroupKind) const override { return rank; }
  int64_t GroupArrivals(GroupKind) const override { return 1; }
  int64_t Peer(int64_t rank, int32_t peer) const override {
    return ((rank + peer) % pp_ + pp_) % pp_;
  }

 private:
  int64_t pp_;
};

class FullRankMap : public RankMap {
 public:
  explicit FullRankMap(const ParallelPlan& plan) : plan_(plan) {}
  int64_t NumRanks() const override { return plan_.gpus; }
  uint32_t ClassOf(int64_t rank) const override {
    return static_cast<uint32_t>(plan_.CoordsOf(rank).pp);
  }
  int64_t GroupId(int64_t rank, GroupKind g) const override { return plan_.GroupLeader(rank, g); }
  int64_t GroupArrivals(GroupKind g) const override { return plan_.GroupSize(g); }
  int64_t Peer(int64_t rank, int32_t peer) const override {
    ParallelPlan::Coords c = plan_.CoordsOf(rank);
    c.pp = ((c.pp + peer) % plan_.pp + plan_.pp) % plan_.pp;
    return plan_.RankOf(c);
  }

 private:
  ParallelPlan plan_;
};

// Link loads of inter-node transfers for flow-level contention. Transfers inside a
// node (NVSwitch, non-blocking) keep their modelled duration.
class TrainingCommResources : public CommResources {
 public:
  TrainingCommResources(const TrainingSetup& s, const Topology* topo, const CollectiveCosts* costs,
                        bool symmetric)
      : s_(s), topo_(topo), costs_(costs), symmetric_(symmetric) {
    links_ = topo_->AddLinks(&net_);
  }
  FlowNetwork* network() override { return &net_; }

  CommDemand Describe(int64_t rank, const ExecutionGraph& g, NodeId node) const override {
    // Instances repeat (every micro-batch, every layer): memoise by what determines the demand.
    const CommInfo& ci = g.comm(node);
    const int64_t me = Global(rank);
    const bool collective = g.kind(node) == NodeKind::kCollective;
    const int64_t who = collective ? s_.plan.GroupLeader(me, ci.group) : me;
    const auto key = std::make_tuple(static_cast<int>(g.kind(node)), static_cast<int>(ci.kind),
                                     static_cast<int>(ci.group), who, ci.peer, ci.bytes);
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    CommDemand d = Compute(rank, g, node);
    memo_.emplace(key, d);
    return d;
  }

 private:
  CommDemand Compute(int64_t rank, const ExecutionGraph& g, NodeId node) const {
    const CommInfo& ci = g.comm(node);
    const ParallelPlan& p = s_.plan;
    CommDemand d;
    d.channels = ci.channels;
    const int64_t me = Global(rank);
    const double per_node_gpus = static_cast<double>(p.gpus_per_node);
    if (g.kind(node) == NodeKind::kCollective) {
      const std::vector<int64_t> members = p.GroupMembers(me, ci.group);
      const GroupShape shape = topo_->ShapeOf(members);
      if (shape.intra_node()) return d;
      const auto cost = costs_->Cost(ci.kind, ci.bytes, shape);
      if (!cost.ok()) return d;  // reported when the graph was built
      const CommCost& parts = *cost;
      const double n = static_cast<double>(shape.size);
      switch (ci.kind) {
        case CollectiveKind::kAllReduce: d.wire_bytes = 2.0 * (n - 1) / n * ci.bytes; break;
        case CollectiveKind::kAllToAll:
          d.wire_bytes = (n - static_cast<double>(shape.per_node)) / n * ci.bytes;
          break;
        default: d.wire_bytes = (n - 1) / n * ci.bytes; break;
      }
      if (parts.bandwidth_s <= 0 || d.wire_bytes <= 0) return d;
      d.latency = SecondsToDuration(parts.latency_s);
      d.nominal_bytes_per_s = d.wire_bytes / parts.bandwidth_s;
      // Ring edges: member i sends to member i+1. NCCL runs several rings (channels) that
      // leave each node through different GPUs' NICs, so the traffic crossing nodes is spread
      // over every member's NIC: each carries crossing_edges / members of one member's
      // stream (1 when every member sits on its own node). Edges that leave a leaf load its
      // uplinks. One flow stands for the whole instance. Symmetric mode folds every member
      // onto the simulated representative of its stage (members of one group are images of
      // each other), and the uplinks carry the instances of every image group on the nodes.
      const double images = symmetric_ ? per_node_gpus / static_cast<double>(shape.per_node) : 1.0;
      const size_t m = members.size();
      std::vector<LinkUse> edges;
      int64_t crossing = 0;
      for (size_t i = 0; i < m; ++i) {
        const int64_t src = members[i], dst = members[(i + 1) % m];
        if (topo_->NodeOf(src) == topo_->NodeOf(dst)) continue;
        ++crossing;
        std::vector<LinkUse> e;
        topo_->AppendPath(links_, src, dst, images, &e);
        edges.insert(edges.end(), e.begin() + 2, e.end());  // uplinks, if any
      }
      const double nic_weight = static_cast<double>(crossing) / static_cast<double>(m);
      for (size_t i = 0; i < m; ++i) {
        if (symmetric_ && members[i] != me) continue;
        const int64_t who = members[i];
        edges.push_back({static_cast<LinkId>(links_.first_nic + 2 * who), nic_weight});
        edges.push_back({static_cast<LinkId>(links_.first_nic + 2 * who + 1), nic_weight});
      }
      // Merge duplicates: an uplink carries every edge that crosses it.
      std::sort(edges.begin(), edges.end(),
                [](const LinkUse& a, const LinkUse& b) { return a.link < b.link; });
      for (const LinkUse& u : edges) {
        if (!d.path.empty() && d.path.back().link == u.link) {
          d.path.back().weight += u.weight;
        } else {
          d.path.push_back(u);
        }
      }
      return d;
    }
    const int64_t peer = Global(PeerOf(rank, ci.peer));
    const int64_t src = g.kind(node) == NodeKind::kSend ? me : peer;
    const int64_t dst = g.kind(node) == NodeKind::kSend ? peer : me;
    if (topo_->NodeOf(src) == topo_->NodeOf(dst)) return d;
    const auto cost = costs_->Cost(CollectiveKind::kSendRecv, ci.bytes, topo_->ShapeOf({src, dst}));
    if (!cost.ok()) return d;
    const CommCost& parts = *cost;
    if (parts.bandwidth_s <= 0) return d;
    d.latency = SecondsToDuration(parts.latency_s);
    d.wire_bytes = ci.bytes;
    d.nominal_bytes_per_s = ci.bytes / parts.bandwidth_s;
    topo_->AppendPath(links_, src, dst, symmetric_ ? per_node_gpus : 1.0, &d.path);
    return d;
  }

  // The simulated representative standing for global rank g (symmetric mode).
  int64_t Fold(int64_t g) const { return RepresentativeRank(s_.plan, s_.plan.CoordsOf(g).pp); }
  int64_t Global(int64_t sim_rank) const {
    return symmetric_ ? RepresentativeRank(s_.plan, sim_rank) : sim_rank;
  }
  int64_t PeerOf(int64_t sim_rank, int32_t peer) const {
    const ParallelPlan& p = s_.plan;
    if (symmetric_) return ((sim_rank + peer) % p.pp + p.pp) % p.pp;
    ParallelPlan::Coords c = p.CoordsOf(sim_rank);
    c.pp = ((c.pp + peer) % p.pp + p.pp) % p.pp;
    return p.RankOf(c);
  }

  const TrainingSetup& s_;
  const Topology* topo_;
  const CollectiveCosts* costs_;
  bool symmetric_;
  FlowNetwork net_;
  FabricLinks links_;
  mutable std::map<std::tuple<int, int, int, int64_t, int32_t, double>, CommDemand> memo_;
};

// Attributes every instant of [0, end) on one rank to the most important thing
// running: compute > other (optimizer, host) > communication > a kernel held back by the
// host (the host model: its GPU-side inputs were ready, the host had not issued it yet) >
// nothing (bubble). Host activity itself is not GPU time: a host running ahead of the GPU
// while it waits for another stage is a pipeline bubble, not host-bound time.
StepBreakdown ComputeBreakdown(const ExecutionGraph& g, const std::vector<Span>& spans, Time end) {
  struct Edge {
    Time t;
    int cat;
    int group;
    int delta;
  };
  std::vector<Edge> edges;
  edges.reserve(spans.size() * 2);
  bool host_model = false;
  for (const Span& s : spans) {
    if (g.category(s.node) == NodeCategory::kHost) {
      host_model = true;
      continue;
    }
    if (s.end <= s.start) continue;
    int cat = 2, group = static_cast<int>(GroupKind::kNone);
    switch (g.category(s.node)) {
      case NodeCategory::kCompute: cat = 0; break;
      case NodeCategory::kOther: cat = 1; break;
      case NodeCategory::kComm:
        cat = 2;
        group = static_cast<int>(g.comm(s.node).group);
        break;
      case NodeCategory::kHost: break;
    }
    edges.push_back({s.start, cat, group, +1});
    edges.push_back({s.end, cat, group, -1});
  }
  if (host_model) {
    // For each node the host issued: from when its GPU-side predecessors had finished to when
    // its host node did, if the host was the later of the two.
    std::vector<Time> end_of(g.num_nodes(), -1), gpu_ready(g.num_nodes(), 0), issued(g.num_nodes(), -1);
    for (const Span& s : spans) end_of[s.node] = s.end;
    for (NodeId v = 0; v < g.num_nodes(); ++v) {
      if (end_of[v] < 0) continue;
      const bool host = g.category(v) == NodeCategory::kHost;
      for (NodeId w : g.successors(v)) {
        if (host) {
          issued[w] = std::max(issued[w], end_of[v]);
        } else {
          gpu_ready[w] = std::max(gpu_ready[w], end_of[v]);
        }
      }
    }
    for (NodeId v = 0; v < g.num_nodes(); ++v) {
      if (g.category(v) == NodeCategory::kHost || issued[v] <= gpu_ready[v]) continue;
      edges.push_back({gpu_ready[v], 3, static_cast<int>(GroupKind::kNone), +1});
      edges.push_back({issued[v], 3, static_cast<int>(GroupKind::kNone), -1});
    }
  }
  std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.t < b.t; });
  Duration acc[5] = {0, 0, 0, 0, 0};
  double by_group[kNumGroupKinds] = {};
  int active[4] = {0, 0, 0, 0};
  int active_group[kNumGroupKinds] = {};
  Time prev = 0;
  for (const Edge& e : edges) {
    if (e.t > prev) {
      const int who = active[0] > 0 ? 0 : active[1] > 0 ? 1 : active[2] > 0 ? 2 : active[3] > 0 ? 3 : 4;
      acc[who] += e.t - prev;
      if (who == 2) {
        int kinds = 0;
        for (int k = 0; k < kNumGroupKinds; ++k) kinds += active_group[k] > 0;
        for (int k = 0; k < kNumGroupKinds; ++k) {
          if (active_group[k] > 0) by_group[k] += DurationToSeconds(e.t - prev) / kinds;
        }
      }
      prev = e.t;
    }
    active[e.cat] += e.delta;
    if (e.cat == 2) active_group[e.group] += e.delta;
  }
  if (end > prev) acc[4] += end - prev;
  StepBreakdown b;
  b.compute_s = DurationToSeconds(acc[0]);
  b.other_s = DurationToSeconds(acc[1]);
  b.exposed_comm_s = DurationToSeconds(acc[2]);
  b.host_bound_s = DurationToSeconds(acc[3]);
  b.pipeline_bubble_s = DurationToSeconds(acc[4]);
  for (int k = 0; k < kNumGroupKinds; ++k) b.exposed_comm_by_group_s[k] = by_group[k];
  return b;
}

ComputeCostModel MakeComputeModel(const TrainingSetup& setup) {
  return ComputeCostModel(setup.gpu, setup.compute_sustained_factor, setup.compute_calibration,
                          setup.measured_kernels);
}

// The cluster of the plan's GPUs.
TopologyConfig PlanTopology(const TrainingSetup& setup) {
  TopologyConfig tc = setup.topology;
  tc.gpus = setup.plan.gpus;
  tc.gpus_per_node = setup.plan.gpus_per_node;
  return tc;
}

// Collective costs over topo (which must outlive them) with the setup's collective model.
StatusOr<std::shared_ptr<CollectiveCosts>> MakeCollectiveCosts(const TrainingSetup& setup, const Topology* topo) {
  return CollectiveCosts::Create(setup.gpu, topo, setup.collective_model, setup.nccl_version,
                                 setup.nccl_calibration);
}

}  // namespace

StatusOr<std::vector<ComputeOp>> CollectComputeOps(const TrainingSetup& setup) {
  ECHOSIM_RETURN_IF_ERROR(setup.model.Validate());
  ECHOSIM_RETURN_IF_ERROR(ValidatePlan(setup.plan, setup.model, setup.seq_len));
  ComputeCostModel compute(setup.gpu, setup.compute_sustained_factor);
  compute.RecordDistinctOps();
  Topology topo(PlanTopology(setup));
  ECHOSIM_ASSIGN_OR_RETURN(auto costs, MakeCollectiveCosts(setup, &topo));
  for (int64_t s = 0; s < setup.plan.pp; ++s) {
    StageGraphBuilder builder(setup, s, &compute, &topo, costs.get());
    ECHOSIM_RETURN_IF_ERROR(builder.Build().status());
  }
  return compute.distinct_ops();
}

StatusOr<ExecutionGraph> BuildStageGraph(const TrainingSetup& setup, int64_t stage) {
  ComputeCostModel compute = MakeComputeModel(setup);
  Topology topo(PlanTopology(setup));
  ECHOSIM_ASSIGN_OR_RETURN(auto costs, MakeCollectiveCosts(setup, &topo));
  StageGraphBuilder builder(setup, stage, &compute, &topo, costs.get());
  return builder.Build();
}

StatusOr<StepResult> SimulateTrainingStep(const TrainingSetup& setup) {
  const auto wall_start = std::chrono::steady_clock::now();
  ECHOSIM_RETURN_IF_ERROR(setup.model.Validate());
  ECHOSIM_RETURN_IF_ERROR(setup.gpu.Validate());
  ECHOSIM_RETURN_IF_ERROR(ValidatePlan(setup.plan, setup.model, setup.seq_len));
  if (setup.dtype == DType::kFp8 && setup.gpu.peak_tflops_fp8 <= 0) {
    return InvalidArgument(StrCat("--dtype (workload.training.dtype): gpu '", setup.gpu.name,
                                  "' has no FP8 tensor cores; use bf16 or fp16"));
  }
  if (setup.dtype == DType::kFp4 && setup.gpu.peak_tflops_fp4 <= 0) {
    return InvalidArgument(StrCat("--dtype (workload.training.dtype): gpu '", setup.gpu.name,
                                  "' has no FP4 tensor cores (NVFP4 needs Blackwell); use bf16, "
                                  "fp16 or fp8"));
  }
  const ParallelPlan& p = setup.plan;
  Topology topo(PlanTopology(setup));
  ComputeCostModel compute = MakeComputeModel(setup);

  ECHOSIM_ASSIGN_OR_RETURN(auto costs, MakeCollectiveCosts(setup, &topo));
  StepResult r;
  for (int64_t s = 0; s < p.pp; ++s) {
    StageGraphBuilder builder(setup, s, &compute, &topo, costs.get());
    ECHOSIM_ASSIGN_OR_RETURN(ExecutionGraph g, builder.Build());
    r.graphs.push_back(std::make_shared<const ExecutionGraph>(std::move(g)));
  }
  std::vector<const ExecutionGraph*> classes;
  for (const auto& g : r.graphs) classes.push_back(g.get());

  SymmetricRankMap symmetric(p.pp);
  FullRankMap full(p);
  const RankMap* map = setup.full ? static_cast<const RankMap*>(&full) : &symmetric;
  ExecutorOptions options;
  std::unique_ptr<InterferenceModel> interference;
  if (setup.interference) {
    ECHOSIM_ASSIGN_OR_RETURN(int sms, SmCount(DefaultInterferenceParams(), setup.gpu.name));
    interference = std::make_unique<InterferenceModel>(DefaultInterferenceParams(), sms);
    options.interference = interference.get();
  }
  std::unique_ptr<TrainingCommResources> comm;
  if (setup.contention) {
    comm = std::make_unique<TrainingCommResources>(setup, &topo, costs.get(), !setup.full);
    options.comm = comm.get();
  }
  Engine engine;
  Executor exec(classes, map, &engine, options);
  // Record one rank per stage: the representative (tp = cp = dp = 0).
  std::vector<int64_t> recorded;
  for (int64_t s = 0; s < p.pp; ++s) {
    const int64_t sim_rank = setup.full ? RepresentativeRank(p, s) : s;
    exec.RecordRank(sim_rank);
    recorded.push_back(sim_rank);
  }
  ECHOSIM_RETURN_IF_ERROR(exec.Run());

  r.simulated_ranks = map->NumRanks();
  r.events = engine.events_processed();
  r.graph_nodes = exec.nodes_completed();
  const Time end = exec.finish_time();
  r.step_end = end;
  r.step_time_s = DurationToSeconds(end);
  // The host overhead is the last node of each stage graph (StageGraphBuilder::Build).
  r.host_overhead_is_tail = setup.host_overhead_s > 0 && !setup.full;
  for (size_t i = 0; i < recorded.size() && r.host_overhead_is_tail; ++i) {
    const ExecutionGraph& g = *classes[i];
    const NodeId last = static_cast<NodeId>(g.num_nodes() - 1);
    bool tail = g.name(last) == "host.overhead";
    if (tail) {
      tail = false;
      for (const Span& sp : exec.spans(recorded[i])) {
        if (sp.node == last) tail = sp.end == exec.rank_finish_time(recorded[i]);
      }
    }
    r.host_overhead_is_tail = tail;
  }
  const double tokens = static_cast<double>(p.global_batch) * setup.seq_len;
  r.tokens_per_s_per_gpu = tokens / r.step_time_s / p.gpus;
  r.model_flops_per_step = setup.model.TrainingFlops(static_cast<int64_t>(tokens), setup.seq_len);
  // LoRA: the forward and the input gradients, no weight gradients (2 of the 3 passes; the
  // adapters' FLOPs, under 0.1% of Llama 3 70B's at rank 16 on qkv, are left out).
  if (setup.lora_rank > 0) r.model_flops_per_step *= 2.0 / 3.0;
  r.model_tflops_per_gpu = r.model_flops_per_step / r.step_time_s / p.gpus / 1e12;
  r.mfu = r.model_tflops_per_gpu * 1e12 / setup.gpu.PeakFlopsPerS(setup.dtype);

  // Breakdown of the recorded rank that finishes last (lowest stage on ties).
  int64_t crit = recorded[0];
  for (int64_t sr : recorded) {
    if (exec.rank_finish_time(sr) > exec.rank_finish_time(crit)) crit = sr;
  }
  const int64_t crit_stage = setup.full ? p.CoordsOf(crit).pp : crit;
  r.breakdown = ComputeBreakdown(*classes[crit_stage], exec.spans(crit), end);
  r.breakdown_rank = RepresentativeRank(p, crit_stage);

  for (size_t i = 0; i < recorded.size(); ++i) {
    TimelineTrack t;
    t.global_rank = RepresentativeRank(p, static_cast<int64_t>(i));
    t.graph = classes[i];
    t.spans = exec.spans(recorded[i]);
    std::sort(t.spans.begin(), t.spans.end(), [](const Span& a, const Span& b) {
      return a.start != b.start ? a.start < b.start : a.node < b.node;
    });
    r.tracks.push_back(std::move(t));
  }

  // Memory per stage.
  ECHOSIM_ASSIGN_OR_RETURN(const PipelineSchedule* schedule,
                           FindPipelineSchedule(p.pipeline_schedule));
  std::vector<int64_t> in_flight;
  for (int64_t s = 0; s < p.pp; ++s) {
    in_flight.push_back(schedule->InFlight(s, p.pp, p.vpp, p.num_microbatches()));
  }
  const LayerContext layer = MakeLayerContext(setup);
  r.memory = EstimateMemory(setup.model, p, layer, in_flight, setup.gpu.memory_reserved_gb * 1e9);
  r.moe_load_imbalance = MoeLoadImbalance(setup.model, layer);
  r.memory_capacity_bytes = setup.gpu.HbmCapacityBytes();
  for (const StageMemory& sm : r.memory) {
    if (sm.total_bytes() > r.peak_memory_bytes) {
      r.peak_memory_bytes = sm.total_bytes();
      r.peak_memory_stage = sm.stage;
    }
  }
  r.fits_in_memory = r.peak_memory_bytes <= r.memory_capacity_bytes;
  r.sim_wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return r;
}

}  // namespace echosim
