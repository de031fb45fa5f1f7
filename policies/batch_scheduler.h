// BatchScheduler: what one serving replica runs in its next iteration.
//
// Every scheduler works on the same token accounting (vLLM V1's): a sequence has
// num_tokens() = prompt + generated tokens, of which computed_tokens have their KV in the
// cache. An iteration gives a sequence new_tokens more to compute; when computed_tokens
// reaches num_tokens() the model samples one more output token. A decode is the case
// num_tokens() - computed_tokens == 1; a (chunked) prefill is anything larger. Preemption
// by recompute releases a sequence's KV blocks and sets computed_tokens back to 0 (what a
// prefix cache still holds is found again on resume).
//
// Implementations, one file each, registered by name in batch_scheduler.cc:
//   vllm     vLLM V1 (continuous batching, chunked prefill under a token budget, running
//            requests first so decodes never stall, preemption by recompute of the newest
//            running request when KV blocks run out; Kwon et al. SOSP'23, vLLM v0.8+ docs)
//   sarathi  Sarathi-Serve stall-free batching (Agrawal et al. OSDI'24): decodes first, then
//            ongoing chunked prefills, then new prefills, all within the chunk budget
//   orca     iteration-level scheduling without chunking (Yu et al. OSDI'22): whole prompts
//            join the running decodes; KV reserved for prompt + output at admission
//   static   request-level batching (FasterTransformer style): a batch starts when the
//            replica is idle, prompts and decodes are padded to the batch's longest, and no
//            request joins until the whole batch has finished
//   vllm_v0  vLLM V0 without chunked prefill (v0.5/v0.6 defaults): an iteration is either
//            prefills only (they take priority) or decodes only
//
// Contract (tests/serving/scheduler_contract_test.cc checks it for every registered name):
// the pool never hands out more blocks than it has; a sequence that can never run (its
// prompt needs more blocks than the whole pool) is rejected, never left waiting; when any
// sequence is waiting or running the plan has work or rejects one; the same inputs give the
// same plan.
#ifndef ECHOSIM_POLICIES_BATCH_SCHEDULER_H_
#define ECHOSIM_POLICIES_BATCH_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "simulator/core/status.h"
#include "simulator/core/time.h"

namespace echosim {

// One request inside a replica.
struct ServingSequence {
  uint64_t id = 0;
  Time arrival = 0;
  int32_t prompt_tokens = 0;
  int32_t max_output_tokens = 1;  // output tokens to generate (>= 1)
  int32_t generated_tokens = 0;
  int32_t computed_tokens = 0;
  // Tokens whose KV arrives ready from elsewhere (a prefill replica under disaggregation);
  // they count as computed once the sequence holds blocks for them.
  int32_t transferred_tokens = 0;
  // Prefix caching: the first prefix_tokens tokens equal the content of prefix_group
  // (0 = no shared content), so their full blocks hash to (prefix_group, block index).
  uint64_t prefix_group = 0;
  int32_t prefix_tokens = 0;
  // KV blocks held; block_table is filled only by pools that track identities.
  int32_t blocks = 0;
  std::vector<int32_t> block_table;
  int32_t preemptions = 0;
  int32_t cached_prompt_tokens = 0;  // prefix-cache hit at the last admission
  uint64_t plan_mark = 0;            // scratch for schedulers: last plan that included it
  // Timestamps (kTimeInfinity = not yet).
  Time first_scheduled = kTimeInfinity;
  Time first_token = kTimeInfinity;
  Time last_token = kTimeInfinity;
  double max_itl_s = 0;

