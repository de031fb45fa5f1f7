// vLLM V0's default scheduler without chunked prefill (vllm/core/scheduler.py
// _schedule_default, v0.5 and v0.6), the engine behind most published vLLM benchmarks of 2024:
//   - if sequences are waiting, admit them in FCFS order while the token budget
//     (max_num_batched_tokens, default max(max_model_len, 2048)), max_num_seqs and the KV
//     blocks allow, keeping a watermark of 1% of the blocks free; whole prompts, no chunks.
//     If any was admitted the iteration is prefill-only;
//   - otherwise every running sequence decodes one token; a sequence that cannot get a new
//     block preempts the newest running sequence by recompute (or itself when it is newest).
#include "policies/batch_scheduler.h"

#include <algorithm>

namespace echosim {
namespace {

class VllmV0Scheduler : public BatchScheduler {
 public:
  const char* name() const override { return "vllm_v0"; }
  int32_t default_max_batched_tokens() const override { return 2048; }

  void Schedule(const SchedulerLimits& limits, SchedulerQueues* q, KvBlockPool* kv,
                IterationPlan* plan) override {
    plan->Clear();
    const int64_t watermark = kv->total_blocks() / 100;
    const int32_t budget = std::max(limits.max_batched_tokens, 1);
    int32_t tokens = 0;
    while (!q->waiting.empty() && q->running.size() < static_cast<size_t>(limits.max_num_seqs)) {
      ServingSequence* seq = q->waiting.front();
      if (!scheduling::CanEverRun(*seq, limits, *kv)) {
        q->waiting.pop_front();
        plan->rejected.push_back(seq);
        continue;
      }
      const int32_t computed = scheduling::AdmissionComputed(*seq, kv);
      const int32_t n = seq->num_tokens() - computed;
      // A prompt longer than the budget is admitted alone (V0 requires budget >= max_model_len).
      if (tokens + n > budget && tokens > 0) break;
      const int32_t new_blocks = kv->BlocksFor(computed + n) - computed / kv->block_size_tokens();
      if (kv->free_blocks() - new_blocks < watermark && !(q->running.empty() && tokens == 0)) break;
      if (!kv->Reserve(seq, computed + n)) break;
      q->waiting.pop_front();
      scheduling::Admit(seq, computed);
      q->running.push_back(seq);
      plan->work.push_back({seq, n});
      tokens += n;
    }
    if (!plan->work.empty()) return;
    size_t i = 0;
    while (i < q->running.size()) {
      ServingSequence* seq = q->running[i];
      const int32_t n = seq->remaining_tokens();
      bool self_preempted = false;
      while (!kv->Reserve(seq, seq->computed_tokens + n)) {
        ServingSequence* victim = q->running.back();
        q->running.pop_back();
        scheduling::Preempt(victim, q, kv);
        if (victim == seq) {
          self_preempted = true;
          break;
        }
      }
      if (self_preempted) break;
      plan->work.push_back({seq, n});
      ++i;
    }
  }
};

}  // namespace

std::unique_ptr<BatchScheduler> MakeVllmV0Scheduler() {
  return std::make_unique<VllmV0Scheduler>();
}

}  // namespace echosim
