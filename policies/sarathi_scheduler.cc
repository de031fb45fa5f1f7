// Sarathi-Serve's stall-free batching (Agrawal et al., "Taming Throughput-Latency Tradeoff in
// LLM Inference with Sarathi-Serve", OSDI'24, Algorithm 2):
//   1. every running decode gets its one token (decodes are never stalled by prefills);
//   2. running sequences with an unfinished prefill continue with a chunk of the remaining
//      budget;
//   3. new sequences are admitted (FCFS) with chunks while budget, max_num_seqs and KV allow.
// When KV blocks run out the newest running sequence not yet in this iteration is preempted
// by recompute (Sarathi-Serve runs on vLLM's block manager). The chunk budget defaults to
// 512 tokens, the paper's setting for strict TBT SLOs.
#include "policies/batch_scheduler.h"

#include <algorithm>

namespace echosim {
namespace {

class SarathiScheduler : public BatchScheduler {
 public:
  const char* name() const override { return "sarathi"; }
  int32_t default_max_batched_tokens() const override { return 512; }

  void Schedule(const SchedulerLimits& limits, SchedulerQueues* q, KvBlockPool* kv,
                IterationPlan* plan) override {
    plan->Clear();
    ++epoch_;
    int32_t budget = limits.max_batched_tokens;
    bool preempted = false;
    // Passes 1 (decodes) and 2 (unfinished prefills) over the running set.
    // Entries before i are planned (or of the other pass) and entries after i are not yet
    // examined, so a victim taken from the unplanned tail is never one already in the plan.
    for (int pass = 0; pass < 2 && budget > 0; ++pass) {
      size_t i = 0;
      while (i < q->running.size() && budget > 0) {
        ServingSequence* seq = q->running[i];
        if (seq->plan_mark == epoch_ || seq->is_decode() != (pass == 0)) {
          ++i;
          continue;
        }
        const int32_t n = std::min(seq->remaining_tokens(), budget);
        if (!ReserveOrPreempt(i, seq->computed_tokens + n, q, kv, &preempted)) continue;
        seq->plan_mark = epoch_;
        plan->work.push_back({seq, n});
        budget -= n;
        ++i;
      }
    }
    if (preempted) return;
    scheduling::AdmitWaitingChunked(limits, q, kv, plan, &budget, epoch_);
  }

 private:
  // Reserves KV for running[i], preempting the newest running sequences after it that are
  // not yet planned in this iteration until it fits; when none is left, running[i] itself is
  // preempted (returns false; running[i] is then the next sequence).
  bool ReserveOrPreempt(size_t i, int32_t tokens, SchedulerQueues* q, KvBlockPool* kv,
                        bool* preempted) {
    ServingSequence* seq = q->running[i];
    while (!kv->Reserve(seq, tokens)) {
      size_t v = q->running.size() - 1;
      while (v > i && q->running[v]->plan_mark == epoch_) --v;
      ServingSequence* victim = q->running[v];
      q->running.erase(q->running.begin() + static_cast<std::ptrdiff_t>(v));
      scheduling::Preempt(victim, q, kv);
      *preempted = true;
      if (victim == seq) return false;
    }
    return true;
  }

  uint64_t epoch_ = 0;
};

}  // namespace

std::unique_ptr<BatchScheduler> MakeSarathiScheduler() {
  return std::make_unique<SarathiScheduler>();
}

}  // namespace echosim
