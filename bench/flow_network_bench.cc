// Contention solver: 10,000 concurrent flows on a 1,024-GPU two-tier fabric (NIC links
// per GPU, leaf up/down links), re-solved from scratch. Target: <= 10 ms per solve.
// Also the incremental case: one flow starting in a loaded network.
#include <benchmark/benchmark.h>

#include <random>

#include "simulator/core/flow_network.h"

namespace echosim {
namespace {

FlowNetwork Fabric(int gpus, int leaves, std::vector<FlowId>* flows, int nflows) {
  FlowNetwork n;
  for (int g = 0; g < gpus; ++g) {
    n.AddLink(50e9);  // nic out
    n.AddLink(50e9);  // nic in
  }
  for (int l = 0; l < leaves; ++l) {
    n.AddLink(3.2e12);  // leaf up
    n.AddLink(3.2e12);  // leaf down
  }
  std::mt19937 rng(7);
  const int per_leaf = gpus / leaves;
  for (int i = 0; i < nflows; ++i) {
    const int src = static_cast<int>(rng() % gpus), dst = static_cast<int>(rng() % gpus);
    std::vector<LinkUse> path = {{static_cast<LinkId>(2 * src), 1}, {static_cast<LinkId>(2 * dst + 1), 1}};
    if (src / per_leaf != dst / per_leaf) {
      path.push_back({static_cast<LinkId>(2 * gpus + 2 * (src / per_leaf)), 1});
      path.push_back({static_cast<LinkId>(2 * gpus + 2 * (dst / per_leaf) + 1), 1});
    }
    flows->push_back(n.AddFlow(path, 40e9));
  }
  return n;
}

void BM_SolveAll10kFlows(benchmark::State& state) {
  std::vector<FlowId> flows;
  FlowNetwork n = Fabric(1024, 16, &flows, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    n.SolveAll();
    benchmark::DoNotOptimize(n.rate(flows[0]));
  }
  state.counters["flows"] = static_cast<double>(flows.size());
}
BENCHMARK(BM_SolveAll10kFlows)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_AddRemoveOneFlow(benchmark::State& state) {
  std::vector<FlowId> flows;
  FlowNetwork n = Fabric(1024, 16, &flows, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    FlowId f = n.AddFlow({{0, 1}, {3, 1}}, 40e9);
    n.RemoveFlow(f);
  }
}
BENCHMARK(BM_AddRemoveOneFlow)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace echosim
