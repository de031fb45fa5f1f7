#include "models/model_spec.h"

#include <cmath>
#include <functional>

#include <gtest/gtest.h>

namespace echosim {
namespace {

TEST(ModelSpecTest, EveryPresetParsesAndValidates) {
  const auto names = ModelPresetNames();
  ASSERT_GE(names.size(), 17u);
  for (const std::string& n : names) {
    auto m = FindModelPreset(n);
    ASSERT_TRUE(m.ok()) << n << ": " << m.status().ToString();
    EXPECT_EQ(m->name, n);
  }
}

// A GPT layer without biases: QKV + projection 4h^2, MLP 2 * h * 4h = 8h^2, two norms 2h.
TEST(ModelSpecTest, GptLayerParams) {
  auto m = FindModelPreset("gpt3-175b");
  ASSERT_TRUE(m.ok());
  const int64_t h = 12288;
  EXPECT_EQ(m->LayerParams(), 12 * h * h + 2 * h);
  // 96 layers + 51,200 x h tied embedding + 2,048 x h positions + final norm: 174.6 billion,
  // the "175B" of Brown et al. (their 50,257-token vocabulary is padded to 51,200 here).
  EXPECT_NEAR(static_cast<double>(m->TotalParams()), 174.6e9, 0.05e9);
}

// Meta's model cards: Llama 3 8B has 8.03 billion parameters, Llama 3 70B 70.6 billion.
TEST(ModelSpecTest, LlamaParamsMatchModelCards) {
  EXPECT_NEAR(static_cast<double>(FindModelPreset("llama3-8b")->TotalParams()), 8.03e9, 0.01e9);
  EXPECT_NEAR(static_cast<double>(FindModelPreset("llama3-70b")->TotalParams()), 70.6e9, 0.1e9);
  // Mixtral 8x7B: 46.7 billion parameters in total (Jiang et al. 2024).
  EXPECT_NEAR(static_cast<double>(FindModelPreset("mixtral-8x7b")->TotalParams()), 46.7e9, 0.1e9);
}

// Qwen3 sets its head dimension apart from hidden / heads (128 with hidden 2048 and 32
// heads); the model cards give 30.5 billion parameters for Qwen3-30B-A3B and 235 billion for
// Qwen3-235B-A22B.
TEST(ModelSpecTest, ExplicitHeadDimension) {
  auto q = FindModelPreset("qwen3-30b-a3b");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->head_dim(), 128);
  EXPECT_EQ(q->q_dim(), 4096);
  EXPECT_NEAR(static_cast<double>(q->TotalParams()), 30.5e9, 0.1e9);
  EXPECT_NEAR(static_cast<double>(FindModelPreset("qwen3-235b-a22b")->TotalParams()), 235e9, 0.5e9);
  // Without it, hidden must divide by heads, and the error says how to set it.
  auto bad = ParseModelYaml("name: x\nlayers: 2\nhidden: 100\nheads: 3\nvocab: 10\n", "m.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unless head_dim is given"), std::string::npos)
      << bad.status().message();
  auto ok = ParseModelYaml("name: x\nlayers: 2\nhidden: 100\nheads: 3\nvocab: 10\nhead_dim: 32\n",
                           "m.yaml");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->Validate().ok());
  EXPECT_EQ(ok->q_dim(), 96);
}

// Megatron-LM's accounting for a GPT with ffn = 4h: 72 B s l h^2 (1 + s/(6h) + V/(12 l h)).
// The Qwen3 presets normalise each query and key head (QK-norm); its weights count as
// parameters (head_dim per norm per layer).
TEST(ModelSpecTest, QwenPresetsHaveQkNorm) {
  for (const char* name : {"qwen3-30b-a3b", "qwen3-235b-a22b"}) {
    auto m = FindModelPreset(name);
    ASSERT_TRUE(m.ok()) << name;
    EXPECT_TRUE(m->qk_norm) << name;
    ModelSpec off = *m;
    off.qk_norm = false;
    EXPECT_EQ(m->LayerParams() - off.LayerParams(), 2 * m->head_dim()) << name;
  }
  auto llama = FindModelPreset("llama3-8b");
  ASSERT_TRUE(llama.ok());
  EXPECT_FALSE(llama->qk_norm);
}