  int32_t num_tokens() const { return prompt_tokens + generated_tokens; }
  int32_t remaining_tokens() const { return num_tokens() - computed_tokens; }
  bool is_decode() const { return generated_tokens > 0 && remaining_tokens() == 1; }
  bool finished() const { return generated_tokens >= max_output_tokens; }
};

// The paged KV cache as a scheduler uses it (implemented by simulator/serving/kv_cache.h).
class KvBlockPool {
 public:
  virtual ~KvBlockPool() = default;
  virtual int64_t total_blocks() const = 0;
  // Blocks that can be handed out now (free, plus cached blocks nobody uses).
  virtual int64_t free_blocks() const = 0;
  virtual int32_t block_size_tokens() const = 0;
  // Tokens of `seq` (holding no blocks) already in the cache: a multiple of the block size,
  // below num_tokens() so at least one token is computed. 0 without prefix caching.
  virtual int32_t CachedPrefixTokens(const ServingSequence& seq) = 0;
  // Makes `seq` hold blocks for its first `tokens` tokens, starting with its cached prefix
  // when it holds none. All or nothing: false leaves the pool and `seq` unchanged.
  virtual bool Reserve(ServingSequence* seq, int32_t tokens) = 0;
  // Returns every block of `seq` (cached content stays findable until evicted).
  virtual void Release(ServingSequence* seq) = 0;
  int32_t BlocksFor(int64_t tokens) const {
    return static_cast<int32_t>((tokens + block_size_tokens() - 1) / block_size_tokens());
  }
};

struct SchedulerLimits {
  int32_t max_num_seqs = 256;          // sequences in one iteration
  int32_t max_batched_tokens = 8192;   // new tokens in one iteration (the chunk budget)
  int32_t max_model_len = 4096;        // prompt + output tokens of one sequence
};

struct ScheduledWork {
  ServingSequence* seq = nullptr;
  int32_t new_tokens = 0;
};

struct IterationPlan {
  std::vector<ScheduledWork> work;
  std::vector<ServingSequence*> rejected;  // removed from waiting: can never run here
  // Request-level batching pads every sequence to the batch's longest: the iteration
  // computes padded_seqs sequences of padded_context tokens each instead of `work` alone.
  int32_t padded_seqs = 0;
  int32_t padded_new_tokens = 0;  // per padded sequence
  int32_t padded_context = 0;     // context before this iteration, per padded sequence
  void Clear() {
    work.clear();
    rejected.clear();
    padded_seqs = padded_new_tokens = padded_context = 0;
  }
  bool empty() const { return work.empty() && rejected.empty(); }
};

// FCFS waiting queue and the running set (scheduling order) of one replica.
struct SchedulerQueues {
  std::deque<ServingSequence*> waiting;
  std::vector<ServingSequence*> running;
};

class BatchScheduler {
 public:
  virtual ~BatchScheduler() = default;
  virtual const char* name() const = 0;
  // Default token budget when none is given (e.g. vLLM V1's 8192 for chunked prefill).
  virtual int32_t default_max_batched_tokens() const = 0;
  // Plans the next iteration (see the file comment). Moves admitted sequences from waiting
  // to the back of running, preempted ones from running to the front of waiting (KV
  // released, computed_tokens 0, preemptions + 1), rejected ones out of waiting into
  // plan->rejected. `plan` is cleared first.
  virtual void Schedule(const SchedulerLimits& limits, SchedulerQueues* queues,
                        KvBlockPool* kv, IterationPlan* plan) = 0;
};

struct BatchSchedulerInfo {
  const char* name;
  const char* description;
  std::unique_ptr<BatchScheduler> (*make)();
};

// Registered schedulers, in a fixed order.
const std::vector<BatchSchedulerInfo>& BatchSchedulers();
std::vector<std::string> BatchSchedulerNames();
// A new scheduler instance (schedulers may keep per-replica state); NotFound lists the names.
StatusOr<std::unique_ptr<BatchScheduler>> MakeBatchScheduler(const std::string& name);

std::unique_ptr<BatchScheduler> MakeVllmScheduler();
std::unique_ptr<BatchScheduler> MakeVllmV0Scheduler();
std::unique_ptr<BatchScheduler> MakeSarathiScheduler();
std::unique_ptr<BatchScheduler> MakeOrcaScheduler();
std::unique_ptr<BatchScheduler> MakeStaticScheduler();

// Shared steps of the schedulers (batch_scheduler.cc).
namespace scheduling {
// Preempts `seq` by recompute: releases its KV, resets its progress, puts it at the front of
// the waiting queue. It must already be out of `running`.
void Preempt(ServingSequence* seq, SchedulerQueues* q, KvBlockPool* kv);
// Whether `seq` can ever run here: prompt + output within max_model_len and within the
// whole KV pool. Sequences that cannot are rejected rather than left waiting.
bool CanEverRun(const ServingSequence& seq, const SchedulerLimits& limits, const KvBlockPool& kv);
// Starting point of a waiting sequence: computed tokens after its prefix-cache hit or its
// transferred KV (the larger), and the KV it then needs for `new_tokens` more.
int32_t AdmissionComputed(const ServingSequence& seq, KvBlockPool* kv);
// Marks `seq` admitted at computed tokens `computed` (after a successful Reserve).
void Admit(ServingSequence* seq, int32_t computed);
// Chunked-prefill admission (vllm, sarathi): waiting sequences in order while tokens are
// left in *budget, slots in max_num_seqs and KV blocks free; each is admitted after its
// prefix-cache hit and gets a chunk of at most the remaining budget. Sequences that can
// never run are rejected. Admitted sequences get plan_mark = `mark`.
void AdmitWaitingChunked(const SchedulerLimits& limits, SchedulerQueues* q, KvBlockPool* kv,
                         IterationPlan* plan, int32_t* budget, uint64_t mark);
}  // namespace scheduling

}  // namespace echosim

#endif  // ECHOSIM_POLICIES_BATCH_SCHEDULER_H_
