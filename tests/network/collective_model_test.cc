#include "simulator/network/collective_model.h"

#include <gtest/gtest.h>

namespace echosim {
namespace {

TopologyConfig Config() {
  TopologyConfig c;
  c.gpus = 64;
  c.gpus_per_node = 8;
  c.nvlink_bytes_per_s = 300e9;
  c.nic_bytes_per_s = 20e9;
  c.nvlink_latency_s = 2e-6;
  c.nic_latency_s = 4e-6;
  c.collective_overhead_s = 5e-6;
  return c;
}

TEST(TopologyTest, GroupShapes) {
  Topology t(Config());
  GroupShape tp = t.ShapeOfStrided(0, 1, 8);
  EXPECT_TRUE(tp.intra_node());
  EXPECT_EQ(tp.size, 8);
  GroupShape dp = t.ShapeOfStrided(3, 8, 8);  // one GPU per node
  EXPECT_EQ(dp.nodes, 8);
  EXPECT_EQ(dp.per_node, 1);
  GroupShape both = t.ShapeOfStrided(0, 1, 32);
  EXPECT_EQ(both.nodes, 4);
  EXPECT_EQ(both.per_node, 8);
}

// Ring all-reduce of S bytes over n GPUs at bus bandwidth B: 2(n-1)/n * S/B + 2(n-1)*a,
// plus the launch overhead. n = 8 in one node: B = 300 GB/s, a = 2 us.
TEST(CollectiveModelTest, RingAllReduceInsideNode) {
  Topology t(Config());
  AnalyticCollectiveModel m(&t);
  const double s = 1e9;
  const double expected = 2.0 * 7 / 8 * s / 300e9 + 2.0 * 7 * 2e-6 + 5e-6;
  EXPECT_NEAR(m.EstimateSeconds(CollectiveKind::kAllReduce, s, t.ShapeOfStrided(0, 1, 8)),
              expected, 1e-12);
}

// Across nodes with one GPU per node the NIC (20 GB/s) is the ring's bottleneck;
// with all 8 GPUs of each node in the group 8 rings share 8 NICs: min(300, 8*20) = 160 GB/s.
TEST(CollectiveModelTest, CrossNodeBandwidth) {
  Topology t(Config());
  AnalyticCollectiveModel m(&t);
  EXPECT_DOUBLE_EQ(m.BusBandwidth(t.ShapeOfStrided(0, 8, 8)), 20e9);
  EXPECT_DOUBLE_EQ(m.BusBandwidth(t.ShapeOfStrided(0, 1, 32)), 160e9);
  const double s = 4e9;
  const double ring = 2.0 * 7 / 8 * s / 20e9 + 2.0 * 7 * 4e-6 + 5e-6;
  EXPECT_NEAR(m.EstimateSeconds(CollectiveKind::kAllReduce, s, t.ShapeOfStrided(0, 8, 8)), ring,
              1e-12);
}

// Small messages over many members: the tree's 2*log2(n) latency steps beat the ring's 2(n-1).
TEST(CollectiveModelTest, TreeWinsForSmallMessages) {
  Topology t(Config());
  AnalyticCollectiveModel m(&t);
  const GroupShape g = t.ShapeOfStrided(0, 1, 64);
  const double s = 1024;
  const double tree = 2.0 * s / m.BusBandwidth(g) + 2.0 * 6 * 4e-6 + 5e-6;
  EXPECT_NEAR(m.EstimateSeconds(CollectiveKind::kAllReduce, s, g), tree, 1e-12);
}

TEST(CollectiveModelTest, GatherScatterAndSendRecv) {
  Topology t(Config());
  AnalyticCollectiveModel m(&t);
  const GroupShape g = t.ShapeOfStrided(0, 1, 4);
  const double s = 8e8;
  const double ag = 3.0 / 4 * s / 300e9 + 3 * 2e-6 + 5e-6;
  EXPECT_NEAR(m.EstimateSeconds(CollectiveKind::kAllGather, s, g), ag, 1e-12);
  EXPECT_NEAR(m.EstimateSeconds(CollectiveKind::kReduceScatter, s, g), ag, 1e-12);
  // Point-to-point between nodes: S / NIC + a + overhead.
  EXPECT_NEAR(m.EstimateSeconds(CollectiveKind::kSendRecv, s, t.ShapeOf({0, 8})),
              s / 20e9 + 4e-6 + 5e-6, 1e-12);
  EXPECT_EQ(m.EstimateSeconds(CollectiveKind::kAllReduce, s, t.ShapeOf({5})), 0.0);
}

}  // namespace
}  // namespace echosim
