#include "simulator/core/flow_network.h"

#include <gtest/gtest.h>

#include <random>

namespace echosim {
namespace {

// Two flows on one link each get half (max-min fairness on a single bottleneck).
TEST(FlowNetworkTest, TwoFlowsShareOneLinkEqually) {
  FlowNetwork n;
  LinkId l = n.AddLink(100);
  FlowId a = n.AddFlow({{l, 1}}, 1000);
  EXPECT_DOUBLE_EQ(n.rate(a), 100);
  FlowId b = n.AddFlow({{l, 1}}, 1000);
  EXPECT_DOUBLE_EQ(n.rate(a), 50);
  EXPECT_DOUBLE_EQ(n.rate(b), 50);
  n.RemoveFlow(b);
  EXPECT_DOUBLE_EQ(n.rate(a), 100);
  ASSERT_EQ(n.changed().size(), 1u);
  EXPECT_EQ(n.changed()[0], a);
}

// A capped flow takes its cap; the rest goes to the other flow (100 - 20 = 80).
TEST(FlowNetworkTest, CapBelowFairShareFreesBandwidth) {
  FlowNetwork n;
  LinkId l = n.AddLink(100);
  FlowId a = n.AddFlow({{l, 1}}, 20);
  FlowId b = n.AddFlow({{l, 1}}, 1000);
  EXPECT_DOUBLE_EQ(n.rate(a), 20);
  EXPECT_DOUBLE_EQ(n.rate(b), 80);
}

// Classic parking lot: links L1 (cap 10) and L2 (cap 10); flow x uses both, y uses L1,
// z uses L2. Max-min: every flow gets 5.
// With L2 at 30 instead: L1 is the bottleneck for x and y (5 each); z gets 30 - 5 = 25.
TEST(FlowNetworkTest, ParkingLot) {
  FlowNetwork n;
  LinkId l1 = n.AddLink(10), l2 = n.AddLink(30);
  FlowId x = n.AddFlow({{l1, 1}, {l2, 1}}, 1e9);
  FlowId y = n.AddFlow({{l1, 1}}, 1e9);
  FlowId z = n.AddFlow({{l2, 1}}, 1e9);
  EXPECT_DOUBLE_EQ(n.rate(x), 5);
  EXPECT_DOUBLE_EQ(n.rate(y), 5);
  EXPECT_DOUBLE_EQ(n.rate(z), 25);
}

// A weight-w flow stands for w identical streams: on a link of 90 shared with one plain
// flow, it gets 90 / (w + 1) per stream.
TEST(FlowNetworkTest, WeightedFlow) {
  FlowNetwork n;
  LinkId l = n.AddLink(90);
  FlowId a = n.AddFlow({{l, 2}}, 1e9);
  FlowId b = n.AddFlow({{l, 1}}, 1e9);
  EXPECT_DOUBLE_EQ(n.rate(a), 30);
  EXPECT_DOUBLE_EQ(n.rate(b), 30);
}

// Incremental re-solving equals solving from scratch, for random flows (seed printed).
TEST(FlowNetworkTest, IncrementalMatchesFromScratch) {
  for (uint32_t seed : {3u, 11u}) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    FlowNetwork inc;
    for (int i = 0; i < 50; ++i) inc.AddLink(1 + rng() % 100);
    std::vector<FlowId> live;
    for (int step = 0; step < 400; ++step) {
      if (live.empty() || rng() % 3 != 0) {
        std::vector<LinkUse> path;
        const int hops = 1 + rng() % 3;
        for (int h = 0; h < hops; ++h) path.push_back({static_cast<LinkId>(rng() % 50), 1.0 + rng() % 2});
        live.push_back(inc.AddFlow(path, 1 + rng() % 200));
      } else {
        const size_t k = rng() % live.size();
        inc.RemoveFlow(live[k]);
        live.erase(live.begin() + static_cast<long>(k));
      }
      std::vector<double> rates;
      for (FlowId f : live) rates.push_back(inc.rate(f));
      inc.SolveAll();
      for (size_t i = 0; i < live.size(); ++i) ASSERT_NEAR(inc.rate(live[i]), rates[i], 1e-9 * (1 + rates[i]));
      // Feasibility: no link over capacity.
    }
  }
}

}  // namespace
}  // namespace echosim
