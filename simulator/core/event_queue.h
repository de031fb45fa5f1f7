// EventQueue: the pending-event set of the discrete-event engine.
//
// Contract:
// - Events are ordered by (time, sequence). The sequence number is assigned at
//   Push() from a per-queue counter, so events at equal time pop in the order
//   they were scheduled: every run is deterministic.
// - An Event is a 32-byte POD; the queue is an implicit 4-ary min-heap in one
//   std::vector, so Push/Pop allocate nothing once capacity is reached.
//   Push and Pop are O(log4 n).
#ifndef ECHOSIM_SIMULATOR_CORE_EVENT_QUEUE_H_
#define ECHOSIM_SIMULATOR_CORE_EVENT_QUEUE_H_

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

  void Reserve(size_t n) { heap_.reserve(n); }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // Earliest event; the queue must not be empty.
  const Event& Top() const {
    ECHOSIM_CHECK(!heap_.empty());
    return heap_.front();
  }

  // Inserts an event at `time`; returns the sequence number it was given.
  uint64_t Push(Time time, uint32_t kind, uint64_t payload, uint32_t aux = 0) {
    const uint64_t seq = next_sequence_++;
    heap_.push_back(Event{time, seq, payload, kind, aux});
    SiftUp(heap_.size() - 1);
    return seq;
  }

  // Removes and returns the earliest event; the queue must not be empty.
  Event Pop() {
    ECHOSIM_CHECK(!heap_.empty());
    Event top = heap_.front();
    Event last = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) SiftDown(0, last);
    return top;
  }

  void Clear() { heap_.clear(); }

 private:
  static bool Before(const Event& a, const Event& b) {
    return a.time < b.time || (a.time == b.time && a.sequence < b.sequence);
  }
  void SiftUp(size_t i) {
    Event e = heap_[i];
    while (i > 0) {
      size_t parent = (i - 1) >> 2;
      if (!Before(e, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = e;
  }
  void SiftDown(size_t i, const Event& e) {
    const size_t n = heap_.size();
    for (;;) {
      size_t first = 4 * i + 1;
      if (first >= n) break;
      size_t best = first;
      size_t end = first + 4 < n ? first + 4 : n;
      for (size_t c = first + 1; c < end; ++c) {
        if (Before(heap_[c], heap_[best])) best = c;
      }
      if (!Before(heap_[best], e)) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = e;
  }

  std::vector<Event> heap_;
  uint64_t next_sequence_ = 0;
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_CORE_EVENT_QUEUE_H_
