#include "simulator/training/training_step.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "models/host_launches.h"
#include "simulator/training/timeline.h"

namespace echosim {
namespace {

TrainingSetup MakeSetup(const std::string& model, int64_t gpus, int64_t tp, int64_t pp, int64_t vpp,
                    int64_t gbs) {
  TrainingSetup s;
  s.model = FindModelPreset(model).value();
  s.gpu = FindGpuPreset("h100-sxm").value();
  s.plan.gpus = gpus;
  s.plan.tp = tp;
  s.plan.pp = pp;
  s.plan.vpp = vpp;
  s.plan.dp = gpus / (tp * pp);
  s.plan.global_batch = gbs;
  s.plan.sequence_parallel = tp > 1;
  s.plan.pipeline_schedule = vpp > 1 ? "interleaved_1f1b" : "1f1b";
  s.seq_len = 2048;
  s.topology.nvlink_bytes_per_s = 369e9;
  s.topology.nic_bytes_per_s = 47e9;
  return s;
}

// One GPU, one micro-batch: nothing overlaps, so the step is the sum of every node's
// duration on the compute stream.
TEST(TrainingStepTest, SingleGpuStepIsTheSumOfItsKernels) {
  TrainingSetup s = MakeSetup("llama2-7b", 1, 1, 1, 1, 1);
  auto r = SimulateTrainingStep(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ExecutionGraph& g = *r->graphs[0];
  Duration sum = 0;
  for (NodeId v = 0; v < g.num_nodes(); ++v) sum += g.duration(v);
  EXPECT_EQ(SecondsToDuration(r->step_time_s), sum);
  EXPECT_EQ(r->simulated_ranks, 1);
  EXPECT_NEAR(r->breakdown.exposed_comm_s, 0.0, 1e-12);
  EXPECT_NEAR(r->breakdown.pipeline_bubble_s, 0.0, 1e-12);
}

// Symmetric simulation (one rank per stage) and full simulation (every rank, real
// group rendezvous) agree exactly on a uniform cluster when kernel rates are fixed.
// With interference and contention together, a collective's rate follows the busiest of
// its members in full mode but the representative alone in symmetric mode; equal-time
// events of different ranks are then processed one by one, so rounding of rate changes
// can differ by microseconds: agreement within 1e-5 of the step.
TEST(TrainingStepTest, SymmetricEqualsFull) {
  for (auto [tp, pp, vpp] : {std::tuple<int64_t, int64_t, int64_t>{2, 2, 1}, {4, 2, 2}, {1, 4, 1}}) {
    for (bool rates : {false, true}) {
      TrainingSetup s = MakeSetup("llama2-7b", 32, tp, pp, vpp, 64);
      s.plan.zero = 1;
      s.interference = rates;
      s.contention = true;
      auto sym = SimulateTrainingStep(s);
      ASSERT_TRUE(sym.ok()) << sym.status().ToString();
      s.full = true;
      auto full = SimulateTrainingStep(s);
      ASSERT_TRUE(full.ok()) << full.status().ToString();
      if (rates) {
        EXPECT_NEAR(sym->step_time_s, full->step_time_s, 1e-5 * full->step_time_s)
            << "tp " << tp << " pp " << pp;
      } else {
        EXPECT_EQ(sym->step_time_s, full->step_time_s) << "tp " << tp << " pp " << pp;
      }
      EXPECT_EQ(sym->simulated_ranks, pp);
      EXPECT_EQ(full->simulated_ranks, 32);
    }
  }
}

// Interference: a compute kernel beside a communication kernel runs slower, so turning
// it on lengthens a step whose DP reduction overlaps the backward pass; contention:
// pipeline and data-parallel transfers sharing a NIC slow each other.
TEST(TrainingStepTest, InterferenceAndContentionSlowTheStep) {
  TrainingSetup s = MakeSetup("llama2-7b", 32, 1, 4, 1, 64);
  s.interference = false;
  s.contention = false;
  auto base = SimulateTrainingStep(s);
  s.interference = true;
  auto interf = SimulateTrainingStep(s);
  s.interference = false;
  s.contention = true;
  auto shared = SimulateTrainingStep(s);
  s.interference = true;
  auto both = SimulateTrainingStep(s);
  ASSERT_TRUE(base.ok() && interf.ok() && shared.ok() && both.ok());
  EXPECT_GT(interf->step_time_s, base->step_time_s);
  EXPECT_GE(shared->step_time_s, base->step_time_s);
  double exposed = 0;
  for (double v : both->breakdown.exposed_comm_by_group_s) exposed += v;
  EXPECT_NEAR(exposed, both->breakdown.exposed_comm_s, 1e-9);
}

TEST(TrainingStepTest, BreakdownSumsToStepTime) {
  TrainingSetup s = MakeSetup("llama2-7b", 64, 2, 4, 2, 128);
  auto r = SimulateTrainingStep(s);
  ASSERT_TRUE(r.ok());
  const StepBreakdown& b = r->breakdown;
  EXPECT_NEAR(b.compute_s + b.exposed_comm_s + b.pipeline_bubble_s + b.other_s, r->step_time_s, 1e-9);
  EXPECT_GT(b.pipeline_bubble_s, 0);
  EXPECT_GT(b.exposed_comm_s, 0);  // TP collectives are blocking
}

// More micro-batches amortise the pipeline bubble: its share of the step falls.
TEST(TrainingStepTest, BubbleShrinksWithMoreMicrobatches) {
  auto few = SimulateTrainingStep(MakeSetup("llama2-7b", 8, 1, 8, 1, 8));
  auto many = SimulateTrainingStep(MakeSetup("llama2-7b", 8, 1, 8, 1, 64));
  ASSERT_TRUE(few.ok() && many.ok());
  EXPECT_GT(few->breakdown.pipeline_bubble_s / few->step_time_s,
            2 * many->breakdown.pipeline_bubble_s / many->step_time_s);
}

TEST(TrainingStepTest, DeterministicTimeline) {
  auto a = SimulateTrainingStep(MakeSetup("llama2-7b", 16, 2, 2, 1, 32));
  auto b = SimulateTrainingStep(MakeSetup("llama2-7b", 16, 2, 2, 1, 32));
  ASSERT_TRUE(a.ok() && b.ok());
  std::ostringstream ta, tb;
  WriteChromeTrace(*a, MakeSetup("llama2-7b", 16, 2, 2, 1, 32).plan, ta);
  WriteChromeTrace(*b, MakeSetup("llama2-7b", 16, 2, 2, 1, 32).plan, tb);
  EXPECT_EQ(ta.str(), tb.str());
  EXPECT_EQ(a->events, b->events);
  EXPECT_NE(ta.str().find("\"name\":\"tp.reduce_scatter.attn\""), std::string::npos);
  EXPECT_NE(ta.str().find("\"name\":\"thread_name\""), std::string::npos);
}

TEST(TrainingStepTest, TooBigDoesNotFitAndSaysWhy) {
  TrainingSetup s = MakeSetup("gpt3-175b", 8, 8, 1, 1, 8);
  auto r = SimulateTrainingStep(s);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->fits_in_memory);
  EXPECT_GT(r->peak_memory_bytes, r->memory_capacity_bytes);
  // 175B params / 8 ranks * (2 + 4 + 12) bytes alone exceed 80 GB.
  EXPECT_GT(r->memory[0].weight_bytes + r->memory[0].gradient_bytes + r->memory[0].optimizer_bytes,
            80e9);
}

TEST(TrainingStepTest, Fp8NeedsFp8Hardware) {
  TrainingSetup s = MakeSetup("llama2-7b", 8, 1, 1, 1, 8);
  s.gpu = FindGpuPreset("a100-80gb").value();
  s.dtype = DType::kFp8;
  auto r = SimulateTrainingStep(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("has no FP8 tensor cores"), std::string::npos);
}

// ZeRO-1 turns the gradient all-reduce into a reduce-scatter and adds a parameter
// all-gather; exposed DP communication then depends on overlap.
TEST(TrainingStepTest, DataParallelOverlapHidesGradientReduction) {
  TrainingSetup s = MakeSetup("llama2-7b", 64, 1, 1, 1, 256);
  s.plan.micro_batch = 1;
  auto overlapped = SimulateTrainingStep(s);
  s.overlap_grad_reduce = false;
  auto exposed = SimulateTrainingStep(s);
  ASSERT_TRUE(overlapped.ok() && exposed.ok());
  EXPECT_LT(overlapped->step_time_s, exposed->step_time_s);
  EXPECT_LT(overlapped->breakdown.exposed_comm_s, exposed->breakdown.exposed_comm_s);
}

}  // namespace
}  // namespace echosim

