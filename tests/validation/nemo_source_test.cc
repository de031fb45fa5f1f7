// The NeMo / Megatron-Bridge performance table as validation rows: cell conventions,
// the configuration each row becomes, and the reason every unsupported row is skipped.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "simulator/validation/validation_case.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

constexpr char kHeader[] =
    "source_file,release,section,system,model,#-GPUs,Precision,GBS,MBS,Sequence Length,TP,PP,CP,"
    "VP,EP,Tokens / sec / GPU,Model TFLOP / sec / GPU,FSDP,GA,"
    "\"Est. time to train in days (10T tokens, 1K GPUs)\"\n";

// Writes `rows` under a temporary data directory and parses them.
StatusOr<std::vector<ValidationCase>> Parse(const std::string& rows) {
  // One directory per test and process: ctest runs this binary's tests in parallel.
  const fs::path dir = fs::temp_directory_path() /
                       ("echosim_nemo_source_test_" +
                        std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
                        "_" + std::to_string(::getpid()));
  fs::create_directories(dir / "training");
  std::ofstream(dir / "training" / "training_nemo_megatron_bridge_perf_summary.csv")
      << "# comment line\n" << kHeader << rows;
  std::vector<ValidationCase> out;
  Status st = NemoRows(dir.string(), &out);
  fs::remove_all(dir);
  if (!st.ok()) return st;
  return out;
}

TEST(NemoSourceTest, PrimaryCellValue) {
  EXPECT_EQ(PrimaryCellValue("37556 (36108)"), "37556");
  EXPECT_EQ(PrimaryCellValue("661[^gpt-oss-note]"), "661");
  EXPECT_EQ(PrimaryCellValue("FP8-CS (FP8-MX)"), "FP8-CS");
  EXPECT_EQ(PrimaryCellValue("DeepSeekV3 (w/o MTP)"), "DeepSeekV3");
  EXPECT_EQ(PrimaryCellValue(" n/a "), "n/a");
  EXPECT_EQ(PrimaryCellValue(""), "");
}

