// EventQueue: the pending-event set of the discrete-event engine.
//
// Contract:
// - Events are ordered by (time, sequence); the sequence number is assigned at
//   Push() from a per-queue counter, so events at equal time pop in the order
//   they were scheduled: every run is deterministic.
// - A monotone radix heap (Ahuja, Mehlhorn, Orlin & Tarjan 1990): simulated time
//   never runs backwards, so an event is kept in bucket msb(time XOR last_popped)
//   and only the lowest non-empty bucket is ever re-sorted. Push is O(1); Pop is
//   O(1) amortised plus O(64) per bucket refill. Buckets are FIFO vectors, and two
//   events of equal time always share a bucket, so equal-time order is scheduling
//   order. Pushing a time earlier than the last popped one (only possible after
//   Run(until) stopped early) re-buckets everything once. An Event is a 32-byte
//   POD; no allocation once the buckets have grown.
#ifndef ECHOSIM_SIMULATOR_CORE_EVENT_QUEUE_H_
#define ECHOSIM_SIMULATOR_CORE_EVENT_QUEUE_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "simulator/core/status.h"
#include "simulator/core/time.h"

namespace echosim {

struct Event {
  Time time;
  uint64_t sequence;
  uint64_t payload;  // meaning defined by the handler of `kind`
  uint32_t kind;     // index of the handler registered with the Engine
  uint32_t aux;      // second small payload word (e.g. a rank)
};
static_assert(sizeof(Event) == 32, "Event must stay a small POD");

class EventQueue {
 public:
  EventQueue() = default;

  void Reserve(size_t n) { buckets_[0].reserve(n); }
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // Earliest event; the queue must not be empty.
  const Event& Top() {
    ECHOSIM_CHECK(size_ != 0);
    if (head_ == buckets_[0].size()) Refill();
    return buckets_[0][head_];
  }

  // Inserts an event at `time` (>= 0); returns the sequence number it was given.
  uint64_t Push(Time time, uint32_t kind, uint64_t payload, uint32_t aux = 0) {
    ECHOSIM_CHECK(time >= 0);
    const uint64_t seq = next_sequence_++;
    const Event e{time, seq, payload, kind, aux};
    if (static_cast<uint64_t>(time) < last_) Rebase(static_cast<uint64_t>(time));
    buckets_[BucketOf(static_cast<uint64_t>(time))].push_back(e);
    ++size_;
    return seq;
  }

  // Removes and returns the earliest event; the queue must not be empty.
  Event Pop() {
    ECHOSIM_CHECK(size_ != 0);
    if (head_ == buckets_[0].size()) Refill();
    --size_;
    return buckets_[0][head_++];
  }

  void Clear() {
    for (auto& b : buckets_) b.clear();
    head_ = 0;
    size_ = 0;
    last_ = 0;
  }

 private:
  static constexpr int kBuckets = 65;
  int BucketOf(uint64_t t) const { return t == last_ ? 0 : 64 - __builtin_clzll(t ^ last_); }

  // Bucket 0 is exhausted: move the lowest non-empty bucket down around its minimum.
  void Refill() {
    buckets_[0].clear();
    head_ = 0;
    int i = 1;
    while (buckets_[i].empty()) ++i;
    std::vector<Event>& b = buckets_[i];
    uint64_t m = static_cast<uint64_t>(b[0].time);
    for (const Event& e : b) m = std::min(m, static_cast<uint64_t>(e.time));
    last_ = m;
    for (const Event& e : b) buckets_[BucketOf(static_cast<uint64_t>(e.time))].push_back(e);
    b.clear();
  }

  // A time before the last popped one: re-bucket everything around it, keeping
  // (time, sequence) order within buckets.
  void Rebase(uint64_t t) {
    std::vector<Event> all;
    all.reserve(size_);
    all.insert(all.end(), buckets_[0].begin() + static_cast<std::ptrdiff_t>(head_), buckets_[0].end());
    for (int i = 1; i < kBuckets; ++i) all.insert(all.end(), buckets_[i].begin(), buckets_[i].end());
    std::stable_sort(all.begin(), all.end(), [](const Event& a, const Event& b) {
      return a.time != b.time ? a.time < b.time : a.sequence < b.sequence;
    });
    for (auto& b : buckets_) b.clear();
    head_ = 0;
    last_ = t;
    for (const Event& e : all) buckets_[BucketOf(static_cast<uint64_t>(e.time))].push_back(e);
  }

  std::vector<Event> buckets_[kBuckets];
  size_t head_ = 0;   // next unread event of bucket 0
  size_t size_ = 0;
  uint64_t last_ = 0; // key of the last refill: every pending time is >= last_
  uint64_t next_sequence_ = 0;
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_CORE_EVENT_QUEUE_H_
