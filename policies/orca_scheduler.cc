// Orca's iteration-level scheduling (Yu et al., "Orca: A Distributed Serving System for
// Transformer-Based Generative Models", OSDI'22, Sec. 4.2 and Algorithm 1):
//   - every running sequence runs each iteration (decodes), and new sequences join between
//     iterations with their whole prompt (selective batching mixes the two; no chunking);
//   - a sequence is admitted only when KV slots for its prompt plus its full output can be
//     reserved (Orca reserves max_tokens slots up front), so running sequences never run out
//     of KV and are never preempted;
//   - admission stops at max_num_seqs, or when the next prompt would exceed the iteration's
//     token budget; the first prompt of an iteration is always admitted (with the running
//     decodes), so a long prompt is never starved.
#include "policies/batch_scheduler.h"

#include <algorithm>

namespace echosim {
namespace {

class OrcaScheduler : public BatchScheduler {
 public:
  const char* name() const override { return "orca"; }
  int32_t default_max_batched_tokens() const override { return 16384; }

  void Schedule(const SchedulerLimits& limits, SchedulerQueues* q, KvBlockPool* kv,
                IterationPlan* plan) override {
    plan->Clear();
    int32_t tokens = 0;
    for (ServingSequence* seq : q->running) {
      const int32_t n = seq->remaining_tokens();
      // KV for the whole sequence was reserved at admission: this never fails.
      const bool ok = kv->Reserve(seq, seq->computed_tokens + n);
      ECHOSIM_CHECK(ok);
      plan->work.push_back({seq, n});
      tokens += n;
    }
    bool prompt_planned = false;
    while (!q->waiting.empty() && q->running.size() < static_cast<size_t>(limits.max_num_seqs)) {
      ServingSequence* seq = q->waiting.front();
      if (!scheduling::CanEverRun(*seq, limits, *kv)) {
        q->waiting.pop_front();
        plan->rejected.push_back(seq);
        continue;
      }
      const int32_t computed = scheduling::AdmissionComputed(*seq, kv);
      const int32_t n = seq->num_tokens() - computed;
      if (prompt_planned && tokens + n > limits.max_batched_tokens) break;
      const int32_t reserve = seq->prompt_tokens + seq->max_output_tokens;
      if (!kv->Reserve(seq, std::max(reserve, computed + n))) break;
      q->waiting.pop_front();
      scheduling::Admit(seq, computed);
      q->running.push_back(seq);
      plan->work.push_back({seq, n});
      tokens += n;
      prompt_planned = true;
    }
  }
};

}  // namespace

std::unique_ptr<BatchScheduler> MakeOrcaScheduler() { return std::make_unique<OrcaScheduler>(); }

}  // namespace echosim
