// End-to-end serving simulations: determinism, routers, prefix caching, disaggregation,
// outputs, and every kind of bad configuration as a clear error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "policies/request_router.h"
#include "simulator/serving/capacity_search.h"
#include "simulator/serving/serving_scenario.h"
#include "simulator/serving/serving_simulation.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

ServingConfig Base() {
  ServingConfig c;
  c.replica.model = *FindModelPreset("llama3-8b");
  c.replica.gpu = *FindGpuPreset("h100-sxm");
  c.replicas = 2;
  c.workload = "poisson:qps=20,input=lognormal:600:0.7:4000,output=lognormal:150:0.7:2000,requests=800";
  return c;
}

nlohmann::json WithoutWall(nlohmann::json j) {
  j.erase("sim_wall_s");
  return j;
}

TEST(ServingSimulationTest, SameSeedSameResultDifferentSeedDifferentResult) {
  auto a = RunServing(Base());
  auto b = RunServing(Base());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(WithoutWall(ServingSummaryJson(*a)).dump(), WithoutWall(ServingSummaryJson(*b)).dump());
  ServingConfig other = Base();
  other.workload_options.seed = 2;
  auto c = RunServing(other);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(ServingSummaryJson(*a)["ttft_s"].dump(), ServingSummaryJson(*c)["ttft_s"].dump());
}

TEST(ServingSimulationTest, EveryRouterAndSchedulerCompletesEveryRequest) {
  for (const std::string& router : RouterNames()) {
    for (const std::string& sched : {"vllm", "sarathi", "orca", "static", "vllm_v0"}) {
      ServingConfig c = Base();
      c.router = router;
      c.replica.scheduler = sched;
      c.replica.prefix_caching = true;
      c.workload = "poisson:qps=30,input=uniform:50:800,output=uniform:10:200,requests=300,prefix_groups=4,prefix_tokens=256";
      auto r = RunServing(c);
      ASSERT_TRUE(r.ok()) << router << " " << sched << ": " << r.status().ToString();
      EXPECT_EQ(r->metrics.completed(), 300) << router << " " << sched;
      EXPECT_GT(r->metrics.ttft().Percentile(50), 0);
    }
  }
}

TEST(ServingSimulationTest, PrefixCachingAndAffinityReuseSharedPrompts) {
  // 8 groups sharing a 1024-token system prompt: with prefix caching most of each prompt is
  // found in the cache; routing by prefix group keeps each group on one replica, so the hit
  // rate is higher than with round robin, and without caching nothing is reused.
  ServingConfig c = Base();
  c.replicas = 4;
  c.workload = "poisson:qps=20,input=fixed:1200,output=fixed:50,requests=600,prefix_groups=8,prefix_tokens=1024";
  auto off = RunServing(c);
  c.replica.prefix_caching = true;
  c.router = "round_robin";
  auto rr = RunServing(c);
  c.router = "prefix_affinity";
  auto aff = RunServing(c);
  ASSERT_TRUE(off.ok() && rr.ok() && aff.ok());
  const double hit_off = ServingSummaryJson(*off)["prefix_cache_hit_rate"];
  const double hit_rr = ServingSummaryJson(*rr)["prefix_cache_hit_rate"];
  const double hit_aff = ServingSummaryJson(*aff)["prefix_cache_hit_rate"];
  EXPECT_EQ(hit_off, 0.0);
  EXPECT_GT(hit_rr, 0.5);
  EXPECT_GE(hit_aff, hit_rr);
  EXPECT_LT(aff->metrics.ttft().mean(), off->metrics.ttft().mean());
}

TEST(ServingSimulationTest, DisaggregatedPoolsMoveKvOverTheNetwork) {
  ServingConfig c = Base();
  c.replicas = 0;
  c.prefill_replicas = 1;
  c.decode_replicas = 2;
  c.router = "least_outstanding";
  auto r = RunServing(c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metrics.completed(), 800);
  // Every request with more than one output token is transferred once.
  EXPECT_GT(r->kv_transfers, 700);
  // Transfer of a 600-token prompt's KV (32 layers x 2 x 8 heads x 128 x 2 bytes = 128 KiB
  // per token) over one 400 Gb/s NIC (47 GB/s): about 1.7 ms.
  const double mean = r->kv_transfer_s_sum / r->kv_transfers;
  EXPECT_GT(mean, 0.5e-3);
  EXPECT_LT(mean, 5e-3);
  const auto j = ServingSummaryJson(*r);
  EXPECT_EQ(j["prefill_replicas"], 1);
  EXPECT_EQ(j["gpus"], 3);
}

