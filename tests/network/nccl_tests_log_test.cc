// Parsers of measured collectives (simulator/network/nccl/nccl_tests_log.h): well-formed inputs
// in every layout nccl-tests has printed, and malformed ones (truncated, other columns, bad
// numbers) that must give an error naming the problem.
#include "simulator/network/nccl/nccl_tests_log.h"

#include <gtest/gtest.h>

namespace echosim {
namespace {

// The layout of nccl-tests 2.13 (no root column), with mpirun tags and an NCCL INFO line.
constexpr const char* kOldText =
    R"([1,0]<stdout>:# nThread 1 nGpus 1 minBytes 1024 maxBytes 4096 step: 2(factor) warmup iters: 5 iters: 20 validation: 0
[1,0]<stdout>:#
[1,0]<stdout>:# Using devices
[1,0]<stdout>:#   Rank  0 Pid  100 on node-a device  0 [0x00] A100-SXM4-40GB
[1,0]<stdout>:#   Rank  1 Pid  101 on node-a device  1 [0x00] A100-SXM4-40GB
[1,0]<stdout>:#   Rank  2 Pid  200 on node-b device  0 [0x00] A100-SXM4-40GB
[1,0]<stdout>:#   Rank  3 Pid  201 on node-b device  1 [0x00] A100-SXM4-40GB
[1,0]<stdout>:#
[1,0]<stdout>:#                                                       out-of-place                       in-place
[1,0]<stdout>:#       size         count      type   redop     time   algbw   busbw  error     time   algbw   busbw  error
[1,0]<stdout>:#        (B)    (elements)                       (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
[1,0]<stdout>:        1024           256     float     sum    20.00    0.05    0.08    N/A    21.00    0.05    0.07    N/A
node-a:100:100 [0] NCCL INFO comm 0x1 rank 0 nranks 4 - Init COMPLETE
[1,0]<stdout>:        2048           512     float     sum    22.00    0.09    0.14    N/A    22.50    0.09    0.14    N/A
[1,0]<stdout>:        4096          1024     float     sum    24.00    0.17    0.26    N/A    24.10    0.17    0.25    N/A
[1,0]<stdout>:# Out of bounds values : 0 OK
[1,0]<stdout>:# Avg bus bandwidth    : 0.15
)";

// The layout of nccl-tests 2.17+ (root column, #wrong, program name and NCCL version lines).
constexpr const char* kNewText = R"(# nccl-tests version 2.17.1 nccl-headers=22703 nccl-library=22703
# Collective test starting: all_gather_perf
# nThread 1 nGpus 8 minBytes 1048576 maxBytes 2097152 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0 unalign: 0
#
# Using devices
#  Rank  0 Group  0 Pid   1000 on      host1 device  0 [0000:18:00] NVIDIA H100 80GB HBM3
#  Rank  1 Group  0 Pid   1000 on      host1 device  1 [0000:2a:00] NVIDIA H100 80GB HBM3
#
#                                                              out-of-place                       in-place
#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong
#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
     1048576        131072     float    none      -1    20.50   51.15   25.58      0    20.10   52.17   26.08      0
     2097152        262144     float    none      -1    30.00   69.91   34.95      0    29.90   70.14   35.07      0
# Out of bounds values : 0 OK
# Avg bus bandwidth    : 30.4
#
# Collective test concluded: all_gather_perf
)";

constexpr const char* kJson =
    R"({"version": 3, "start_time": "2025-01-01 00:00:00", "args": ["./build/all_reduce_perf", "-b", "1M"],
 "env": [], "nccl_version": 22105,
 "config": {"nthreads": 1, "ngpus": 2, "minimum_bytes": 1048576, "maximum_bytes": 2097152, "step_factor": 2,
   "devices": [{"rank": 0, "group": 0, "pid": 1, "hostname": "h1", "device": 0, "device_hex": "0000:18:00", "device_info": "NVIDIA H200"},
               {"rank": 1, "group": 0, "pid": 1, "hostname": "h1", "device": 1, "device_hex": "0000:2a:00", "device_info": "NVIDIA H200"}]},
 "results": [
   {"size": 1048576, "count": 262144, "type": "float", "redop": "sum", "root": "    -1",
    "out_of_place": {"time": 25.0, "alg_bw": 41.9, "bus_bw": 41.9, "nwrong": 0}, "in_place": {"time": 24.0, "alg_bw": 43.7, "bus_bw": 43.7, "nwrong": 0},
    "actual_iterations": 20, "experiment_name": ""},
   {"size": 2097152, "count": 524288, "type": "float", "redop": "sum", "root": "    -1",
    "out_of_place": {"time": 40.0, "alg_bw": 52.4, "bus_bw": 52.4, "nwrong": null}, "in_place": null,
    "actual_iterations": 20, "experiment_name": ""}],
 "out_of_bounds": {"count": 0, "okay": true}})";

