#include "simulator/graph/execution_graph.h"

#include <gtest/gtest.h>

namespace echosim {
namespace {

TEST(ExecutionGraphTest, StreamOrderBecomesEdges) {
  ExecutionGraph::Builder b({"compute", "comm"});
  NodeId a = b.AddCompute(0, "a", 10);
  NodeId c = b.AddCompute(0, "c", 10);
  NodeId x = b.AddCompute(1, "x", 5);
  b.AddDependency(x, c);
  auto g = std::move(b).Build();
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->num_nodes(), 3u);
  EXPECT_EQ(g->num_edges(), 2u);  // a->c (stream), x->c (wait)
  EXPECT_EQ(g->in_degree(c), 2u);
  EXPECT_EQ(g->in_degree(a), 0u);
  ASSERT_EQ(g->successors(a).size(), 1u);
  EXPECT_EQ(g->successors(a)[0], c);
  EXPECT_EQ(g->name(x), "x");
  EXPECT_EQ(g->stream(x), 1);
}

TEST(ExecutionGraphTest, CycleErrorNamesANodeOnTheCycle) {
  ExecutionGraph::Builder b({"s0", "s1"});
  NodeId p = b.AddCompute(0, "p", 1);
  NodeId q = b.AddCompute(1, "q", 1);
  NodeId after = b.AddCompute(1, "downstream", 1);  // behind the cycle, not on it
  b.AddDependency(p, q);
  b.AddDependency(q, p);
  (void)after;
  auto g = std::move(b).Build();
  ASSERT_FALSE(g.ok());
  const std::string msg = g.status().message();
  EXPECT_NE(msg.find("dependency cycle through node"), std::string::npos) << msg;
  EXPECT_TRUE(msg.find("'p'") != std::string::npos || msg.find("'q'") != std::string::npos) << msg;
  EXPECT_EQ(msg.find("downstream"), std::string::npos) << msg;
}

TEST(ExecutionGraphTest, MissingNodeIsNamed) {
  ExecutionGraph::Builder b({"s"});
  NodeId a = b.AddCompute(0, "a", 1);
  b.AddDependency(a, 42);
  auto g = std::move(b).Build();
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("node 42 which does not exist"), std::string::npos);
  EXPECT_NE(g.status().message().find("'a'"), std::string::npos);
}

TEST(ExecutionGraphTest, SelfDependencyRejected) {
  ExecutionGraph::Builder b({"s"});
  NodeId a = b.AddCompute(0, "loop", 1);
  b.AddDependency(a, a);
  auto g = std::move(b).Build();
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("'loop' depends on itself"), std::string::npos);
}

TEST(ExecutionGraphTest, CommunicationNodesAreChecked) {
  {
    ExecutionGraph::Builder b({"s"});
    b.AddCollective(0, "ar", CommInfo{CollectiveKind::kAllReduce, GroupKind::kNone, 8, 0, 0}, 1);
    auto g = std::move(b).Build();
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find("collective node 0 'ar' has no group"), std::string::npos);
  }
  {
    ExecutionGraph::Builder b({"s"});
    b.AddSend(0, "tx", CommInfo{CollectiveKind::kSendRecv, GroupKind::kPp, 8, 0, 0}, 1);
    auto g = std::move(b).Build();
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find("'tx' has no peer"), std::string::npos);
  }
}

}  // namespace
}  // namespace echosim