TEST(ServingSimulationTest, WritesRequestsTimeSeriesAndTimeline) {
  const fs::path dir = fs::temp_directory_path() / "echosim_serving_out";
  fs::remove_all(dir);
  ServingConfig c = Base();
  c.out_dir = dir.string();
  auto r = RunServing(c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::ifstream req(dir / "requests.csv");
  std::string line;
  int lines = 0;
  while (std::getline(req, line)) ++lines;
  EXPECT_EQ(lines, 801);  // header + one per request
  EXPECT_TRUE(fs::file_size(dir / "timeseries.csv") > 100);
  std::ifstream tl(dir / "timeline.json");
  std::stringstream ss;
  ss << tl.rdbuf();
  const auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_GT(j["traceEvents"].size(), 100u);
}

TEST(ServingSimulationTest, SloAttainmentAndGoodput) {
  ServingConfig c = Base();
  c.slo_ttft_ms = 1e6;
  c.slo_tpot_ms = 1e6;
  auto loose = RunServing(c);
  ASSERT_TRUE(loose.ok());
  EXPECT_DOUBLE_EQ(ServingSummaryJson(*loose)["slo_attainment"], 1.0);
  c.slo_ttft_ms = 50;  // p50 TTFT is above 50 ms at this load: many miss
  auto tight = RunServing(c);
  ASSERT_TRUE(tight.ok());
  const double att = ServingSummaryJson(*tight)["slo_attainment"];
  EXPECT_LT(att, 1.0);
  EXPECT_NEAR(ServingSummaryJson(*tight)["goodput_requests_per_s"].get<double>(),
              att * 800 / tight->simulated_s, 1e-9);
}

TEST(ServingSimulationTest, BadConfigurationsAreClearErrors) {
  struct Case {
    std::function<void(ServingConfig*)> change;
    std::string want;
  };
  const std::vector<Case> cases = {
      {[](ServingConfig* c) { c->replica.model = *FindModelPreset("llama3.1-405b"); },
       "the model does not fit: llama3.1-405b on 1 x h100-sxm"},
      {[](ServingConfig* c) { c->replica.inference.tp = 3; }, "--tp: model heads (32) are not divisible by tp = 3"},
      {[](ServingConfig* c) { c->replica.scheduler = "fifo"; },
       "--scheduler: unknown scheduler 'fifo'; valid schedulers: vllm, sarathi, orca, static, vllm_v0"},
      {[](ServingConfig* c) { c->router = "random"; },
       "--router: unknown router 'random'; valid routers: round_robin, least_outstanding, least_kv, prefix_affinity"},
      {[](ServingConfig* c) { c->workload = "poisson:qps=0,input=fixed:10,output=fixed:10,requests=3"; },
       "qps: the rate must be positive"},
      {[](ServingConfig* c) { c->slo_tpot_ms = 0.5; }, "--slo-tpot-ms 0.5 cannot be met: the fastest decode iteration"},
      {[](ServingConfig* c) { c->slo_ttft_ms = 0.1; }, "--slo-ttft-ms 0.1 cannot be met"},
      {[](ServingConfig* c) { c->slo_ttft_ms = -1; }, "--slo-ttft-ms must be a positive number"},
      {[](ServingConfig* c) { c->replica.kv_blocks = 10; }, "holds 160 tokens, fewer than one sequence of --max-model-len 8192"},
      {[](ServingConfig* c) { c->replica.gpu_memory_utilization = 1.5; }, "--gpu-memory-utilization must be in (0, 1]"},
      {[](ServingConfig* c) { c->prefill_replicas = 2; }, "--prefill-replicas and --decode-replicas go together"},
      {[](ServingConfig* c) { c->workload = "trace:/nonexistent/trace.csv"; }, "cannot open trace file"},
  };
  for (const Case& k : cases) {
    ServingConfig c = Base();
    k.change(&c);
    auto r = RunServing(c);
    ASSERT_FALSE(r.ok()) << k.want;
    EXPECT_NE(r.status().message().find(k.want), std::string::npos) << r.status().message();
    EXPECT_TRUE(r.status().code() == StatusCode::kInvalidArgument || r.status().code() == StatusCode::kNotFound)
        << r.status().ToString();
  }
}

TEST(ServingSimulationTest, LongPromptsAreRejectedNotLost) {
  // max_model_len 2048: prompts of 2048 tokens or more cannot run and are reported.
  ServingConfig c = Base();
  c.replica.max_model_len = 2048;
  c.workload = "poisson:qps=10,input=uniform:1000:3000,output=fixed:10,requests=200";
  auto r = RunServing(c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->metrics.rejected(), 50);
  EXPECT_EQ(r->metrics.completed() + r->metrics.rejected(), 200);
  EXPECT_EQ(r->metrics.rejections().count("prompt_exceeds_max_model_len"), 1u);
}

TEST(ServingScenarioTest, ScenarioFieldsBecomeTheConfig) {
  scenario::Scenario s;
  s.set_seed(9);
  s.mutable_cluster()->set_gpu("a100-80gb");
  s.mutable_parallelism()->set_tp(2);
  auto* v = s.mutable_workload()->mutable_serving();
  v->set_model("llama3-8b");
  v->set_replicas(3);
  v->set_scheduler("sarathi");
  v->set_workload("constant:qps=1,input=fixed:10,output=fixed:10,requests=2");
  auto c = ServingConfigFromScenario(s);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->replica.gpu.name, "a100-80gb");
  EXPECT_EQ(c->replica.inference.tp, 2);
  EXPECT_EQ(c->replicas, 3);
  EXPECT_EQ(c->workload_options.seed, 9u);
  s.mutable_parallelism()->set_vpp(2);
  EXPECT_FALSE(ServingConfigFromScenario(s).ok());
  s.mutable_parallelism()->set_vpp(1);
  v->set_model("deepseek-v3");  // latent attention: training only
  auto mla = ServingConfigFromScenario(s);
  ASSERT_FALSE(mla.ok());
  EXPECT_NE(mla.status().message().find("multi-head latent attention"), std::string::npos);
  scenario::Scenario training;
  training.mutable_workload()->mutable_training()->set_model("llama3-8b");
  auto not_serving = ServingConfigFromScenario(training);
  ASSERT_FALSE(not_serving.ok());
  EXPECT_NE(not_serving.status().message().find("workload.serving is not set"), std::string::npos);
}