TEST(ModelSpecTest, TrainingFlopsMatchMegatronFormula) {
  auto m = FindModelPreset("gpt3-175b");
  ASSERT_TRUE(m.ok());
  const double b = 1536, s = 2048, l = 96, h = 12288, v = 51200;
  const double megatron = 72.0 * b * s * l * h * h * (1 + s / (6 * h) + v / (12 * l * h));
  EXPECT_NEAR(m->TrainingFlops(static_cast<int64_t>(b * s), 2048) / megatron, 1.0, 1e-12);
}

// DeepSeek-V3 Technical Report (arXiv 2412.19437): 671B parameters in total, 37B activated per
// token, plus the multi-token-prediction module (14B on Hugging Face, which counts its own
// embedding and output copies, 2 x 0.93B, that echosim shares with the main model).
TEST(ModelSpecTest, DeepSeekV3ParamsMatchTheReport) {
  const ModelSpec m = FindModelPreset("deepseek-v3").value();
  EXPECT_TRUE(m.is_mla());
  EXPECT_EQ(m.qk_head_dim(), 192);
  EXPECT_EQ(m.v_dim(), 128);
  EXPECT_EQ(m.MoeLayers(), 58);
  EXPECT_FALSE(m.MoeLayer(2));
  EXPECT_TRUE(m.MoeLayer(3));
  const double main_model = static_cast<double>(m.TotalParams() - m.MtpLayerParams());
  EXPECT_NEAR(main_model, 671e9, 1e9);
  EXPECT_NEAR(static_cast<double>(m.MtpLayerParams()) + 2.0 * m.vocab * m.hidden, 14e9, 0.6e9);
  // A dense leading layer has no experts.
  EXPECT_EQ(m.LayerExpertParamsAt(0), 0);
  EXPECT_EQ(m.LayerExpertParamsAt(3), m.LayerExpertParams());
  EXPECT_LT(m.LayerParamsAt(0), m.LayerParamsAt(3));
  // Kimi K2 (arXiv 2507.20534): "1.04 trillion" parameters; the preset's shape counts 1.026
  // trillion (its model card rounds to 1T).
  EXPECT_NEAR(static_cast<double>(FindModelPreset("kimi-k2")->TotalParams()), 1.03e12, 0.015e12);
}

// Model FLOPs of an MLA model: 6 x the matmul parameters a token passes through (37B active
// for DeepSeek-V3, less the two latent norms) plus the attention's 2 * seq * heads * (192 +
// 128) per token and layer forward, and the MTP depth's layer, projection and output layer.
TEST(ModelSpecTest, TrainingFlopsOfLatentAttentionAndSharedExperts) {
  ModelSpec m = FindModelPreset("deepseek-v3").value();
  m.mtp_layers = 0;
  const double h = 7168, s = 4096, H = 128, V = 129280;
  const double attn = static_cast<double>(m.AttentionParams()) - (1536 + 512);
  const double moe_mm = attn + 3 * h * (8 * 2048 + 2048);
  const double dense_mm = attn + 3 * h * 18432;
  const double fwd = 2 * (58 * moe_mm + 3 * dense_mm) + 61 * s * 2 * H * (192 + 128) + 2 * h * V;
  EXPECT_NEAR(m.TrainingFlops(4096, 4096) / (3 * fwd * 4096), 1.0, 1e-12);
  const double with_mtp = FindModelPreset("deepseek-v3")->TrainingFlops(4096, 4096);
  const double mtp_fwd = 2 * (moe_mm + 2 * h * h + h * V) + s * 2 * H * (192 + 128);
  EXPECT_NEAR(with_mtp / (3 * (fwd + mtp_fwd) * 4096), 1.0, 1e-12);
}

