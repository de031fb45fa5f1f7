#include "simulator/graph/executor.h"

#include <gtest/gtest.h>

#include <map>

namespace echosim {
namespace {

// n ranks, each its own class unless `shared`; groups: all ranks form one group.
class TestRankMap : public RankMap {
 public:
  TestRankMap(int64_t n, bool shared, int64_t arrivals) : n_(n), shared_(shared), arrivals_(arrivals) {}
  int64_t NumRanks() const override { return n_; }
  uint32_t ClassOf(int64_t r) const override { return shared_ ? 0 : static_cast<uint32_t>(r); }
  int64_t GroupId(int64_t, GroupKind) const override { return 0; }
  int64_t GroupArrivals(GroupKind) const override { return arrivals_; }
  int64_t Peer(int64_t r, int32_t peer) const override { return ((r + peer) % n_ + n_) % n_; }

 private:
  int64_t n_;
  bool shared_;
  int64_t arrivals_;
};

ExecutionGraph Chain(int k, Duration d) {
  ExecutionGraph::Builder b({"compute"});
  for (int i = 0; i < k; ++i) b.AddCompute(0, "op", d);
  return std::move(b).Build().value();
}

// A chain of k ops of duration d on one stream takes exactly k*d.
TEST(ExecutorTest, ChainTakesKTimesD) {
  const ExecutionGraph g = Chain(17, 3 * kMicrosecond);
  TestRankMap map(1, true, 1);
  Engine e;
  Executor x({&g}, &map, &e);
  ASSERT_TRUE(x.Run().ok());
  EXPECT_EQ(x.finish_time(), 17 * 3 * kMicrosecond);
  EXPECT_EQ(x.nodes_completed(), 17u);
}

// Two independent streams overlap: the step is the longer one. A cross-stream wait
// delays the waiting node until its producer finishes.
TEST(ExecutorTest, StreamsOverlapAndWaitsDelay) {
  ExecutionGraph::Builder b({"compute", "comm"});
  b.AddCompute(0, "c1", 10);
  NodeId c2 = b.AddCompute(0, "c2", 10);
  NodeId m1 = b.AddCompute(1, "m1", 25);
  NodeId c3 = b.AddCompute(0, "c3", 10);
  b.AddDependency(m1, c3);  // c3 waits for m1 (ends at 25) although c2 ends at 20
  (void)c2;
  const ExecutionGraph g = std::move(b).Build().value();
  TestRankMap map(1, true, 1);
  Engine e;
  Executor x({&g}, &map, &e);
  x.RecordRank(0);
  ASSERT_TRUE(x.Run().ok());
  EXPECT_EQ(x.finish_time(), 35);  // 25 + 10
  bool found = false;
  for (const Span& s : x.spans(0)) {
    if (s.node == c3) {
      EXPECT_EQ(s.start, 25);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

// A collective starts when its last member arrives: rank r computes for (r+1)*10 before
// it, so the all-reduce of 5 starts at 40 on 4 ranks and everyone finishes at 45.
// Host nodes (kDelay, NodeCategory::kHost, on their own stream) issue kernels: a kernel starts
// no earlier than its host node ends, the host chain runs ahead of the GPU, and a host node
// that waits for a kernel (a synchronisation) starts when that kernel ends.
TEST(ExecutorTest, HostNodesIssueKernelsAndWaitAtSynchronisations) {
  ExecutionGraph::Builder b({"compute", "host"});
  const NodeId h1 = b.AddDelay(1, "h1", 10, NodeCategory::kHost);
  const NodeId g1 = b.AddCompute(0, "g1", 5);
  b.AddDependency(h1, g1);
  const NodeId h2 = b.AddDelay(1, "h2", 10, NodeCategory::kHost);
  const NodeId g2 = b.AddCompute(0, "g2", 30);
  b.AddDependency(h2, g2);
  const NodeId h3 = b.AddDelay(1, "h3", 1, NodeCategory::kHost);  // host-ahead: g3 waits for g2
  const NodeId g3 = b.AddCompute(0, "g3", 5);
  b.AddDependency(h3, g3);
  const NodeId h4 = b.AddDelay(1, "h4", 4, NodeCategory::kHost);  // waits for g3 to finish
  b.AddDependency(g3, h4);
  const NodeId g4 = b.AddCompute(0, "g4", 5);
  b.AddDependency(h4, g4);
  const ExecutionGraph g = std::move(b).Build().value();
  TestRankMap map(1, true, 1);
  Engine e;
  Executor x({&g}, &map, &e);
  x.RecordRank(0);
  ASSERT_TRUE(x.Run().ok());
  std::map<NodeId, std::pair<Time, Time>> at;
  for (const Span& s : x.spans(0)) at[s.node] = {s.start, s.end};
  EXPECT_EQ(at[h1], (std::pair<Time, Time>{0, 10}));
  EXPECT_EQ(at[g1], (std::pair<Time, Time>{10, 15}));
  EXPECT_EQ(at[h2], (std::pair<Time, Time>{10, 20}));
  EXPECT_EQ(at[g2], (std::pair<Time, Time>{20, 50}));  // issued at 20, after g1
  EXPECT_EQ(at[h3], (std::pair<Time, Time>{20, 21}));
  EXPECT_EQ(at[g3], (std::pair<Time, Time>{50, 55}));  // issued long before g2 ends
  EXPECT_EQ(at[h4], (std::pair<Time, Time>{55, 59}));  // the host waited for g3
  EXPECT_EQ(at[g4], (std::pair<Time, Time>{59, 64}));
  EXPECT_EQ(x.finish_time(), 64);
  EXPECT_EQ(x.nodes_completed(), 8u);
}

TEST(ExecutorTest, CollectiveStartsWhenLastMemberArrives) {
  std::vector<ExecutionGraph> graphs;
  for (int r = 0; r < 4; ++r) {
    ExecutionGraph::Builder b({"compute"});
    b.AddCompute(0, "work", (r + 1) * 10);
    b.AddCollective(0, "ar", CommInfo{CollectiveKind::kAllReduce, GroupKind::kDp, 64, 0, 0}, 5);
    graphs.push_back(std::move(b).Build().value());
  }
  std::vector<const ExecutionGraph*> classes;
  for (const auto& g : graphs) classes.push_back(&g);
  TestRankMap map(4, false, 4);
  Engine e;
  Executor x(classes, &map, &e);
  ASSERT_TRUE(x.Run().ok());
  for (int r = 0; r < 4; ++r) EXPECT_EQ(x.rank_finish_time(r), 45);
}

// Send on rank 0 ready at 30, receive on rank 1 posted at 0: the transfer of 7 runs
// 30..37 and the consumer on rank 1 ends at 37 + 4.
TEST(ExecutorTest, SendRecvRendezvous) {
  ExecutionGraph::Builder b0({"compute", "send"});
  NodeId w = b0.AddCompute(0, "work", 30);
  NodeId s = b0.AddSend(1, "send", CommInfo{CollectiveKind::kSendRecv, GroupKind::kPp, 1, +1, 9}, 7);
  b0.AddDependency(w, s);
  ExecutionGraph::Builder b1({"compute", "recv"});
  NodeId rv = b1.AddRecv(1, "recv", CommInfo{CollectiveKind::kSendRecv, GroupKind::kPp, 1, -1, 9}, 7);
  NodeId use = b1.AddCompute(0, "use", 4);
  b1.AddDependency(rv, use);
  const ExecutionGraph g0 = std::move(b0).Build().value();
  const ExecutionGraph g1 = std::move(b1).Build().value();
  TestRankMap map(2, false, 2);
  Engine e;
  Executor x({&g0, &g1}, &map, &e);
  ASSERT_TRUE(x.Run().ok());
  EXPECT_EQ(x.rank_finish_time(0), 37);
  EXPECT_EQ(x.rank_finish_time(1), 41);
}

// Mismatched tags never meet: the executor reports the stuck node instead of hanging.
TEST(ExecutorTest, DeadlockIsReported) {
  ExecutionGraph::Builder b0({"compute"});
  b0.AddSend(0, "lonely.send", CommInfo{CollectiveKind::kSendRecv, GroupKind::kPp, 1, +1, 1}, 1);
  ExecutionGraph::Builder b1({"compute"});
  b1.AddRecv(0, "lonely.recv", CommInfo{CollectiveKind::kSendRecv, GroupKind::kPp, 1, -1, 2}, 1);
  const ExecutionGraph g0 = std::move(b0).Build().value();
  const ExecutionGraph g1 = std::move(b1).Build().value();
  TestRankMap map(2, false, 2);
  Engine e;
  Executor x({&g0, &g1}, &map, &e);
  Status st = x.Run();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("simulation deadlock: rank 0 waits forever at send node 0 'lonely.send'"),
            std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace echosim

namespace echosim {
namespace {

// Two ranks each send 1e6 bytes to a third over links of 1e9 B/s... modelled as one shared
// link: alone a transfer takes 1 ms; two at once each get half the link, so both take 2 ms.
class OneLink : public CommResources {
 public:
  OneLink() { link_ = net_.AddLink(1e9); }
  CommDemand Describe(int64_t, const ExecutionGraph&, NodeId) const override {
    CommDemand d;
    d.wire_bytes = 1e6;
    d.nominal_bytes_per_s = 1e9;
    d.path = {{link_, 1.0}};
    return d;
  }
  FlowNetwork* network() override { return &net_; }

 private:
  FlowNetwork net_;
  LinkId link_;
};

TEST(ExecutorRatesTest, TransfersSharingALinkTakeTwiceAsLong) {
  // Rank 0 and rank 1 both run a self-contained "collective" of group size 1 at t = 0.
  ExecutionGraph::Builder b({"comm"});
  b.AddCollective(0, "xfer", CommInfo{CollectiveKind::kAllGather, GroupKind::kDp, 1e6, 0, 0}, kMillisecond);
  const ExecutionGraph g = std::move(b).Build().value();
  TestRankMap map(2, true, 1);
  OneLink link;
  ExecutorOptions opts;
  opts.comm = &link;
  Engine e;
  Executor x({&g}, &map, &e, opts);
  ASSERT_TRUE(x.Run().ok());
  EXPECT_EQ(x.rank_finish_time(0), 2 * kMillisecond);
  EXPECT_EQ(x.rank_finish_time(1), 2 * kMillisecond);
}

// A 10 us compute kernel slowed to rate 1/2 while a 4 us transfer runs beside it: the first
// 4 us cover 2 us of work, the remaining 8 us at full rate: it ends at 12 us.
class HalfWhileComm : public KernelInterference {
 public:
  double ComputeRate(OpClass, int channels) const override { return channels > 0 ? 0.5 : 1.0; }
  double CommRate(bool) const override { return 1.0; }
};

TEST(ExecutorRatesTest, InterferenceSlowsTheOverlappedPart) {
  ExecutionGraph::Builder b({"compute", "comm"});
  b.AddCompute(0, "gemm", 10 * kMicrosecond);
  b.AddCollective(1, "ar", CommInfo{CollectiveKind::kAllReduce, GroupKind::kDp, 8, 0, 0}, 4 * kMicrosecond);
  const ExecutionGraph g = std::move(b).Build().value();
  TestRankMap map(1, true, 1);
  HalfWhileComm interference;
  ExecutorOptions opts;
  opts.interference = &interference;
  Engine e;
  Executor x({&g}, &map, &e, opts);
  x.RecordRank(0);
  ASSERT_TRUE(x.Run().ok());
  EXPECT_EQ(x.finish_time(), 12 * kMicrosecond);
}

}  // namespace
}  // namespace echosim