TEST(CapacitySearchTest, FindsTheSmallestClusterMeetingTheSlos) {
  // Llama-3-8B at 30 req/s: one H100 replica saturates, so the search needs several; more
  // replicas than the answer also meet the SLO and fewer do not (checked directly).
  CapacitySearchOptions o;
  o.base = Base();
  o.base.workload = "poisson:qps=30,input=fixed:1000,output=fixed:200,requests=1500";
  o.base.slo_ttft_ms = 1000;
  o.base.slo_tpot_ms = 50;
  o.gpus = {"h100-sxm", "a100-80gb"};
  o.tps = {1, 2};
  o.schedulers = {"vllm"};
  o.max_replicas = 8;
  o.target_attainment = 0.95;
  o.usd_per_gpu_hour = {{"h100-sxm", 2.5}, {"a100-80gb", 1.5}};
  o.threads = 2;
  auto r = RunCapacitySearch(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->candidates.size(), 4u);
  const CapacityCandidate& best = r->candidates.front();
  ASSERT_TRUE(best.feasible);
  for (const CapacityCandidate& c : r->candidates) {
    if (c.feasible) EXPECT_GE(c.usd_per_hour, best.usd_per_hour);
  }
  ServingConfig check = o.base;
  check.replica.gpu = *FindGpuPreset(best.gpu);
  check.replica.inference.tp = best.tp;
  check.replicas = best.replicas;
  auto at = RunServing(check);
  ASSERT_TRUE(at.ok());
  EXPECT_GE(static_cast<double>(at->metrics.slo_met()) / at->metrics.arrived(), 0.95);
  if (best.replicas > 1) {
    check.replicas = best.replicas - 1;
    auto below = RunServing(check);
    ASSERT_TRUE(below.ok());
    EXPECT_LT(static_cast<double>(below->metrics.slo_met()) / below->metrics.arrived(), 0.95);
  }
  // Deterministic whatever the thread count.
  o.threads = 1;
  auto again = RunCapacitySearch(o);
  ASSERT_TRUE(again.ok());
  auto strip = [](nlohmann::json j) {
    j.erase("sim_wall_s");
    return j.dump();
  };
  EXPECT_EQ(strip(CapacitySearchJson(*r)), strip(CapacitySearchJson(*again)));
}

}  // namespace
}  // namespace echosim