// The matrices Muon orthogonalises: MLA's four projections and the output projection, then the
// dense MLP (layers 0-2) or the router, the 256 experts' two matrices and the shared expert's.
TEST(ModelSpecTest, LayerMatricesOfLatentAttentionAndExperts) {
  const ModelSpec m = FindModelPreset("deepseek-v3").value();
  const auto dense = m.LayerMatrices(0);
  ASSERT_EQ(dense.size(), 7u);
  EXPECT_EQ(dense[1].rows, 1536);
  EXPECT_EQ(dense[1].cols, 128 * 192);
  EXPECT_EQ(dense[5].cols, 2 * 18432);
  const auto moe = m.LayerMatrices(3);
  ASSERT_EQ(moe.size(), 10u);
  EXPECT_EQ(moe[6].count, 256);
  EXPECT_EQ(moe[6].cols, 2 * 2048);
  // Every parameter of the layer but the norms sits in a matrix.
  double in_matrices = 0;
  for (const auto& mat : moe) in_matrices += static_cast<double>(mat.rows * mat.cols * mat.count);
  EXPECT_DOUBLE_EQ(in_matrices, static_cast<double>(m.LayerParams() - 2 * m.hidden - 1536 - 512));
  // An MTP depth adds its 2h x h projection.
  EXPECT_EQ(m.LayerMatrices(61).size(), 11u);
}

TEST(ModelSpecTest, LatentAttentionAndExpertFieldsAreChecked) {
  ModelSpec m = FindModelPreset("deepseek-v3").value();
  m.kv_heads = 8;
  EXPECT_NE(m.Validate().message().find("kv_heads (8) must equal heads (128)"), std::string::npos)
      << m.Validate().message();
  m = FindModelPreset("deepseek-v3").value();
  m.dense_layers = 61;
  EXPECT_NE(m.Validate().message().find("dense_layers (61) must be fewer than layers (61)"),
            std::string::npos);
  m = FindModelPreset("llama3-8b").value();
  m.shared_expert_ffn = 1024;
  EXPECT_NE(m.Validate().message().find("need experts > 1"), std::string::npos);
  m = FindModelPreset("llama3-8b").value();
  m.q_lora_rank = 512;
  EXPECT_NE(m.Validate().message().find("need kv_lora_rank > 0"), std::string::npos);
  m = FindModelPreset("deepseek-v3").value();
  m.mtp_layers = -1;
  EXPECT_NE(m.Validate().message().find("mtp_layers must be 0 (off) or positive"), std::string::npos);
}

// Nemotron 3 Nano: 23 Mamba-2, 23 expert and 6 attention layers; 31.6B parameters in all
// (NVIDIA's model card for NVIDIA-Nemotron-3-Nano-30B-A3B).
TEST(ModelSpecTest, HybridPresetCountsEachBlock) {
  const ModelSpec m = FindModelPreset("nemotron3-nano").value();
  ASSERT_TRUE(m.is_hybrid());
  int mamba = 0, attn = 0, experts = 0;
  for (int64_t l = 0; l < m.layers; ++l) {
    mamba += m.LayerKind(l) == 'M';
    attn += m.LayerKind(l) == '*';
    experts += m.LayerKind(l) == 'E';
  }
  EXPECT_EQ(mamba, 23);
  EXPECT_EQ(attn, 6);
  EXPECT_EQ(experts, 23);
  EXPECT_EQ(m.MoeLayers(), 23);
  EXPECT_FALSE(m.MoeLayer(0));
  EXPECT_TRUE(m.MoeLayer(1));
  EXPECT_NEAR(static_cast<double>(m.TotalParams()), 31.6e9, 0.01 * 31.6e9);
  // in_proj: z and x (4096 each), B and C (8 groups x 128 each), one dt per head (64).
  EXPECT_EQ(m.mamba_in_proj(), 2 * 4096 + 2 * 8 * 128 + 64);
  const auto mats = m.LayerMatrices(0);
  ASSERT_EQ(mats.size(), 2u);
  EXPECT_EQ(mats[0].cols, m.mamba_in_proj());
  EXPECT_EQ(mats[1].rows, 4096);
  EXPECT_EQ(m.LayerMatrices(5).size(), 2u);  // attention: QKV and output projection
  // Q = 128, N = 128, G = 8, P = 64, H = 64: 2 (QNG + QPH + 2NPH) FLOPs per token.
  EXPECT_DOUBLE_EQ(m.MambaScanFlopsPerToken(), 2.0 * (128.0 * 128 * 8 + 128.0 * 64 * 64 + 2.0 * 128 * 64 * 64));
  // A transformer model's kinds are all 'T'.
  EXPECT_EQ(FindModelPreset("llama3-8b").value().LayerKind(3), 'T');
}

