// Analytic tests of the serving simulator: results that follow from the model's definitions
// and can be computed independently of the simulation loop.
#include <gtest/gtest.h>

#include <variant>
#include <vector>

#include "hardware/compute_cost_model.h"
#include "models/inference_ops.h"
#include "simulator/network/collective_model.h"
#include "simulator/serving/iteration_cost.h"
#include "simulator/serving/serving_simulation.h"

namespace echosim {
namespace {

// Sum of every operator of one iteration costed directly with a fresh ComputeCostModel and
// AnalyticCollectiveModel (no memo, no attention-roofline shortcut): the reference the
// IterationCostModel must reproduce.
Duration ReferenceGpuTime(const ModelSpec& m, const GpuSpec& gpu, const InferenceConfig& cfg,
                          const TopologyConfig& topo, int64_t tokens, int64_t sampled, const AttentionWork& attn) {
  ComputeCostModel compute(gpu, 1.0);
  Topology topology(topo);
  AnalyticCollectiveModel comm(&topology);
  const GroupShape tp = topology.ShapeOfStrided(0, 1, cfg.tp);
  auto cost = [&](const std::vector<LayerStep>& steps) {
    Duration t = 0;
    for (const LayerStep& s : steps) {
      if (const auto* op = std::get_if<ComputeOp>(&s)) {
        t += compute.Estimate(*op);
      } else {
        const CommOp& c = std::get<CommOp>(s);
        t += comm.Estimate(c.kind, c.bytes, tp);
      }
    }
    return t;
  };
  Duration layer = cost(InferenceLayerOps(m, tokens, cfg));
  for (const ComputeOp& op : InferenceAttentionOps(m, attn, cfg)) layer += compute.Estimate(op);
  return layer * m.layers + cost(InferenceEmbeddingOps(m, tokens, cfg)) + cost(InferenceHeadOps(m, sampled, cfg));
}

ServingConfig Llama70bTp4() {
  ServingConfig c;
  c.replica.model = *FindModelPreset("llama2-70b");
  c.replica.gpu = *FindGpuPreset("h100-sxm");
  c.replica.inference.tp = 4;
  c.replica.scheduler = "vllm";
  c.workload = "constant:qps=1,input=fixed:1000,output=fixed:1,requests=1";
  return c;
}

TEST(IterationCostTest, DecodeOnlyBatchMatchesTheCostModel) {
  // A decode-only batch of 32 sequences with contexts 100, 200, ..., 3200: its GPU time is
  // layers x (non-attention ops at T = 32 tokens + one batched decode-attention op over the
  // summed context 52,800) + embedding(32) + LM head(32), each op costed by the roofline
  // ComputeCostModel and the TP all-reduces by the AnalyticCollectiveModel. The
  // IterationCostModel reads the attention roofline once and must agree to within rounding
  // (1 ps per op, 80 layers).
  ServingConfig c = Llama70bTp4();
  ASSERT_TRUE(ResolveServingConfig(&c).ok());
  IterationCostModel model(c.replica.model, c.replica.gpu, c.replica.inference, c.network, 0, 0);
  BatchWork w;
  w.tokens = w.sampled = w.seqs = 32;
  w.attention.decode_tokens = 32;
  for (int i = 1; i <= 32; ++i) w.attention.decode_context_tokens += 100.0 * i;
  const Duration want = ReferenceGpuTime(c.replica.model, c.replica.gpu, c.replica.inference, c.network, 32, 32,
                                         w.attention);
  EXPECT_NEAR(static_cast<double>(model.GpuTime(w)), static_cast<double>(want), 1000.0);
  // The host overhead adds exactly base + per_seq * seqs.
  IterationCostModel with_cpu(c.replica.model, c.replica.gpu, c.replica.inference, c.network, 3e-3, 10e-6);
  EXPECT_EQ(with_cpu.Total(w) - with_cpu.GpuTime(w), SecondsToDuration(3e-3 + 32 * 10e-6));
  // ... plus the per-new-request term for the sequences that start in the iteration.
  IterationCostModel fresh(c.replica.model, c.replica.gpu, c.replica.inference, c.network, 3e-3, 10e-6, 50e-6);
  BatchWork p = w;
  p.new_requests = 5;
  EXPECT_EQ(fresh.Total(p) - fresh.GpuTime(p), SecondsToDuration(3e-3 + 32 * 10e-6 + 5 * 50e-6));
  EXPECT_EQ(fresh.Total(w) - fresh.GpuTime(w), SecondsToDuration(3e-3 + 32 * 10e-6));
}

TEST(IterationCostTest, AttentionGrowsWithContext) {
  ServingConfig c = Llama70bTp4();
  ASSERT_TRUE(ResolveServingConfig(&c).ok());
  IterationCostModel model(c.replica.model, c.replica.gpu, c.replica.inference, c.network, 0, 0);
  AttentionWork shortc, longc;
  shortc.decode_tokens = longc.decode_tokens = 64;
  shortc.decode_context_tokens = 64 * 500.0;
  longc.decode_context_tokens = 64 * 4000.0;
  // Decode attention reads the KV cache: 8x the context is close to 8x the time (above the
  // fixed kernel overhead).
  const double t_short = static_cast<double>(model.AttentionLayerTime(shortc));
  const double t_long = static_cast<double>(model.AttentionLayerTime(longc));
  EXPECT_GT(t_long, 6.0 * t_short);
  EXPECT_LT(t_long, 8.0 * t_short);
}

TEST(ServingAnalyticTest, OneRequestAloneHasTtftEqualToItsPrefill) {
  // One request of 1000 prompt tokens arrives at t = 0 on an idle replica. The first
  // iteration holds exactly its whole prompt (1000 < the 8192-token budget), so its first
  // token appears after one iteration: TTFT = GPU time of a 1000-token prefill (pairs =
  // 1000 * 1001 / 2, K/V rows 1000, one sampled row) + host overhead of one sequence in an
  // iteration where one request starts (base + per sequence + per new request).
  ServingConfig c = Llama70bTp4();
  c.replica.cpu_overhead_per_iteration_us = 2500;
  c.replica.cpu_overhead_per_seq_us = 15;
  c.replica.cpu_overhead_per_new_request_us = 20;
  RequestRecord got;
  auto r = RunServing(c, [&](const RequestRecord& rec) { got = rec; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->metrics.completed(), 1);
  AttentionWork a;
  a.prefill_tokens = 1000;
  a.prefill_pairs = 1000.0 * 1001.0 / 2.0;
  a.prefill_kv_tokens = 1000;
  const Duration prefill = ReferenceGpuTime(r->config.replica.model, r->config.replica.gpu,
                                            r->config.replica.inference, r->config.network, 1000, 1, a);
  const double want = DurationToSeconds(prefill + SecondsToDuration(2500e-6 + 15e-6 + 20e-6));
  EXPECT_NEAR(got.ttft_s, want, 1e-8);
  EXPECT_NEAR(got.queue_s, 0.0, 1e-12);
  EXPECT_EQ(got.output_tokens, 1);
  EXPECT_NEAR(got.e2e_s, got.ttft_s, 1e-12);
}

TEST(ServingAnalyticTest, OneRequestDecodesOneTokenPerIteration) {
  // One request alone, 100 prompt tokens and 4 output tokens: after the prefill, each of the
  // 3 remaining tokens is one decode iteration of one sequence whose context is 101, 102 and
  // 103 tokens; E2E - TTFT is the sum of those three iteration times.
  ServingConfig c = Llama70bTp4();
  c.workload = "constant:qps=1,input=fixed:100,output=fixed:4,requests=1";
  c.replica.cpu_overhead_per_iteration_us = 1000;
  c.replica.cpu_overhead_per_seq_us = 0;
  c.replica.cpu_overhead_per_new_request_us = 0;
  RequestRecord got;
  auto r = RunServing(c, [&](const RequestRecord& rec) { got = rec; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Duration decode = 0;
  for (int ctx : {101, 102, 103}) {
    AttentionWork a;
    a.decode_tokens = 1;
    a.decode_context_tokens = ctx;
    decode += ReferenceGpuTime(r->config.replica.model, r->config.replica.gpu, r->config.replica.inference,
                               r->config.network, 1, 1, a) +
              SecondsToDuration(1e-3);
  }
  EXPECT_NEAR(got.e2e_s - got.ttft_s, DurationToSeconds(decode), 1e-8);
  EXPECT_NEAR(got.tpot_s, DurationToSeconds(decode) / 3.0, 1e-8);
}

TEST(ServingAnalyticTest, KvCapacityIsSizedAsVllmDoes) {
  // Llama-2-70B bf16 on 4 x H100 (80 GB), utilisation 0.9: per GPU 72 GB usable, minus
  // weights (69.0e9 params / 4 * 2 bytes), the activation peak of an 8192-token profile run
  // and the 2 GB reserved; a 16-token block holds 80 layers x 2 x (8 / 4 KV heads) x 128 x 2
  // bytes x 16 tokens = 1.31 MB.
  ServingConfig c = Llama70bTp4();
  ASSERT_TRUE(ResolveServingConfig(&c).ok());
  auto kv = SizeKvCache(c.replica);
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  const double per_block = 80.0 * 2 * 2 * 128 * 2 * 16;
  EXPECT_DOUBLE_EQ(kv->kv_bytes_per_block, per_block);
  const double weights = InferenceWeightBytesPerGpu(c.replica.model, c.replica.inference);
  EXPECT_NEAR(weights, c.replica.model.TotalParams() / 4.0 * 2.0, 0.001 * weights);
  const double free_bytes = 0.9 * 80e9 - weights - kv->activation_peak_bytes - 2e9;
  EXPECT_EQ(kv->blocks, static_cast<int64_t>(free_bytes / per_block));
}

}  // namespace
}  // namespace echosim