// From 26.06 the MXFP8 Qwen3 recipes on GB200 and B300 overlap the MoE all-to-alls and run
// attention in fp8 (Megatron-Bridge's recipe history); earlier releases and other systems
// or precisions do not.
TEST(NemoSourceTest, ReleaseRecipeSettingsFollowTheRow) {
  auto cases = Parse(
      "docs/x.md,26.06 NeMo Container,Pre-Training Performance,DGX-GB200,Qwen3_30B_a3B,8,MXFP8,"
      "512,4,4096,1,1,1,n/a,8,40706,936,,,\n"
      "docs/x.md,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,Qwen3_30B_a3B,8,MXFP8,"
      "512,4,4096,1,1,1,n/a,8,26032,599,0,,\n"
      "docs/x.md,26.06 NeMo Container,Pre-Training Performance,DGX-H100,Qwen3_30B_a3B,16,FP8,1024,"
      "1,4096,1,1,1,n/a,16,8826,203,,,\n"
      "docs/x.md,26.08 NeMo Container,Pre-Training Performance,DGX-GB200,Qwen3_235B_a22B,256,"
      "MXFP8,8192,1,4096,1,8,1,3,32,18000,700,,,\n"
      "docs/x.md,26.02 NeMo Container,Pre-Training Performance,DGX-B300,Qwen3_235B_a22B,256,"
      "MXFP8,8192,1,4096,1,8,1,4,8,2691,900,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 5u);
  // 26.02's Qwen3-235B B300 recipe overlaps the all-to-alls but keeps attention in 16-bit.
  EXPECT_TRUE((*cases)[4].config.ep_overlap);
  EXPECT_FALSE((*cases)[4].config.fp8_attention);
  for (size_t i : {0u, 3u}) {
    const ValidationCase& c = (*cases)[i];
    EXPECT_FALSE(c.row.skipped) << c.row.skip_reason;
    EXPECT_TRUE(c.config.ep_overlap) << c.row.label;
    EXPECT_TRUE(c.config.fp8_attention) << c.row.label;
    EXPECT_NE(c.row.assumptions.find("MoE all-to-all overlap and fp8 attention simulated"),
              std::string::npos);
  }
  for (size_t i : {1u, 2u}) {
    const ValidationCase& c = (*cases)[i];
    EXPECT_FALSE(c.config.ep_overlap) << c.row.label;
    EXPECT_FALSE(c.config.fp8_attention) << c.row.label;
  }
}

// The two GB300 Llama3-70B rows of 26.02.01 whose stated plan contradicts their release's
// recipe are simulated with the recipe's plan and say so; the same row in another release
// keeps the table's plan.
TEST(NemoSourceTest, PlanContradictingTheReleaseRecipeFollowsTheRecipe) {
  auto cases = Parse(
      "docs/x.md,26.02.01 NeMo Container,Pre-Training Performance,DGX-GB300,LLAMA3_70B,64,MXFP8,"
      "256,2,8192,1,4,1,n/a,n/a,4798,2157,0,,\n"
      "docs/x.md,26.04 NeMo Container,Pre-Training Performance,DGX-GB300,LLAMA3_70B,64,MXFP8,"
      "256,2,8192,1,4,1,n/a,n/a,4798,2157,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 2u);
  const ValidationCase& fixed = (*cases)[0];
  EXPECT_EQ(fixed.config.pp, 4);
  EXPECT_EQ(fixed.config.vpp, 5);
  EXPECT_EQ(fixed.config.mbs, 1);
  EXPECT_NE(fixed.row.assumptions.find("plan from the release recipe"), std::string::npos);
  EXPECT_NE(fixed.row.assumptions.find("MBS 2"), std::string::npos);
  // The measured step time still comes from the row's own throughput.
  EXPECT_NEAR(fixed.row.measured_step_s, 256.0 * 8192 / (4798.0 * 64), 1e-9);
  const ValidationCase& kept = (*cases)[1];
  EXPECT_EQ(kept.config.vpp, 1);
  EXPECT_EQ(kept.config.mbs, 2);
  EXPECT_EQ(kept.row.assumptions.find("plan from the release recipe"), std::string::npos);
}

// The B200 gpt-oss row of 25.11 states EP 8; its release's recipe (and its measured time per
// sequence, equal to the 26.02 row stated with EP 64) say EP 64.
TEST(NemoSourceTest, ExpertParallelContradictingTheReleaseRecipeFollowsTheRecipe) {
  auto cases = Parse(
      "docs/x.md,25.11 NeMo Container,Pre-Training Performance,DGX-B200,GPT OSS 120B,64,BF16,"
      "512,4,4096,1,1,1,1,8,8213,223,0,2,\n"
      "docs/x.md,26.04 NeMo Container,Pre-Training Performance,DGX-B200,GPT OSS 120B,64,BF16,"
      "1280,4,4096,1,1,1,n/a,8,13045,355,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 2u);
  EXPECT_EQ((*cases)[0].config.ep, 64);
  EXPECT_EQ((*cases)[0].config.mbs, 4);
  EXPECT_NE((*cases)[0].row.assumptions.find("EP 64), not the table's"), std::string::npos);
  EXPECT_NE((*cases)[0].row.assumptions.find("EP 8: the measurement matches"), std::string::npos);
  EXPECT_EQ((*cases)[1].config.ep, 8);
  EXPECT_EQ((*cases)[1].row.assumptions.find("plan from the release recipe"), std::string::npos);
}

// Rows that state the same run in different releases share stated_config (FP8-MX and MXFP8
// are one recipe); a variant in the model cell or another stated value separates them.
TEST(NemoSourceTest, StatedConfigurationIgnoresOnlyTheRelease) {
  auto cases = Parse(
      "docs/x.md,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,Qwen3_30B_a3B,8,MXFP8,"
      "512,4,4096,1,1,1,n/a,8,26032,599,0,,\n"
      "docs/x.md,25.11 NeMo Container,Pre-Training Performance,DGX-GB200,Qwen3_30B_a3B,8,FP8-MX,"
      "512,4,4096,1,1,1,n/a,8,23766,547,0,,\n"
      "docs/x.md,25.09 NeMo Container,Pre-Training Performance,DGX-GB200,Qwen3_30B_a3B (tokendrop),"
      "8,MXFP8,512,4,4096,1,1,1,n/a,8,22780,520,0,,\n"
      "docs/x.md,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,Qwen3_30B_a3B,8,MXFP8,"
      "512,2,4096,1,1,1,n/a,8,26032,599,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 4u);
  EXPECT_FALSE((*cases)[0].row.stated_config.empty());
  EXPECT_EQ((*cases)[0].row.stated_config, (*cases)[1].row.stated_config);
  EXPECT_NE((*cases)[0].row.stated_config, (*cases)[2].row.stated_config);
  EXPECT_NE((*cases)[0].row.stated_config, (*cases)[3].row.stated_config);
}

TEST(NemoSourceTest, DenseRowBecomesItsConfiguration) {
  // Llama 3 8B on one DGX-H100, FP8, 14451 tokens/s/GPU: step = 128 * 8192 / (14451 * 8).
  auto cases = Parse(
      "docs/performance-summary-archive.md,25.11 NeMo Container,Pre-Training Performance,DGX-H100,"
      "LLAMA3_70B,64,FP8-CS,128,1,8192,4,8,1,5,1,1602,719,0,64,\n"
      "docs/x.md,25.09 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_8B,8,,128,2,8192,1,"
      "1,1,n/a,1,31357 (29925),1614 (1540),0,8,\n"
      "docs/x.md,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,MXFP8,256,1,"
      "8192,2,4,1,5,n/a,3828,1721,0,,\n"
      "docs/x.md,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,FP8,256,2,"
      "8192,1,1,1,n/a,n/a,4143,1861,64,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 4u);
  const ValidationCase& h100 = (*cases)[0];
  EXPECT_FALSE(h100.row.skipped) << h100.row.skip_reason;
  EXPECT_EQ(h100.row.source, kNemoSource);
  EXPECT_EQ(h100.row.line, 3);
  EXPECT_DOUBLE_EQ(h100.row.measured_step_s, 128.0 * 8192.0 / (1602.0 * 64.0));
  EXPECT_EQ(h100.config.gpu, "h100-sxm");
  EXPECT_EQ(h100.config.gpus_per_node, 8);
  EXPECT_EQ(h100.config.shape.name, "llama3-70b");
  EXPECT_EQ(h100.config.dtype, "fp8");
  EXPECT_EQ(h100.config.tp, 4);
  EXPECT_EQ(h100.config.pp, 8);
  EXPECT_EQ(h100.config.vpp, 5);
  EXPECT_EQ(h100.config.dp, 2);
  EXPECT_EQ(h100.config.zero, 1);
  EXPECT_TRUE(h100.config.sp);
  EXPECT_TRUE(h100.config.tp_overlap);
  EXPECT_TRUE(h100.config.overlap_param);

  // Primary values of "31357 (29925)"; blank precision is FP8; 8 GPUs of an NVL72 domain.
  const ValidationCase& gb200 = (*cases)[1];
  EXPECT_FALSE(gb200.row.skipped) << gb200.row.skip_reason;
  EXPECT_DOUBLE_EQ(gb200.row.measured_step_s, 128.0 * 8192.0 / (31357.0 * 8.0));
  EXPECT_DOUBLE_EQ(gb200.row.measured_tflops_per_gpu, 1614.0);
  EXPECT_EQ(gb200.config.gpu, "gb200");
  EXPECT_EQ(gb200.config.gpus_per_node, 8);
  EXPECT_EQ(gb200.config.dtype, "fp8");
  EXPECT_EQ(gb200.config.mbs, 2);
  EXPECT_EQ(gb200.config.vpp, 1);
  EXPECT_FALSE(gb200.config.sp);
  EXPECT_NE(gb200.row.assumptions.find("precision blank: FP8"), std::string::npos);

  const ValidationCase& mx = (*cases)[2];
  EXPECT_EQ(mx.config.dtype, "fp8");
  EXPECT_NE(mx.row.assumptions.find("MXFP8"), std::string::npos);
  EXPECT_EQ(mx.config.ep, 1);

  const ValidationCase& fsdp = (*cases)[3];
  EXPECT_EQ(fsdp.config.gpus_per_node, 64);  // 64 GPUs: one NVLink domain
  EXPECT_EQ(fsdp.config.zero, 3);
  EXPECT_EQ(fsdp.config.dp, 64);
  EXPECT_NE(fsdp.row.assumptions.find("FSDP 64"), std::string::npos);
}

TEST(NemoSourceTest, EveryUnsupportedRowIsKeptWithItsReason) {
  auto cases = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-VR200,LLAMA3_70B,64,FP8,256,2,8192,1,1,"
      "1,n/a,n/a,5243,2355,64,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,FP6,256,1,8192,2,"
      "4,1,5,n/a,4898,2201,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB300,Nemotron_3_Super,64,NVFP4,512,1,"
      "8192,1,1,1,n/a,64,9623,815,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-B200,DeepSeekV3 (w/o MTP),256,MXFP8,"
      "4096,1,4096,1,16,1,n/a,8,2815,732,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-H100,LLAMA3.1_405B,1024,FP8,1536,1,8192,"
      "8,8,2,5,n/a,328,827,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-H100,Mystery_7B,8,FP8,128,1,4096,1,1,1,"
      "n/a,n/a,100,10,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 6u);
  const char* expect[] = {"system 'DGX-VR200' has no echosim GPU preset", "'FP6' has no echosim dtype", "a precision per module",
                          "no configuration without MTP", "do not split evenly",
                          "'Mystery_7B' has no echosim mapping"};
  for (size_t i = 0; i < cases->size(); ++i) {
    const ValidationRow& r = (*cases)[i].row;
    EXPECT_TRUE(r.skipped) << r.label;
    EXPECT_NE(r.skip_reason.find(expect[i]), std::string::npos) << r.label << ": " << r.skip_reason;
    EXPECT_GT(r.measured_step_s, 0) << r.label;
  }
}

// The fine-tuning rows run their recipes: LoRA of rank 16 on linear_qkv (the base frozen), SFT
// as a pre-training step; both with attention over whole sequences (the scripts' default mock
// data; an upper bound for packed samples), the MLPs in CUDA graphs except on H100's LoRA config.
TEST(NemoSourceTest, FineTuningRowsRunTheirRecipes) {
  auto cases = Parse(
      "d,26.06 NeMo Container,LoRA Performance,DGX-H100,LLAMA3_70B,8,FP8,32,1,4096,2,4,1,20,n/a,"
      "2643,735,,,\n"
      "d,26.06 NeMo Container,LoRA Performance,DGX-GB300,LLAMA3_70B,8,FP8,32,1,4096,1,2,1,20,n/a,"
      "7481,2086,,,\n"
      "d,26.06 NeMo Container,SFT Performance,DGX-H100,LLAMA3_70B,32,FP8,32,1,4096,4,4,1,5,n/a,"
      "1638,710,,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 3u);
  for (const ValidationCase& vc : *cases) {
    EXPECT_FALSE(vc.row.skipped) << vc.row.label << ": " << vc.row.skip_reason;
    EXPECT_NE(vc.row.assumptions.find("an upper bound"), std::string::npos) << vc.row.assumptions;
  }
  const RowConfig& lora_h100 = (*cases)[0].config;
  EXPECT_EQ(lora_h100.lora_rank, 16);
  EXPECT_EQ(lora_h100.lora_modules, std::vector<std::string>{"qkv"});
  EXPECT_TRUE(lora_h100.cuda_graph_scope.empty());
  EXPECT_EQ((*cases)[1].config.cuda_graph_scope, std::vector<std::string>{"mlp"});
  EXPECT_EQ((*cases)[2].config.lora_rank, 0);
  EXPECT_EQ((*cases)[2].config.cuda_graph_scope, std::vector<std::string>{"mlp"});
  // The 8-GPU GB300 LoRA row: 32 x 4096 tokens / (7481 tokens/s x 8 GPUs).
  EXPECT_NEAR((*cases)[1].row.measured_step_s, 32.0 * 4096 / (7481.0 * 8), 1e-9);
}

// Nemotron 3 Super's MXFP8 rows run their recipe: latent experts and the repeated MTP block
// (the preset), HybridEP, no TP communication overlap (GB200's TP 2), B200's recomputation and
// B300's CUDA graphs; Nemotron 3 Ultra stays listed.
TEST(NemoSourceTest, NemotronSuperRowsFollowTheirRecipe) {
  auto cases = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,Nemotron_3_Super,64,MXFP8,512,1,"
      "8192,2,1,1,n/a,64,6674,565,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-B200,Nemotron_3_Super,64,MXFP8,512,1,"
      "8192,1,1,1,n/a,64,6302,534,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-B300,Nemotron_3_Super,64,MXFP8,512,1,"
      "8192,1,1,1,n/a,8,7009,594,0,,\n"
      "d,26.08 NeMo Container,Pre-Training Performance,DGX-GB300,Nemotron_3_Ultra,256,MXFP8,2048,1,"
      "8192,1,1,1,n/a,64,7104,2700,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 4u);
  for (int i = 0; i < 3; ++i) {
    const ValidationCase& c = (*cases)[i];
    EXPECT_FALSE(c.row.skipped) << c.row.label << ": " << c.row.skip_reason;
    EXPECT_EQ(c.config.shape.moe_latent, 1024);
    EXPECT_EQ(c.config.shape.mtp_layers, 2);
    EXPECT_TRUE(c.config.shape.mtp_shared_weights);
    EXPECT_TRUE(c.config.mtp_bf16);
    EXPECT_TRUE(c.config.flex) << c.row.label;
    EXPECT_EQ(c.config.etp, 1);
  }
  EXPECT_EQ((*cases)[0].config.tp, 2);
  EXPECT_FALSE((*cases)[0].config.tp_overlap);
  EXPECT_NE((*cases)[0].row.assumptions.find("no TP communication overlap"), std::string::npos);
  EXPECT_EQ((*cases)[0].config.cuda_graph_scope,
            (std::vector<std::string>{"attn", "mamba", "moe_router", "moe_preprocess"}));  // GB200
  EXPECT_EQ((*cases)[1].config.recompute_modules, (std::vector<std::string>{"moe_act", "layernorm"}));
  EXPECT_TRUE((*cases)[1].config.cuda_graph_scope.empty());  // B200 FP8_MX: cuda_graph_impl none
  EXPECT_EQ((*cases)[2].config.cuda_graph_scope,
            (std::vector<std::string>{"attn", "mamba", "moe_router", "moe_preprocess"}));
  EXPECT_EQ((*cases)[2].config.recompute, "none");
  EXPECT_TRUE((*cases)[3].row.skipped);
  EXPECT_NE((*cases)[3].row.skip_reason.find("Nemotron 3 Ultra"), std::string::npos);
}

// DeepSeek-V3 rows run their release's recipe: the pipeline layout, one MTP depth, mla_up_proj
// recomputation; Kimi K2 its own layout and the Muon optimizer.
TEST(NemoSourceTest, DeepSeekRowsFollowTheirRecipes) {
  auto cases = Parse(
      "d,26.02 NeMo Container,Pre-Training Performance,DGX-GB200,DeepSeekV3,256,MXFP8,4096,1,4096,"
      "1,4,1,4,64,3955,1028,0,,\n"
      "d,26.06 NeMo Container,Pre-Training Performance,DGX-GB300,DeepSeekV3,256,MXFP8,4096,1,4096,"
      "1,2,1,8,32,6338,1648,,,\n"
      "d,26.04.01 NeMo Container,Pre-Training Performance,DGX-B300,DeepSeekV3,256,MXFP8,4096,2,4096,"
      "1,8,1,n/a,8,3456,898,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB300,Kimi_K2,256,MXFP8,4096,2,4096,1,4,"
      "1,4,64,5332,1090,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 4u);
  const RowConfig& gb200 = (*cases)[0].config;
  EXPECT_FALSE((*cases)[0].row.skipped) << (*cases)[0].row.skip_reason;
  EXPECT_EQ(gb200.shape.name, "deepseek-v3");
  EXPECT_EQ(gb200.pipeline_layout, "Et*4|(t*4|)*14tmL");
  EXPECT_EQ(gb200.shape.mtp_layers, 1);
  EXPECT_EQ(gb200.shape.kv_lora_rank, 512);
  EXPECT_EQ(gb200.recompute, "selective");
  EXPECT_EQ(gb200.recompute_modules, std::vector<std::string>{"mla_up_proj"});
  EXPECT_FALSE(gb200.ep_overlap);
  EXPECT_TRUE(gb200.flex);  // HybridEP from 26.02
  EXPECT_NE((*cases)[0].row.assumptions.find("flex token dispatcher"), std::string::npos);
  const RowConfig& gb300 = (*cases)[1].config;
  EXPECT_EQ(gb300.recompute, "none");
  EXPECT_TRUE(gb300.ep_overlap);
  EXPECT_TRUE(gb300.fp8_attention);
  EXPECT_EQ((*cases)[2].config.pipeline_layout, "Et*8|(t*8|)*6t*5mL");
  // Kimi K2: the Muon optimizer without the distributed optimizer, no MTP depth.
  const RowConfig& kimi = (*cases)[3].config;
  EXPECT_FALSE((*cases)[3].row.skipped) << (*cases)[3].row.skip_reason;
  EXPECT_TRUE(kimi.muon);
  EXPECT_EQ(kimi.zero, 0);
  EXPECT_FALSE(kimi.fp8_params);
  EXPECT_EQ(kimi.shape.mtp_layers, 0);
  EXPECT_EQ(kimi.pipeline_layout, "Et*4|(t*4|)*14tL");
  EXPECT_NE((*cases)[3].row.assumptions.find("no distributed optimizer"), std::string::npos);
  EXPECT_EQ((*cases)[3].row.assumptions.find("fp8 primary weights"), std::string::npos);
  // The rows simulate: the layout fits the plan.
  const ModelSpec m = ShapeOf(gb200);
  EXPECT_TRUE(m.is_mla());
  EXPECT_EQ(m.MoeLayers(), 58);
}

// The flex dispatcher follows each release's recipe: Qwen3 on GB200 from 25.11, not on H100
// before 26.02.01 (Megatron-Bridge's Qwen3 configs).
TEST(NemoSourceTest, FlexDispatcherFollowsTheRecipes) {
  auto cases = Parse(
      "d,25.11 NeMo Container,Pre-Training Performance,DGX-GB200,Qwen3_30B_a3B,8,FP8-MX,512,4,4096,"
      "1,1,1,n/a,8,29710,547,0,,\n"
      "d,25.11 NeMo Container,Pre-Training Performance,DGX-H100,Qwen3_30B_a3B,16,FP8-CS,512,2,4096,"
      "1,2,1,24,8,5270,121,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-H100,Qwen3_30B_a3B,16,FP8,1024,1,4096,"
      "1,1,1,n/a,16,8900,205,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 3u);
  EXPECT_TRUE((*cases)[0].config.flex);
  EXPECT_FALSE((*cases)[1].config.flex);
  EXPECT_TRUE((*cases)[2].config.flex);
  EXPECT_NE((*cases)[0].row.assumptions.find("flex token dispatcher (HybridEP)"), std::string::npos);
}

// gpt-oss-120b: head dimension 64 (q 4096 wide on a 2880 residual), banded 128-token attention
// on every other layer starting with the first, whole experts (expert TP 1).
TEST(NemoSourceTest, GptOssRowsKeepItsAttentionShape) {
  auto cases = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-H100,GPT OSS 120B,64,BF16,1280,1,4096,"
      "1,4,1,n/a,8,5810,160,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 1u);
  const ValidationCase& c = (*cases)[0];
  EXPECT_FALSE(c.row.skipped) << c.row.skip_reason;
  EXPECT_EQ(c.config.shape.name, "gpt-oss-120b");
  EXPECT_EQ(c.config.shape.head_dim_override, 64);
  EXPECT_EQ(c.config.shape.sliding_window, 128);
  EXPECT_EQ(c.config.shape.full_attention_every, 2);
  const ModelSpec m = ShapeOf(c.config);
  EXPECT_EQ(m.q_dim(), 64 * 64);
  EXPECT_TRUE(m.WindowedLayer(0));
  EXPECT_FALSE(m.WindowedLayer(1));
  EXPECT_EQ(m.WindowedLayers(), 18);
  EXPECT_NE(c.row.assumptions.find("attention sinks"), std::string::npos);
}

// gpt-oss recipes recompute the norms and the MoE activation on GB200, B200 and H100, except
// the MXFP8 GB200 one (recompute_modules = [] from 26.06).
TEST(NemoSourceTest, GptOssRecomputeFollowsTheRecipe) {
  auto cases = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,GPT OSS 120B,64,BF16,1280,4,4096,"
      "1,1,1,n/a,64,15938,433,0,,\n"
      "d,26.08 NeMo Container,Pre-Training Performance,DGX-GB200,GPT OSS 120B,64,MXFP8,1280,4,4096,"
      "1,1,1,n/a,64,28672,934,,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-B300,GPT OSS 120B,64,BF16,1280,4,4096,"
      "1,1,1,n/a,8,15114,410,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 3u);
  EXPECT_EQ((*cases)[0].config.recompute, "selective");
  EXPECT_EQ((*cases)[1].config.recompute, "none");
  EXPECT_EQ((*cases)[2].config.recompute, "none");
}

// The release recipe's CUDA graphs, on the systems whose preset models the host: gpt-oss on
// B300 and GB300 captures attention, router and permutation, on B200 and GB200 nothing;
// Qwen3-30B-A3B MXFP8 on B300 and GB200 runs full-iteration graphs from 26.06, on GB200
// before that the router and permutation.
TEST(NemoSourceTest, CudaGraphScopesFollowTheRecipes) {
  auto cases = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-B300,GPT OSS 120B,64,BF16,1280,4,4096,"
      "1,1,1,n/a,8,15114,410,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-B200,GPT OSS 120B,64,BF16,1280,4,4096,"
      "1,1,1,n/a,8,13000,350,0,,\n"
      "d,26.06 NeMo Container,Pre-Training Performance,DGX-B300,Qwen3_30B_a3B,8,MXFP8,512,8,4096,"
      "1,1,1,n/a,8,40000,700,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,GPT OSS 120B,64,BF16,1280,4,4096,"
      "1,1,1,n/a,64,15938,433,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB300,GPT OSS 120B,64,BF16,1280,4,4096,"
      "1,1,1,n/a,64,19275,523,0,,\n"
      "d,26.06 NeMo Container,Pre-Training Performance,DGX-GB200,Qwen3_30B_a3B,8,MXFP8,512,4,4096,"
      "1,1,1,n/a,8,40000,700,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,Qwen3_30B_a3B,8,MXFP8,512,4,4096,"
      "1,1,1,n/a,8,26000,450,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 7u);
  EXPECT_EQ((*cases)[0].config.cuda_graph_scope,
            (std::vector<std::string>{"attn", "moe_router", "moe_preprocess"}));
  EXPECT_NE((*cases)[0].row.assumptions.find("CUDA graphs over attn, moe_router, moe_preprocess"),
            std::string::npos);
  EXPECT_TRUE((*cases)[1].config.cuda_graph_scope.empty());
  EXPECT_NE((*cases)[1].row.assumptions.find("no CUDA graphs"), std::string::npos);
  EXPECT_EQ((*cases)[2].config.cuda_graph_scope, (std::vector<std::string>{"full_iteration"}));
  EXPECT_TRUE((*cases)[3].config.cuda_graph_scope.empty());
  EXPECT_NE((*cases)[3].row.assumptions.find("no CUDA graphs"), std::string::npos);
  EXPECT_EQ((*cases)[4].config.cuda_graph_scope,
            (std::vector<std::string>{"attn", "moe_router", "moe_preprocess"}));
  EXPECT_EQ((*cases)[5].config.cuda_graph_scope, (std::vector<std::string>{"full_iteration"}));
  EXPECT_EQ((*cases)[6].config.cuda_graph_scope,
            (std::vector<std::string>{"moe_router", "moe_preprocess"}));
}

// The page's footnote says the 26.06.01 gpt-oss rows measure a known regression: listed, not
// simulated.
TEST(NemoSourceTest, RowsTheSourceMarksAsARegressionAreListed) {
  auto cases = Parse(
      "d,26.06.01 NeMo Container,Pre-Training Performance,DGX-GB200,GPT OSS 120B,64,MXFP8,1280,4,"
      "4096,1,1,1,n/a,64,18304,597[^gpt-oss-note],,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 1u);
  EXPECT_TRUE((*cases)[0].row.skipped);
  EXPECT_NE((*cases)[0].row.skip_reason.find("known performance regression"), std::string::npos);
}

// Rows the framework's maintainers file as a regression of the release (Megatron-Bridge issue
// 1998) are listed, not simulated; the same model on a system or release the issue does not
// name is simulated, and so is a row whose "regression" was a recipe setting (issue 1705).
TEST(NemoSourceTest, RowsTheMaintainersFileAsARegressionAreListed) {
  auto cases = Parse(
      "d,25.11 NeMo Container,Pre-Training Performance,DGX-B200,Qwen3_30B_a3B,8,FP8-MX,512,1,4096,"
      "1,1,1,1,8,9299,214,0,64,\n"
      "d,26.02 NeMo Container,Pre-Training Performance,DGX-H100,Qwen3_30B_a3B,16,FP8,1024,1,4096,"
      "1,2,1,12,8,5113,118,0,,\n"
      "d,25.11 NeMo Container,Pre-Training Performance,DGX-B200,Qwen3_235B_a22B,64,FP8-MX,1024,1,"
      "4096,1,8,1,2,8,6338,300,0,,\n"
      "d,25.11 NeMo Container,Pre-Training Performance,DGX-GB200,Qwen3_30B_a3B,8,FP8-MX,512,4,4096,"
      "1,1,1,1,8,23766,547,0,16,\n"
      "d,26.02.01 NeMo Container,Pre-Training Performance,DGX-B200,Qwen3_30B_a3B,8,MXFP8,512,4,"
      "4096,1,1,1,n/a,8,20000,460,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 5u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE((*cases)[i].row.skipped) << i;
    EXPECT_NE((*cases)[i].row.skip_reason.find("performance regression"), std::string::npos) << i;
    EXPECT_NE((*cases)[i].row.skip_reason.find("issue 1998"), std::string::npos) << i;
  }
  EXPECT_FALSE((*cases)[2].row.skipped) << (*cases)[2].row.skip_reason;  // issue 1705: a recipe
  EXPECT_FALSE((*cases)[3].row.skipped) << (*cases)[3].row.skip_reason;  // GB200: flex, not named
  EXPECT_FALSE((*cases)[4].row.skipped) << (*cases)[4].row.skip_reason;  // 26.02.01: HybridEP
}

// NVFP4 rows run their GEMMs at the FP4 rate (dtype fp4) on Blackwell.
TEST(NemoSourceTest, Nvfp4RowsUseTheFp4Dtype) {
  auto cases = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,NVFP4,256,1,8192,2,"
      "4,1,5,n/a,4898,2201,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 1u);
  EXPECT_FALSE((*cases)[0].row.skipped) << (*cases)[0].row.skip_reason;
  EXPECT_EQ((*cases)[0].config.dtype, "fp4");
  EXPECT_NE((*cases)[0].row.assumptions.find("NVFP4 simulated"), std::string::npos);
}

// The Llama perf configs turn TP communication overlap off under NVFP4 only.
TEST(NemoSourceTest, LlamaNvfp4RowsRunWithoutTpCommOverlap) {
  auto cases = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,NVFP4,256,1,8192,2,"
      "4,1,5,n/a,4898,2201,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,MXFP8,256,1,8192,2,"
      "4,1,5,n/a,3905,1755,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 2u);
  EXPECT_FALSE((*cases)[0].config.tp_overlap);
  EXPECT_TRUE((*cases)[0].config.sp);
  EXPECT_NE((*cases)[0].row.assumptions.find("no TP communication overlap under NVFP4"),
            std::string::npos);
  EXPECT_EQ((*cases)[0].row.assumptions.find("TP comm overlap"), std::string::npos);
  EXPECT_TRUE((*cases)[1].config.tp_overlap);
}

// NeMo 24.07 ran its rows with the NeMo Framework Launcher, whose GPT-3 175B config sets
// ub_tp_comm_overlap False (its GPT-3 20B config sets it True). The release is the row's campaign
// and the blank precision of that section is FP8.
TEST(NemoSourceTest, Gpt3175bRowsOfNemo2407RunWithoutTpCommOverlap) {
  auto cases = Parse(
      "d,NeMo 24.07,Pretraining,DGX-H100,GPT3-175B,128,FP8,256,1,2048,4,8,1,6,,726,782,,,\n"
      "d,NeMo 24.07,Pretraining,DGX-H100,GPT3-20B,64,,256,2,2048,2,1,1,1,,5851,750,,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 2u);
  EXPECT_FALSE((*cases)[0].config.tp_overlap);
  EXPECT_TRUE((*cases)[0].config.sp);
  EXPECT_NE((*cases)[0].row.assumptions.find("ub_tp_comm_overlap False"), std::string::npos);
  EXPECT_TRUE((*cases)[1].config.tp_overlap);
  EXPECT_EQ((*cases)[0].row.campaign, "NeMo 24.07");
  EXPECT_EQ((*cases)[0].row.precision, "FP8");
  EXPECT_EQ((*cases)[1].row.precision, "FP8");
  // The launcher's fp8 runs kept 16-bit weights; Megatron-Bridge's fp8 configs do not.
  EXPECT_FALSE((*cases)[0].config.fp8_params);
}

// The Launcher's Nemotron-4 340B config recomputes the core attention and keeps the optimizer
// state in bf16; its other 24.07 configs (Nemotron-22B here) do neither.
TEST(NemoSourceTest, Nemotron340bRowOfNemo2407FollowsTheLauncherConfig) {
  auto cases = Parse(
      "d,NeMo 24.07,Pretraining,DGX-H100,Nemotron-340B,128,,32,1,4096,8,8,1,12,,322,678,,,\n"
      "d,NeMo 24.07,Pretraining,DGX-H100,Nemotron-22B,64,,256,2,4096,2,4,1,10,,4256,554,,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 2u);
  EXPECT_EQ((*cases)[0].config.recompute, "selective");
  EXPECT_TRUE((*cases)[0].config.moments_bf16);
  EXPECT_NE((*cases)[0].row.assumptions.find("moments in bf16"), std::string::npos);
  EXPECT_EQ((*cases)[1].config.recompute, "none");
  EXPECT_FALSE((*cases)[1].config.moments_bf16);
}

// Megatron-Bridge's fp8 mixed-precision configs (current scaling, MXFP8) set fp8_param_gather;
// BF16 and NVFP4 rows keep 16-bit weights.
// The FSDP Llama 3 70B recipes offload activations: GB200 fp8 40 layers, GB300 fp8 20.
TEST(NemoSourceTest, FsdpRecipesOffloadActivations) {
  auto cases = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,FP8,256,2,8192,1,"
      "1,1,n/a,n/a,4005,1803,64,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB300,LLAMA3_70B,64,FP8,256,2,8192,1,"
      "1,1,n/a,n/a,4900,2205,64,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,MXFP8,256,1,8192,2,"
      "4,1,5,n/a,3905,1755,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 3u);
  EXPECT_EQ((*cases)[0].config.cpu_offload, 40);
  EXPECT_NE((*cases)[0].row.assumptions.find("activations of 40 layers offloaded"), std::string::npos);
  EXPECT_EQ((*cases)[1].config.cpu_offload, 20);
  EXPECT_EQ((*cases)[2].config.cpu_offload, 0);  // not FSDP
  EXPECT_EQ(ToScenario((*cases)[0].config, "row").parallelism().cpu_offload_layers(), 40u);
}

TEST(NemoSourceTest, BridgeFp8RowsKeepFp8PrimaryWeights) {
  auto cases = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,FP8,256,2,8192,1,"
      "1,1,n/a,n/a,4005,1803,64,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,MXFP8,256,1,8192,2,"
      "4,1,5,n/a,3905,1755,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,NVFP4,256,1,8192,2,"
      "4,1,5,n/a,4898,2201,0,,\n"
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,BF16,256,1,8192,2,"
      "4,1,5,n/a,2898,1301,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 4u);
  EXPECT_TRUE((*cases)[0].config.fp8_params);
  EXPECT_NE((*cases)[0].row.assumptions.find("fp8 primary weights"), std::string::npos);
  EXPECT_TRUE((*cases)[1].config.fp8_params);
  EXPECT_FALSE((*cases)[2].config.fp8_params);
  EXPECT_FALSE((*cases)[3].config.fp8_params);
  EXPECT_TRUE(ToScenario((*cases)[1].config, "row").parallelism().fp8_param_gather());
}

// The 16-GPU H100 Qwen3-30B row of 26.02.01 states the 26.02 plan (PP 2, VP 12, EP 8) but ran
// its release's PP 1, EP 16 (its throughput is that of the later PP 1, EP 16 rows); the 26.02
// row, which ran that plan, is listed as a regression.
TEST(NemoSourceTest, Qwen3H100RowOf260201FollowsItsRecipe) {
  auto cases = Parse(
      "d,26.02.01 NeMo Container,Pre-Training Performance,DGX-H100,Qwen3_30B_a3B,16,FP8,1024,1,"
      "4096,1,2,1,12,8,9058,208,0,,\n"
      "d,26.02 NeMo Container,Pre-Training Performance,DGX-H100,Qwen3_30B_a3B,16,FP8,1024,1,"
      "4096,1,2,1,12,8,5113,118,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 2u);
  EXPECT_EQ((*cases)[0].config.pp, 1);
  EXPECT_EQ((*cases)[0].config.vpp, 1);
  EXPECT_EQ((*cases)[0].config.ep, 16);
  EXPECT_EQ((*cases)[0].config.dp, 16);
  // The 26.02 row measured the all-to-all plan of Megatron-Bridge issue 1998's regression.
  EXPECT_TRUE((*cases)[1].row.skipped);
  EXPECT_NE((*cases)[1].row.skip_reason.find("issue 1998"), std::string::npos);
}

TEST(NemoSourceTest, QwenRowsKeepTheirOwnHeadDimension) {
  // Qwen3: head_dim 128 with hidden 2048 and 32 heads (not hidden / heads = 64).
  auto cases = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-H100,Qwen3_30B_a3B,16,FP8,1024,1,4096,"
      "1,1,1,n/a,16,8901,205,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 1u);
  const ValidationCase& c = (*cases)[0];
  EXPECT_FALSE(c.row.skipped) << c.row.skip_reason;
  EXPECT_EQ(c.config.shape.head_dim_override, 128);
  EXPECT_EQ(c.config.shape.hidden, 2048);
  EXPECT_EQ(c.config.shape.experts, 128);
  EXPECT_EQ(c.config.ep, 16);
  EXPECT_EQ(ShapeOf(c.config).q_dim(), 32 * 128);
}

TEST(NemoSourceTest, EmbeddingAndLossCountAsPipelineLayersWhenTheSplitNeedsThem) {
  // Llama 3.1 405B: 126 layers; 126 + 2 split over PP*VP = 8*8.
  auto cases = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-H100,LLAMA3.1_405B,1024,FP8,1536,1,8192,"
      "8,8,2,8,n/a,328,827,0,,\n");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  ASSERT_EQ(cases->size(), 1u);
  const ValidationCase& c = (*cases)[0];
  EXPECT_FALSE(c.row.skipped) << c.row.skip_reason;
  EXPECT_TRUE(c.config.embedding_loss_in_split);
  EXPECT_NE(c.row.assumptions.find("embedding and loss counted as pipeline layers"),
            std::string::npos) << c.row.assumptions;
}

TEST(NemoSourceTest, MalformedCellsNameFileLineAndColumn) {
  auto bad = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-H100,LLAMA3_8B,8,FP8,128,1,8192,1,1,1,"
      "n/a,n/a,fast,700,0,,\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(
                "training_nemo_megatron_bridge_perf_summary.csv:3: column 'Tokens / sec / GPU': "
                "expected a positive number, got 'fast'"),
            std::string::npos)
      << bad.status().message();
  auto tp = Parse(
      "d,26.04 NeMo Container,Pre-Training Performance,DGX-H100,LLAMA3_8B,8,FP8,128,1,8192,two,1,"
      "1,n/a,n/a,100,700,0,,\n");
  ASSERT_FALSE(tp.ok());
  EXPECT_NE(tp.status().message().find(":3: column 'TP': expected a non-negative integer"),
            std::string::npos)
      << tp.status().message();
}

}  // namespace
}  // namespace echosim
