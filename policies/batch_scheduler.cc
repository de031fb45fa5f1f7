#include "policies/batch_scheduler.h"

#include <algorithm>

#include "simulator/core/strings.h"

namespace echosim {

const std::vector<BatchSchedulerInfo>& BatchSchedulers() {
  static const std::vector<BatchSchedulerInfo> kSchedulers = {
      {"vllm", "vLLM V1: continuous batching, chunked prefill, decode-first, preemption by recompute",
       &MakeVllmScheduler},
      {"sarathi", "Sarathi-Serve: stall-free batching, decodes then chunked prefills",
       &MakeSarathiScheduler},
      {"orca", "Orca: iteration-level scheduling, whole prompts, KV reserved at admission",
       &MakeOrcaScheduler},
      {"static", "request-level batching (FasterTransformer): padded batches run to completion",
       &MakeStaticScheduler},
      {"vllm_v0", "vLLM V0 without chunked prefill: prefill-only or decode-only iterations",
       &MakeVllmV0Scheduler},
  };
  return kSchedulers;
}

std::vector<std::string> BatchSchedulerNames() {
  std::vector<std::string> names;
  for (const BatchSchedulerInfo& s : BatchSchedulers()) names.push_back(s.name);
  return names;
}

StatusOr<std::unique_ptr<BatchScheduler>> MakeBatchScheduler(const std::string& name) {
  for (const BatchSchedulerInfo& s : BatchSchedulers()) {
    if (name == s.name) return s.make();
  }
  return NotFound(StrCat("unknown scheduler '", name, "'; valid schedulers: ",
                         Join(BatchSchedulerNames(), ", ")));
}

namespace scheduling {

void Preempt(ServingSequence* seq, SchedulerQueues* q, KvBlockPool* kv) {
  kv->Release(seq);
  seq->computed_tokens = 0;
  seq->transferred_tokens = 0;
  ++seq->preemptions;
  q->waiting.push_front(seq);
}

bool CanEverRun(const ServingSequence& seq, const SchedulerLimits& limits, const KvBlockPool& kv) {
  const int64_t final_tokens = static_cast<int64_t>(seq.prompt_tokens) + seq.max_output_tokens;
  return final_tokens <= limits.max_model_len && kv.BlocksFor(final_tokens) <= kv.total_blocks();
}

int32_t AdmissionComputed(const ServingSequence& seq, KvBlockPool* kv) {
  const int32_t cached = kv->CachedPrefixTokens(seq);
  // Transferred KV covers the whole prompt; the sequence still samples from it (decode).
  const int32_t transferred = std::min(seq.transferred_tokens, seq.num_tokens() - 1);
  return std::max(cached, transferred);
}

void Admit(ServingSequence* seq, int32_t computed) {
  seq->cached_prompt_tokens = seq->transferred_tokens > 0 ? 0 : computed;
  seq->computed_tokens = computed;
  seq->transferred_tokens = 0;
}

void AdmitWaitingChunked(const SchedulerLimits& limits, SchedulerQueues* q, KvBlockPool* kv,
                         IterationPlan* plan, int32_t* budget, uint64_t mark) {
  while (!q->waiting.empty() && *budget > 0 &&
         q->running.size() < static_cast<size_t>(limits.max_num_seqs)) {
    ServingSequence* seq = q->waiting.front();
    if (!CanEverRun(*seq, limits, *kv)) {
      q->waiting.pop_front();
      plan->rejected.push_back(seq);
      continue;
    }
    const int32_t computed = AdmissionComputed(*seq, kv);
    const int32_t n = std::min(seq->num_tokens() - computed, *budget);
    if (!kv->Reserve(seq, computed + n)) break;
    q->waiting.pop_front();
    Admit(seq, computed);
    seq->plan_mark = mark;
    q->running.push_back(seq);
    plan->work.push_back({seq, n});
    *budget -= n;
  }
}

}  // namespace scheduling
}  // namespace echosim
