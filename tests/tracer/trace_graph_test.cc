#include "tracer/trace_graph.h"

#include <gtest/gtest.h>

#include "tracer/trace_set.h"

namespace echosim {
namespace {

TraceNode Compute(uint64_t id, std::vector<uint64_t> deps, Duration d = kMicrosecond) {
  TraceNode n;
  n.id = id;
  n.name = "k" + std::to_string(id);
  n.duration = d;
  n.data_deps = std::move(deps);
  return n;
}

TEST(TraceGraphTest, CycleNamesANodeOnIt) {
  RankTrace t;
  t.source = "cyc.0.et";
  t.nodes = {Compute(1, {}), Compute(2, {1, 4}), Compute(3, {2}), Compute(4, {3})};
  auto g = BuildTraceGraph(t, {});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("cyc.0.et: dependency cycle through node id "),
            std::string::npos);
  // The node named is one of 2, 3, 4.
  EXPECT_EQ(g.status().message().find("node id 1 "), std::string::npos) << g.status().message();
}

TEST(TraceGraphTest, EmptyTraceIsAnEmptyGraph) {
  auto g = BuildTraceGraph(RankTrace{}, {});
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->graph.num_nodes(), 0u);
}

TEST(TraceGraphTest, DuplicateIdIsAnError) {
  RankTrace t;
  t.source = "dup.0.et";
  t.nodes = {Compute(1, {}), Compute(1, {})};
  auto g = BuildTraceGraph(t, {});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("node id 1 appears twice"), std::string::npos);
}

TEST(TraceGraphTest, MissingAndSelfDependenciesAreDroppedAndCounted) {
  RankTrace t;
  t.nodes = {Compute(1, {1, 99}), Compute(2, {1, 1, 98})};
  t.nodes[1].ctrl_deps = {2, 1000};  // self and absent control dependencies are ignored
  auto g = BuildTraceGraph(t, {});
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->missing_deps, 2u);
  EXPECT_EQ(g->self_deps, 1u);
  EXPECT_EQ(g->graph.num_nodes(), 2u);
  // Both on "gpu": one stream edge, plus the data dependency (same pair).
  EXPECT_EQ(g->graph.successors(0).size(), 2u);
}

TEST(TraceGraphTest, ControlDependenciesFollowedUnlessTheyCloseACycle) {
  RankTrace t;
  t.nodes = {Compute(1, {}), Compute(2, {1}), Compute(3, {})};
  t.nodes[2].stream = "other";  // 3 is independent of 1 and 2 by data
  t.nodes[2].ctrl_deps = {2};   // forward in the data order: followed
  t.nodes[0].ctrl_deps = {2};   // 1 -> 2 by data, so 2 -> 1 would close a cycle: dropped
  auto g = BuildTraceGraph(t, {});
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->ctrl_deps_dropped, 1u);
  ASSERT_EQ(g->graph.name(2), "k3");
  EXPECT_EQ(g->graph.in_degree(2), 1u);  // waits for k2
  TraceGraphOptions data_only;
  data_only.follow_ctrl_deps = false;
  auto d = BuildTraceGraph(t, data_only);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->ctrl_deps_dropped, 0u);
  for (NodeId v = 0; v < 3; ++v) {
    if (d->graph.name(v) == "k3") EXPECT_EQ(d->graph.in_degree(v), 0u);
  }
}

TEST(TraceGraphTest, OrderFollowsLaunchOrderThenFileOrder) {
  RankTrace t;
  t.nodes = {Compute(5, {}), Compute(6, {}), Compute(7, {})};
  t.nodes[0].launch_order = 2;
  t.nodes[1].launch_order = 0;
  t.nodes[2].launch_order = 1;
  auto g = BuildTraceGraph(t, {});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->graph.name(0), "k6");
  EXPECT_EQ(g->graph.name(1), "k7");
  EXPECT_EQ(g->graph.name(2), "k5");
}

TEST(TraceGraphTest, CommunicationWithoutStreamUsesLanesThatAddNoOrdering) {
  RankTrace t;
  TraceNode a;
  a.id = 1;
  a.kind = TraceNodeKind::kCollective;
  a.comm_bytes = 8;
  TraceNode b = a;
  b.id = 2;  // independent of a: must not share its lane
  TraceNode c = a;
  c.id = 3;
  c.data_deps = {1};  // after a: may reuse a's lane
  t.nodes = {a, b, c};
  auto g = BuildTraceGraph(t, {});
  ASSERT_TRUE(g.ok());
  EXPECT_NE(g->graph.stream(0), g->graph.stream(1));
  EXPECT_EQ(g->graph.stream(0), g->graph.stream(2));
}