TEST(NcclTestsLogTest, OldTextLayoutWithTagsAndDebugLines) {
  auto log = ParseNcclTestsLog(kOldText, "old.log");
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->format, "text");
  EXPECT_EQ(log->ranks, 4);
  EXPECT_EQ(log->nodes, 2);
  EXPECT_EQ(log->device_name, "A100-SXM4-40GB");
  EXPECT_FALSE(log->collective.has_value());  // old logs do not name the program
  ASSERT_EQ(log->rows.size(), 3u);
  EXPECT_DOUBLE_EQ(log->rows[1].size_bytes, 2048);
  EXPECT_DOUBLE_EQ(log->rows[1].oop_time_us, 22.0);
  EXPECT_DOUBLE_EQ(log->rows[2].ip_busbw_GBps, 0.25);
  EXPECT_EQ(log->rows[0].line, 12);
}

TEST(NcclTestsLogTest, NewTextLayoutNamesProgramAndVersion) {
  auto log = ParseNcclTestsLog(kNewText, "new.log");
  ASSERT_TRUE(log.ok()) << log.status().message();
  ASSERT_TRUE(log->collective.has_value());
  EXPECT_EQ(*log->collective, NcclCollective::kAllGather);
  EXPECT_EQ(log->nccl_version, "2.27");
  EXPECT_EQ(log->ranks, 2);
  EXPECT_EQ(log->nodes, 1);
  EXPECT_EQ(log->device_name, "NVIDIA H100 80GB HBM3");
  ASSERT_EQ(log->rows.size(), 2u);
  EXPECT_DOUBLE_EQ(log->rows[0].oop_busbw_GBps, 25.58);
  EXPECT_EQ(*GpuPresetForDevice(log->device_name), "h100-sxm");
}

TEST(NcclTestsLogTest, JsonOutput) {
  auto log = ParseNcclTestsLog(kJson, "run.json");
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->format, "json");
  EXPECT_EQ(*log->collective, NcclCollective::kAllReduce);
  EXPECT_EQ(log->nccl_version, "2.21");
  EXPECT_EQ(log->ranks, 2);
  EXPECT_EQ(log->nodes, 1);
  ASSERT_EQ(log->rows.size(), 2u);
  EXPECT_DOUBLE_EQ(log->rows[1].oop_time_us, 40.0);
}

TEST(NcclTestsLogTest, TruncatedRowIsAnError) {
  std::string text = kOldText;
  text = text.substr(0, text.find("    24.10"));  // cut inside the last row
  auto log = ParseNcclTestsLog(text, "cut.log");
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("cut.log:15: truncated result row"), std::string::npos)
      << log.status().message();
}

TEST(NcclTestsLogTest, MissingFooterIsReportedAsTruncation) {
  std::string text = kOldText;
  text = text.substr(0, text.find("[1,0]<stdout>:# Out of bounds"));
  auto log = ParseNcclTestsLog(text, "cut.log");
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("truncated"), std::string::npos);
  EXPECT_NE(log.status().message().find("Avg bus bandwidth"), std::string::npos);
}

TEST(NcclTestsLogTest, OtherColumnsAreRejectedWithTheExpectedOnes) {
  std::string text = kOldText;
  const std::string header = "size         count      type   redop     time   algbw   busbw  error";
  text.replace(text.find(header), header.size(),
               "size         count      type   redop     time   latency busbw  error");
  auto log = ParseNcclTestsLog(text, "cols.log");
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("unexpected nccl-tests columns"), std::string::npos);
  EXPECT_NE(log.status().message().find("expected 'size count type redop time algbw busbw"), std::string::npos);
}

TEST(NcclTestsLogTest, BadNumbersAndMissingHeader) {
  std::string text = kOldText;
  text.replace(text.find("22.00"), 5, "22.x0");
  auto log = ParseNcclTestsLog(text, "num.log");
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("num.log:14: column 'out-of-place time'"), std::string::npos)
      << log.status().message();

  auto no_header =
      ParseNcclTestsLog("        1024   256  float  sum  1 2 3 N/A 1 2 3 N/A\n# Avg bus bandwidth : 1\n", "h.log");
  ASSERT_FALSE(no_header.ok());
  EXPECT_NE(no_header.status().message().find("before the '# size count type ...' column header"), std::string::npos);

  auto empty = ParseNcclTestsLog("hello\n", "e.log");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no nccl-tests result rows"), std::string::npos);
}

TEST(NcclTestsLogTest, MalformedJson) {
  const std::string json = kJson;
  auto cut = ParseNcclTestsLog(json.substr(0, json.size() / 2), "cut.json");
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.status().message().find("malformed JSON"), std::string::npos);
  auto no_results = ParseNcclTestsLog(R"({"version": 3})", "r.json");
  ASSERT_FALSE(no_results.ok());
  EXPECT_NE(no_results.status().message().find("missing 'results'"), std::string::npos);
  auto bad_type = ParseNcclTestsLog(R"({"results": [{"size": "big", "count": 1}]})", "t.json");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("results[0]: missing number 'size'"), std::string::npos);
  auto no_timing = ParseNcclTestsLog(R"({"results": [{"size": 1, "count": 1}]})", "n.json");
  ASSERT_FALSE(no_timing.ok());
  EXPECT_NE(no_timing.status().message().find("neither 'out_of_place' nor 'in_place'"), std::string::npos);
}

