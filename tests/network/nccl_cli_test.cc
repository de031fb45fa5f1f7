// The collective commands as a user runs them: `echosim collective`, `echosim calibrate`,
// `echosim validate-collectives` (exit codes, output shape, error messages).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct CliRun {
  int rc = -1;
  std::string out;  // stdout and stderr
};

CliRun Echosim(const std::string& args) {
  const std::string cmd = std::string(ECHOSIM_BINARY_DIR) + "/bin/echosim " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(NcclCliTest, CollectiveJsonHasEverySize) {
  CliRun r = Echosim(
      "collective --op all_reduce --gpu a100-40gb --gpus 64 --gpus-per-node 8 --nic-gbps 200 "
      "--nccl-version 2.18 --sizes 1K:16G --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_EQ(j["results"].size(), 25u);  // 2^10 .. 2^34, doubling
  const auto& last = j["results"][24];
  EXPECT_EQ(last["size_bytes"].get<int64_t>(), int64_t{16} << 30);
  for (const char* k : {"time_us", "algbw_gbps", "busbw_gbps", "algorithm", "protocol", "channels"}) {
    EXPECT_TRUE(last.contains(k)) << k;
  }
  // nccl-tests definitions: busbw = algbw * 2(n-1)/n for all_reduce.
  EXPECT_NEAR(last["busbw_gbps"].get<double>(), last["algbw_gbps"].get<double>() * 2 * 63 / 64, 0.01);
  EXPECT_EQ(j["nccl_version"], "2.18");
  EXPECT_EQ(j["nodes"], 8);
}

TEST(NcclCliTest, CollectiveTableLooksLikeNcclTests) {
  CliRun r = Echosim("collective --op all_gather --gpu h100-sxm --gpus 8 --sizes 1M:4M");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("#       size         count      type   redop    root     time   algbw   busbw"),
            std::string::npos);
  EXPECT_NE(r.out.find("     1048576        262144     float    none      -1"), std::string::npos) << r.out;
}

TEST(NcclCliTest, BadInputNamesTheProblem) {
  struct Case {
    const char* args;
    int rc;
    const char* needle;
  };
  for (const Case& c : {
           Case{"collective --op all_reduce --gpu a100-40gb --gpus 12 --gpus-per-node 8", 2,
                "not a multiple of --gpus-per-node"},
           Case{"collective --op all_reduce --gpu a100-40gb --gpus 8 --sizes 0", 2, "at least 1 byte"},
           Case{"collective --op all_reduce --gpu a100-40gb --gpus 8 --nccl-version 9.9", 2,
                "unknown NCCL version '9.9'"},
           Case{"collective --op allscatter --gpu a100-40gb --gpus 8", 2, "unknown collective 'allscatter'"},
           Case{"collective --op all_reduce --gpu a100-40gb --gpus 8 --algorithm warp", 2, "unknown algorithm 'warp'"},
           Case{"collective --op all_reduce --gpu a100-40gb --gpus 8 --protocol LL64", 2, "unknown protocol 'LL64'"},
           Case{"collective --op all_reduce --gpu a100-40gb --gpus 8 --algorithm nvls", 1, "NVLS needs Hopper"},
           Case{"collective --op all_reduce --gpu z100 --gpus 8", 2, "unknown gpu 'z100'"},
           Case{"collective --op all_reduce --gpu a100-40gb", 2, "--gpus is required"},
           Case{"calibrate nccl-tests /nonexistent.log --out /dev/null", 2, "cannot read '/nonexistent.log'"},
           Case{"calibrate sideways x --out y", 2, "unknown calibration source 'sideways'"},
           Case{"calibrate measured --system nope --data-dir . --out /dev/null", 2, "unknown system 'nope'"},
       }) {
    CliRun r = Echosim(c.args);
    EXPECT_EQ(r.rc, c.rc) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.needle), std::string::npos) << c.args << "\n" << r.out;
  }
}