namespace echosim {
namespace {

// Every ZeRO stage with and without pipelining runs to completion with interference and
// contention on (regression: a kernel switched from the fast path to rate tracking while
// the GPU's channel count ended where it started was never rescheduled).
TEST(TrainingStepTest, EveryZeroStageCompletes) {
  for (int64_t zero = 0; zero <= 3; ++zero) {
    for (int64_t pp : {1, 2}) {
      TrainingSetup s = MakeSetup("llama2-7b", 16, 2, pp, 1, 32);
      s.plan.zero = zero;
      auto r = SimulateTrainingStep(s);
      ASSERT_TRUE(r.ok()) << "zero " << zero << " pp " << pp << ": " << r.status().ToString();
      EXPECT_GT(r->step_time_s, 0);
      s.full = true;
      auto full = SimulateTrainingStep(s);
      ASSERT_TRUE(full.ok()) << "zero " << zero << " pp " << pp << " full: " << full.status().ToString();
      EXPECT_NEAR(full->step_time_s, r->step_time_s, 1e-5 * r->step_time_s);
    }
  }
}

}  // namespace
}  // namespace echosim

namespace echosim {
namespace {

TrainingSetup MoeSetup(int64_t gpus, int64_t pp, int64_t vpp, int64_t ep) {
  TrainingSetup s = MakeSetup("qwen3-30b-a3b", gpus, 1, pp, vpp, 8 * gpus / pp);
  s.plan.ep = ep;
  s.plan.zero = 1;
  s.seq_len = 4096;
  return s;
}

// Combined 1F1B: every backward but the last is merged with the next micro-batch's
// forward, so their all-to-alls move to the ep_comm stream and run beside the other pass's
// kernels. The kernels themselves are unchanged (without interference, compute time is the
// same); what the all-to-alls leave exposed shrinks, and so does the step.
TEST(TrainingStepTest, EpCommOverlapHidesAllToAllBehindThePairedPass) {
  TrainingSetup s = MoeSetup(8, 1, 1, 8);
  s.interference = false;
  s.contention = false;
  auto serial = SimulateTrainingStep(s);
  s.ep_comm_overlap = true;
  auto overlapped = SimulateTrainingStep(s);
  ASSERT_TRUE(serial.ok() && overlapped.ok()) << overlapped.status().ToString();
  EXPECT_NEAR(overlapped->breakdown.compute_s, serial->breakdown.compute_s,
              1e-9 * serial->breakdown.compute_s);
  const double ep_serial = serial->breakdown.exposed_comm_by_group_s[static_cast<int>(GroupKind::kEp)];
  const double ep_overlapped =
      overlapped->breakdown.exposed_comm_by_group_s[static_cast<int>(GroupKind::kEp)];
  EXPECT_GT(ep_serial, 0);
  EXPECT_LT(ep_overlapped, 0.5 * ep_serial);
  EXPECT_LT(overlapped->step_time_s, serial->step_time_s - 0.5 * ep_serial);

  // 8 micro-batches: 7 backward/forward pairs; only the first forward and the last backward
  // keep their all-to-alls (2 per layer each) on the compute stream.
  const ExecutionGraph& g = *overlapped->graphs[0];
  const int64_t layers = s.model.layers;
  int64_t on_ep_stream = 0, ep_on_compute = 0;
  for (NodeId v = 0; v < g.num_nodes(); ++v) {
    if (g.name(v).rfind("ep.all_to_all", 0) != 0) continue;
    if (g.stream(v) == kStreamEpComm) {
      ++on_ep_stream;
    } else {
      EXPECT_EQ(g.stream(v), kStreamCompute) << g.name(v);
      ++ep_on_compute;
    }
  }
  EXPECT_EQ(ep_on_compute, 2 * 2 * layers);
  EXPECT_EQ(on_ep_stream, 7 * 2 * 2 * layers);
  // Without the overlap there is no ep_comm stream at all.
  EXPECT_EQ(serial->graphs[0]->stream_names().size(), static_cast<size_t>(kStreamEpComm));
  EXPECT_EQ(g.stream_names().back(), "ep_comm");
}

// The flex dispatcher holds the SMs it was given (parallelism.flex_dispatcher_sms), not the
// channels NCCL would pick: its all-to-alls carry that count, and under EP overlap the compute
// beside them keeps only the rest, so more dispatcher SMs make the overlapped step longer.
// Without interference the SM count changes nothing. (The executor reads a transfer's SMs
// from the network model, so contention stays on.)
TEST(TrainingStepTest, FlexDispatcherSmsSlowTheComputeBesideIt) {
  TrainingSetup s = MoeSetup(16, 1, 1, 16);  // EP across two nodes: long all-to-alls
  s.flex_dispatch = true;
  s.ep_comm_overlap = true;
  auto run = [&](int sms, bool interference) {
    TrainingSetup t = s;
    t.flex_dispatcher_sms = sms;
    t.interference = interference;
    auto r = SimulateTrainingStep(t);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r;
  };
  auto few = run(8, true), many = run(64, true);
  ASSERT_TRUE(few.ok() && many.ok());
  const ExecutionGraph& g = *many->graphs[0];
  int64_t ep_nodes = 0;
  for (NodeId v = 0; v < g.num_nodes(); ++v) {
    if (g.name(v).rfind("ep.all_to_all", 0) != 0) continue;
    ++ep_nodes;
    EXPECT_EQ(g.comm(v).channels, 64) << g.name(v);
  }
  EXPECT_GT(ep_nodes, 0);
  EXPECT_GT(many->step_time_s, few->step_time_s * 1.01) << few->step_time_s;
  auto few_free = run(8, false), many_free = run(64, false);
  ASSERT_TRUE(few_free.ok() && many_free.ok());
  EXPECT_DOUBLE_EQ(many_free->step_time_s, few_free->step_time_s);
}

// With pipelining (interleaved schedule) the merged passes keep every pipeline transfer
// consistent: no deadlock, and the symmetric and full simulations agree.
TEST(TrainingStepTest, EpCommOverlapWithInterleavedPipelineMatchesFull) {
  for (auto [pp, vpp] : {std::pair<int64_t, int64_t>{2, 2}, {2, 4}, {4, 3}}) {
    TrainingSetup s = MoeSetup(8 * pp, pp, vpp, 8);
    s.ep_comm_overlap = true;
    auto sym = SimulateTrainingStep(s);
    ASSERT_TRUE(sym.ok()) << "pp " << pp << " vpp " << vpp << ": " << sym.status().ToString();
    s.full = true;
    auto full = SimulateTrainingStep(s);
    ASSERT_TRUE(full.ok()) << "pp " << pp << " vpp " << vpp << ": " << full.status().ToString();
    EXPECT_NEAR(full->step_time_s, sym->step_time_s, 1e-5 * sym->step_time_s);
    s.full = false;
    s.ep_comm_overlap = false;
    auto serial = SimulateTrainingStep(s);
    ASSERT_TRUE(serial.ok());
    EXPECT_LT(sym->step_time_s, serial->step_time_s) << "pp " << pp << " vpp " << vpp;
  }
}

// fp8 attention prices flash attention at the fp8 tensor-core rate; everything else keeps
// its duration. Without it, attention in fp8 training runs (and is keyed) in bf16.
// FP8 attention changes only the attention kernels, each by the speed-up measured for its pass
// (GpuSpec::AttentionFp8Speedup: on H100 cuDNN's fp8 forward is 1.47x its bf16 one and its
// backward 0.89x, slower), not by the 2x of the peaks; under MXFP8 the block-scaled kernels'.
TEST(TrainingStepTest, Fp8AttentionChangesOnlyTheAttentionKernelsByTheMeasuredSpeedup) {
  for (const char* gpu : {"h100-sxm", "gb200"}) {
    for (Fp8Recipe recipe : {Fp8Recipe::kCurrent, Fp8Recipe::kMxfp8}) {
      if (recipe == Fp8Recipe::kMxfp8 && std::string(gpu) == "h100-sxm") continue;
      TrainingSetup s = MakeSetup("llama3-8b", 8, 1, 1, 1, 8);
      s.gpu = FindGpuPreset(gpu).value();
      s.seq_len = 8192;
      s.dtype = DType::kFp8;
      s.fp8_recipe = recipe;
      auto graph16 = BuildStageGraph(s, 0);
      s.fp8_attention = true;
      auto graph8 = BuildStageGraph(s, 0);
      ASSERT_TRUE(graph16.ok() && graph8.ok());
      ASSERT_EQ(graph16->num_nodes(), graph8->num_nodes());
      const bool mx = recipe == Fp8Recipe::kMxfp8;
      int attention = 0;
      for (NodeId v = 0; v < graph16->num_nodes(); ++v) {
        const std::string& n = graph16->name(v);
        if (n == "attn.fwd" || n == "attn.bwd") {
          ++attention;
          const double want = s.gpu.AttentionFp8Speedup(n == "attn.bwd", mx, 128);
          const double got = static_cast<double>(graph16->duration(v)) / graph8->duration(v);
          EXPECT_NEAR(got, want, 0.01 * want) << gpu << " " << n;
        } else {
          EXPECT_EQ(graph8->duration(v), graph16->duration(v)) << gpu << " " << n;
        }
      }
      EXPECT_EQ(attention, 2 * s.model.layers);
    }
  }
  // The measured ratios, not the peaks': an fp8 backward no faster than bf16 on H100.
  const GpuSpec h100 = FindGpuPreset("h100-sxm").value();
  EXPECT_LT(h100.AttentionFp8Speedup(true, false, 128), 1.0);
  EXPECT_GT(h100.AttentionFp8Speedup(false, false, 128), 1.3);
}

}  // namespace
}  // namespace echosim

