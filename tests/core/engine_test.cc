#include "simulator/core/engine.h"

#include <gtest/gtest.h>

#include <vector>

namespace echosim {
namespace {

// Re-schedules itself `left` times, `period` apart, recording when it ran.
class Ticker : public EventHandler {
 public:
  Ticker(Engine* e, Duration period, int left) : period_(period), left_(left) {
    kind_ = e->RegisterHandler(this);
  }
  void OnEvent(Engine& e, const Event& ev) override {
    times.push_back(e.Now());
    payloads.push_back(ev.payload);
    if (--left_ > 0) e.ScheduleAfter(period_, kind_, ev.payload + 1);
  }
  uint32_t kind() const { return kind_; }
  std::vector<Time> times;
  std::vector<uint64_t> payloads;

 private:
  Duration period_;
  int left_;
  uint32_t kind_;
};

TEST(EngineTest, AdvancesTimeAndDeliversInOrder) {
  Engine e;
  Ticker t(&e, 7 * kMicrosecond, 4);
  e.ScheduleAt(kMicrosecond, t.kind(), 0);
  EXPECT_EQ(e.Run(), 4u);
  // Starts at 1 us and repeats every 7 us: 1, 8, 15, 22 us.
  EXPECT_EQ(t.times, (std::vector<Time>{1 * kMicrosecond, 8 * kMicrosecond, 15 * kMicrosecond,
                                        22 * kMicrosecond}));
  EXPECT_EQ(t.payloads, (std::vector<uint64_t>{0, 1, 2, 3}));
  EXPECT_EQ(e.events_processed(), 4u);
}

TEST(EngineTest, RunUntilStopsBeforeLaterEvents) {
  Engine e;
  Ticker t(&e, 10, 100);
  e.ScheduleAt(0, t.kind(), 0);
  e.Run(/*until=*/35);
  // Events at 0, 10, 20, 30 ran; the one at 40 is still pending.
  EXPECT_EQ(t.times.size(), 4u);
  EXPECT_EQ(e.pending(), 1u);
  e.Run();
  EXPECT_EQ(t.times.size(), 100u);
}

TEST(EngineTest, TwoHandlersInterleaveDeterministically) {
  Engine e;
  Ticker a(&e, 5, 3), b(&e, 5, 3);
  e.ScheduleAt(0, a.kind(), 100);
  e.ScheduleAt(0, b.kind(), 200);
  e.Run();
  // Equal times: a was scheduled first each round, so it runs first each round.
  EXPECT_EQ(a.times, (std::vector<Time>{0, 5, 10}));
  EXPECT_EQ(b.times, (std::vector<Time>{0, 5, 10}));
}

TEST(TimeTest, Conversions) {
  EXPECT_EQ(SecondsToDuration(1.5), 1500 * kMillisecond);
  EXPECT_DOUBLE_EQ(DurationToSeconds(2 * kSecond), 2.0);
  EXPECT_DOUBLE_EQ(DurationToMicros(3 * kMicrosecond), 3.0);
}

}  // namespace
}  // namespace echosim