TEST(TraceGraphTest, EagerSendSplitsIntoTransferAndRendezvous) {
  RankTrace t;
  t.rank = 0;
  TraceNode s;
  s.id = 1;
  s.name = "send";
  s.kind = TraceNodeKind::kSend;
  s.peer = 1;
  s.comm_bytes = 64;
  TraceNode after = Compute(2, {1});
  t.nodes = {s, after};
  TraceGraphOptions o;
  o.comm_duration = [](const TraceNode&) { return 5 * kMicrosecond; };
  auto g = BuildTraceGraph(t, o);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->eager_sends, 1u);
  ASSERT_EQ(g->graph.num_nodes(), 3u);
  EXPECT_EQ(g->graph.kind(0), NodeKind::kCompute);  // the transfer
  EXPECT_EQ(g->graph.duration(0), 5 * kMicrosecond);
  EXPECT_EQ(g->graph.kind(1), NodeKind::kSend);  // zero-length rendezvous
  EXPECT_EQ(g->graph.duration(1), 0);
  EXPECT_EQ(DecodePeer(g->graph.comm(1).peer), 1);
  EXPECT_EQ(g->graph.stream_names()[g->graph.stream(1)], "send to 1");
  EXPECT_EQ(g->trace_node[0], 0u);
  EXPECT_EQ(g->trace_node[1], 0u);
  EXPECT_EQ(g->trace_node[2], 1u);
}

TEST(TraceGraphTest, MessagesBetweenTwoRanksGetSequentialTags) {
  RankTrace t;
  t.blocking_sends = true;
  for (uint64_t i = 0; i < 3; ++i) {
    TraceNode s;
    s.id = i;
    s.kind = TraceNodeKind::kSend;
    s.peer = 4;
    s.tag = 0;  // as ASTRA-sim examples record it
    s.stream = "s";
    t.nodes.push_back(s);
  }
  auto g = BuildTraceGraph(t, {});
  ASSERT_TRUE(g.ok());
  for (NodeId v = 0; v < 3; ++v) EXPECT_EQ(g->graph.comm(v).tag, v);
}

// Two ranks whose collectives disagree: the error names both files and nodes.
TEST(TraceSetTest, MismatchedCollectivesNameFilesAndNodes) {
  TraceSet set;
  set.world_size = 2;
  for (int r = 0; r < 2; ++r) {
    RankTrace t;
    t.rank = r;
    t.source = "job." + std::to_string(r) + ".et";
    TraceNode c;
    c.id = 10 + r;
    c.name = "ar";
    c.kind = TraceNodeKind::kCollective;
    c.comm_bytes = r == 0 ? 1024 : 2048;
    t.nodes = {c};
    set.traces.push_back(t);
    set.stands_for.push_back({r});
  }
  auto res = SimulateTraceSet(set, {});
  ASSERT_FALSE(res.ok());
  const std::string& m = res.status().message();
  EXPECT_NE(m.find("collectives do not match on communicator [0, 1] at call #0"), std::string::npos) << m;
  EXPECT_NE(m.find("rank 0 has all_reduce of 1024 bytes (job.0.et node id 10 'ar')"), std::string::npos) << m;
  EXPECT_NE(m.find("rank 1 has all_reduce of 2048 bytes (job.1.et node id 11 'ar')"), std::string::npos) << m;
}

TEST(TraceSetTest, PeerOutsideTheWorldIsAnError) {
  TraceSet set;
  set.world_size = 2;
  RankTrace t;
  t.source = "p.0.et";
  TraceNode s;
  s.id = 3;
  s.name = "send";
  s.kind = TraceNodeKind::kSend;
  s.peer = 5;
  t.nodes = {s};
  set.traces = {t};
  set.stands_for = {{0, 1}};
  auto res = SimulateTraceSet(set, {});
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.status().message().find("p.0.et: node id 3 'send': peer rank 5 is outside the world of 2"),
            std::string::npos)
      << res.status().message();
}

// A trace standing for more ranks than itself: its collectives complete on their own,
// timed for the whole communicator, and the world size scales the all-ranks group.
TEST(TraceSetTest, SymmetricModeAndWorldSizeOverride) {
  TraceSet set;
  set.world_size = 8;
  RankTrace t;
  TraceNode c;
  c.id = 1;
  c.kind = TraceNodeKind::kCollective;
  c.comm_bytes = 64 << 20;
  t.nodes = {c};
  set.traces = {t};
  set.stands_for = {{0, 1, 2, 3, 4, 5, 6, 7}};
  auto small = SimulateTraceSet(set, {});
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_FALSE(small->rendezvous);
  EXPECT_EQ(small->ranks[0].stands_for, 8);
  TraceSimOptions big;
  big.world_size = 64;  // 8 nodes: the all-reduce now crosses NICs and takes longer
  auto large = SimulateTraceSet(set, big);
  ASSERT_TRUE(large.ok());
  EXPECT_EQ(large->ranks[0].stands_for, 64);
  EXPECT_GT(large->step_time_s, small->step_time_s);
  TraceSimOptions bad;
  bad.world_size = 4;
  EXPECT_FALSE(SimulateTraceSet(set, bad).ok());
}

}  // namespace
}  // namespace echosim
