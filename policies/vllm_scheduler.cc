// vLLM V1's scheduler (vllm/v1/core/sched/scheduler.py, v0.8+; Kwon et al. SOSP'23 for paging
// and recompute preemption), as echosim models it:
//   1. Running sequences, in admission order, each get min(remaining, budget) new tokens: one
//      for a decode, a chunk for an unfinished prefill. A sequence that cannot get the KV
//      blocks it needs preempts the newest running sequence (recompute), repeatedly, and
//      when it is itself the newest it is preempted and the step stops.
//   2. If nothing was preempted, waiting sequences are admitted in FCFS order while the token
//      budget, max_num_seqs and free KV blocks allow; each starts after its prefix-cache hit
//      and gets a chunk of at most the remaining budget (chunked prefill).
// The token budget is max_num_batched_tokens (default 8192, V1's default for online serving).
#include "policies/batch_scheduler.h"

#include <algorithm>

namespace echosim {
namespace {

class VllmScheduler : public BatchScheduler {
 public:
  const char* name() const override { return "vllm"; }
  int32_t default_max_batched_tokens() const override { return 8192; }

  void Schedule(const SchedulerLimits& limits, SchedulerQueues* q, KvBlockPool* kv,
                IterationPlan* plan) override {
    plan->Clear();
    int32_t budget = limits.max_batched_tokens;
    bool preempted = false;
    size_t i = 0;
    while (i < q->running.size() && budget > 0) {
      ServingSequence* seq = q->running[i];
      const int32_t n = std::min(seq->remaining_tokens(), budget);
      bool self_preempted = false;
      while (!kv->Reserve(seq, seq->computed_tokens + n)) {
        ServingSequence* victim = q->running.back();
        q->running.pop_back();
        scheduling::Preempt(victim, q, kv);
        preempted = true;
        if (victim == seq) {
          self_preempted = true;
          break;
        }
      }
      if (self_preempted) break;
      plan->work.push_back({seq, n});
      budget -= n;
      ++i;
    }
    if (preempted) return;
    scheduling::AdmitWaitingChunked(limits, q, kv, plan, &budget, 0);
  }
};

}  // namespace

std::unique_ptr<BatchScheduler> MakeVllmScheduler() { return std::make_unique<VllmScheduler>(); }

}  // namespace echosim