namespace echosim {
namespace {

// gpt-oss alternates banded (128-token) and full attention, starting with the banded one: the
// stage graph gives even layers the cheaper attention kernels, odd layers the full ones.
TEST(TrainingStepTest, SlidingWindowLayersAlternateInTheGraph) {
  TrainingSetup s = MakeSetup("gpt-oss-120b", 8, 1, 1, 1, 8);
  s.plan.ep = 8;
  s.seq_len = 4096;
  auto g = BuildStageGraph(s, 0);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  std::map<int32_t, Duration> attn_fwd;
  for (NodeId v = 0; v < g->num_nodes(); ++v) {
    if (g->name(v) == "attn.fwd" && g->microbatch(v) == 0) attn_fwd[g->layer(v)] = g->duration(v);
  }
  ASSERT_EQ(attn_fwd.size(), 36u);
  for (int32_t l = 0; l + 1 < 36; l += 2) {
    EXPECT_LT(attn_fwd[l], attn_fwd[l + 1]) << "layer " << l;
    EXPECT_EQ(attn_fwd[l], attn_fwd[0]);
    EXPECT_EQ(attn_fwd[l + 1], attn_fwd[1]);
  }
}

}  // namespace
}  // namespace echosim

namespace echosim {
namespace {

// Expert gradients reduce over the ranks holding the same experts (expert-DP), dense ones over
// the whole DP group; a dense model has no expert-DP collective.
TEST(TrainingStepTest, ExpertGradientsReduceOverTheExpertDataParallelGroup) {
  TrainingSetup s = MoeSetup(16, 1, 1, 4);  // dp 16, ep 4: expert-DP groups of 4
  auto g = BuildStageGraph(s, 0);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  double dense_bytes = 0, expert_bytes = 0;
  for (NodeId v = 0; v < g->num_nodes(); ++v) {
    if (g->kind(v) != NodeKind::kCollective) continue;
    if (g->name(v) == "dp.grads.bucket") {
      EXPECT_EQ(g->comm(v).group, GroupKind::kDp);
      dense_bytes += g->comm(v).bytes;
    } else if (g->name(v) == "edp.grads.bucket") {
      EXPECT_EQ(g->comm(v).group, GroupKind::kEdp);
      expert_bytes += g->comm(v).bytes;
    }
  }
  const ModelSpec& m = s.model;
  const double layers = static_cast<double>(m.layers);
  EXPECT_NEAR(expert_bytes, 2.0 * layers * m.LayerExpertParams() / s.plan.ep, 1e-6 * expert_bytes);
  EXPECT_NEAR(dense_bytes,
              2.0 * (layers * (m.LayerParams() - m.LayerExpertParams()) + 2.0 * m.vocab * m.hidden),
              1e-6 * dense_bytes);
  TrainingSetup d = MakeSetup("llama2-7b", 16, 1, 1, 1, 32);
  auto dg = BuildStageGraph(d, 0);
  ASSERT_TRUE(dg.ok());
  for (NodeId v = 0; v < dg->num_nodes(); ++v) {
    if (dg->kind(v) == NodeKind::kCollective) EXPECT_NE(dg->comm(v).group, GroupKind::kEdp);
  }
  // grad_reduce_in_fp32: the same reductions move 4 bytes per gradient instead of 2.
  s.plan.grad_reduce_in_fp32 = true;
  auto g32 = BuildStageGraph(s, 0);
  ASSERT_TRUE(g32.ok());
  double bytes16 = 0, bytes32 = 0;
  for (NodeId v = 0; v < g->num_nodes(); ++v) {
    if (g->name(v) == "dp.grads.bucket" || g->name(v) == "edp.grads.bucket") {
      bytes16 += g->comm(v).bytes;
    }
  }
  for (NodeId v = 0; v < g32->num_nodes(); ++v) {
    if (g32->name(v) == "dp.grads.bucket" || g32->name(v) == "edp.grads.bucket") {
      bytes32 += g32->comm(v).bytes;
    }
  }
  EXPECT_NEAR(bytes32, 2.0 * bytes16, 1e-9 * bytes32);
  // fp8 primary weights: the ZeRO-3 parameter all-gathers move 1 byte per weight, not 2.
  TrainingSetup z = MakeSetup("llama2-7b", 16, 1, 1, 1, 32);
  z.plan.zero = 3;
  z.dtype = DType::kFp8;
  auto gather_bytes = [](const ExecutionGraph& eg) {
    double b = 0;
    for (NodeId v = 0; v < eg.num_nodes(); ++v) {
      if (eg.name(v) == "dp.all_gather.params") b += eg.comm(v).bytes;
    }
    return b;
  };
  auto z16 = BuildStageGraph(z, 0);
  z.plan.fp8_param_gather = true;
  auto z8 = BuildStageGraph(z, 0);
  ASSERT_TRUE(z16.ok() && z8.ok());
  ASSERT_GT(gather_bytes(*z16), 0);
  EXPECT_NEAR(gather_bytes(*z8), 0.5 * gather_bytes(*z16), 1e-9 * gather_bytes(*z16));
}

}  // namespace
}  // namespace echosim