// Nemotron 3 Super: 40 Mamba-2, 40 latent-expert and 8 attention layers and one MTP block run
// twice. Megatron-Bridge's verification card (examples/model_verification_cards/
// nemotron-3-super-120b-a12b/card.yaml) counts 123,611,033,088 checkpoint elements; of them
// 41 x 512 = 20,992 are the routers' score-correction biases (40 MoE layers and the MTP
// block), which echosim does not count as weights.
TEST(ModelSpecTest, LatentExpertPresetMatchesTheCheckpoint) {
  const ModelSpec m = FindModelPreset("nemotron3-super").value();
  ASSERT_TRUE(m.Validate().ok());
  EXPECT_EQ(m.MoeLayers(), 40);
  EXPECT_EQ(m.expert_width(), 1024);
  EXPECT_EQ(m.TotalParams() + 41 * 512, int64_t{123611033088});
  // The repeated MTP block holds one set of weights; unshared, two.
  ModelSpec unshared = m;
  unshared.mtp_shared_weights = false;
  EXPECT_EQ(unshared.TotalParams() - m.TotalParams(), m.MtpLayerParams());
  // An expert layer: router, the two latent projections, the experts (latent wide), the
  // shared expert.
  const auto mats = m.LayerMatrices(1);
  ASSERT_EQ(mats.size(), 7u);
  EXPECT_EQ(mats[1].rows, 4096);
  EXPECT_EQ(mats[1].cols, 1024);
  EXPECT_EQ(mats[3].rows, 1024);
  EXPECT_EQ(mats[3].cols, 2688);
  EXPECT_EQ(mats[3].count, 512);
  // Model FLOPs: the experts at the latent width, plus the projections.
  ModelSpec wide = m;
  wide.moe_latent = 0;
  const double tokens = 8192, per_layer = 6.0 * tokens *
                                          (2.0 * 22 * 2688 * (4096 - 1024) - 2.0 * 4096 * 1024);
  EXPECT_NEAR(wide.TrainingFlops(8192, 8192) - m.TrainingFlops(8192, 8192), 42 * per_layer,
              1e-9 * m.TrainingFlops(8192, 8192));
}

