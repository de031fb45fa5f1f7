// Event-engine throughput. Target: >= 20 million schedule+pop operations per second on
// one core. "Hold" model (Jones 1986): the queue keeps `pending` events; each operation
// pops the earliest and schedules a new one a random delay later, the steady state of a
// discrete-event simulation. items_per_second counts schedule+pop pairs.
#include <benchmark/benchmark.h>

#include <random>

#include "simulator/core/engine.h"

namespace echosim {
namespace {

void BM_EventQueueHold(benchmark::State& state) {
  const int64_t pending = state.range(0);
  EventQueue q;
  q.Reserve(pending + 1);
  std::mt19937_64 rng(42);
  for (int64_t i = 0; i < pending; ++i) q.Push(static_cast<Time>(rng() % 1000000), 0, i);
  std::vector<uint32_t> delays(4096);
  for (auto& d : delays) d = static_cast<uint32_t>(rng() % 1000000);
  size_t k = 0;
  for (auto _ : state) {
    const Event e = q.Pop();
    q.Push(e.time + delays[k++ & 4095], 0, e.payload);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventQueueHold)->Arg(64)->Arg(1024)->Arg(16384)->Arg(262144);

class Counter : public EventHandler {
 public:
  explicit Counter(Engine* e) : kind_(e->RegisterHandler(this)) {}
  void OnEvent(Engine& e, const Event& ev) override {
    if (--left_ > 0) e.ScheduleAfter(1 + (ev.payload * 2654435761u) % 1000, kind_, ev.payload + 1);
  }
  uint32_t kind_;
  int64_t left_ = 0;
};

// Through the Engine: dispatch to a handler that schedules the next event.
void BM_EngineScheduleAndDispatch(benchmark::State& state) {
  const int64_t pending = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    Engine e;
    Counter c(&e);
    c.left_ = 1000000;
    for (int64_t i = 0; i < pending; ++i) e.ScheduleAt(i, c.kind_, i);
    state.ResumeTiming();
    e.Run();
    benchmark::DoNotOptimize(e.Now());
  }
  state.SetItemsProcessed(state.iterations() * 1000000);
}
BENCHMARK(BM_EngineScheduleAndDispatch)->Arg(64)->Arg(4096)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace echosim