namespace echosim {
namespace {

// NVFP4 (dtype fp4): GEMMs at the FP4 rate, attention in 16-bit; no FP4 on Hopper.
TEST(TrainingStepTest, Fp4GemmsRunAtTheFp4RateOnBlackwellOnly) {
  TrainingSetup s = MakeSetup("llama3-8b", 8, 1, 1, 1, 8);
  s.gpu = FindGpuPreset("gb200").value();
  s.dtype = DType::kFp8;
  auto fp8 = BuildStageGraph(s, 0);
  s.dtype = DType::kFp4;
  auto fp4 = BuildStageGraph(s, 0);
  ASSERT_TRUE(fp8.ok() && fp4.ok());
  ASSERT_EQ(fp8->num_nodes(), fp4->num_nodes());
  for (NodeId v = 0; v < fp8->num_nodes(); ++v) {
    const std::string& n = fp8->name(v);
    if (n == "mlp.fc1.fwd") EXPECT_LT(fp4->duration(v), 0.75 * fp8->duration(v));
    if (n == "attn.fwd" || n == "attn.bwd") EXPECT_EQ(fp4->duration(v), fp8->duration(v)) << n;
  }
  s.gpu = FindGpuPreset("h100-sxm").value();
  auto hopper = SimulateTrainingStep(s);
  ASSERT_FALSE(hopper.ok());
  EXPECT_NE(hopper.status().message().find("has no FP4 tensor cores"), std::string::npos);
}

}  // namespace
}  // namespace echosim

