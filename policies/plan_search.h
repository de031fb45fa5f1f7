// PlanSearch: enumerates the parallel plans of a training job and keeps those that fit.
//
// Given a model, a cluster size and a global batch, EnumerateTrainingPlans() walks the
// cross product of the candidate values of tp, pp, vpp, cp, ep, micro-batch, ZeRO stage
// and recompute mode, derives dp = gpus / (tp * pp * cp), drops every combination that
// ValidatePlan() rejects (divisibility, schedule constraints) and every plan whose peak
// memory per rank (EstimateMemory, the same estimate the simulator reports) exceeds the
// GPU's capacity. Simulating the survivors and ranking them by step time is the caller's
// job (the `echosim search` command and echosim.search_training_plans in Python).
//
// Conventions of the enumerated plans (as ResolveScenario would default them):
//   sequence_parallel = (tp > 1); pipeline_schedule = interleaved_1f1b when vpp > 1,
//   1f1b otherwise; dp is derived.
//
// Pruning (on by default, `keep_dominated_recompute = false`): recomputation only adds
// work to the backward pass and never shortens a step, so among plans that differ only in
// the recompute mode, only the one with the least recomputation that fits is kept.
//
// Determinism: the output order is a pure function of the inputs: nested loops in the
// order tp, pp, vpp, cp, ep, micro_batch, zero, recompute, each over ascending values
// (recompute: none, selective, full). Complexity: O(product of the candidate list sizes).
#ifndef ECHOSIM_POLICIES_PLAN_SEARCH_H_
#define ECHOSIM_POLICIES_PLAN_SEARCH_H_

#include <cstdint>
#include <vector>

#include "models/layer_ops.h"
#include "models/model_spec.h"
#include "policies/parallel_plan.h"
#include "simulator/core/status.h"

namespace echosim {

struct PlanSearchSpace {
  int64_t gpus = 0;
  int64_t gpus_per_node = 8;
  int64_t global_batch = 0;  // sequences per iteration
  int64_t seq_len = 0;       // tokens per sequence
  DType dtype = DType::kBf16;
  AttentionImpl attention = AttentionImpl::kFlash;
  double memory_capacity_bytes = 0;  // HBM per GPU
  double reserved_bytes = 0;         // per GPU, outside the model (context, NCCL buffers)
  // Candidate values; an empty list means the default written beside it.
  std::vector<int64_t> tp;           // powers of two up to min(gpus_per_node, gpus)
  std::vector<int64_t> pp;           // every divisor of the model's layers (+ embedding/loss when counted)
  std::vector<int64_t> vpp;          // 1..8
  std::vector<int64_t> cp;           // 1, 2, 4, 8
  std::vector<int64_t> ep;           // 1 for dense models; powers of two up to experts for MoE
  std::vector<int64_t> micro_batch;  // 1, 2, 4, 8
  std::vector<int64_t> zero;         // 1 (distributed optimizer)
  std::vector<RecomputeMode> recompute;  // none, selective, full
  bool keep_dominated_recompute = false;
  // The job's pipeline split (ParallelPlan::embedding/loss_in_pipeline_split), given to every
  // plan; the default pp candidates are then the divisors of layers + the counted slots.
  bool embedding_in_pipeline_split = false;
  bool grad_reduce_in_fp32 = false;  // every plan's gradient precision (ParallelPlan)
  bool fp8_param_gather = false;     // every plan's fp8 primary weights (ParallelPlan)
  int64_t cpu_offload_layers = 0;    // every plan's activation offloading (pp 1 plans only)
  bool muon = false;                 // every plan's optimizer is Muon (workload.training.optimizer)
  bool moments_bf16 = false;         // every plan's optimizer moments in bf16 (workload.training.optimizer_moments)
  // The busiest EP rank's routed load over the mean for the plans with EP
  // (workload.training.moe_load_imbalance; 0: random routing's), in their activation memory.
  double moe_load_imbalance = 0;
  bool loss_in_pipeline_split = false;
};

struct PlanCandidate {
  ParallelPlan plan;
  double peak_memory_bytes = 0;  // largest pipeline stage, per rank
};

struct PlanEnumeration {
  std::vector<PlanCandidate> plans;  // valid and fitting, in enumeration order
  int64_t considered = 0;            // combinations looked at
  int64_t invalid = 0;               // rejected by ValidatePlan (or dp not integral)
  int64_t over_memory = 0;           // valid but peak memory above capacity
  int64_t dominated = 0;             // fitting, dropped by recompute pruning
};

// Fails (InvalidArgument naming the field) on a non-positive gpus / global_batch /
// seq_len / capacity or a non-positive candidate value; an empty result is not an error.
StatusOr<PlanEnumeration> EnumerateTrainingPlans(const ModelSpec& model,
                                                 const PlanSearchSpace& space);

// Peak memory per rank of `plan` (the largest pipeline stage), as the simulator reports it.
// The plan must be valid (ValidatePlan).
double PlanPeakMemoryBytes(const ModelSpec& model, const ParallelPlan& plan, int64_t seq_len,
                           DType dtype, AttentionImpl attention, double reserved_bytes,
                           double moe_load_imbalance = 0);

}  // namespace echosim

#endif  // ECHOSIM_POLICIES_PLAN_SEARCH_H_
