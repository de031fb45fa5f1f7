// Whole-scenario scale: one GPT-3 175B training step on 1,024 H100 (TP8 PP8 VPP3 DP16,
// global batch 1,536). Targets on a 2-core development machine: the symmetric run
// (one rank per stage) in <= 0.5 s; every rank (--full) in <= 10 s and <= 4 GiB.
// Reports step_time_s, events and peak RSS as counters.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include "simulator/scenario/simulation.h"

namespace echosim {
namespace {

scenario::Scenario Gpt3(bool full) {
  scenario::Scenario s;
  s.mutable_cluster()->set_gpu("h100-sxm");
  s.mutable_cluster()->set_gpus(1024);
  auto* t = s.mutable_workload()->mutable_training();
  t->set_model("gpt3-175b");
  t->set_seq_len_tokens(2048);
  t->set_global_batch_seqs(1536);
  t->set_micro_batch_seqs(1);
  auto* p = s.mutable_parallelism();
  p->set_tp(8);
  p->set_pp(8);
  p->set_vpp(3);
  p->set_zero(1);
  p->set_sequence_parallel(true);
  p->set_recompute("selective");
  s.mutable_simulation()->set_full(full);
  return s;
}

void BM_Gpt3Step1024(benchmark::State& state) {
  const bool full = state.range(0) != 0;
  double step = 0;
  uint64_t events = 0;
  for (auto _ : state) {
    auto run = RunTrainingScenario(Gpt3(full));
    if (!run.ok()) {
      state.SkipWithError(run.status().message().c_str());
      return;
    }
    step = run->result.step_time_s;
    events = run->result.events;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  state.counters["step_time_s"] = step;
  state.counters["events"] = static_cast<double>(events);
  state.counters["peak_rss_gib"] = static_cast<double>(ru.ru_maxrss) / (1024.0 * 1024.0);
}
BENCHMARK(BM_Gpt3Step1024)->ArgName("full")->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->Iterations(3);

}  // namespace
}  // namespace echosim
