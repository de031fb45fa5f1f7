// PagedKvCache: block counting, all-or-nothing reservations, prefix-cache hits and LRU
// eviction order.
#include <gtest/gtest.h>

#include "simulator/serving/kv_cache.h"

namespace echosim {
namespace {

ServingSequence Seq(uint64_t id, int32_t prompt, uint64_t group = 0, int32_t prefix = 0) {
  ServingSequence s;
  s.id = id;
  s.prompt_tokens = prompt;
  s.max_output_tokens = 10;
  s.prefix_group = group;
  s.prefix_tokens = prefix;
  return s;
}

TEST(KvCacheTest, CountsBlocksAndIsAllOrNothing) {
  for (bool prefix : {false, true}) {
    PagedKvCache kv(10, 16, prefix);
    ServingSequence a = Seq(1, 100), b = Seq(2, 100);
    EXPECT_TRUE(kv.Reserve(&a, 100));  // ceil(100 / 16) = 7 blocks
    EXPECT_EQ(a.blocks, 7);
    EXPECT_EQ(kv.free_blocks(), 3);
    EXPECT_FALSE(kv.Reserve(&b, 64));  // 4 > 3: nothing changes
    EXPECT_EQ(b.blocks, 0);
    EXPECT_EQ(kv.free_blocks(), 3);
    EXPECT_TRUE(kv.Reserve(&a, 112));  // still 7 blocks
    EXPECT_EQ(kv.free_blocks(), 3);
    EXPECT_TRUE(kv.Reserve(&a, 113));  // one more
    EXPECT_EQ(kv.free_blocks(), 2);
    kv.Release(&a);
    EXPECT_EQ(a.blocks, 0);
    EXPECT_EQ(kv.free_blocks(), 10);
    EXPECT_EQ(kv.used_blocks(), 0);
  }
}

TEST(KvCacheTest, PrefixHitsAreFullSharedBlocksAndLeaveOneTokenToCompute) {
  PagedKvCache kv(100, 16, true);
  ServingSequence a = Seq(1, 200, 7, 100);  // 100 shared tokens: 6 full blocks
  EXPECT_EQ(kv.CachedPrefixTokens(a), 0);
  ASSERT_TRUE(kv.Reserve(&a, 200));
  ServingSequence b = Seq(2, 300, 7, 100);
  EXPECT_EQ(kv.CachedPrefixTokens(b), 96);  // 6 x 16, while a still runs (shared blocks)
  ServingSequence c = Seq(3, 300, 8, 100);
  EXPECT_EQ(kv.CachedPrefixTokens(c), 0);   // another group
  ServingSequence d = Seq(4, 64, 7, 64);    // all of d is shared: at most 3 blocks, 1 token left
  EXPECT_EQ(kv.CachedPrefixTokens(d), 48);
  ASSERT_TRUE(kv.Reserve(&b, 300));         // 19 blocks, 6 of them shared
  EXPECT_EQ(kv.used_blocks(), 13 + 13);
  kv.Release(&a);
  kv.Release(&b);
  EXPECT_EQ(kv.used_blocks(), 0);
  EXPECT_EQ(kv.evictable_blocks(), 6);      // the shared prefix stays cached
  ServingSequence e = Seq(5, 120, 7, 100);
  EXPECT_EQ(kv.CachedPrefixTokens(e), 96);
}

TEST(KvCacheTest, EvictsLeastRecentlyReleasedTailFirst) {
  // 8 blocks. Group 1 caches 4 blocks, then group 2 caches 4; a new 3-block request must
  // evict 3 of group 1's (released first), tail blocks first, so group 1 keeps its head.
  PagedKvCache kv(8, 16, true);
  ServingSequence a = Seq(1, 65, 1, 64), b = Seq(2, 65, 2, 64);
  ASSERT_TRUE(kv.Reserve(&a, 64));
  kv.Release(&a);
  ASSERT_TRUE(kv.Reserve(&b, 64));
  kv.Release(&b);
  EXPECT_EQ(kv.evictable_blocks(), 8);
  ServingSequence x = Seq(3, 48);
  ASSERT_TRUE(kv.Reserve(&x, 48));
  EXPECT_EQ(kv.evictions(), 3);
  EXPECT_EQ(kv.CachedPrefixTokens(Seq(4, 100, 1, 64)), 16);  // head block of group 1 survives
  EXPECT_EQ(kv.CachedPrefixTokens(Seq(5, 100, 2, 64)), 64);  // group 2 untouched
}

}  // namespace
}  // namespace echosim
