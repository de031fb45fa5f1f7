#include "policies/plan_search.h"

#include <algorithm>

#include "policies/memory_model.h"
#include "policies/pipeline_schedule.h"
#include "simulator/core/strings.h"

namespace echosim {
namespace {

std::vector<int64_t> PowersOfTwoUpTo(int64_t limit) {
  std::vector<int64_t> out;
  for (int64_t v = 1; v <= limit; v *= 2) out.push_back(v);
  return out;
}

std::vector<int64_t> Divisors(int64_t n) {
  std::vector<int64_t> out;
  for (int64_t d = 1; d <= n; ++d) {
    if (n % d == 0) out.push_back(d);
  }
  return out;
}

// Sorted, duplicate-free copy; fails on a non-positive value.
StatusOr<std::vector<int64_t>> Candidates(const char* field, std::vector<int64_t> values,
                                          std::vector<int64_t> fallback) {
  if (values.empty()) values = std::move(fallback);
  for (int64_t v : values) {
    if (v <= 0) {
      return InvalidArgument(StrCat("plan search ", field, ": values must be positive, got ", v));
    }
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

}  // namespace

double PlanPeakMemoryBytes(const ModelSpec& model, const ParallelPlan& plan, int64_t seq_len,
                           DType dtype, AttentionImpl attention, double reserved_bytes,
                           double moe_load_imbalance) {
  // The same layer context and in-flight counts as SimulateTrainingStep.
  LayerContext ctx;
  ctx.micro_batch = plan.micro_batch;
  ctx.seq_len = seq_len;
  ctx.tp = plan.tp;
  ctx.cp = plan.cp;
  ctx.ep = plan.ep;
  ctx.sequence_parallel = plan.sequence_parallel && plan.tp > 1;
  ctx.dtype = dtype;
  ctx.attention = attention;
  ctx.recompute = plan.recompute;
  ctx.moe_load_imbalance = plan.ep > 1 ? moe_load_imbalance : 0;
  auto schedule = FindPipelineSchedule(plan.pipeline_schedule);
  ECHOSIM_CHECK(schedule.ok());
  std::vector<int64_t> in_flight;
  for (int64_t s = 0; s < plan.pp; ++s) {
    in_flight.push_back((*schedule)->InFlight(s, plan.pp, plan.vpp, plan.num_microbatches()));
  }
  double peak = 0;
  for (const StageMemory& sm : EstimateMemory(model, plan, ctx, in_flight, reserved_bytes)) {
    peak = std::max(peak, sm.total_bytes());
  }
  return peak;
}

StatusOr<PlanEnumeration> EnumerateTrainingPlans(const ModelSpec& model,
                                                 const PlanSearchSpace& space) {
  if (space.gpus <= 0) return InvalidArgument("plan search: gpus (--gpus) must be positive");
  if (space.gpus_per_node <= 0) {
    return InvalidArgument("plan search: gpus_per_node (--gpus-per-node) must be positive");
  }
  if (space.global_batch <= 0) {
    return InvalidArgument("plan search: global_batch (--global-batch) must be positive");
  }
  if (space.seq_len <= 0) return InvalidArgument("plan search: seq_len (--seq-len) must be positive");
  if (!(space.memory_capacity_bytes > 0)) {
    return InvalidArgument("plan search: memory_capacity_bytes must be positive");
  }
  ECHOSIM_ASSIGN_OR_RETURN(
      std::vector<int64_t> tps,
      Candidates("tp", space.tp, PowersOfTwoUpTo(std::min(space.gpus_per_node, space.gpus))));
  const int64_t split_slots = model.layers + (space.embedding_in_pipeline_split ? 1 : 0) +
                              (space.loss_in_pipeline_split ? 1 : 0);
  ECHOSIM_ASSIGN_OR_RETURN(std::vector<int64_t> pps,
                           Candidates("pp", space.pp, Divisors(std::max<int64_t>(split_slots, 1))));
  ECHOSIM_ASSIGN_OR_RETURN(std::vector<int64_t> vpps,
                           Candidates("vpp", space.vpp, {1, 2, 3, 4, 5, 6, 7, 8}));
  ECHOSIM_ASSIGN_OR_RETURN(std::vector<int64_t> cps, Candidates("cp", space.cp, {1, 2, 4, 8}));
  ECHOSIM_ASSIGN_OR_RETURN(
      std::vector<int64_t> eps,
      Candidates("ep", space.ep, model.is_moe() ? PowersOfTwoUpTo(model.experts) : std::vector<int64_t>{1}));
  ECHOSIM_ASSIGN_OR_RETURN(std::vector<int64_t> mbs,
                           Candidates("micro_batch", space.micro_batch, {1, 2, 4, 8}));
  ECHOSIM_ASSIGN_OR_RETURN(std::vector<int64_t> zeros, Candidates("zero", space.zero, {1}));
  std::vector<RecomputeMode> recomputes = space.recompute;
  if (recomputes.empty()) {
    recomputes = {RecomputeMode::kNone, RecomputeMode::kSelective, RecomputeMode::kFull};
  }
  std::sort(recomputes.begin(), recomputes.end());
  recomputes.erase(std::unique(recomputes.begin(), recomputes.end()), recomputes.end());

  PlanEnumeration out;
  for (int64_t tp : tps) {
    for (int64_t pp : pps) {
      for (int64_t vpp : vpps) {
        for (int64_t cp : cps) {
          for (int64_t ep : eps) {
            for (int64_t mb : mbs) {
              for (int64_t zero : zeros) {
                bool kept_one = false;
                for (RecomputeMode rc : recomputes) {
                  ++out.considered;
                  ParallelPlan p;
                  p.gpus = space.gpus;
                  p.gpus_per_node = space.gpus_per_node;
                  p.tp = tp;
                  p.pp = pp;
                  p.vpp = vpp;
                  p.cp = cp;
                  p.ep = ep;
                  const int64_t mp = tp * pp * cp;
                  if (space.gpus % mp != 0) {
                    ++out.invalid;
                    continue;
                  }
                  p.dp = space.gpus / mp;
                  p.zero = zero;
                  p.sequence_parallel = tp > 1;
                  p.recompute = rc;
                  p.pipeline_schedule = vpp > 1 ? "interleaved_1f1b" : "1f1b";
                  p.micro_batch = mb;
                  p.global_batch = space.global_batch;
                  p.embedding_in_pipeline_split = space.embedding_in_pipeline_split;
                  p.grad_reduce_in_fp32 = space.grad_reduce_in_fp32;
                  p.fp8_param_gather = space.fp8_param_gather;
                  p.cpu_offload_layers = pp == 1 ? space.cpu_offload_layers : 0;
                  p.muon = space.muon;
                  p.moments_bf16 = space.moments_bf16;
                  p.loss_in_pipeline_split = space.loss_in_pipeline_split;
                  if (!ValidatePlan(p, model, space.seq_len).ok()) {
                    ++out.invalid;
                    continue;
                  }
                  if (kept_one) {
                    ++out.dominated;
                    continue;
                  }
                  const double peak =
                      PlanPeakMemoryBytes(model, p, space.seq_len, space.dtype, space.attention,
                                          space.reserved_bytes, space.moe_load_imbalance);
                  if (peak > space.memory_capacity_bytes) {
                    ++out.over_memory;
                    continue;
                  }
                  out.plans.push_back({p, peak});
                  kept_one = !space.keep_dominated_recompute;
                }
              }
            }
          }
        }
      }
    }
  }
  return out;
}

}  // namespace echosim
