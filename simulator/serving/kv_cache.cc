#include "simulator/serving/kv_cache.h"

#include <algorithm>

namespace echosim {

PagedKvCache::PagedKvCache(int64_t total_blocks, int32_t block_size_tokens, bool prefix_caching)
    : total_(total_blocks), block_size_(block_size_tokens), prefix_caching_(prefix_caching) {
  ECHOSIM_CHECK(total_blocks > 0 && block_size_tokens > 0);
  free_ = total_blocks;
  if (prefix_caching_) {
    ECHOSIM_CHECK(total_blocks < (int64_t{1} << 31));
    blocks_.resize(static_cast<size_t>(total_blocks));
    free_list_.reserve(static_cast<size_t>(total_blocks));
    // Stack order: block 0 is handed out first.
    for (int64_t b = total_blocks - 1; b >= 0; --b) free_list_.push_back(static_cast<int32_t>(b));
    by_hash_.reserve(static_cast<size_t>(total_blocks));
  }
}

uint64_t PagedKvCache::BlockHash(uint64_t group, int64_t index) {
  uint64_t x = group ^ (static_cast<uint64_t>(index) * 0x9e3779b97f4a7c15ULL);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x == 0 ? 1 : x;
}

int32_t PagedKvCache::HitBlocks(const ServingSequence& seq, std::vector<int32_t>* ids) {
  ids->clear();
  if (!prefix_caching_ || seq.prefix_group == 0) return 0;
  // Full blocks of shared content, leaving at least one token of the sequence to compute.
  const int64_t limit_tokens = std::min<int64_t>(seq.prefix_tokens, seq.num_tokens() - 1);
  const int64_t max_blocks = limit_tokens / block_size_;
  for (int64_t i = 0; i < max_blocks; ++i) {
    auto it = by_hash_.find(BlockHash(seq.prefix_group, i));
    if (it == by_hash_.end()) break;
    ids->push_back(it->second);
  }
  return static_cast<int32_t>(ids->size());
}

int32_t PagedKvCache::CachedPrefixTokens(const ServingSequence& seq) {
  if (seq.blocks != 0) return 0;
  return HitBlocks(seq, &scratch_) * block_size_;
}

void PagedKvCache::LruRemove(int32_t b) {
  Block& blk = blocks_[b];
  if (blk.prev != kNone) blocks_[blk.prev].next = blk.next; else lru_head_ = blk.next;
  if (blk.next != kNone) blocks_[blk.next].prev = blk.prev; else lru_tail_ = blk.prev;
  blk.prev = blk.next = kNone;
  --lru_size_;
}

void PagedKvCache::LruPushBack(int32_t b) {
  Block& blk = blocks_[b];
  blk.prev = lru_tail_;
  blk.next = kNone;
  if (lru_tail_ != kNone) blocks_[lru_tail_].next = b; else lru_head_ = b;
  lru_tail_ = b;
  ++lru_size_;
}

int32_t PagedKvCache::TakeBlock() {
  if (!free_list_.empty()) {
    const int32_t b = free_list_.back();
    free_list_.pop_back();
    return b;
  }
  // Evict the least recently released cached block.
  const int32_t b = lru_head_;
  ECHOSIM_CHECK(b != kNone);
  LruRemove(b);
  by_hash_.erase(blocks_[b].hash);
  blocks_[b].hash = 0;
  ++evictions_;
  return b;
}

bool PagedKvCache::Reserve(ServingSequence* seq, int32_t tokens) {
  const int32_t want = BlocksFor(tokens);
  if (!prefix_caching_) {
    const int64_t need = want - seq->blocks;
    if (need <= 0) return true;
    if (need > free_) return false;
    free_ -= need;
    seq->blocks = want;
    return true;
  }
  int32_t hits = 0;
  int64_t hits_evictable = 0;
  if (seq->blocks == 0) {
    hits = HitBlocks(*seq, &scratch_);
    for (int32_t b : scratch_) hits_evictable += blocks_[b].refs == 0 ? 1 : 0;
  }
  const int64_t need_new = std::max<int64_t>(0, want - seq->blocks - hits);
  if (need_new > free_blocks() - hits_evictable) return false;
  for (int32_t i = 0; i < hits; ++i) {
    const int32_t b = scratch_[i];
    if (blocks_[b].refs++ == 0) LruRemove(b);
    seq->block_table.push_back(b);
  }
  seq->blocks += hits;
  for (int64_t i = 0; i < need_new; ++i) {
    const int32_t b = TakeBlock();
    blocks_[b].refs = 1;
    const int64_t index = seq->blocks;
    if (seq->prefix_group != 0 && (index + 1) * block_size_ <= seq->prefix_tokens) {
      const uint64_t h = BlockHash(seq->prefix_group, index);
      if (by_hash_.emplace(h, b).second) blocks_[b].hash = h;
    }
    seq->block_table.push_back(b);
    ++seq->blocks;
  }
  return true;
}

void PagedKvCache::Release(ServingSequence* seq) {
  if (!prefix_caching_) {
    free_ += seq->blocks;
    seq->blocks = 0;
    return;
  }
  for (auto it = seq->block_table.rbegin(); it != seq->block_table.rend(); ++it) {
    const int32_t b = *it;
    Block& blk = blocks_[b];
    ECHOSIM_CHECK(blk.refs > 0);
    if (--blk.refs == 0) {
      if (blk.hash != 0) {
        LruPushBack(b);
      } else {
        free_list_.push_back(b);
      }
    }
  }
  seq->block_table.clear();
  seq->blocks = 0;
}

}  // namespace echosim