namespace echosim {
namespace {

// With sequence parallelism the backward gathers each column-parallel GEMM's input shard again
// for its weight gradient: the gather runs beside the data-gradient GEMM (that GEMM does not
// wait for it) and the weight-gradient GEMM waits for it.
TEST(TrainingStepTest, BackwardRegatherRunsBesideTheDataGradient) {
  TrainingSetup s = MakeSetup("llama2-7b", 8, 4, 1, 1, 2);
  ASSERT_TRUE(s.plan.sequence_parallel);
  auto g = BuildStageGraph(s, 0);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  int found = 0;
  for (NodeId v = 0; v < g->num_nodes(); ++v) {
    const std::string& n = g->name(v);
    if (n != "tp.all_gather.mlp.input" && n != "tp.all_gather.attn.input") continue;
    ++found;
    const std::string gemm = n == "tp.all_gather.mlp.input" ? "mlp.fc1" : "attn.qkv";
    bool feeds_wgrad = false, feeds_dgrad = false;
    for (NodeId w : g->successors(v)) {
      if (g->layer(w) != g->layer(v) || g->microbatch(w) != g->microbatch(v)) continue;
      feeds_wgrad |= g->name(w) == gemm + ".wgrad";
      feeds_dgrad |= g->name(w) == gemm + ".dgrad";
    }
    EXPECT_TRUE(feeds_wgrad) << n << " layer " << g->layer(v);
    EXPECT_FALSE(feeds_dgrad) << n << " layer " << g->layer(v);
  }
  EXPECT_EQ(found, 2 * 32);  // two per layer, 32 layers, one micro-batch (dp 2)
}

// Muon orthogonalises every layer matrix after the gradient reduction: bf16 GEMMs of 4 m^2 n +
// 2 m^3 FLOPs per matrix and iteration, 5 iterations, on the compute stream before the update;
// its state is one fp32 momentum per parameter (Adam: two), the embeddings staying with Adam.
TEST(TrainingStepTest, MuonAddsNewtonSchulzAndKeepsLessState) {
  TrainingSetup s = MakeSetup("llama2-7b", 8, 1, 1, 1, 8);
  auto adam = SimulateTrainingStep(s);
  s.plan.muon = true;
  auto muon = SimulateTrainingStep(s);
  ASSERT_TRUE(adam.ok() && muon.ok());
  const ExecutionGraph& g = *muon->graphs[0];
  double ns_flops = 0;
  int ns_nodes = 0;
  for (NodeId v = 0; v < g.num_nodes(); ++v) {
    if (g.name(v) == "optimizer.muon.newton_schulz") ++ns_nodes;
  }
  // Llama 2 7B layers: QKV 4096 x 12288, output 4096 x 4096, fc1 4096 x 22016, fc2 11008 x
  // 4096: four shapes, three GEMMs each.
  EXPECT_EQ(ns_nodes, 12);
  const ModelSpec& m = s.model;
  for (const auto& mat : m.LayerMatrices(0)) {
    const double a = static_cast<double>(std::min(mat.rows, mat.cols));
    const double b = static_cast<double>(std::max(mat.rows, mat.cols));
    ns_flops += 5.0 * (4.0 * a * a * b + 2.0 * a * a * a) * m.layers;
  }
  EXPECT_GT(ns_flops, 1e14);
  EXPECT_GT(muon->step_time_s, adam->step_time_s);
  EXPECT_LT(muon->memory[0].optimizer_bytes, adam->memory[0].optimizer_bytes);
  const double embed = static_cast<double>(m.vocab * m.hidden) * (m.tied_embeddings ? 1 : 2);
  const double params = adam->memory[0].params;
  EXPECT_NEAR(muon->memory[0].optimizer_bytes, (params - embed) * 8.0 + embed * 12.0, 1e3);
}

// bf16 moments (Megatron-Core's precision-aware optimizer, exp_avg / exp_avg_sq in bf16) keep the
// fp32 master weight: Adam 4 + 2 + 2 bytes per parameter instead of 12, Muon 4 + 2 (its
// embeddings' Adam 8); the step reads and writes each moment at 2 bytes.
TEST(TrainingStepTest, Bf16MomentsShrinkTheOptimizerState) {
  TrainingSetup s = MakeSetup("llama2-7b", 8, 1, 1, 1, 8);
  auto fp32 = SimulateTrainingStep(s);
  s.plan.moments_bf16 = true;
  auto bf16 = SimulateTrainingStep(s);
  s.plan.muon = true;
  auto muon = SimulateTrainingStep(s);
  ASSERT_TRUE(fp32.ok() && bf16.ok() && muon.ok());
  const double params = fp32->memory[0].params;
  EXPECT_NEAR(fp32->memory[0].optimizer_bytes, params * 12.0, 1e3);
  EXPECT_NEAR(bf16->memory[0].optimizer_bytes, params * 8.0, 1e3);
  const ModelSpec& m = s.model;
  const double embed = static_cast<double>(m.vocab * m.hidden) * (m.tied_embeddings ? 1 : 2);
  EXPECT_NEAR(muon->memory[0].optimizer_bytes, (params - embed) * 6.0 + embed * 8.0, 1e3);
  // The optimizer step moves 26 bytes per parameter instead of 34: it gets faster.
  auto opt_time = [](const StepResult& r) {
    const ExecutionGraph& g = *r.graphs[0];
    for (NodeId v = 0; v < g.num_nodes(); ++v) {
      if (g.name(v) == "optimizer.adam") return DurationToSeconds(g.duration(v));
    }
    return -1.0;
  };
  EXPECT_GT(opt_time(*fp32), 0);
  EXPECT_NEAR(opt_time(*bf16) / opt_time(*fp32), 26.0 / 34.0, 0.02);
}

// When every rank ends with its host-overhead delay, a larger overhead moves the step by exactly
// the difference (what the validation relies on to skip re-simulating the shipped constants).
TEST(TrainingStepTest, HostOverheadAtTheTailShiftsTheStepExactly) {
  TrainingSetup s = MakeSetup("llama2-7b", 16, 2, 2, 1, 16);
  s.host_overhead_s = 0.095;
  auto a = SimulateTrainingStep(s);
  s.host_overhead_s = 0.105;
  auto b = SimulateTrainingStep(s);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a->host_overhead_is_tail);
  EXPECT_EQ(b->step_end - a->step_end, SecondsToDuration(0.105) - SecondsToDuration(0.095));
  s.host_overhead_s = 0;
  auto none = SimulateTrainingStep(s);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->host_overhead_is_tail);
}


