#include "simulator/core/event_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>
#include <vector>

namespace echosim {
namespace {

TEST(EventQueueTest, PopsInTimeOrder) {
  EventQueue q;
  q.Push(30, 0, 3);
  q.Push(10, 0, 1);
  q.Push(20, 0, 2);
  EXPECT_EQ(q.Pop().payload, 1u);
  EXPECT_EQ(q.Pop().payload, 2u);
  EXPECT_EQ(q.Pop().payload, 3u);
  EXPECT_TRUE(q.empty());
}

TEST(EventQueueTest, EqualTimesPopInSchedulingOrder) {
  EventQueue q;
  for (uint64_t i = 0; i < 100; ++i) q.Push(5, 0, i);
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(q.Pop().payload, i);
}

// Peeking refills around the earliest time; an event pushed before it afterwards (the
// Engine does this after Run(until) stops early) must still come out first.
TEST(EventQueueTest, PushBeforePeekedTimeStillOrders) {
  EventQueue q;
  q.Push(100, 0, 1);
  q.Push(300, 0, 3);
  EXPECT_EQ(q.Top().time, 100);
  q.Push(50, 0, 0);
  q.Push(100, 0, 2);
  EXPECT_EQ(q.Pop().payload, 0u);
  EXPECT_EQ(q.Pop().payload, 1u);
  EXPECT_EQ(q.Pop().payload, 2u);  // equal time: scheduling order
  EXPECT_EQ(q.Pop().payload, 3u);
}

// Randomized comparison with a reference: a stable sort by time of everything pushed,
// with pops interleaved. Seed printed on failure.
TEST(EventQueueTest, MatchesSortedReferenceUnderRandomInterleaving) {
  for (uint32_t seed : {1u, 7u, 12345u}) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    EventQueue q;
    std::vector<std::tuple<Time, uint64_t, uint64_t>> ref;  // (time, seq, payload)
    uint64_t seq = 0, payload = 0;
    Time now = 0;
    for (int step = 0; step < 20000; ++step) {
      if (!ref.empty() && rng() % 7 == 0) {
        ASSERT_EQ(q.Top().time, std::get<0>(*std::min_element(ref.begin(), ref.end())));
      } else if (ref.empty() || rng() % 3 != 0) {
        // Mostly near the present, sometimes far ahead (exercises high buckets).
        const Time t = now + static_cast<Time>(rng() % 8 == 0 ? rng() % (1ull << 40) : rng() % 50);
        q.Push(t, 0, payload);
        ref.emplace_back(t, seq++, payload++);
      } else {
        auto it = std::min_element(ref.begin(), ref.end());
        const Event e = q.Pop();
        ASSERT_EQ(e.time, std::get<0>(*it));
        ASSERT_EQ(e.payload, std::get<2>(*it));
        now = e.time;
        ref.erase(it);
      }
    }
    EXPECT_EQ(q.size(), ref.size());
  }
}

}  // namespace
}  // namespace echosim