TEST(NcclCliTest, CalibrateRejectsAMalformedLogAndFitsAGoodOne) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "echosim_nccl_cli_test";
  std::filesystem::create_directories(dir);
  const std::string header =
      "#  Rank  0 Pid 1 on a device 0 [0x00] A100-SXM4-40GB\n#  Rank  1 Pid 2 on a device 1 [0x00] A100-SXM4-40GB\n"
      "#       size         count      type   redop     time   algbw   busbw  error     time   algbw   busbw  error\n";
  {
    std::ofstream bad(dir / "bad.log");
    bad << header << "     1048576        262144     float     sum    20.0    52.4\n";
  }
  CliRun r = Echosim("calibrate nccl-tests " + (dir / "bad.log").string() + " --op all_reduce --out " +
                     (dir / "o.yaml").string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("bad.log:4: truncated result row"), std::string::npos) << r.out;
  {
    std::ofstream good(dir / "good.log");
    good << header;
    // 2 GPUs at ~200 GB/s bus bandwidth plus 10 us.
    for (double s = 65536; s <= 1073741824.0; s *= 2) {
      const double t = 10 + s / 200e3;
      char line[256];
      std::snprintf(line, sizeof(line), "%12.0f %12.0f float sum %8.2f %6.2f %6.2f N/A %8.2f %6.2f %6.2f N/A\n", s,
                    s / 4, t, s / t / 1e3, s / t / 1e3, t, s / t / 1e3, s / t / 1e3);
      good << line;
    }
    good << "# Avg bus bandwidth : 1\n";
  }
  r = Echosim("calibrate nccl-tests " + (dir / "good.log").string() + " --op all_reduce --nccl-version 2.18 --out " +
              (dir / "o.yaml").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("calibration o:"), std::string::npos) << r.out;
  CliRun use = Echosim("collective --op all_reduce --gpu a100-40gb --gpus 2 --sizes 1G --calibration " +
                       (dir / "o.yaml").string() + " --json");
  ASSERT_EQ(use.rc, 0) << use.out;
  const auto j = nlohmann::json::parse(use.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  // The fitted model reproduces the synthetic 200 GB/s at 1 GiB within a few percent.
  EXPECT_NEAR(j["results"][0]["busbw_gbps"].get<double>() / (1073741824.0 / (10 + 1073741824.0 / 200e3) / 1e3), 1.0,
              0.05);
  std::filesystem::remove_all(dir);
}

TEST(NcclCliTest, ValidateCollectivesPrintsEverySystem) {
  const std::string dir = std::string(ECHOSIM_SOURCE_DIR) + "/../shared/data/measured/collectives";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no " << dir;
  CliRun r = Echosim("validate-collectives --data-dir " + dir);
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const char* s : {"echo-a100", "azure-nd-h100-v5", "aws-p6-b200", "Not compared", "overall: PASS",
                        "EP token dispatch and combine", "arXiv 2603.07685", "flex dispatcher traffic factor"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  }
  // --json carries the EP section: 32 published cells with the prediction of each.
  CliRun j = Echosim("validate-collectives --json --data-dir " + dir);
  ASSERT_EQ(j.rc, 0) << j.out;
  const auto out = nlohmann::json::parse(j.out, nullptr, false);
  ASSERT_FALSE(out.is_discarded()) << j.out;
  ASSERT_EQ(out["ep_dispatch"]["rows"].size(), 32u);
  for (const auto& row : out["ep_dispatch"]["rows"]) {
    EXPECT_GT(row["predicted_us"].get<double>(), 0);
    EXPECT_GT(row["measured_us"].get<double>(), 0);
  }
  EXPECT_GT(out["ep_dispatch"]["flex_dispatch_traffic_factor_fitted"].get<double>(), 0);
  CliRun missing = Echosim("validate-collectives --data-dir /nonexistent-dir");
  EXPECT_NE(missing.rc, 0);
  EXPECT_NE(missing.out.find("/nonexistent-dir"), std::string::npos) << missing.out;
}

}  // namespace
