#include "simulator/scenario/simulation.h"

#include <gtest/gtest.h>

#include <vector>

#include "models/layer_ops.h"
#include "simulator/scenario/yaml_proto.h"

namespace echosim {
namespace {

scenario::Scenario Parse(const std::string& yaml) {
  scenario::Scenario s;
  Status st = YamlToProto(yaml, "test.yaml", &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

const char* kMinimal = R"(cluster: {gpu: h100-sxm, gpus: 16}
workload: {training: {model: llama2-7b, global_batch_seqs: 32}}
parallelism: {tp: 2, pp: 2}
)";

TEST(SimulationTest, DefaultsAreFilledInOnePlace) {
  scenario::Scenario s = Parse(kMinimal);
  ASSERT_TRUE(ResolveScenario(&s).ok());
  EXPECT_EQ(s.cluster().gpus_per_node(), 8u);
  EXPECT_EQ(s.cluster().network().nic_gbps(), 400);     // the H100 preset's NIC
  EXPECT_EQ(s.cluster().network().nvlink_gbps(), 3600);
  EXPECT_EQ(s.workload().training().seq_len_tokens(), 4096u);  // llama2's default
  EXPECT_EQ(s.workload().training().micro_batch_seqs(), 1u);
  EXPECT_EQ(s.workload().training().dtype(), "bf16");
  EXPECT_EQ(s.parallelism().dp(), 4u);  // 16 / (2 * 2)
  EXPECT_EQ(s.parallelism().pipeline_schedule(), "1f1b");
  EXPECT_TRUE(s.parallelism().overlap_grad_reduce());
  EXPECT_EQ(s.workload().training().shape().layers(), 32u);  // resolved shape written back
  EXPECT_EQ(s.name(), "llama2-7b on 16 x h100-sxm");
  // Resolving twice changes nothing.
  scenario::Scenario again = s;
  ASSERT_TRUE(ResolveScenario(&again).ok());
  EXPECT_EQ(again.SerializeAsString(), s.SerializeAsString());
}

TEST(SimulationTest, ResolvedScenarioReproducesTheRun) {
  scenario::Scenario s = Parse(kMinimal);
  auto run = RunTrainingScenario(s);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  scenario::Scenario reread;
  ASSERT_TRUE(YamlToProto(ProtoToYaml(run->resolved), "resolved.yaml", &reread).ok());
  auto again = RunTrainingScenario(reread);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(run->result.step_time_s, again->result.step_time_s);
}

TEST(SimulationTest, BadNamesListValidChoices) {
  struct Case {
    const char* override_;
    const char* expected;
  };
  const Case cases[] = {
      {"cluster.gpu=h1000", "unknown gpu 'h1000'; valid gpus: a100-40gb"},
      {"workload.training.model=gpt9", "unknown model 'gpt9'; valid models: custom"},
      {"workload.training.dtype=int4", "workload.training.dtype (--dtype): unknown value 'int4'; valid choices: bf16, fp16, fp8"},
      {"parallelism.recompute=some", "valid choices: none, selective, full"},
      {"parallelism.moe_grouped_gemm=cutlass",
       "parallelism.moe_grouped_gemm (--moe-grouped-gemm): unknown value 'cutlass'; valid "
       "choices: multi_stream, "
       "single_kernel"},
      {"parallelism.pipeline_schedule=zb", "valid schedules: 1f1b, interleaved_1f1b, gpipe"},
      {"cluster.network.topology=torus", "valid choices: nvswitch_fat_tree"},
      {"parallelism.tp=3", "--gpus (cluster.gpus): 16 GPUs are not divisible by tp*pp*cp = 3*2*1 = 6"},
      {"workload.training.model=custom", "workload.training.shape.layers (--layers) is required"},
      {"parallelism.cuda_graph_scope=[attn,router]",
       "parallelism.cuda_graph_scope (--cuda-graph-scope): unknown value 'router'; valid choices: "
       "attn, mlp, moe, moe_router, moe_preprocess, mamba, full_iteration"},
      {"simulation.host_launch_us=-5",
       "simulation.host_launch_us (--host-launch-us) must be a non-negative number"},
      {"simulation.host_loop_launch_us=-1",
       "simulation.host_loop_launch_us (--host-loop-launch-us) must be a non-negative number"},
  };
  for (const Case& c : cases) {
    scenario::Scenario s = Parse(kMinimal);
    ASSERT_TRUE(ApplyOverride(c.override_, &s).ok()) << c.override_;
    auto run = RunTrainingScenario(s);
    ASSERT_FALSE(run.ok()) << c.override_;
    EXPECT_NE(run.status().message().find(c.expected), std::string::npos)
        << c.override_ << " -> " << run.status().message();
  }
}

// The MoE overlap and fp8 attention switches say what they need, naming the field and flag.
TEST(SimulationTest, OverlapAndFp8AttentionSayWhatTheyNeed) {
  const char* moe = R"(cluster: {gpu: h100-sxm, gpus: 16}
workload: {training: {model: qwen3-30b-a3b, global_batch_seqs: 32, seq_len_tokens: 1024}}
parallelism: {ep: 8}
)";
  struct Case {
    const char* yaml;
    std::vector<const char*> overrides;
    const char* expected;  // empty: must run
  };
  const Case cases[] = {
      {kMinimal, {"parallelism.ep_comm_overlap=true"},
       "parallelism.ep_comm_overlap (--ep-comm-overlap) needs an MoE model (experts > 1) and "
       "parallelism.ep > 1; got ep 1 and 1 experts"},
      {moe, {"parallelism.ep_comm_overlap=true", "parallelism.pp=2"},
       "with pp > 1 needs parallelism.vpp > 1 (interleaved schedule)"},
      {moe, {"parallelism.ep_comm_overlap=true", "parallelism.pp=2", "parallelism.vpp=2"}, ""},
      {moe, {"parallelism.ep_comm_overlap=true"}, ""},
      {moe, {"parallelism.flex_dispatcher_sms=24"},
       "parallelism.flex_dispatcher_sms (--flex-sms) applies to the flex token dispatcher only"},
      {moe, {"parallelism.moe_dispatcher=flex", "parallelism.flex_dispatcher_sms=132"},
       "parallelism.flex_dispatcher_sms (--flex-sms) must be 1 to 131 (the h100-sxm's SMs but one; "
       "0 or unset: 32), got 132"},
      {moe, {"parallelism.moe_dispatcher=flex", "parallelism.flex_dispatcher_sms=24"}, ""},
      {kMinimal, {"parallelism.moe_fused_mlp=true"},
       "parallelism.moe_fused_mlp (--moe-fused-mlp) fuses the experts' MLP: it needs an MoE model"},
      {moe, {"parallelism.moe_fused_mlp=true"}, ""},
      {kMinimal, {"workload.training.fp8_attention=true"},
       "workload.training.fp8_attention (--fp8-attention) needs dtype fp8 and attention flash; "
       "got dtype bf16, attention flash"},
      {kMinimal, {"workload.training.fp8_attention=true", "workload.training.dtype=fp8"}, ""},
      {kMinimal, {"workload.training.fp8_recipe=current"},
       "workload.training.fp8_recipe (--fp8-recipe) needs dtype fp8; got dtype bf16"},
      {kMinimal, {"workload.training.dtype=fp8", "workload.training.fp8_recipe=tensorwise"},
       "workload.training.fp8_recipe: unknown value 'tensorwise'; valid choices: delayed, current, "
       "mxfp8"},
      {kMinimal, {"workload.training.dtype=fp8", "workload.training.fp8_recipe=mxfp8"},
       "workload.training.fp8_recipe (--fp8-recipe) mxfp8 needs a Blackwell GPU (block-scaled fp8 "
       "GEMMs, sm_arch >= 100); gpu 'h100-sxm' has sm_arch 90. Choices there: delayed, current"},
      {kMinimal, {"workload.training.dtype=fp8", "workload.training.fp8_recipe=current"}, ""},
      {kMinimal,
       {"cluster.gpu=b200", "workload.training.dtype=fp8", "workload.training.fp8_recipe=mxfp8"}, ""},
      {kMinimal, {"workload.training.bf16_layers_at_end=2"},
       "workload.training.bf16_layers_at_start / bf16_layers_at_end (--bf16-layers-at-start / "
       "--bf16-layers-at-end) keep layers in bf16 under dtype fp8 or fp4; got dtype bf16"},
      {kMinimal, {"workload.training.dtype=fp8", "workload.training.bf16_layers_at_start=2",
                  "workload.training.bf16_layers_at_end=31"},
       "workload.training.bf16_layers_at_start + bf16_layers_at_end (2 + 31) exceeds the 32 layers of "
       "model 'llama2-7b'"},
      {kMinimal, {"workload.training.dtype=fp8", "workload.training.bf16_layers_at_start=1",
                  "workload.training.bf16_layers_at_end=1"}, ""},
      {kMinimal, {"workload.training.mtp_bf16=true"},
       "workload.training.mtp_bf16 (--mtp-bf16) needs a model with MTP depths"},
      {kMinimal, {"workload.training.mtp_bf16=true", "workload.training.shape.mtp_layers=1"}, ""},
      {kMinimal, {"workload.training.optimizer_moments=fp16"}, "workload.training.optimizer_moments"},
      {kMinimal, {"workload.training.optimizer_moments=bf16"}, ""},
      {kMinimal, {"workload.training.moe_load_imbalance=1.2"},
       "workload.training.moe_load_imbalance (--moe-load-imbalance) needs an MoE model (experts > 1) and "
       "parallelism.ep > 1; got ep 1 and 1 experts"},
      {moe, {"workload.training.moe_load_imbalance=0.9"},
       "it must be in [1, ep = 8] (0 or unset: uniformly random routing's), got 0.9"},
      {moe, {"workload.training.moe_load_imbalance=8.5"}, "must be in [1, ep = 8]"},
      {moe, {"workload.training.moe_load_imbalance=1.2"}, ""},
      {kMinimal, {"workload.training.moe_load_imbalance=1"}, ""},
      {kMinimal, {"parallelism.recompute_modules=[layernorm]"},
       "parallelism.recompute_modules (--recompute-modules) needs parallelism.recompute: "
       "selective; got recompute 'none'"},
      {kMinimal, {"parallelism.recompute=selective", "parallelism.recompute_modules=[core_attn,norm]"},
       "parallelism.recompute_modules[1]: unknown module 'norm'; valid: core_attn, layernorm, "
       "moe_act, mlp, moe"},
      {kMinimal, {"parallelism.recompute=selective", "parallelism.recompute_modules=[moe_act]"},
       "parallelism.recompute_modules[0]: 'moe_act' needs a mixture-of-experts model"},
      {moe, {"parallelism.recompute=selective", "parallelism.recompute_modules=[mlp]"},
       "'mlp' recomputes a dense MLP; every layer of 'qwen3-30b-a3b' is a mixture-of-experts layer"},
      {moe, {"parallelism.recompute=selective", "parallelism.recompute_modules=[moe]",
             "parallelism.ep_comm_overlap=true"},
       "'moe' cannot be combined with parallelism.ep_comm_overlap"},
      {moe, {"parallelism.recompute=selective", "parallelism.recompute_modules=[layernorm,moe_act]",
             "parallelism.ep_comm_overlap=true"}, ""},
      {moe, {"parallelism.recompute=selective", "parallelism.recompute_modules=[moe]"}, ""},
      {kMinimal, {"parallelism.recompute=selective", "parallelism.recompute_modules=[mlp,layernorm]"},
       ""},
      {kMinimal, {"workload.training.lora_modules=[qkv]"},
       "workload.training.lora_modules (--lora-modules) needs workload.training.lora_rank > 0"},
      {kMinimal, {"workload.training.lora_rank=16", "workload.training.lora_modules=[qkv,gate]"},
       "workload.training.lora_modules[1]: unknown module 'gate'; valid: qkv, proj, fc1, fc2"},
      {kMinimal, {"workload.training.lora_rank=8192"},
       "workload.training.lora_rank (--lora-rank) 8192 exceeds the hidden size 4096 of model 'llama2-7b'"},
      {kMinimal, {"workload.training.lora_rank=16", "workload.training.shape.mtp_layers=1"},
       "LoRA on a model with MTP depths is not simulated"},
      {kMinimal, {"workload.training.lora_rank=16", "parallelism.zero=3"},
       "parallelism.zero (--zero) 3 with LoRA (workload.training.lora_rank): sharded frozen weights are "
       "not simulated"},
      {kMinimal, {"workload.training.lora_rank=16", "workload.training.optimizer=muon"},
       "workload.training.optimizer (--optimizer) muon with LoRA"},
      {kMinimal, {"workload.training.packed_sample_tokens=5000"},
       "workload.training.packed_sample_tokens (--packed-sample-tokens) 5000 exceeds the sequence length"},
      {kMinimal, {"workload.training.packed_sample_tokens=256", "workload.training.attention=unfused"},
       "workload.training.packed_sample_tokens (--packed-sample-tokens) needs attention flash"},
      {kMinimal, {"workload.training.packed_sample_tokens=256", "parallelism.cp=2"},
       "context parallelism over packed samples is not simulated"},
      {kMinimal, {"workload.training.packed_sample_tokens=256"}, ""},
      {kMinimal, {"workload.training.lora_rank=16"}, ""},
      {kMinimal, {"workload.training.lora_rank=16", "workload.training.lora_modules=[qkv,fc2]"}, ""},
  };
  for (const Case& c : cases) {
    scenario::Scenario s = Parse(c.yaml);
    for (const char* o : c.overrides) ASSERT_TRUE(ApplyOverride(o, &s).ok()) << o;
    auto run = RunTrainingScenario(s);
    if (c.expected[0] == '\0') {
      EXPECT_TRUE(run.ok()) << c.overrides.front() << ": " << run.status().ToString();
      continue;
    }
    ASSERT_FALSE(run.ok()) << c.overrides.front();
    EXPECT_NE(run.status().message().find(c.expected), std::string::npos)
        << c.overrides.front() << " -> " << run.status().message();
  }
}

// Edge layers kept in bf16 under fp8 slow the step, by more the more of them there are; with
// pipeline parallelism the stage holding them sets the pace. All layers in bf16 that way cost
// what a bf16 run's GEMMs cost, without the bf16 run's activations and gathers.
TEST(SimulationTest, Bf16EdgeLayersSlowAnFp8Step) {
  scenario::Scenario s = Parse(kMinimal);
  ASSERT_TRUE(ApplyOverride("workload.training.dtype=fp8", &s).ok());
  auto fp8 = RunTrainingScenario(s);
  ASSERT_TRUE(fp8.ok()) << fp8.status().ToString();
  ASSERT_TRUE(ApplyOverride("workload.training.bf16_layers_at_start=1", &s).ok());
  ASSERT_TRUE(ApplyOverride("workload.training.bf16_layers_at_end=1", &s).ok());
  auto edges = RunTrainingScenario(s);
  ASSERT_TRUE(edges.ok()) << edges.status().ToString();
  ASSERT_TRUE(ApplyOverride("workload.training.bf16_layers_at_end=8", &s).ok());
  auto more = RunTrainingScenario(s);
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  EXPECT_GT(edges->result.step_time_s, fp8->result.step_time_s);
  EXPECT_GT(more->result.step_time_s, edges->result.step_time_s);
  auto bf16 = RunTrainingScenario(Parse(kMinimal));
  ASSERT_TRUE(bf16.ok());
  EXPECT_LT(more->result.step_time_s, bf16->result.step_time_s);
}

// The routing imbalance an MoE run was priced at is reported: random routing's expected busiest
// rank by default (a little above 1), a stated one as given; a dense run reports 1.
TEST(SimulationTest, MoeRunsReportTheirRoutingImbalance) {
  scenario::Scenario s = Parse(R"(cluster: {gpu: h100-sxm, gpus: 16}
workload: {training: {model: qwen3-30b-a3b, global_batch_seqs: 32, seq_len_tokens: 1024}}
parallelism: {ep: 8}
)");
  auto random = RunTrainingScenario(s);
  ASSERT_TRUE(random.ok()) << random.status().ToString();
  // One sequence of 1024 tokens per rank and micro-batch, 8 experts each of 128, EP 8.
  EXPECT_DOUBLE_EQ(random->result.moe_load_imbalance, RandomRoutingImbalance(128, 8, 8, 1024.0 * 8));
  EXPECT_GT(random->result.moe_load_imbalance, 1.005);
  EXPECT_NE(SummaryTable(*random).find("MoE routing          busiest EP rank 1.0"), std::string::npos)
      << SummaryTable(*random);
  EXPECT_NE(SummaryTable(*random).find("(random routing's expected maximum)"), std::string::npos);
  EXPECT_DOUBLE_EQ(SummaryJson(*random)["moe_load_imbalance"].get<double>(), random->result.moe_load_imbalance);
  ASSERT_TRUE(ApplyOverride("workload.training.moe_load_imbalance=1.25", &s).ok());
  auto stated = RunTrainingScenario(s);
  ASSERT_TRUE(stated.ok()) << stated.status().ToString();
  EXPECT_DOUBLE_EQ(stated->result.moe_load_imbalance, 1.25);
  EXPECT_NE(SummaryTable(*stated).find("1.25x the mean load (stated)"), std::string::npos) << SummaryTable(*stated);
  EXPECT_GT(stated->result.breakdown.compute_s, random->result.breakdown.compute_s);  // (the step is host-bound)
  auto dense = RunTrainingScenario(Parse(kMinimal));
  ASSERT_TRUE(dense.ok());
  EXPECT_EQ(dense->result.moe_load_imbalance, 1.0);
  EXPECT_EQ(SummaryTable(*dense).find("MoE routing"), std::string::npos);
}

TEST(SimulationTest, CustomModelFromShape) {
  scenario::Scenario s = Parse(R"(cluster: {gpu: a100-80gb, gpus: 8}
workload: {training: {model: custom, global_batch_seqs: 8, seq_len_tokens: 1024,
  shape: {layers: 4, hidden: 1024, heads: 16, vocab: 32000}}}
parallelism: {tp: 8}
)");
  auto run = RunTrainingScenario(s);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->setup.model.ffn_hidden, 4096);
  EXPECT_EQ(run->setup.model.kv_heads, 16);
  EXPECT_GT(run->result.step_time_s, 0);
}

// A hybrid Mamba-2 / attention / experts model runs end to end, its resolved scenario carries
// the layer pattern and the mixer's shape, and rerunning it gives the same step; a custom
// pattern that does not match the layer count names the field.
TEST(SimulationTest, HybridModelRunsAndRoundTrips) {
  scenario::Scenario s = Parse(R"(cluster: {gpu: gb200, gpus: 8}
workload: {training: {model: nemotron3-nano, global_batch_seqs: 64, micro_batch_seqs: 2, dtype: fp8}}
parallelism: {ep: 8}
)");
  auto run = RunTrainingScenario(s);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  const auto& sh = run->resolved.workload().training().shape();
  EXPECT_EQ(sh.layer_pattern(), "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME");
  EXPECT_EQ(sh.mamba_heads(), 64u);
  EXPECT_EQ(sh.mamba_state(), 128u);
  EXPECT_EQ(sh.position(), "none");
  EXPECT_GT(run->result.step_time_s, 0);
  scenario::Scenario reread;
  ASSERT_TRUE(YamlToProto(ProtoToYaml(run->resolved), "resolved.yaml", &reread).ok());
  auto again = RunTrainingScenario(reread);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(run->result.step_time_s, again->result.step_time_s);
  // Fewer Mamba layers (one becomes attention) change the step.
  scenario::Scenario other = s;
  other.mutable_workload()->mutable_training()->mutable_shape()->set_layer_pattern(
      "*EMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME");
  auto changed = RunTrainingScenario(other);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_NE(changed->result.step_time_s, run->result.step_time_s);
  other.mutable_workload()->mutable_training()->mutable_shape()->set_layer_pattern("MEM*");
  auto bad = RunTrainingScenario(other);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("layer_pattern has 4 characters; it needs one per layer (layers = 52)"),
            std::string::npos)
      << bad.status().message();
  // The scan's context parallelism is not simulated: an error naming the flag, not a guess.
  scenario::Scenario cp = s;
  cp.mutable_cluster()->set_gpus(16);
  cp.mutable_parallelism()->set_cp(2);
  auto no_cp = RunTrainingScenario(cp);
  ASSERT_FALSE(no_cp.ok());
  EXPECT_NE(no_cp.status().message().find("context parallelism of Mamba-2 layers is not simulated"),
            std::string::npos)
      << no_cp.status().message();
}

