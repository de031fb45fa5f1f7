#include "models/host_launches.h"

#include <gtest/gtest.h>

namespace echosim {
namespace {

TEST(HostLaunchesTest, GroupedExpertGemmsLaunchOnePerLocalExpertUnlessOneKernel) {
  LaunchContext c;
  c.local_experts = 16;
  EXPECT_EQ(KernelLaunches("moe.fc1.fwd", c), 16);
  EXPECT_EQ(KernelLaunches("moe.fc2.wgrad", c), 16);
  EXPECT_EQ(KernelLaunches("moe.fc1.input.quantize", c), 16);
  // The expert bias path loops over the experts in Python: 2 kernels each forward, 5 backward.
  EXPECT_EQ(KernelLaunches("moe.fc2_bias.fwd", c), 34);
  EXPECT_EQ(KernelLaunches("moe.fc2_bias.bwd", c), 82);
  // After the first, each expert's GEMM and quantisation comes from TE's C++ loop, and the
  // bias path's products and sums from a Python loop of bare tensor operations (forward) or
  // the autograd engine (backward); every other operator launches from Python.
  EXPECT_EQ(LoopLaunches("moe.fc1.fwd", c), 15);
  EXPECT_EQ(LoopLaunches("moe.fc2.wgrad", c), 15);
  EXPECT_EQ(LoopLaunches("moe.fc1.input.quantize", c), 15);
  EXPECT_EQ(LoopLaunches("moe.fc2_bias.fwd", c), 33);
  EXPECT_EQ(LoopLaunches("moe.fc2_bias.bwd", c), 81);
  EXPECT_EQ(LoopLaunches("moe.router.fwd", c), 0);
  EXPECT_EQ(LoopLaunches("attn.bwd", c), 0);
  c.grouped_gemm_single_kernel = true;
  EXPECT_EQ(KernelLaunches("moe.fc1.fwd", c), 1);
  EXPECT_EQ(LoopLaunches("moe.fc1.fwd", c), 0);
  c.grouped_gemm_single_kernel = false;
  c.fused_moe_mlp = true;
  EXPECT_EQ(KernelLaunches("moe.fc2.dgrad", c), 1);
}

TEST(HostLaunchesTest, OtherOperatorsCountTheirKernels) {
  LaunchContext c;
  EXPECT_EQ(KernelLaunches("attn.qkv.fwd", c), 1);
  EXPECT_EQ(KernelLaunches("attn.bwd", c), 2);
  EXPECT_EQ(KernelLaunches("attn.rope.fwd", c), 2);
  // Megatron-Core's unfused RoPE (a YaRN factor): 12 tensor operations forward and 9 backward,
  // on the queries and on the keys, all but one at the loop cost.
  EXPECT_EQ(KernelLaunches("attn.rope_unfused.fwd", c), 24);
  EXPECT_EQ(KernelLaunches("attn.rope_unfused.bwd", c), 18);
  EXPECT_EQ(LoopLaunches("attn.rope_unfused.fwd", c), 23);
  EXPECT_EQ(LoopLaunches("attn.rope_unfused.bwd", c), 17);
  EXPECT_EQ(LoopLaunches("attn.rope.fwd", c), 0);
  EXPECT_EQ(KernelLaunches("moe.router.fwd", c), 6);
  EXPECT_EQ(KernelLaunches("moe.permute.fwd", c), 4);
  EXPECT_EQ(KernelLaunches("ep.all_to_all.dispatch", c), 2);
  c.flex_dispatch = true;
  EXPECT_EQ(KernelLaunches("ep.all_to_all.dispatch", c), 3);
  EXPECT_EQ(KernelLaunches("ep.all_to_all.combine", c), 2);
}

TEST(HostLaunchesTest, OnlyTheClampedQuickGegluSynchronisesTheHost) {
  // weighted_bias_quick_geglu_impl copies its linear offset to the GPU on every call.
  EXPECT_TRUE(SynchronizesHost("moe.glu_clamp.fwd"));
  EXPECT_FALSE(SynchronizesHost("moe.glu_clamp.bwd"));
  EXPECT_FALSE(SynchronizesHost("moe.swiglu.fwd"));
  EXPECT_FALSE(SynchronizesHost("moe.fc2_bias.fwd"));
  EXPECT_FALSE(SynchronizesHost("ep.all_to_all.dispatch"));
}

TEST(HostLaunchesTest, GraphScopesFollowTheBlocks) {
  EXPECT_EQ(GraphScopeOf("attn.qkv.fwd", false, false), kGraphAttn);
  EXPECT_EQ(GraphScopeOf("norm1.fwd", true, false), kGraphAttn);
  EXPECT_EQ(GraphScopeOf("norm1.fwd", false, true), kGraphMamba);
  EXPECT_EQ(GraphScopeOf("tp.all_gather.attn.grad", false, false), kGraphAttn);
  EXPECT_EQ(GraphScopeOf("mamba.ssd.bwd", false, true), kGraphMamba);
  EXPECT_EQ(GraphScopeOf("norm2.fwd", false, false), kGraphMlp);
  EXPECT_EQ(GraphScopeOf("norm2.fwd", true, false), kGraphMoeRouter | kGraphMoe);
  EXPECT_EQ(GraphScopeOf("moe.router.fwd", true, false), kGraphMoeRouter | kGraphMoe);
  EXPECT_EQ(GraphScopeOf("moe.permute.fwd", true, false), kGraphMoePreprocess | kGraphMoe);
  EXPECT_EQ(GraphScopeOf("moe.fc1.fwd", true, false), kGraphMoe);
  EXPECT_EQ(GraphScopeOf("ep.all_to_all.dispatch", true, false), kGraphMoe);
  EXPECT_EQ(GraphScopeOf("head.logits.fwd", false, false), 0u);
  EXPECT_EQ(GraphScopeOf("loss.cross_entropy.fwd", false, false), 0u);
}

TEST(HostLaunchesTest, ParseGraphScopesNamesTheFieldAndTheChoices) {
  auto ok = ParseGraphScopes({"attn", "moe_router"}, "parallelism.cuda_graph_scope");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, kGraphAttn | kGraphMoeRouter);
  auto bad = ParseGraphScopes({"attn", "router"}, "parallelism.cuda_graph_scope");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "parallelism.cuda_graph_scope: unknown value 'router'; valid choices: attn, mlp, moe, "
            "moe_router, moe_preprocess, mamba, full_iteration");
}

}  // namespace
}  // namespace echosim