TEST(VidurCsvTest, ParsesAndRejects) {
  const std::string good =
      ",time_stats.all_reduce.min,time_stats.all_reduce.max,time_stats.all_reduce.mean,time_stats.all_reduce.median,"
      "time_stats.all_reduce.std,rank,num_workers,size,collective,devices_per_node,max_devices_per_node\n"
      "0,0.03,0.07,0.05,0.043,0.01,0,2,2048,all_reduce,1,8\n"
      "1,0.04,0.07,0.05,0.056,0.01,0,8,10240,all_reduce,8,8\n";
  auto rows = ParseVidurCsv(good, "v.csv");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_DOUBLE_EQ((*rows)[0].median_ms, 0.043);
  EXPECT_EQ((*rows)[1].workers, 8);
  auto missing = ParseVidurCsv("a,b\n1,2\n", "v.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing column 'num_workers'"), std::string::npos);
  std::string short_row = good + "2,0.1,0.2\n";
  auto s = ParseVidurCsv(short_row, "v.csv");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("v.csv:4: 3 fields, the header has 12"), std::string::npos)
      << s.status().message();
  std::string bad = good;
  bad.replace(bad.find("0.056"), 5, "fast!");
  auto b = ParseVidurCsv(bad, "v.csv");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("time_stats.all_reduce.median"), std::string::npos);
  std::string coll = good;
  coll.replace(coll.rfind("all_reduce"), 10, "all_shuffle");
  auto c = ParseVidurCsv(coll, "v.csv");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("unknown collective 'all_shuffle'"), std::string::npos);
}

TEST(MeasuredBusbwCsvTest, QuotedFieldsAndBadRows) {
  const std::string header =
      "# comment\nsource,system,gpu,n_gpus,n_nodes,interconnect,nccl_version,tool,collective,algorithm,dtype,msg_bytes,"
      "time_us,algbw_GBps,busbw_GBps,notes\n";
  auto ok = ParseMeasuredBusbwCsv(
      header + "src,\"A, B\",H100,8,1,x,2.18,t,all_reduce,ring,,1024,,,0.5,\"say \"\"hi\"\"\"\n", "m.csv");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ((*ok)[0].system, "A, B");
  EXPECT_EQ((*ok)[0].notes, "say \"hi\"");
  auto quote = ParseMeasuredBusbwCsv(header + "src,\"unterminated,H100\n", "m.csv");
  ASSERT_FALSE(quote.ok());
  EXPECT_NE(quote.status().message().find("m.csv:3: unterminated quoted field"), std::string::npos);
  auto fields = ParseMeasuredBusbwCsv(header + "a,b,c\n", "m.csv");
  ASSERT_FALSE(fields.ok());
  EXPECT_NE(fields.status().message().find("3 fields, expected 16"), std::string::npos);
  auto cols = ParseMeasuredBusbwCsv("x,y\n", "m.csv");
  ASSERT_FALSE(cols.ok());
  EXPECT_NE(cols.status().message().find("unexpected columns"), std::string::npos);
}

TEST(SizeTest, ParsesUnitsAndRanges) {
  EXPECT_DOUBLE_EQ(*ParseByteSize("s", "1K"), 1024);
  EXPECT_DOUBLE_EQ(*ParseByteSize("s", "16G"), 16.0 * (1 << 30));
  EXPECT_DOUBLE_EQ(*ParseByteSize("s", "64KiB"), 65536);
  EXPECT_DOUBLE_EQ(*ParseByteSize("s", "1048576"), 1048576);
  auto r = ParseSizeRange("--sizes", "1K:16K");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<double>{1024, 2048, 4096, 8192, 16384}));
  for (const char* bad : {"0", "1Q", "", "K", "-5", "2K:1K", "1K:x"}) {
    auto e = ParseSizeRange("--sizes", bad);
    EXPECT_FALSE(e.ok()) << bad;
    if (!e.ok()) {
      EXPECT_NE(e.status().message().find("--sizes"), std::string::npos);
    }
  }
  EXPECT_NE(ParseSizeRange("--sizes", "0").status().message().find("at least 1 byte"), std::string::npos);
}

TEST(NcclVersionTest, CodesAndClosestModel) {
  EXPECT_EQ(NcclVersionFromCode(22105), "2.21");
  EXPECT_EQ(NcclVersionFromCode(2708), "2.7");
  const std::vector<std::string> avail = {"2.18", "2.21", "2.27", "2.30"};
  EXPECT_EQ(ClosestNcclModelVersion("2.20", avail), "2.21");
  EXPECT_EQ(ClosestNcclModelVersion("2.25", avail), "2.27");
  EXPECT_EQ(ClosestNcclModelVersion("2.19", avail), "2.18");
  EXPECT_EQ(ClosestNcclModelVersion("2.12", avail), "2.18");
  EXPECT_EQ(ClosestNcclModelVersion("2.40", avail), "2.30");
}

}  // namespace
}  // namespace echosim
