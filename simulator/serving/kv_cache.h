// PagedKvCache: a replica's KV cache in fixed-size blocks (PagedAttention, Kwon et al.
// SOSP'23), with optional automatic prefix caching as vLLM V1 does it:
//   - a full block whose tokens are shared content of a prefix group is identified by the
//     hash of (group, block index) (vLLM hashes the token ids of the block and its parent;
//     echosim's requests carry no token ids, so the group stands for the shared content);
//   - a released block that holds shared content is not cleared: it becomes evictable and
//     stays findable until the allocator needs it; evictable blocks are reused least
//     recently released first, and a sequence's blocks are released last-block-first so the
//     tail of a prefix is evicted before its head (vLLM's FreeKVCacheBlockQueue);
//   - a sequence's block is registered under its hash when allocated (vLLM registers it once
//     computed, one iteration later; the difference only matters for two requests of a new
//     group admitted in the same iteration).
// Without prefix caching only counts are kept: O(1) per Reserve/Release, no block ids.
// Memory: O(total blocks). Deterministic.
#ifndef ECHOSIM_SIMULATOR_SERVING_KV_CACHE_H_
#define ECHOSIM_SIMULATOR_SERVING_KV_CACHE_H_

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "policies/batch_scheduler.h"

namespace echosim {

class PagedKvCache : public KvBlockPool {
 public:
  PagedKvCache(int64_t total_blocks, int32_t block_size_tokens, bool prefix_caching);

  int64_t total_blocks() const override { return total_; }
  int64_t free_blocks() const override {
    return prefix_caching_ ? static_cast<int64_t>(free_list_.size()) + lru_size_ : free_;
  }
  int32_t block_size_tokens() const override { return block_size_; }
  int32_t CachedPrefixTokens(const ServingSequence& seq) override;
  bool Reserve(ServingSequence* seq, int32_t tokens) override;
  void Release(ServingSequence* seq) override;

  bool prefix_caching() const { return prefix_caching_; }
  int64_t used_blocks() const { return total_ - free_blocks(); }
  // Blocks holding cached content that no sequence uses (part of free_blocks()).
  int64_t evictable_blocks() const { return lru_size_; }
  int64_t evictions() const { return evictions_; }

 private:
  static constexpr int32_t kNone = -1;
  struct Block {
    uint64_t hash = 0;  // 0 = no cached content
    int32_t refs = 0;
    int32_t prev = kNone, next = kNone;  // LRU list of evictable blocks
  };
  static uint64_t BlockHash(uint64_t group, int64_t index);
  // Hit blocks of `seq`'s prefix, in order (stops at the first miss).
  int32_t HitBlocks(const ServingSequence& seq, std::vector<int32_t>* ids);
  void LruRemove(int32_t b);
  void LruPushBack(int32_t b);
  int32_t TakeBlock();

  int64_t total_;
  int32_t block_size_;
  bool prefix_caching_;
  int64_t free_ = 0;  // counts-only mode
  // Prefix-caching mode.
  std::vector<Block> blocks_;
  std::vector<int32_t> free_list_;
  int32_t lru_head_ = kNone, lru_tail_ = kNone;
  int64_t lru_size_ = 0;
  int64_t evictions_ = 0;
  std::unordered_map<uint64_t, int32_t> by_hash_;
  std::vector<int32_t> scratch_;
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SERVING_KV_CACHE_H_