// The host model (TrainingSetup::host_launch_s): a host thread issues every kernel in program
// order. Off (0), nothing changes; on, the step can only grow, by no more than the host's own
// time, and the GPU idle while the host issues is reported as host-bound.
TEST(TrainingStepTest, HostModelDelaysKernelsUntilIssued) {
  TrainingSetup s = MoeSetup(8, 1, 1, 8);
  auto off = SimulateTrainingStep(s);
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(off->breakdown.host_bound_s, 0.0);
  double prev = off->step_time_s;
  for (double us : {5.0, 50.0, 500.0}) {
    TrainingSetup t = s;
    t.host_launch_s = us * 1e-6;
    auto r = SimulateTrainingStep(t);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_GE(r->step_time_s, prev - 1e-9) << us << " us";
    prev = r->step_time_s;
    const StepBreakdown& b = r->breakdown;
    EXPECT_NEAR(b.compute_s + b.exposed_comm_s + b.pipeline_bubble_s + b.other_s + b.host_bound_s,
                r->step_time_s, 1e-9);
    // The host stream is the graph's last, and every GPU kernel waits for its host node.
    EXPECT_EQ(r->graphs[0]->stream_names().back(), "host");
  }
  // At 500 us per launch the host, not the GPU, sets the pace.
  EXPECT_GT(prev, 1.5 * off->step_time_s);
  TrainingSetup t = s;
  t.host_launch_s = 500e-6;
  auto slow = SimulateTrainingStep(t);
  ASSERT_TRUE(slow.ok());
  EXPECT_GT(slow->breakdown.host_bound_s, 0.3 * slow->step_time_s);
}