TEST(ModelSpecTest, LatentExpertFieldsAreChecked) {
  ModelSpec m = FindModelPreset("nemotron3-super").value();
  m.moe_latent = 4096;
  EXPECT_NE(m.Validate().message().find("moe_latent (4096) needs experts > 1 and must be narrower than hidden (4096)"),
            std::string::npos);
  m = FindModelPreset("nemotron3-super").value();
  m.mtp_layers = 0;
  EXPECT_NE(m.Validate().message().find("mtp_shared_weights needs mtp_layers > 0"), std::string::npos);
  auto parsed = ParseModelYaml("name: x\nlayers: 2\nhidden: 64\nheads: 4\nvocab: 10\nmoe_latent: 16\n", "m.yaml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("moe_latent (16) needs experts > 1"), std::string::npos);
}

TEST(ModelSpecTest, HybridFieldsAreChecked) {
  const ModelSpec nano = FindModelPreset("nemotron3-nano").value();
  struct Case {
    std::function<void(ModelSpec*)> edit;
    const char* expected;
  };
  const Case cases[] = {
      {[](ModelSpec* m) { m->layer_pattern = "ME"; }, "layer_pattern has 2 characters; it needs one per layer (layers = 52)"},
      {[](ModelSpec* m) { m->layer_pattern[3] = 'X'; }, "layer_pattern character 4 is 'X'; valid: M (Mamba-2), * (attention)"},
      {[](ModelSpec* m) { m->experts = 1; m->shared_expert_ffn = 0; }, "has an 'E' (experts) layer at 2 but experts = 1"},
      {[](ModelSpec* m) { m->mamba_state = 0; }, "mamba_state must be positive, got 0"},
      {[](ModelSpec* m) { m->mamba_groups = 3; }, "mamba_heads (64) must be divisible by mamba_groups (3)"},
      {[](ModelSpec* m) { m->dense_layers = 1; }, "dense_layers does not apply with a layer_pattern"},
  };
  for (const Case& c : cases) {
    ModelSpec m = nano;
    c.edit(&m);
    const Status st = m.Validate();
    EXPECT_NE(st.message().find(c.expected), std::string::npos) << st.message();
  }
  auto parsed = ParseModelYaml("name: x\nlayers: 2\nhidden: 64\nheads: 4\nvocab: 10\nlayer_pattern: M*\n",
                               "m.yaml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("mamba_heads must be positive"), std::string::npos)
      << parsed.status().message();
}

TEST(ModelSpecTest, UnknownPresetListsValidNames) {
  auto m = FindModelPreset("gpt5");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_NE(m.status().message().find("unknown model 'gpt5'; valid models: custom, deepseek-v3, gpt-1.7b"),
            std::string::npos);
  EXPECT_NE(m.status().message().find("llama3-70b"), std::string::npos);
}

// A map as a field name (found by the data-file fuzz target) is an error, not a crash.
TEST(ModelSpecTest, NonScalarFieldNameIsAnError) {
  auto m = ParseModelYaml(" {}:", "m.yaml");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("m.yaml:1: a field name must be a plain word"), std::string::npos)
      << m.status().message();
}

TEST(ModelSpecTest, ParserErrorsNameTheLine) {
  auto bad = ParseModelYaml("name: x\nlayers: 2\nhiden: 5\n", "m.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("m.yaml:3: unknown field 'hiden'"), std::string::npos);
  auto notnum = ParseModelYaml("name: x\nlayers: many\n", "m.yaml");
  ASSERT_FALSE(notnum.ok());
  EXPECT_NE(notnum.status().message().find("m.yaml:2: field 'layers'"), std::string::npos);
  auto malformed = ParseModelYaml("name: [x\n", "m.yaml");
  ASSERT_FALSE(malformed.ok());
  EXPECT_NE(malformed.status().message().find("malformed YAML"), std::string::npos);
  auto inconsistent = ParseModelYaml(
      "name: x\nlayers: 2\nhidden: 100\nheads: 3\nvocab: 10\n", "m.yaml");
  ASSERT_FALSE(inconsistent.ok());
  EXPECT_NE(inconsistent.status().message().find("hidden (100) must be divisible by heads (3)"),
            std::string::npos);
}

// Group-limited routing needs experts, groups that divide them, and picked groups holding at
// least top_k experts.
// The clamped GLU needs gated experts; a negative bound is an error naming the field.
TEST(ModelSpecTest, GluClampIsChecked) {
  const std::string moe =
      "name: x\nlayers: 2\nhidden: 64\nheads: 4\nvocab: 10\nexperts: 16\ntop_k: 4\nmlp: swiglu\n";
  auto ok = ParseModelYaml(moe + "glu_clamp: 7.0\n", "m.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_DOUBLE_EQ(ok->glu_clamp, 7.0);
  EXPECT_DOUBLE_EQ(FindModelPreset("gpt-oss-120b")->glu_clamp, 7.0);
  auto negative = ParseModelYaml(moe + "glu_clamp: -1\n", "m.yaml");
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("glu_clamp must be 0 (off) or a positive bound"), std::string::npos)
      << negative.status().message();
  EXPECT_TRUE(FindModelPreset("gpt-oss-120b")->expert_bias);
  auto biased = ParseModelYaml("name: x\nlayers: 2\nhidden: 64\nheads: 4\nvocab: 10\nexpert_bias: true\n", "m.yaml");
  ASSERT_FALSE(biased.ok());
  EXPECT_NE(biased.status().message().find("expert_bias needs experts > 1"), std::string::npos)
      << biased.status().message();
  auto dense = ParseModelYaml("name: x\nlayers: 2\nhidden: 64\nheads: 4\nvocab: 10\nmlp: swiglu\nglu_clamp: 7\n",
                              "m.yaml");
  ASSERT_FALSE(dense.ok());
  EXPECT_NE(dense.status().message().find("glu_clamp clamps the experts' gated (swiglu) activation"),
            std::string::npos)
      << dense.status().message();
}

// YaRN's RoPE factor: gpt-oss's is 0.1 ln 32 + 1; it needs RoPE and standard attention, and a
// factor outside (0, 100] is an error naming the field.
TEST(ModelSpecTest, RopeMscaleIsChecked) {
  EXPECT_NEAR(FindModelPreset("gpt-oss-120b")->rope_mscale, 0.1 * std::log(32.0) + 1.0, 1e-4);
  EXPECT_DOUBLE_EQ(FindModelPreset("llama3-8b")->rope_mscale, 1.0);
  const std::string rope = "name: x\nlayers: 2\nhidden: 64\nheads: 4\nvocab: 10\nposition: rope\n";
  auto ok = ParseModelYaml(rope + "rope_mscale: 1.35\n", "m.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_DOUBLE_EQ(ok->rope_mscale, 1.35);
  for (const char* bad : {"rope_mscale: 0\n", "rope_mscale: -1\n", "rope_mscale: 1000\n"}) {
    auto r = ParseModelYaml(rope + bad, "m.yaml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("rope_mscale must be a positive factor up to 100"), std::string::npos)
        << r.status().message();
  }
  auto learned = ParseModelYaml("name: x\nlayers: 2\nhidden: 64\nheads: 4\nvocab: 10\nrope_mscale: 1.35\n", "m.yaml");
  ASSERT_FALSE(learned.ok());
  EXPECT_NE(learned.status().message().find("needs position rope"), std::string::npos) << learned.status().message();
}

TEST(ModelSpecTest, RouterGroupsAreChecked) {
  const std::string moe = "name: x\nlayers: 2\nhidden: 64\nheads: 4\nvocab: 10\nexperts: 16\ntop_k: 4\n";
  auto ok = ParseModelYaml(moe + "router_groups: 4\nrouter_group_topk: 2\n", "m.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->router_groups, 4);
  EXPECT_EQ(ok->router_group_topk, 2);
  const std::pair<const char*, const char*> bad[] = {
      {"router_groups: 5\nrouter_group_topk: 2\n", "router_groups (5) must divide experts (16)"},
      {"router_groups: 4\nrouter_group_topk: 5\n", "router_group_topk (5) must be 1..router_groups (4)"},
      {"router_groups: 8\nrouter_group_topk: 1\n", "at least top_k (4) experts (2 per group)"},
      {"router_groups: 4\n", "router_group_topk (0) must be 1..router_groups (4)"}};
  for (const auto& [text, want] : bad) {
    auto m = ParseModelYaml(moe + text, "m.yaml");
    ASSERT_FALSE(m.ok()) << text;
    EXPECT_NE(m.status().message().find(want), std::string::npos) << m.status().message();
    EXPECT_NE(m.status().message().find("router_groups 0 turns group-limited routing off"), std::string::npos);
  }
  // router_groups 0 turns the limit off whatever router_group_topk says.
  auto off = ParseModelYaml(moe + "router_groups: 0\nrouter_group_topk: 4\n", "m.yaml");
  EXPECT_TRUE(off.ok()) << off.status().ToString();
  auto dense = ParseModelYaml("name: x\nlayers: 2\nhidden: 64\nheads: 4\nvocab: 10\nrouter_groups: 2\n"
                              "router_group_topk: 1\n", "m.yaml");
  ASSERT_FALSE(dense.ok());
  EXPECT_NE(dense.status().message().find("router_groups (2) needs experts > 1, got experts = 1"), std::string::npos)
      << dense.status().message();
}

}  // namespace
}  // namespace echosim
