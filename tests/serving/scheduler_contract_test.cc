// Contract tests run over every registered batch scheduler (policies/batch_scheduler.h):
// never more KV blocks than the pool has, never a lost request (each one finishes or is
// rejected), progress whenever work exists, per-iteration limits, determinism for a seed.
// The harness drives a scheduler directly with a PagedKvCache and advances sequences as a
// replica would, so every plan is checked, not only the end result.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "policies/batch_scheduler.h"
#include "simulator/serving/kv_cache.h"
#include "simulator/serving/random.h"
#include "simulator/serving/serving_simulation.h"

namespace echosim {
namespace {

struct HarnessResult {
  int64_t finished = 0;
  int64_t rejected = 0;
  int64_t iterations = 0;
  int64_t preemptions = 0;
  std::vector<std::pair<uint64_t, int64_t>> finish_order;  // (id, iteration)
};

// Runs `n` requests with random lengths through `scheduler_name` on a pool of `blocks`.
// Requests arrive a few per iteration. Checks the contract after every Schedule().
HarnessResult RunHarness(const std::string& scheduler_name, uint64_t seed, int n, int64_t blocks,
                         bool prefix_caching, const SchedulerLimits& limits) {
  HarnessResult out;
  auto sched = MakeBatchScheduler(scheduler_name);
  EXPECT_TRUE(sched.ok());
  if (!sched.ok()) return out;
  PagedKvCache kv(blocks, 16, prefix_caching);
  SchedulerQueues q;
  IterationPlan plan;
  std::vector<std::unique_ptr<ServingSequence>> seqs;
  Rng rng(seed);
  int next = 0;
  for (int64_t it = 0; it < 1'000'000; ++it) {
    // 0-3 arrivals per iteration.
    for (int k = static_cast<int>(rng.Below(4)); k > 0 && next < n; --k, ++next) {
      auto s = std::make_unique<ServingSequence>();
      s->id = static_cast<uint64_t>(next);
      s->prompt_tokens = 1 + static_cast<int32_t>(rng.Below(rng.Below(8) == 0 ? 3000 : 400));
      s->max_output_tokens = 1 + static_cast<int32_t>(rng.Below(300));
      if (rng.Below(2) == 0) {
        s->prefix_group = 1 + rng.Below(3);
        s->prefix_tokens = std::min<int32_t>(s->prompt_tokens, 200);
      }
      q.waiting.push_back(s.get());
      seqs.push_back(std::move(s));
    }
    if (q.waiting.empty() && q.running.empty()) {
      if (next >= n) break;
      continue;
    }
    sched.value()->Schedule(limits, &q, &kv, &plan);
    ++out.iterations;
    // KV: never more than the pool.
    EXPECT_GE(kv.free_blocks(), 0);
    EXPECT_LE(kv.used_blocks(), kv.total_blocks());
    if (!prefix_caching) {
      int64_t held = 0;
      for (const ServingSequence* s : q.running) held += s->blocks;
      EXPECT_EQ(held, kv.used_blocks()) << "blocks held by running sequences must be the pool's used blocks";
    }
    for (ServingSequence* s : q.waiting) EXPECT_EQ(s->blocks, 0) << "a waiting sequence holds no KV";
    // Progress: work exists -> the plan has work or rejects.
    EXPECT_FALSE(plan.empty()) << scheduler_name << " made no progress at iteration " << it;
    if (plan.empty()) break;
    EXPECT_LE(q.running.size(), static_cast<size_t>(limits.max_num_seqs));
    int64_t tokens = 0;
    for (const ScheduledWork& w : plan.work) {
      EXPECT_GE(w.new_tokens, 1);
      EXPECT_LE(w.new_tokens, w.seq->remaining_tokens());
      EXPECT_GE(w.seq->blocks, kv.BlocksFor(w.seq->computed_tokens + w.new_tokens))
          << "a planned sequence holds KV for what it computes";
      tokens += w.new_tokens;
    }
    if (scheduler_name == "vllm" || scheduler_name == "sarathi") {
      EXPECT_LE(tokens, limits.max_batched_tokens);
    }
    for (ServingSequence* r : plan.rejected) {
      ++out.rejected;
      EXPECT_EQ(r->blocks, 0);
    }
    // Execute the iteration.
    for (const ScheduledWork& w : plan.work) {
      w.seq->computed_tokens += w.new_tokens;
      if (w.seq->computed_tokens == w.seq->num_tokens()) ++w.seq->generated_tokens;
    }
    std::vector<ServingSequence*> keep;
    for (ServingSequence* s : q.running) {
      if (s->finished()) {
        kv.Release(s);
        ++out.finished;
        out.preemptions += s->preemptions;
        out.finish_order.emplace_back(s->id, it);
      } else {
        keep.push_back(s);
      }
    }
    q.running = keep;
  }
  EXPECT_EQ(next, n);
  EXPECT_TRUE(q.waiting.empty() && q.running.empty());
  EXPECT_EQ(kv.used_blocks(), 0);
  return out;
}

class SchedulerContract : public ::testing::TestWithParam<std::string> {};

TEST_P(SchedulerContract, NeverExceedsKvNeverLosesARequestAlwaysProgresses) {
  SchedulerLimits limits;
  limits.max_num_seqs = 32;
  limits.max_batched_tokens = 1024;
  limits.max_model_len = 4096;
  for (bool prefix : {false, true}) {
    // A tight pool (forces preemption or queueing) and a roomy one.
    for (int64_t blocks : {int64_t{300}, int64_t{5000}}) {
      const HarnessResult r = RunHarness(GetParam(), 7, 400, blocks, prefix, limits);
      EXPECT_EQ(r.finished + r.rejected, 400) << "blocks " << blocks << " prefix " << prefix;
      // 300 blocks of 16 = 4800 tokens: a request of up to 3000 + 300 tokens fits alone.
      EXPECT_EQ(r.rejected, 0);
    }
  }
}

TEST_P(SchedulerContract, RejectsWhatCanNeverRun) {
  // A pool of 10 blocks (160 tokens): long prompts can never run and must be rejected, the
  // short ones must all finish.
  SchedulerLimits limits;
  limits.max_num_seqs = 8;
  limits.max_batched_tokens = 512;
  limits.max_model_len = 4096;
  const HarnessResult r = RunHarness(GetParam(), 3, 200, 10, false, limits);
  EXPECT_GT(r.rejected, 0);
  EXPECT_GT(r.finished, 0);
  EXPECT_EQ(r.finished + r.rejected, 200);
}

TEST_P(SchedulerContract, DeterministicForASeed) {
  SchedulerLimits limits;
  limits.max_num_seqs = 16;
  limits.max_batched_tokens = 768;
  const HarnessResult a = RunHarness(GetParam(), 11, 300, 400, true, limits);
  const HarnessResult b = RunHarness(GetParam(), 11, 300, 400, true, limits);
  EXPECT_EQ(a.finish_order, b.finish_order);
  EXPECT_EQ(a.iterations, b.iterations);
}

TEST_P(SchedulerContract, WholeSimulationCompletesEveryArrival) {
  // End to end through RunServing with a small KV cache, under overload.
  ServingConfig c;
  c.replica.model = *FindModelPreset("llama3-8b");
  c.replica.gpu = *FindGpuPreset("h100-sxm");
  c.replica.scheduler = GetParam();
  c.replica.kv_blocks = 600;  // 9,600 tokens
  c.replica.max_model_len = 4096;
  c.replicas = 2;
  c.workload = "poisson:qps=40,input=lognormal:800:0.8:3000,output=lognormal:150:0.8:1000,requests=600";
  int64_t records = 0;
  auto r = RunServing(c, [&](const RequestRecord&) { ++records; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metrics.arrived(), 600);
  EXPECT_EQ(records, 600);
  EXPECT_EQ(r->metrics.completed() + r->metrics.rejected(), 600);
  EXPECT_EQ(r->metrics.rejected(), 0);
}

INSTANTIATE_TEST_SUITE_P(AllSchedulers, SchedulerContract, ::testing::ValuesIn(BatchSchedulerNames()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

TEST(SchedulerRegistry, UnknownNameListsTheValidOnes) {
  auto s = MakeBatchScheduler("fcfs");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("valid schedulers: vllm, sarathi, orca, static, vllm_v0"), std::string::npos)
      << s.status().message();
}

TEST(VllmScheduler, PreemptsTheNewestByRecomputeWhenKvRunsOut) {
  // Two sequences decode in a pool that fills up: the newer one is preempted, its KV freed,
  // its progress reset, and it goes back to the front of the waiting queue.
  auto sched = MakeBatchScheduler("vllm");
  ASSERT_TRUE(sched.ok());
  PagedKvCache kv(4, 16, false);  // 64 tokens
  ServingSequence a, b;
  a.id = 1;
  a.prompt_tokens = 31;
  a.max_output_tokens = 33;  // 31 + 33 = 64 tokens: fits the pool alone
  b.id = 2;
  b.prompt_tokens = 31;
  b.max_output_tokens = 33;
  SchedulerQueues q;
  q.waiting = {&a, &b};
  IterationPlan plan;
  SchedulerLimits limits;
  sched.value()->Schedule(limits, &q, &kv, &plan);
  ASSERT_EQ(plan.work.size(), 2u);  // both prompts: 2 + 2 blocks
  for (auto& w : plan.work) {
    w.seq->computed_tokens += w.new_tokens;
    ++w.seq->generated_tokens;  // 32 tokens each now, 31 computed
  }
  sched.value()->Schedule(limits, &q, &kv, &plan);  // decode token 32: still in 2 blocks each
  ASSERT_EQ(plan.work.size(), 2u);
  for (auto& w : plan.work) {
    w.seq->computed_tokens += w.new_tokens;
    ++w.seq->generated_tokens;  // 33 tokens, 32 computed: the next decode needs a third block
  }
  sched.value()->Schedule(limits, &q, &kv, &plan);
  ASSERT_EQ(plan.work.size(), 1u);
  EXPECT_EQ(plan.work[0].seq, &a);
  EXPECT_EQ(b.preemptions, 1);
  EXPECT_EQ(b.computed_tokens, 0);
  EXPECT_EQ(b.blocks, 0);
  ASSERT_EQ(q.waiting.size(), 1u);
  EXPECT_EQ(q.waiting.front(), &b);
  EXPECT_EQ(a.blocks, 3);
}

}  // namespace
}  // namespace echosim