// A custom hybrid with dense '-' layers beside its expert layers: 'mlp' recomputation applies
// to the '-' layers (and is refused once there are none), and recomputing costs time.
TEST(SimulationTest, HybridDenseLayersTakeMlpRecompute) {
  const char* yaml = R"(cluster: {gpu: h100-sxm, gpus: 8}
workload: {training: {model: custom, global_batch_seqs: 16, seq_len_tokens: 2048,
  shape: {layers: 6, hidden: 1024, heads: 8, kv_heads: 8, ffn_hidden: 4096, vocab: 32000,
          experts: 8, top_k: 2, layer_pattern: "M-*EM-", mamba_heads: 16, mamba_head_dim: 64,
          mamba_state: 64, mamba_groups: 2}}}
parallelism: {ep: 8}
)";
  scenario::Scenario s = Parse(yaml);
  auto plain = RunTrainingScenario(s);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  scenario::Scenario rc = s;
  rc.mutable_parallelism()->set_recompute("selective");
  rc.mutable_parallelism()->add_recompute_modules("mlp");
  auto recomputed = RunTrainingScenario(rc);
  ASSERT_TRUE(recomputed.ok()) << recomputed.status().ToString();
  EXPECT_GT(recomputed->result.step_time_s, plain->result.step_time_s);
  rc.mutable_workload()->mutable_training()->mutable_shape()->set_layer_pattern("M**EME");
  auto refused = RunTrainingScenario(rc);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("'mlp' recomputes a dense MLP"), std::string::npos)
      << refused.status().message();
}

TEST(SimulationTest, SummaryHasTheContractFields) {
  auto run = RunTrainingScenario(Parse(kMinimal));
  ASSERT_TRUE(run.ok());
  const nlohmann::json j = SummaryJson(*run);
  for (const char* k : {"step_time_s", "tokens_per_s_per_gpu", "model_tflops_per_gpu", "mfu",
                        "peak_memory_bytes", "fits_in_memory", "breakdown", "gpus", "tp", "pp",
                        "dp", "simulated_ranks", "events", "sim_wall_s"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  for (const char* k : {"compute_s", "exposed_comm_s", "pipeline_bubble_s", "other_s"}) {
    EXPECT_TRUE(j["breakdown"].contains(k)) << k;
  }
}

}  // namespace
}  // namespace echosim
