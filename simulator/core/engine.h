// Engine: the discrete-event loop.
//
// An ordinary object (never a singleton): Python or a sweep may hold many.
// Components register an EventHandler and receive a `kind` id; they schedule
// events of that kind and get them back through OnEvent(). No std::function and
// no allocation per event: an event is (time, kind, payload, aux).
// Determinism: equal-time events are delivered in the order they were scheduled.
#ifndef ECHOSIM_SIMULATOR_CORE_ENGINE_H_
#define ECHOSIM_SIMULATOR_CORE_ENGINE_H_

#include <cstdint>
#include <vector>

#include "simulator/core/event_queue.h"
#include "simulator/core/time.h"

namespace echosim {

class Engine;

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void OnEvent(Engine& engine, const Event& event) = 0;
};

class Engine {
 public:
  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Registers a handler (not owned; must outlive Run) and returns its kind id.
  uint32_t RegisterHandler(EventHandler* handler);

  Time Now() const { return now_; }
  // Schedules an event at absolute time `at` (must not be in the past).
  void ScheduleAt(Time at, uint32_t kind, uint64_t payload, uint32_t aux = 0) {
    ECHOSIM_CHECK(at >= now_);
    queue_.Push(at, kind, payload, aux);
  }
  void ScheduleAfter(Duration delay, uint32_t kind, uint64_t payload, uint32_t aux = 0) {
    ScheduleAt(now_ + delay, kind, payload, aux);
  }

  // Runs events in order until the queue is empty or the next event is after `until`.
  // Returns the number of events delivered by this call.
  uint64_t Run(Time until = kTimeInfinity);
  // Requests Run() to return after the current event.
  void Stop() { stop_ = true; }

  uint64_t events_processed() const { return events_processed_; }
  size_t pending() const { return queue_.size(); }
  void ReserveEvents(size_t n) { queue_.Reserve(n); }

 private:
  EventQueue queue_;
  std::vector<EventHandler*> handlers_;
  Time now_ = 0;
  uint64_t events_processed_ = 0;
  bool stop_ = false;
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_CORE_ENGINE_H_
