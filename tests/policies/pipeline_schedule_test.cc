#include "policies/pipeline_schedule.h"

#include <gtest/gtest.h>

#include <set>

#include "simulator/graph/executor.h"

namespace echosim {
namespace {

TEST(PipelineScheduleTest, RegistryListsAll) {
  std::vector<std::string> names;
  for (const PipelineSchedule* s : PipelineSchedules()) names.push_back(s->name());
  EXPECT_EQ(names, (std::vector<std::string>{"1f1b", "interleaved_1f1b", "gpipe"}));
  auto bad = FindPipelineSchedule("zb");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("valid schedules: 1f1b, interleaved_1f1b, gpipe"),
            std::string::npos);
}

// Contract over every registered schedule: each (micro-batch, chunk) runs forward and
// backward exactly once, and its forward comes first.
TEST(PipelineScheduleTest, EveryScheduleRunsEachPassOnce) {
  for (const PipelineSchedule* s : PipelineSchedules()) {
    const int64_t pp = 4, vpp = std::string(s->name()) == "interleaved_1f1b" ? 3 : 1, m = 8;
    ASSERT_TRUE(s->Check(pp, vpp, m).ok()) << s->name();
    for (int64_t stage = 0; stage < pp; ++stage) {
      std::set<std::tuple<bool, int, int>> seen;
      std::set<std::pair<int, int>> forwarded;
      for (const PipelineStep& st : s->Order(stage, pp, vpp, m)) {
        EXPECT_TRUE(seen.insert({st.forward, st.microbatch, st.chunk}).second) << s->name();
        if (st.forward) {
          forwarded.insert({st.microbatch, st.chunk});
        } else {
          EXPECT_TRUE(forwarded.count({st.microbatch, st.chunk})) << s->name();
        }
      }
      EXPECT_EQ(seen.size(), static_cast<size_t>(2 * m * vpp)) << s->name();
    }
  }
}

class RingMap : public RankMap {
 public:
  explicit RingMap(int64_t pp) : pp_(pp) {}
  int64_t NumRanks() const override { return pp_; }
  uint32_t ClassOf(int64_t r) const override { return static_cast<uint32_t>(r); }
  int64_t GroupId(int64_t r, GroupKind) const override { return r; }
  int64_t GroupArrivals(GroupKind) const override { return 1; }
  int64_t Peer(int64_t r, int32_t p) const override { return ((r + p) % pp_ + pp_) % pp_; }

 private:
  int64_t pp_;
};

// Runs a pipeline whose chunks take f/vpp forward and b/vpp backward, with free
// transfers, and returns the step time.
Time PipelineTime(const PipelineSchedule& s, int64_t pp, int64_t vpp, int64_t m, Duration f,
                  Duration b) {
  const int64_t V = pp * vpp;
  std::vector<ExecutionGraph> graphs;
  for (int64_t stage = 0; stage < pp; ++stage) {
    ExecutionGraph::Builder g({"compute", "sf", "rf", "sb", "rb"});
    for (const PipelineStep& st : s.Order(stage, pp, vpp, m)) {
      const int64_t v = st.chunk * pp + stage;
      if (st.forward) {
        NodeId rv = ExecutionGraph::Builder::kNoNode;
        if (v > 0) rv = g.AddRecv(2, "rf", {CollectiveKind::kSendRecv, GroupKind::kPp, 1, -1, static_cast<uint32_t>(st.microbatch * V + v)}, 0);
        NodeId c = g.AddCompute(0, "F", f / vpp);
        if (rv != ExecutionGraph::Builder::kNoNode) g.AddDependency(rv, c);
        if (v < V - 1) {
          NodeId sd = g.AddSend(1, "sf", {CollectiveKind::kSendRecv, GroupKind::kPp, 1, +1, static_cast<uint32_t>(st.microbatch * V + v + 1)}, 0);
          g.AddDependency(c, sd);
        }
      } else {
        const uint32_t base = static_cast<uint32_t>(m * V);
        NodeId rv = ExecutionGraph::Builder::kNoNode;
        if (v < V - 1) rv = g.AddRecv(4, "rb", {CollectiveKind::kSendRecv, GroupKind::kPp, 1, +1, static_cast<uint32_t>(base + st.microbatch * V + v)}, 0);
        NodeId c = g.AddCompute(0, "B", b / vpp);
        if (rv != ExecutionGraph::Builder::kNoNode) g.AddDependency(rv, c);
        if (v > 0) {
          NodeId sd = g.AddSend(3, "sb", {CollectiveKind::kSendRecv, GroupKind::kPp, 1, -1, static_cast<uint32_t>(base + st.microbatch * V + v - 1)}, 0);
          g.AddDependency(c, sd);
        }
      }
    }
    graphs.push_back(std::move(g).Build().value());
  }
  std::vector<const ExecutionGraph*> classes;
  for (const auto& g : graphs) classes.push_back(&g);
  RingMap map(pp);
  Engine e;
  Executor x(classes, &map, &e);
  EXPECT_TRUE(x.Run().ok());
  return x.finish_time();
}

// GPipe and 1F1B: (m + pp - 1) * (f + b); the bubble is (pp-1)/(m+pp-1) of the step.
TEST(PipelineScheduleTest, OneFOneBAndGpipeBubble) {
  for (const char* name : {"1f1b", "gpipe"}) {
    const PipelineSchedule* s = FindPipelineSchedule(name).value();
    for (auto [pp, m] : {std::pair<int64_t, int64_t>{4, 8}, {8, 16}, {2, 1}, {4, 3}}) {
      EXPECT_EQ(PipelineTime(*s, pp, 1, m, 10, 20), (m + pp - 1) * 30) << name << " pp " << pp << " m " << m;
    }
  }
}

// Interleaved 1F1B (Narayanan et al. SC'21 Sec. 2.2.2): the bubble shrinks by vpp:
// m * (f + b) + (pp - 1) * (f + b) / vpp.
TEST(PipelineScheduleTest, InterleavedBubbleShrinksByVpp) {
  const PipelineSchedule* s = FindPipelineSchedule("interleaved_1f1b").value();
  for (auto [pp, vpp, m] : {std::tuple<int64_t, int64_t, int64_t>{4, 2, 8}, {4, 3, 8}, {8, 3, 16}, {2, 2, 4}}) {
    const Duration f = 60, b = 120;  // divisible by vpp
    EXPECT_EQ(PipelineTime(*s, pp, vpp, m, f, b), m * (f + b) + (pp - 1) * (f + b) / vpp)
        << "pp " << pp << " vpp " << vpp << " m " << m;
  }
}

TEST(PipelineScheduleTest, InFlightActivations) {
  const PipelineSchedule* s = FindPipelineSchedule("1f1b").value();
  EXPECT_EQ(s->InFlight(0, 8, 1, 64), 8);  // first stage holds pp micro-batches
  EXPECT_EQ(s->InFlight(7, 8, 1, 64), 1);
  EXPECT_EQ(s->InFlight(0, 8, 1, 3), 3);
  EXPECT_EQ(FindPipelineSchedule("gpipe").value()->InFlight(0, 8, 1, 64), 64);
  // Interleaved first stage: warm-up (pp-1)*2 + (vpp-1)*pp + 1 chunks.
  EXPECT_EQ(FindPipelineSchedule("interleaved_1f1b").value()->InFlight(0, 8, 3, 64), 14 + 16 + 1);
}

}  // namespace
}  // namespace echosim