// The per-expert launches of the grouped GEMMs (a C++ loop) have their own cost: with it at 0
// only the Python-level launches remain, and raising it alone lengthens a host-bound step.
// A dense model has no loop launches: the loop cost moves nothing.
TEST(TrainingStepTest, LoopLaunchCostPricesThePerExpertLaunches) {
  TrainingSetup s = MoeSetup(8, 1, 1, 8);
  s.host_launch_s = 100e-6;
  double prev = 0;
  for (double loop_us : {0.0, 30.0, 300.0}) {
    TrainingSetup t = s;
    t.host_loop_launch_s = loop_us * 1e-6;
    auto r = SimulateTrainingStep(t);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_GE(r->step_time_s, prev) << loop_us << " us";
    if (loop_us == 300.0) EXPECT_GT(r->step_time_s, prev * 1.01);
    prev = r->step_time_s;
  }
  TrainingSetup d = MakeSetup("llama2-7b", 8, 1, 1, 1, 16);
  d.host_launch_s = 100e-6;
  auto a = SimulateTrainingStep(d);
  d.host_loop_launch_s = 300e-6;
  auto b = SimulateTrainingStep(d);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->step_time_s, b->step_time_s);
}

// A host that keeps ahead of the GPU bounds nothing: while the GPU waits for another pipeline
// stage the host may be issuing later kernels, and that idle time stays a pipeline bubble.
TEST(TrainingStepTest, HostRunningAheadLeavesBubblesAsBubbles) {
  TrainingSetup s = MakeSetup("llama2-7b", 32, 2, 4, 1, 64);
  auto off = SimulateTrainingStep(s);
  s.host_launch_s = 5e-6;
  auto on = SimulateTrainingStep(s);
  ASSERT_TRUE(off.ok() && on.ok()) << on.status().ToString();
  ASSERT_GT(off->breakdown.pipeline_bubble_s, 0);
  EXPECT_NEAR(on->step_time_s, off->step_time_s, 1e-3 * off->step_time_s);
  EXPECT_NEAR(on->breakdown.pipeline_bubble_s, off->breakdown.pipeline_bubble_s,
              0.01 * off->breakdown.pipeline_bubble_s);
  EXPECT_LT(on->breakdown.host_bound_s, 1e-4 * on->step_time_s);
}

// CUDA graphs replace a captured region's launches by one; a full-iteration graph leaves
// nothing for the host to do (and no synchronisation), so the step is the host-free one.
TEST(TrainingStepTest, CudaGraphScopesShortenTheHostTime) {
  TrainingSetup s = MoeSetup(8, 1, 1, 8);
  s.host_launch_s = 100e-6;
  auto eager = SimulateTrainingStep(s);
  TrainingSetup g = s;
  g.cuda_graph_scopes = kGraphAttn | kGraphMoeRouter | kGraphMoePreprocess;
  auto scoped = SimulateTrainingStep(g);
  g.cuda_graph_scopes = kGraphAttn | kGraphMoe;
  auto whole_layer = SimulateTrainingStep(g);
  g.cuda_graph_scopes = kGraphFullIteration;
  auto full = SimulateTrainingStep(g);
  TrainingSetup none = s;
  none.host_launch_s = 0;
  auto free = SimulateTrainingStep(none);
  ASSERT_TRUE(eager.ok() && scoped.ok() && whole_layer.ok() && full.ok() && free.ok());
  EXPECT_LT(scoped->step_time_s, eager->step_time_s);
  EXPECT_LT(whole_layer->step_time_s, scoped->step_time_s);
  EXPECT_EQ(full->step_time_s, free->step_time_s);
  EXPECT_EQ(full->breakdown.host_bound_s, 0.0);
}

// The forward dispatch's token counts reach the host before it issues the experts' work:
// with the all-to-all dispatcher the host waits for the permutation before the all-to-all,
// with the flex dispatcher for the dispatch itself. Either way the GPU drains there, so a
// host slower than the GPU's work after the sync shows up as host-bound time even at a
// launch cost the GPU would otherwise hide. With EP overlap across nodes (the Qwen3-30B
// profile of tests/validation/profiled_run_test.cc) the paired micro-batch's all-to-all
// keeps the GPU busy across the wait.
TEST(TrainingStepTest, DispatchSynchronisationDrainsTheGpuUnlessOverlapped) {
  for (bool flex : {false, true}) {
    TrainingSetup s = MoeSetup(16, 1, 1, 16);
    s.flex_dispatch = flex;
    s.host_launch_s = 40e-6;
    s.interference = false;
    auto serial = SimulateTrainingStep(s);
    s.ep_comm_overlap = true;
    auto overlapped = SimulateTrainingStep(s);
    ASSERT_TRUE(serial.ok() && overlapped.ok()) << serial.status().ToString();
    EXPECT_GT(serial->breakdown.host_bound_s, 0) << flex;
    EXPECT_LT(overlapped->breakdown.host_bound_s, serial->breakdown.host_bound_s) << flex;
  }
}


