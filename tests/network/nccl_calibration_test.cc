// The calibration of the NCCL model: the YAML format, the least-squares fit (recovers parameters
// it generated data from) and the out-of-sample check the issue asks for: fit on the Echo A100
// nccl-tests logs of 1-16 GPUs, predict the 32-GPU log.
#include "simulator/network/nccl/nccl_calibration.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hardware/gpu_spec.h"
#include "simulator/network/nccl/collective_measurements.h"
#include "simulator/network/nccl/nccl_calibration_fit.h"
#include "simulator/network/nccl/nccl_model.h"

namespace echosim {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

std::string CollectivesDir() { return std::string(ECHOSIM_SOURCE_DIR) + "/../shared/data/measured/collectives"; }

NcclModel A100Model(int64_t gpus, NcclCalibration cal = {}) {
  NcclHardware hw;
  hw.sm_arch = 80;
  hw.nvlink_links = 12;
  hw.nvswitch = true;
  hw.pcie_gen = 4;
  hw.gpus_per_node = 8;
  hw.nics_per_node = 8;
  hw.nic_GBps = 25;
  auto m = NcclModel::FromHardware(hw, gpus, "2.18", std::move(cal));
  EXPECT_TRUE(m.ok()) << m.status().message();
  return *m;
}

TEST(NcclCalibrationTest, YamlRoundTrip) {
  NcclCalibration c;
  c.name = "nccl-test";
  c.description = "a \"quoted\" description";
  c.nccl_version = "2.21";
  c.default_for_gpus = {"a100-40gb"};
  c.fitted_on = {"x.log"};
  c.efficiency[0] = {0.5, 0.75, 0.9};
  c.efficiency[1] = {1.25, 0.625, 0.5};
  c.family_efficiency[{NcclDomain::kIntra, NcclFamily::kNvls, NcclProtocol::kSimple}] = 1.125;
  c.rank_share[0][2] = 0.375;
  c.fill[1][1] = 0.25;
  c.knee_bytes = 16 * kMiB;
  c.launch_us = {1.5, 2.5, 3.5};
  c.per_intra_step_us = {0.25, 0, 0};
  c.per_inter_step_us = {0, 0, 7.5};
  c.family_launch_us[{NcclFamily::kTree, NcclProtocol::kLl}] = -2.5;
  const std::string yaml = NcclCalibrationToYaml(c, "header line");
  auto back = ParseNcclCalibrationYaml(yaml, "rt.yaml");
  ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << yaml;
  EXPECT_EQ(back->name, c.name);
  EXPECT_EQ(back->description, c.description);
  EXPECT_EQ(back->efficiency, c.efficiency);
  EXPECT_EQ(back->family_efficiency, c.family_efficiency);
  EXPECT_EQ(back->rank_share, c.rank_share);
  EXPECT_EQ(back->fill, c.fill);
  EXPECT_EQ(back->knee_bytes, c.knee_bytes);
  EXPECT_EQ(back->launch_us, c.launch_us);
  EXPECT_EQ(back->per_inter_step_us, c.per_inter_step_us);
  EXPECT_EQ(back->family_launch_us, c.family_launch_us);
  EXPECT_EQ(NcclCalibrationToYaml(*back, "header line"), yaml);  // deterministic
}

TEST(NcclCalibrationTest, MalformedFilesNameTheField) {
  struct Case {
    const char* text;
    const char* needle;
  };
  for (const Case& c :
       {Case{"description: x\n", "missing field 'name'"}, Case{"name: a\nbogus: 1\n", "unknown key 'bogus'"},
        Case{"name: a\nbandwidth_efficiency: {intra: {LL: fast}}\n", "bandwidth_efficiency.intra.LL"},
        Case{"name: a\nbandwidth_efficiency: {intra: {LL: 0}}\n", "must be between"},
        Case{"name: a\nbandwidth_efficiency: {outer: {LL: 1}}\n", "unknown key 'outer'"},
        Case{"name: a\nfamily_bandwidth_efficiency: [{domain: intra, family: warp, protocol: LL, efficiency: 1}]\n",
             "unknown algorithm family 'warp'"},
        Case{"name: a\nrank_share: {intra: {Simple: -1}}\n", "rank_share.intra.Simple"},
        Case{"name: [\n", "malformed YAML"}}) {
    auto r = ParseNcclCalibrationYaml(c.text, "c.yaml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.needle), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("c.yaml"), std::string::npos);
  }
}

TEST(NcclCalibrationTest, IdentityIsNcclsFormulasOnRealLinkSpeeds) {
  // With every term at its default, time = NCCL's latency + S / (physical algorithm bandwidth).
  NcclModel m = A100Model(8);
  GroupShape g{8, 1, 8};
  auto d = m.Decide(NcclCollective::kAllReduce, 256 * kMiB, g);
  ASSERT_TRUE(d.ok());
  NcclCalibration id;
  EXPECT_TRUE(id.IsIdentity());
  EXPECT_DOUBLE_EQ(id.TimeUs(*d), d->nccl_latency_us + d->physical_bandwidth_time_us);
  // One A100 node: NCCL's 12 x 20 GB/s is exactly the 240 GB/s of NVLink, so both agree.
  EXPECT_DOUBLE_EQ(d->physical_bandwidth_time_us, d->nccl_bandwidth_time_us);
}

TEST(NcclCalibrationTest, FitRecoversTheParametersItGeneratedDataFrom) {
  // Synthetic measurements from a known calibration on 2-16 A100 (1-2 nodes), 64 KiB - 4 GiB:
  // the fit must reproduce those times (the parameters are identifiable up to trade-offs between
  // launch and per-step latency, so compare predictions, not parameters).
  NcclCalibration truth;
  truth.efficiency[0] = {0.8, 0.85, 0.95};
  truth.efficiency[1] = {0.9, 0.7, 0.65};
  truth.launch_us = {10, 20, 30};
  truth.per_inter_step_us = {5, 2, 1};
  NcclModel m = A100Model(16);
  std::vector<CollectiveSample> samples;
  for (auto [n, nodes] : std::vector<std::pair<int, int>>{{2, 1}, {4, 1}, {8, 1}, {16, 2}}) {
    for (double s = 65536; s <= 4.0 * 1024 * kMiB; s *= 4) {
      auto d = m.Decide(NcclCollective::kAllReduce, s, GroupShape{n, nodes, n / nodes});
      ASSERT_TRUE(d.ok());
      samples.push_back({NcclCollective::kAllReduce, n, nodes, s, truth.TimeUs(*d), "synthetic"});
    }
  }
  auto fit = FitNcclCalibration(m, samples);
  ASSERT_TRUE(fit.ok()) << fit.status().message();
  for (const SampleResult& r : fit->results)
    EXPECT_LT(std::abs(r.error), 0.01) << r.sample.bytes << " " << r.sample.ranks;
  EXPECT_LT(fit->calibration.fit.max_error_from_64mib, 0.01);
  // Efficiencies of protocols the data exercised come back (within the trade-off the ridge and
  // the rank_share / fill terms leave).
  EXPECT_NEAR(fit->calibration.Efficiency(NcclDomain::kIntra, NcclFamily::kRing, NcclProtocol::kSimple), 0.95, 0.05);
}

TEST(NcclCalibrationTest, FitNeedsData) {
  NcclModel m = A100Model(8);
  auto fit = FitNcclCalibration(m, {{NcclCollective::kAllReduce, 8, 1, 1 << 20, 50.0, "x"}});
  ASSERT_FALSE(fit.ok());
  EXPECT_NE(fit.status().message().find("need at least 3 samples"), std::string::npos);
  auto bad = EvaluateNcclCalibration(m, {}, {{NcclCollective::kAllReduce, 8, 1, 1 << 20, 0.0, "src:3"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("src:3"), std::string::npos);
}

// The committed default A100 calibration is the fit on the Echo logs of 1-16 GPUs; the 32-GPU
// log (4 nodes, a shape it never saw) is the hold-out. Thresholds are regression guards around
// the figures reported in README.md (22.6% worst from 1 MiB, 16.6% from 64 MiB when written).
TEST(NcclCalibrationTest, EchoHeldOutThirtyTwoGpus) {
  const std::string dir = CollectivesDir();
  if (!std::filesystem::exists(dir + "/echo-a100-nccl-tests/nccl_32.log")) GTEST_SKIP() << "no " << dir;
  auto cal = LoadNcclCalibration("hardware/calibration/nccl-a100.yaml");
  ASSERT_TRUE(cal.ok()) << cal.status().message();
  for (const std::string& f : cal->fitted_on)
    EXPECT_EQ(f.find("nccl_32"), std::string::npos) << "32 GPUs leaked into the fit";
  MeasuredSystem sys;
  sys.id = "echo-a100-holdout";
  sys.gpu = "a100-40gb";
  sys.gpus_per_node = 8;
  sys.nic_gbps = 200;
  sys.nccl_version = cal->nccl_version;
  sys.logs = {"echo-a100-nccl-tests/nccl_32.log"};
  sys.log_collective = NcclCollective::kAllReduce;
  auto samples = SamplesForSystem(sys, dir);
  ASSERT_TRUE(samples.ok()) << samples.status().message();
  auto model = ModelForSystem(sys, 32, *cal);
  ASSERT_TRUE(model.ok());
  auto results = EvaluateNcclCalibration(*model, *cal, *samples);
  ASSERT_TRUE(results.ok());
  const NcclFitSummary s = SummarizeResults(*results, kMiB);
  std::printf(
      "Echo A100 hold-out (fit 1-16 GPUs, predict 32): %d sizes, worst |err| from 1 MiB %.1f%%, "
      "from 64 MiB %.1f%%, rms %.1f%%\n",
      s.points, s.max_error_from_1mib * 100, s.max_error_from_64mib * 100, s.rms_error * 100);
  EXPECT_GE(s.points, 10);
  EXPECT_LE(s.max_error_from_1mib, 0.30);
  EXPECT_LE(s.max_error_from_64mib, 0.25);
}

// rows.max_nodes keeps a system to the rows of at most that many nodes: the b200 default
// calibration is fitted inside one AWS p6-b200 node, without the 4-node EFA rows.
TEST(NcclCalibrationTest, MaxNodesKeepsOneNodesRows) {
  const std::string head = R"(systems:
  - id: one-node
    gpu: b200
    gpus_per_node: 8
    nic_gbps: 400
    nccl_version: "2.27"
    calibration: x.yaml
)";
  auto ok = ParseMeasuredSystemsYaml(head + "    rows: {system: \"AWS p6-b200.48xlarge\", max_nodes: 1}\n", "s.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->systems[0].max_nodes, 1);
  for (const auto& [rows, needle] : std::vector<std::pair<std::string, std::string>>{
           {"{system: a, max_nodes: 0}", "rows.max_nodes must be a positive integer"},
           {"{system: a, max_nodes: 1.5}", "rows.max_nodes must be a positive integer"},
           {"{system: a, nodes: 1}", "unknown rows key 'nodes'; valid keys: collective, max_nodes"}}) {
    auto bad = ParseMeasuredSystemsYaml(head + "    rows: " + rows + "\n", "s.yaml");
    ASSERT_FALSE(bad.ok()) << rows;
    EXPECT_NE(bad.status().message().find(needle), std::string::npos) << bad.status().message();
  }

  const std::string dir = CollectivesDir();
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no " << dir;
  auto cat = LoadMeasuredSystems();
  ASSERT_TRUE(cat.ok()) << cat.status().message();
  const MeasuredSystem* all = FindMeasuredSystem(*cat, "aws-p6-b200");
  const MeasuredSystem* node = FindMeasuredSystem(*cat, "aws-p6-b200-node");
  ASSERT_NE(all, nullptr);
  ASSERT_NE(node, nullptr);
  std::vector<ExcludedRow> excluded;
  auto every = SamplesForSystem(*all, dir);
  auto inside = SamplesForSystem(*node, dir, &excluded);
  ASSERT_TRUE(every.ok() && inside.ok());
  int64_t multi = 0;
  for (const CollectiveSample& s : *every) multi += s.nodes > 1 ? 1 : 0;
  EXPECT_GT(multi, 0);
  EXPECT_EQ(inside->size() + static_cast<size_t>(multi), every->size());
  for (const CollectiveSample& s : *inside) EXPECT_EQ(s.nodes, 1) << s.source;
  EXPECT_TRUE(excluded.empty()) << "the 4-node rows are compared under aws-p6-b200, not unusable";
  auto cal = LoadNcclCalibration(node->calibration);
  ASSERT_TRUE(cal.ok()) << cal.status().message();
  EXPECT_EQ(cal->default_for_gpus, std::vector<std::string>{"b200"});
}

// The committed calibration files are what `echosim calibrate` produces today (a refit of the
// same measurements gives the same predictions).
TEST(NcclCalibrationTest, CommittedCalibrationsAreReproducible) {
  const std::string dir = CollectivesDir();
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no " << dir;
  auto cat = LoadMeasuredSystems();
  ASSERT_TRUE(cat.ok()) << cat.status().message();
  for (const MeasuredSystem& sys : cat->systems) {
    if (!sys.calibration_from.empty()) continue;  // fitted on another system
    auto committed = LoadNcclCalibration(sys.calibration);
    ASSERT_TRUE(committed.ok()) << committed.status().message();
    auto samples = SamplesForSystem(sys, dir);
    ASSERT_TRUE(samples.ok()) << samples.status().message();
    int64_t cluster = 1;
    for (const CollectiveSample& s : *samples) cluster = std::max({cluster, s.ranks, s.nodes * sys.gpus_per_node});
    auto model = ModelForSystem(sys, cluster, {});
    ASSERT_TRUE(model.ok());
    auto refit = FitNcclCalibration(*model, *samples);
    ASSERT_TRUE(refit.ok()) << sys.id << ": " << refit.status().message();
    auto old = EvaluateNcclCalibration(*model, *committed, *samples);
    ASSERT_TRUE(old.ok());
    for (size_t i = 0; i < old->size(); ++i) {
      EXPECT_NEAR((*old)[i].predicted_us / refit->results[i].predicted_us, 1.0, 1e-3)
          << sys.id << " " << (*old)[i].sample.source << ": regenerate " << sys.calibration;
    }
  }
}

}  // namespace
}  // namespace echosim
