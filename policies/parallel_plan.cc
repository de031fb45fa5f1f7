#include "policies/parallel_plan.h"

#include <algorithm>

#include "policies/pipeline_schedule.h"
#include "simulator/core/strings.h"

namespace echosim {

const char* RecomputeModeName(RecomputeMode m) {
  switch (m) {
    case RecomputeMode::kNone: return "none";
    case RecomputeMode::kSelective: return "selective";
    case RecomputeMode::kFull: return "full";
  }
  return "?";
}

ParallelPlan::Coords ParallelPlan::CoordsOf(int64_t rank) const {
  Coords c;
  c.tp = rank % tp;
  rank /= tp;
  c.cp = rank % cp;
  rank /= cp;
  c.dp = rank % dp;
  c.pp = rank / dp;
  return c;
}

int64_t ParallelPlan::GroupSize(GroupKind g) const {
  switch (g) {
    case GroupKind::kTp: return tp;
    case GroupKind::kCp: return cp;
    case GroupKind::kEp: return ep;
    case GroupKind::kDp: return dp * cp;
    case GroupKind::kEdp: return tp * cp * dp / (ExpertTp() * ep);
    case GroupKind::kPp: return pp;
    case GroupKind::kNone: return 1;
  }
  return 1;
}

int64_t ParallelPlan::GroupLeader(int64_t rank, GroupKind g) const {
  Coords c = CoordsOf(rank);
  switch (g) {
    case GroupKind::kTp: c.tp = 0; break;
    case GroupKind::kCp: c.cp = 0; break;
    case GroupKind::kDp:
      c.dp = 0;
      c.cp = 0;
      break;
    case GroupKind::kPp: c.pp = 0; break;
    case GroupKind::kEdp:
      if (MoeFolded()) {
        const int64_t per_stage = tp * cp * dp;
        return c.pp * per_stage + (rank % per_stage) % ep;
      }
      c.dp = c.dp % ep;
      c.cp = 0;
      break;
    case GroupKind::kEp:
      if (MoeFolded()) {
        const int64_t per_stage = tp * cp * dp;
        return c.pp * per_stage + (rank % per_stage) / ep * ep;
      }
      c.dp = c.dp / ep * ep;
      break;
    case GroupKind::kNone: break;
  }
  return RankOf(c);
}

std::vector<int64_t> ParallelPlan::GroupMembers(int64_t rank, GroupKind g) const {
  const Coords base = CoordsOf(rank);
  std::vector<int64_t> out;
  if (g == GroupKind::kDp) {
    // Ranks holding the same weights: every data- and context-parallel index.
    for (int64_t d = 0; d < dp; ++d) {
      for (int64_t c = 0; c < cp; ++c) out.push_back(RankOf({base.tp, c, d, base.pp}));
    }
    return out;
  }
  if (g == GroupKind::kEdp) {
    // Same experts: the same place in an EP group, in every EP group of the stage.
    if (MoeFolded()) {
      const int64_t per_stage = tp * cp * dp;
      const int64_t first = GroupLeader(rank, g);
      for (int64_t s = first % per_stage; s < per_stage; s += ep) {
        out.push_back(base.pp * per_stage + s);
      }
      return out;
    }
    for (int64_t d = base.dp % ep; d < dp; d += ep) {
      for (int64_t c = 0; c < cp; ++c) out.push_back(RankOf({base.tp, c, d, base.pp}));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  const int64_t n = GroupSize(g);
  if (g == GroupKind::kEp && MoeFolded()) {
    // Consecutive ranks of the stage (tp fastest, then cp, then dp).
    const int64_t leader = GroupLeader(rank, g);
    for (int64_t i = 0; i < n; ++i) out.push_back(leader + i);
    return out;
  }
  for (int64_t i = 0; i < n; ++i) {
    Coords c = base;
    switch (g) {
      case GroupKind::kTp: c.tp = i; break;
      case GroupKind::kCp: c.cp = i; break;
      case GroupKind::kDp: c.dp = i; break;
      case GroupKind::kPp: c.pp = i; break;
      case GroupKind::kEp: c.dp = base.dp / ep * ep + i; break;
      case GroupKind::kNone:
      case GroupKind::kEdp: break;  // handled above
    }
    out.push_back(RankOf(c));
  }
  return out;
}

namespace {
Status PlanError(const char* flag, const char* field, const std::string& what) {
  return InvalidArgument(StrCat(flag, " (", field, "): ", what));
}
}  // namespace

namespace {
int64_t SplitSlots(const ParallelPlan& p, const ModelSpec& m) {
  return m.layers + (p.embedding_in_pipeline_split ? 1 : 0) + (p.loss_in_pipeline_split ? 1 : 0);
}
}  // namespace

int64_t ParallelPlan::ChunkLayers(const ModelSpec& m, int64_t v) const {
  if (!layout.empty()) return v < static_cast<int64_t>(layout.size()) ? layout[v].layers : 0;
  const int64_t virtual_stages = pp * vpp;
  const int64_t per = SplitSlots(*this, m) / virtual_stages;
  return per - (v == 0 && embedding_in_pipeline_split ? 1 : 0) -
         (v == virtual_stages - 1 && loss_in_pipeline_split ? 1 : 0);
}

int64_t ParallelPlan::ChunkFirstLayer(const ModelSpec& m, int64_t v) const {
  if (!layout.empty()) {
    int64_t first = 0;
    for (int64_t u = 0; u < v && u < static_cast<int64_t>(layout.size()); ++u) first += layout[u].layers;
    return first;
  }
  const int64_t per = SplitSlots(*this, m) / (pp * vpp);
  return v * per - (v > 0 && embedding_in_pipeline_split ? 1 : 0);
}

int64_t ParallelPlan::ChunkMtpLayers(const ModelSpec& m, int64_t v) const {
  if (!layout.empty()) return v < static_cast<int64_t>(layout.size()) ? layout[v].mtp : 0;
  return v == pp * vpp - 1 ? m.mtp_layers : 0;
}

int64_t ParallelPlan::StageLayers(const ModelSpec& m, int64_t stage) const {
  int64_t n = 0;
  for (int64_t c = 0; c < vpp; ++c) n += ChunkLayers(m, c * pp + stage);
  return n;
}

int64_t ParallelPlan::StageMtpLayers(const ModelSpec& m, int64_t stage) const {
  int64_t n = 0;
  for (int64_t c = 0; c < vpp; ++c) n += ChunkMtpLayers(m, c * pp + stage);
  return n;
}

// A pipeline layout must list one entry per virtual stage and place every layer (and every
// multi-token-prediction layer) of the model once.
static Status ValidateLayout(const ParallelPlan& p, const ModelSpec& m) {
  const char* flag = "--pipeline-layout";
  const char* field = "parallelism.pipeline_layout";
  const std::string written = FormatPipelineLayout(p.layout);
  if (static_cast<int64_t>(p.layout.size()) != p.pp * p.vpp) {
    return PlanError(flag, field, StrCat("the layout lists ", p.layout.size(),
                                         " virtual stages; pp * vpp = ", p.pp, " * ", p.vpp, " = ",
                                         p.pp * p.vpp, " (", written, ")"));
  }
  int64_t layers = 0, mtp = 0;
  for (const LayoutStage& st : p.layout) {
    layers += st.layers;
    mtp += st.mtp;
  }
  if (layers != m.layers) {
    return PlanError(flag, field, StrCat("the layout places ", layers, " transformer layers ('t'); model '",
                                         m.name, "' has ", m.layers));
  }
  if (mtp != m.mtp_layers) {
    return PlanError(flag, field, StrCat("the layout places ", mtp, " multi-token-prediction layers ('m'); model '",
                                         m.name, "' has ", m.mtp_layers, " (workload.training.shape.mtp_layers)"));
  }
  if (p.embedding_in_pipeline_split || p.loss_in_pipeline_split) {
    return PlanError(flag, field, "a layout places the embedding and the loss itself: leave "
                                  "parallelism.account_for_embedding_in_pipeline_split and "
                                  "account_for_loss_in_pipeline_split unset");
  }
  return Status::Ok();
}

Status ValidatePlan(const ParallelPlan& p, const ModelSpec& m, int64_t seq_len) {
  struct Positive {
    const char* flag;
    const char* field;
    int64_t v;
  };
  for (const Positive& f : {Positive{"--gpus", "cluster.gpus", p.gpus},
                            Positive{"--gpus-per-node", "cluster.gpus_per_node", p.gpus_per_node},
                            Positive{"--tp", "parallelism.tp", p.tp},
                            Positive{"--pp", "parallelism.pp", p.pp},
                            Positive{"--vpp", "parallelism.vpp", p.vpp},
                            Positive{"--cp", "parallelism.cp", p.cp},
                            Positive{"--ep", "parallelism.ep", p.ep},
                            Positive{"--dp", "parallelism.dp", p.dp},
                            Positive{"--micro-batch", "workload.training.micro_batch_seqs", p.micro_batch},
                            Positive{"--global-batch", "workload.training.global_batch_seqs", p.global_batch},
                            Positive{"--seq-len", "workload.training.seq_len_tokens", seq_len}}) {
    if (f.v <= 0) return PlanError(f.flag, f.field, StrCat("must be a positive integer, got ", f.v));
  }
  if (p.gpus > (1 << 20)) return PlanError("--gpus", "cluster.gpus", "at most 1048576 GPUs are supported");
  if (seq_len > (1 << 24)) {
    return PlanError("--seq-len", "workload.training.seq_len_tokens",
                     StrCat("at most 16777216 tokens are supported, got ", seq_len));
  }
  // Simulated time is kept in picoseconds (int64: about 106 days); a step of more than 1e21
  // FLOPs per GPU (about 12 days at 1 PFLOP/s) is beyond what echosim simulates.
  const double step_flops_per_gpu =
      m.TrainingFlops(p.global_batch * seq_len, seq_len) / static_cast<double>(std::max<int64_t>(p.gpus, 1));
  if (step_flops_per_gpu > 1e21) {
    return PlanError("--global-batch", "workload.training.global_batch_seqs",
                     StrCat("a step of ", FormatDouble(step_flops_per_gpu, 3),
                            " FLOPs per GPU is beyond what echosim simulates (at most 1e21): fewer "
                            "sequences, shorter sequences or more GPUs"));
  }
  if (p.tp * p.pp * p.cp * p.dp != p.gpus) {
    return PlanError("--gpus", "cluster.gpus",
                     StrCat("tp*pp*cp*dp = ", p.tp, "*", p.pp, "*", p.cp, "*", p.dp, " = ",
                            p.tp * p.pp * p.cp * p.dp, " does not equal gpus = ", p.gpus));
  }
  if (m.heads % p.tp != 0) {
    return PlanError("--tp", "parallelism.tp",
                     StrCat("model heads (", m.heads, ") are not divisible by tp = ", p.tp));
  }
  if (m.kv_heads % p.tp != 0 && p.tp % m.kv_heads != 0) {
    return PlanError("--tp", "parallelism.tp",
                     StrCat("model kv_heads (", m.kv_heads, ") and tp = ", p.tp,
                            " must divide one another"));
  }
  if (m.ffn_hidden % p.tp != 0) {
    return PlanError("--tp", "parallelism.tp",
                     StrCat("model ffn_hidden (", m.ffn_hidden, ") is not divisible by tp = ", p.tp));
  }
  if (m.vocab % p.tp != 0) {
    return PlanError("--tp", "parallelism.tp",
                     StrCat("model vocab (", m.vocab, ") is not divisible by tp = ", p.tp));
  }
  if (m.layer_pattern.find('M') != std::string::npos) {
    // Megatron-Core's MambaMixer splits heads and B/C groups over TP; context parallelism of
    // the scan (its hidden states passed between ranks) is not simulated.
    if (m.mamba_heads % p.tp != 0 || m.mamba_groups % p.tp != 0) {
      return PlanError("--tp", "parallelism.tp",
                       StrCat("model mamba_heads (", m.mamba_heads, ") and mamba_groups (",
                              m.mamba_groups, ") must be divisible by tp = ", p.tp));
    }
    if (p.cp > 1) {
      return PlanError("--cp", "parallelism.cp",
                       StrCat("context parallelism of Mamba-2 layers is not simulated; use cp = 1 "
                              "for model '", m.name, "'"));
    }
  }
  if (!p.layout.empty()) {
    ECHOSIM_RETURN_IF_ERROR(ValidateLayout(p, m));
  } else if (const int64_t slots = SplitSlots(p, m); slots % (p.pp * p.vpp) != 0) {
    const bool counted = p.embedding_in_pipeline_split || p.loss_in_pipeline_split;
    return PlanError(
        p.vpp > 1 ? "--vpp" : "--pp", p.vpp > 1 ? "parallelism.vpp" : "parallelism.pp",
        StrCat("model layers (", m.layers, counted ? StrCat(" + ", slots - m.layers, " counted for the embedding/loss") : "",
               ") are not divisible by pp*vpp = ", p.pp, "*", p.vpp, " = ", p.pp * p.vpp,
               (m.layers + 2) % (p.pp * p.vpp) == 0 && !counted
                   ? " (layers + 2 are: count the embedding and the loss as pipeline layers with "
                     "--account-for-embedding-in-pipeline-split --account-for-loss-in-pipeline-split)"
               : (m.layers + 2) % (p.pp * p.vpp) == 0 && slots == m.layers + 1
                   ? StrCat(" (layers + 2 are: count the ", p.embedding_in_pipeline_split ? "loss" : "embedding",
                            " too with --account-for-",
                            p.embedding_in_pipeline_split ? "loss" : "embedding", "-in-pipeline-split)")
                   : std::string()));
  }
  if (p.layout.empty() && (p.ChunkLayers(m, 0) < 0 || p.ChunkLayers(m, p.pp * p.vpp - 1) < 0)) {
    return PlanError("--pp", "parallelism.pp",
                     StrCat("a virtual stage would hold fewer than 0 transformer layers (", m.layers,
                            " layers over ", p.pp * p.vpp, " virtual stages with the embedding/loss counted)"));
  }
  if (p.vpp > 1 && p.pp == 1) {
    return PlanError("--vpp", "parallelism.vpp", "interleaved stages need pp > 1");
  }
  if (seq_len % p.cp != 0 || (p.cp > 1 && seq_len % (2 * p.cp) != 0)) {
    return PlanError("--cp", "parallelism.cp",
                     StrCat("sequence length ", seq_len, " must be divisible by 2*cp = ", 2 * p.cp,
                            " (load-balanced causal context parallelism)"));
  }
  if (p.sequence_parallel && p.tp > 1 && (p.micro_batch * seq_len / p.cp) % p.tp != 0) {
    return PlanError("--sequence-parallel", "parallelism.sequence_parallel",
                     StrCat("tokens per micro-batch (", p.micro_batch * seq_len / p.cp,
                            ") are not divisible by tp = ", p.tp));
  }
  if (p.ep > 1 && !m.is_moe()) {
    return PlanError("--ep", "parallelism.ep",
                     StrCat("expert parallelism needs a mixture-of-experts model; '", m.name,
                            "' is dense"));
  }
  if (m.is_moe() && m.experts % p.ep != 0) {
    return PlanError("--ep", "parallelism.ep",
                     StrCat("model experts (", m.experts, ") are not divisible by ep = ", p.ep));
  }
  if (p.etp != 0 && p.etp != 1 && p.etp != p.tp) {
    return PlanError("--expert-tp", "parallelism.expert_tp",
                     StrCat("expert tensor parallel size must be 1 or tp (", p.tp, "), got ", p.etp));
  }
  if (p.MoeFolded() && m.is_moe()) {
    if (!p.sequence_parallel) {
      return PlanError("--expert-tp", "parallelism.expert_tp",
                       "expert tp 1 under tp > 1 (MoE parallel folding) needs "
                       "parallelism.sequence_parallel (--sequence-parallel), as in Megatron-Core");
    }
    if ((p.tp * p.cp * p.dp) % p.ep != 0) {
      return PlanError("--ep", "parallelism.ep",
                       StrCat("ep = ", p.ep, " must divide tp*cp*dp = ", p.tp * p.cp * p.dp,
                              " (expert tp 1: EP spans the stage's TP, CP and DP ranks)"));
    }
  } else if (p.dp % p.ep != 0) {
    return PlanError("--ep", "parallelism.ep",
                     StrCat("ep = ", p.ep, " must divide dp = ", p.dp,
                            " (EP is carved out of DP; with tp > 1, --expert-tp 1 lets EP span "
                            "the TP ranks too)"));
  }
  if (p.cpu_offload_layers < 0 ||
      (p.cpu_offload_layers > 0 && (p.pp != 1 || p.cpu_offload_layers >= m.layers))) {
    return PlanError("--cpu-offload-layers", "parallelism.cpu_offload_layers",
                     StrCat("activation offloading needs pp 1 and fewer layers than the model's ",
                            m.layers, " (as Megatron-Core); got ", p.cpu_offload_layers,
                            " layers with pp ", p.pp));
  }
  if (p.zero < 0 || p.zero > 3) {
    return PlanError("--zero", "parallelism.zero", StrCat("must be 0, 1, 2 or 3, got ", p.zero));
  }
  if (p.global_batch % (p.micro_batch * p.dp) != 0) {
    return PlanError("--global-batch", "workload.training.global_batch_seqs",
                     StrCat("global batch ", p.global_batch, " is not divisible by micro_batch*dp = ",
                            p.micro_batch, "*", p.dp, " = ", p.micro_batch * p.dp));
  }
  ECHOSIM_ASSIGN_OR_RETURN(const PipelineSchedule* schedule,
                           FindPipelineSchedule(p.pipeline_schedule));
  ECHOSIM_RETURN_IF_ERROR(schedule->Check(p.pp, p.vpp, p.num_microbatches()));
  return Status::Ok();
}

}  // namespace echosim