// gpt-oss's clamped quick-GEGLU copies its linear offset to the GPU synchronously on every
// call (models/host_launches.h, SynchronizesHost): in eager execution the host issues the
// activation only once the clamp kernels before it have run, forward and in the activation's
// recompute; a captured MoE block has no such wait (the capture could not hold one).
TEST(TrainingStepTest, ClampedQuickGegluMakesTheHostWaitForTheGpu) {
  TrainingSetup s = MakeSetup("gpt-oss-120b", 8, 1, 1, 1, 16);
  s.plan.ep = 8;
  s.plan.zero = 1;
  s.seq_len = 4096;
  s.host_launch_s = 90e-6;
  s.host_loop_launch_s = 30e-6;
  ASSERT_GT(s.model.glu_clamp, 0);
  s.plan.recompute = RecomputeMode::kSelective;
  s.plan.recompute_modules = kRecomputeMoeAct;
  // Host nodes of the activation that wait on a clamp kernel, and those that do not.
  auto count_waits = [](const ExecutionGraph& g) {
    std::pair<int, int> waits{0, 0};
    std::vector<std::vector<NodeId>> preds(g.num_nodes());
    for (NodeId n = 0; n < g.num_nodes(); ++n) {
      for (NodeId v : g.successors(n)) preds[v].push_back(n);
    }
    for (NodeId n = 0; n < g.num_nodes(); ++n) {
      if (g.category(n) != NodeCategory::kHost || g.name(n) != "moe.swiglu.fwd") continue;
      bool waits_on_clamp = false;
      for (NodeId p : preds[n]) {
        waits_on_clamp |= g.category(p) != NodeCategory::kHost && g.name(p) == "moe.glu_clamp.fwd";
      }
      (waits_on_clamp ? waits.first : waits.second)++;
    }
    return waits;
  };
  auto eager = BuildStageGraph(s, 0);
  ASSERT_TRUE(eager.ok()) << eager.status().ToString();
  const auto [waiting, free] = count_waits(*eager);
  // 36 layers, 2 micro-batches, the forward and the recompute.
  EXPECT_EQ(waiting, 36 * 2 * 2);
  EXPECT_EQ(free, 0);
  s.cuda_graph_scopes = kGraphAttn | kGraphMoe;
  auto graphed = BuildStageGraph(s, 0);
  ASSERT_TRUE(graphed.ok()) << graphed.status().ToString();
  EXPECT_EQ(count_waits(*graphed).first, 0);
}


// LoRA on a data-parallel step: the step is faster (no weight gradients), the DP reduction
// carries only the adapters' gradients, the optimizer steps only the adapters, and the
// memory keeps the frozen weights but no gradient or optimizer state for them.
TEST(TrainingStepTest, LoraTrainsOnlyTheAdapters) {
  TrainingSetup full = MakeSetup("llama2-7b", 8, 1, 1, 1, 16);
  TrainingSetup lora = full;
  lora.lora_rank = 16;
  lora.lora_modules = kLoraQkv;
  auto rf = SimulateTrainingStep(full);
  auto rl = SimulateTrainingStep(lora);
  ASSERT_TRUE(rf.ok()) << rf.status().ToString();
  ASSERT_TRUE(rl.ok()) << rl.status().ToString();
  EXPECT_LT(rl->step_time_s, 0.8 * rf->step_time_s);
  EXPECT_GT(rl->step_time_s, 0.5 * rf->step_time_s);
  auto dp_time = [](const StepResult& r) {
    double t = 0;
    const ExecutionGraph& g = *r.graphs[0];
    for (NodeId v = 0; v < g.num_nodes(); ++v) {
      if (g.name(v).find("grads.bucket") != std::string::npos) t += DurationToSeconds(g.duration(v));
    }
    return t;
  };
  EXPECT_GT(dp_time(*rf), 0.0);
  EXPECT_LT(dp_time(*rl), 0.01 * dp_time(*rf));
  const StageMemory& mf = rf->memory[0];
  const StageMemory& ml = rl->memory[0];
  EXPECT_GT(ml.weight_bytes, mf.weight_bytes);  // the frozen weights plus the adapters
  EXPECT_LT(ml.weight_bytes, 1.01 * mf.weight_bytes);
  // Adapters: 32 layers x 16 x (4096 + 12288) parameters, 12 bytes of Adam state each (no
  // ZeRO here: every rank holds it all).
  const double adapters = 32.0 * 16 * (4096 + 12288);
  EXPECT_NEAR(ml.optimizer_bytes, adapters * 12.0, 1.0);
  EXPECT_LT(ml.gradient_bytes, 0.01 * mf.gradient_bytes);
  EXPECT_NEAR(rl->model_flops_per_step, rf->model_flops_per_step * 2.0 / 3.0, 1.0);
}

}  // namespace
}  // namespace echosim
