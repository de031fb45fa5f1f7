// Request-level (static) batching, as FasterTransformer and the first serving systems ran
// it (described as the baseline in Yu et al. OSDI'22, Sec. 2.3):
//   - a batch forms only when the replica is idle: up to max_num_seqs waiting sequences in
//     FCFS order whose prompts, padded to the batch's longest, fit the token budget and whose
//     KV for prompt + output can be reserved;
//   - the first iteration prefills every prompt padded to the longest; each later iteration
//     decodes one token for every member, padded: finished members keep occupying their slot
//     until the longest member finishes;
//   - nothing joins a running batch.
// The padding is reported in the plan (padded_seqs, padded_new_tokens, padded_context) so the
// iteration cost counts it.
#include "policies/batch_scheduler.h"

#include <algorithm>

namespace echosim {
namespace {

class StaticScheduler : public BatchScheduler {
 public:
  const char* name() const override { return "static"; }
  int32_t default_max_batched_tokens() const override { return 65536; }

  void Schedule(const SchedulerLimits& limits, SchedulerQueues* q, KvBlockPool* kv,
                IterationPlan* plan) override {
    plan->Clear();
    if (!q->running.empty()) {
      // Decode step `step_` of the current batch.
      for (ServingSequence* seq : q->running) {
        const int32_t n = seq->remaining_tokens();
        const bool ok = kv->Reserve(seq, seq->computed_tokens + n);
        ECHOSIM_CHECK(ok);  // reserved for prompt + output when the batch formed
        plan->work.push_back({seq, n});
      }
      plan->padded_seqs = batch_size_;
      plan->padded_new_tokens = 1;
      plan->padded_context = max_prompt_ + step_ - 1;
      ++step_;
      return;
    }
    batch_size_ = 0;
    max_prompt_ = 0;
    while (!q->waiting.empty() && batch_size_ < limits.max_num_seqs) {
      ServingSequence* seq = q->waiting.front();
      if (!scheduling::CanEverRun(*seq, limits, *kv)) {
        q->waiting.pop_front();
        plan->rejected.push_back(seq);
        continue;
      }
      const int32_t prompt = seq->num_tokens();
      const int32_t padded = std::max(max_prompt_, prompt);
      if (batch_size_ > 0 &&
          static_cast<int64_t>(padded) * (batch_size_ + 1) > limits.max_batched_tokens) {
        break;
      }
      // Static batching keeps no prefix cache: the whole prompt is computed.
      if (!kv->Reserve(seq, seq->prompt_tokens + seq->max_output_tokens)) break;
      q->waiting.pop_front();
      scheduling::Admit(seq, 0);
      q->running.push_back(seq);
      plan->work.push_back({seq, seq->num_tokens()});
      max_prompt_ = padded;
      ++batch_size_;
    }
    if (batch_size_ > 0) {
      plan->padded_seqs = batch_size_;
      plan->padded_new_tokens = max_prompt_;
      plan->padded_context = 0;
      step_ = 1;
    }
  }

 private:
  int32_t batch_size_ = 0;
  int32_t max_prompt_ = 0;
  int32_t step_ = 0;
};

}  // namespace

std::unique_ptr<BatchScheduler> MakeStaticScheduler() {
  return std::make_unique<StaticScheduler>();
}

}  // namespace echosim
