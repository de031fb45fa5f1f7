// The capture side on the CPU: the record files of the CUPTI library and the NCCL shim,
// their merging into one rank's graph, rank selection and trace-set assembly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "hardware/gpu_spec.h"
#include "simulator/network/collective_model.h"
#include "tracer/capture_merge.h"
#include "tracer/trace_capture.h"
#include "tracer/trace_set.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

// Rank 3 of 8: a world communicator, then a size-2 one; an in-place all-gather on the
// second between two kernels, then a grouped send/recv.
constexpr const char* kNccl =
    "echosim-nccl\t1\t3\t8\n"
    "M\t1\t8\t3\t0\t0\t0\tinit_rank\t0\n"
    "M\t2\t2\t1\t0\t0\t0\tinit_rank_config\t0\n"
    "O\t1\t2\tall_gather\t9\t1024\t-1\t140000\t0\t1500\t1600\t77\n"
    "O\t2\t1\tsend\t7\t256\t4\t140000\t1\t2500\t2510\t77\n"
    "O\t3\t1\trecv\t7\t256\t2\t140000\t1\t2520\t2530\t77\n";

// CUPTI side: kernel A (corr 10) before the all-gather, the shim's own copy (corr 11,
// inside the call's time on its thread), kernel B (corr 12) after, kernel C (corr 13)
// after the group.
constexpr const char* kActivity =
    "echosim-activity\t1\t3\t8\n"
    "A\t10\t77\t1000\t1010\tcudaLaunchKernel\n"
    "A\t11\t77\t1550\t1560\tcuMemcpyAsync\n"
    "A\t12\t77\t2000\t2010\tcudaLaunchKernel\n"
    "A\t13\t77\t3000\t3010\tcudaLaunchKernel\n"
    "K\t10\t7\t1100\t1300\tkernel A\n"
    "C\t11\t7\t1700\t1800\t2048\t8\n"
    "K\t12\t7\t2100\t2400\tkernel B\n"
    "K\t13\t7\t3100\t3200\tkernel C\n"
    "N\t1\t7\n"
    "N\t2\t7\n"
    "N\t3\t7\n";

TEST(NcclLogTest, ParseAndFormatRoundTrip) {
  auto log = ParseNcclCallLog(kNccl, "nccl.3.tsv");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(log->rank, 3);
  EXPECT_EQ(log->world_size, 8);
  ASSERT_EQ(log->comms.size(), 2u);
  ASSERT_EQ(log->ops.size(), 3u);
  EXPECT_EQ(log->ops[0].op, "all_gather");
  EXPECT_EQ(log->ops[1].group, 1);
  EXPECT_EQ(FormatNcclCallLog(*log), kNccl);
}

void ExpectNcclError(const std::string& text, const std::string& want) {
  auto log = ParseNcclCallLog(text, "nccl.3.tsv");
  ASSERT_FALSE(log.ok()) << want;
  EXPECT_NE(log.status().message().find(want), std::string::npos) << log.status().message();
}

TEST(NcclLogTest, MalformedLinesNameLineAndField) {
  const std::string head = "echosim-nccl\t1\t3\t8\nM\t1\t8\t3\t0\t0\t0\tinit_rank\t0\n";
  ExpectNcclError(head + "O\t1\t1\tall_reduce\t7\tmany\t-1\t0\t0\t1\t2\t3\n",
                  "nccl.3.tsv:3: field 6 (count) must be a non-negative integer, found 'many'");
  ExpectNcclError(head + "O\t1\t1\tall_mix\t7\t1\t-1\t0\t0\t1\t2\t3\n", "nccl.3.tsv:3: unknown op 'all_mix'");
  ExpectNcclError(head + "O\t1\t1\tall_reduce\t99\t1\t-1\t0\t0\t1\t2\t3\n", "dtype 99 is not an ncclDataType_t");
  ExpectNcclError(head + "O\t1\t1\tall_reduce\n", "needs 12 fields, found 4");
  ExpectNcclError(head + "Q\t1\n", "unknown record type 'Q'; valid: M, O");
  ExpectNcclError(head + "O\t1\t9\tall_reduce\t7\t1\t-1\t0\t0\t1\t2\t3\n", "communicator 9 which was never created");
  ExpectNcclError("echosim-activity\t1\t0\t1\n", "expected the header 'echosim-nccl");
  ExpectNcclError("echosim-nccl\t2\t0\t1\n", "format version 2 is not supported");
  ExpectNcclError("echosim-nccl\t1\t5\t4\n", "rank 5 and world size 4 are inconsistent");
}

TEST(ActivityFileTest, MalformedLinesNameLineAndField) {
  auto bad = ParseActivityCapture("echosim-activity\t1\t0\t1\nK\t1\t7\t100\t50\tk\n", "activity.0.tsv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("activity.0.tsv:2: ends (50) before it starts (100)"),
            std::string::npos);
  bad = ParseActivityCapture("echosim-activity\t1\t0\t1\nY\t1\t9\t7\t0\t1\t2\n", "activity.0.tsv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("synchronisation type 9"), std::string::npos);
}

TEST(ResolveCommunicatorsTest, LayoutNamesTheGroups) {
  // tp=2, pp=2, dp=2 on 8 ranks; rank 3 is (tp 1, dp 1, pp 0). Two size-2 communicators
  // where rank 3 sits at position 1: its TP group {2,3} first, then its DP group {1,3}.
  NcclCallLog log;
  log.rank = 3;
  log.world_size = 8;
  log.comms = {{1, 8, 3, 0, 0, 0, "init_rank", 0},
               {2, 2, 1, 0, 0, 0, "init_rank", 0},
               {3, 2, 1, 0, 0, 0, "init_rank", 0},
               {4, 1, 0, 0, 0, 0, "init_rank", 0},
               {5, 0, 0, 1, 7, 0, "split", 0}};
  Layout l;
  l.tp = 2;
  l.pp = 2;
  l.dp = 2;
  auto m = ResolveCommunicators(log, &l);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)[0], (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ((*m)[1], (std::vector<int64_t>{2, 3}));
  EXPECT_EQ((*m)[2], (std::vector<int64_t>{1, 3}));
  EXPECT_EQ((*m)[3], (std::vector<int64_t>{3}));
  // A split of unknown size with rank 3 first: its pipeline group {3, 7}.
  EXPECT_EQ((*m)[4], (std::vector<int64_t>{3, 7}));
  // Without a layout a size-2 group is the contiguous block holding rank 3 at position 1,
  // and a split cannot be placed.
  log.comms.pop_back();
  auto c = ResolveCommunicators(log, nullptr);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)[1], (std::vector<int64_t>{2, 3}));
  log.comms.push_back({5, 0, 0, 1, 7, 0, "split", 0});
  EXPECT_FALSE(ResolveCommunicators(log, nullptr).ok());
}

TEST(MergeCaptureTest, NcclCallsLandInStreamOrderAndShimCopiesAreDropped) {
  auto act = ParseActivityCapture(kActivity, "activity.3.tsv");
  ASSERT_TRUE(act.ok()) << act.status().ToString();
  auto nccl = ParseNcclCallLog(kNccl, "nccl.3.tsv");
  ASSERT_TRUE(nccl.ok());
  const std::vector<Communicator> comms = {{"comm0", {0, 1, 2, 3, 4, 5, 6, 7}}, {"comm1", {2, 3}}};
  auto log = MergeCapture(&*act, &*nccl, comms);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_EQ(log->comms.size(), 3u);
  const CommCall& ag = log->comms[0];
  EXPECT_EQ(ag.kind, TraceNodeKind::kCollective);
  EXPECT_EQ(ag.comm_type, static_cast<int32_t>(ChakraCommType::kAllGather));
  EXPECT_EQ(ag.bytes, 1024 * 2 * 2);  // sendcount x 2 ranks x bf16
  EXPECT_EQ(ag.stream, 7);
  EXPECT_EQ(ag.launch_correlation, 10u);  // after kernel A's launch
  EXPECT_EQ(ag.first_inner_correlation, 11u);
  EXPECT_EQ(ag.last_inner_correlation, 11u);
  EXPECT_EQ(log->comms[1].peer, 4);  // world rank 4
  EXPECT_EQ(log->comms[1].bytes, 256 * 4);

  auto t = BuildRankTrace(*log, ActivityOptions{});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  // GPU nodes on stream 7 in launch order: A, all-gather, B, then the group's two lanes, C.
  std::vector<const TraceNode*> gpu;
  for (const TraceNode& n : t->nodes) {
    if (!n.on_cpu) gpu.push_back(&n);
  }
  ASSERT_EQ(gpu.size(), 6u);  // the shim's memcpy is gone
  EXPECT_EQ(gpu[0]->name, "kernel A");
  EXPECT_EQ(gpu[1]->name, "nccl:all_gather");
  EXPECT_EQ(gpu[2]->name, "kernel B");
  EXPECT_EQ(gpu[3]->name, "nccl:send");
  EXPECT_EQ(gpu[4]->name, "nccl:recv");
  EXPECT_EQ(gpu[5]->name, "kernel C");
  EXPECT_EQ(gpu[1]->data_deps.size() >= 1, true);
  auto depends = [](const TraceNode* n, const TraceNode* on) {
    return std::count(n->data_deps.begin(), n->data_deps.end(), on->id) > 0;
  };
  EXPECT_TRUE(depends(gpu[1], gpu[0]));
  EXPECT_TRUE(depends(gpu[2], gpu[1]));
  // The grouped send and receive run side by side between B and C.
  EXPECT_EQ(gpu[3]->stream, "stream 7 group lane 0");
  EXPECT_EQ(gpu[4]->stream, "stream 7 group lane 1");
  EXPECT_TRUE(depends(gpu[3], gpu[2]));
  EXPECT_TRUE(depends(gpu[4], gpu[2]));
  EXPECT_FALSE(depends(gpu[4], gpu[3]));
  EXPECT_TRUE(depends(gpu[5], gpu[3]));
  EXPECT_TRUE(depends(gpu[5], gpu[4]));
  // Durations: device times; collectives are re-timed later (0 here).
  EXPECT_EQ(gpu[0]->duration, 200 * kNanosecond);
  EXPECT_EQ(gpu[1]->duration, 0);
  // Host gaps: each launch waits for the host time since the previous call began.
  for (const TraceNode& n : t->nodes) {
    if (n.on_cpu && n.name == "cudaLaunchKernel" && depends(gpu[2], &n)) {
      EXPECT_EQ(n.duration, 500 * kNanosecond);  // from the all-gather call (1500) to 2000
    }
  }
}

TEST(MergeCaptureTest, WithoutMarksCallsArePlacedByHostTime) {
  std::string act = kActivity;
  act.erase(act.find("N\t1"));  // no marks: the shim ran without the CUPTI hook
  auto a = ParseActivityCapture(act, "activity.3.tsv");
  auto nccl = ParseNcclCallLog(kNccl, "nccl.3.tsv");
  ASSERT_TRUE(a.ok() && nccl.ok());
  auto log = MergeCapture(&*a, &*nccl, {{"comm0", {0, 1, 2, 3, 4, 5, 6, 7}}, {"comm1", {2, 3}}});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_EQ(log->comms.size(), 3u);
  EXPECT_EQ(log->comms[0].launch_correlation, 10u);
  EXPECT_GE(log->comms[0].stream, int64_t{1} << 40);  // its own stream, from the handle
}

TEST(MergeCaptureTest, PeerOfUnknownCommunicatorIsAnError) {
  auto nccl = ParseNcclCallLog(kNccl, "nccl.3.tsv");
  ASSERT_TRUE(nccl.ok());
  auto log = MergeCapture(nullptr, &*nccl, {{"comm0", {}}, {"comm1", {2, 3}}});
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("operation seq 2 (send): the members of communicator 1 are unknown"),
            std::string::npos)
      << log.status().message();
}

TEST(SelectTracedRanksTest, AutoPicksOnePerStageAndRole) {
  Layout l;
  l.tp = 2;
  l.pp = 2;
  l.dp = 2;
  auto r = SelectTracedRanks(8, "auto", &l);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 4u);
  // rank = tp_i + 2 * (dp_i + 2 * pp_i)
  EXPECT_EQ((*r)[0].rank, 0);
  EXPECT_EQ((*r)[0].stands_for, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ((*r)[1].rank, 1);
  EXPECT_EQ((*r)[1].stands_for, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ((*r)[2].rank, 4);
  EXPECT_EQ((*r)[2].stands_for, (std::vector<int64_t>{4, 6}));
  EXPECT_EQ((*r)[3].rank, 5);
  EXPECT_EQ((*r)[3].stands_for, (std::vector<int64_t>{5, 7}));
  auto list = SelectTracedRanks(8, "0,4", &l);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)[0].stands_for, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ((*list)[1].stands_for, (std::vector<int64_t>{4, 5, 6, 7}));
  EXPECT_FALSE(SelectTracedRanks(8, "0,9", &l).ok());
  EXPECT_FALSE(SelectTracedRanks(8, "0,,1", &l).ok());
  l.dp = 3;
  EXPECT_FALSE(SelectTracedRanks(8, "auto", &l).ok());
}

// Two pipeline stages, one traced rank each: rank 0 computes then sends its activations
// to rank 1, which receives them and computes. The assembled set simulates to
// 10 us + transfer + 10 us.
TEST(AssembleTraceSetTest, PipelinePairEndToEnd) {
  const fs::path dir = fs::temp_directory_path() / "echosim_assemble_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "raw");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / "raw" / name) << text;
  };
  write("activity.0.tsv",
        "echosim-activity\t1\t0\t2\nA\t1\t9\t0\t5\tcudaLaunchKernel\nK\t1\t7\t100\t10100\tfwd\nN\t1\t7\n");
  write("nccl.0.tsv",
        "echosim-nccl\t1\t0\t2\nM\t1\t2\t0\t0\t0\t0\tinit_rank\t0\n"
        "O\t1\t1\tsend\t9\t1048576\t1\t5\t0\t50\t60\t9\n");
  write("activity.1.tsv",
        "echosim-activity\t1\t1\t2\nA\t1\t9\t100\t105\tcudaLaunchKernel\nK\t1\t7\t20000\t30000\tbwd\nN\t1\t7\n");
  write("nccl.1.tsv",
        "echosim-nccl\t1\t1\t2\nM\t1\t2\t1\t0\t0\t0\tinit_rank\t0\n"
        "O\t1\t1\trecv\t9\t1048576\t0\t5\t0\t0\t1\t9\n");
  AssembleOptions o;
  o.raw_dir = (dir / "raw").string();
  o.out_dir = (dir / "out").string();
  o.world_size = 2;
  o.activity.host_gaps = false;
  auto m = AssembleTraceSet(o, {{0, {0}}, {1, {1}}});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->communicators.size(), 1u);
  EXPECT_EQ(m->communicators[0].ranks, (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(fs::exists(dir / "out" / "trace.0.et"));
  EXPECT_TRUE(fs::exists(dir / "out" / "manifest.json"));
  auto set = LoadTraceSet((dir / "out").string());
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->traces.size(), 2u);
  auto res = SimulateTraceSet(*set, TraceSimOptions{});
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  // Rank 1's receive is first on its stream: it waits for rank 0's send (after fwd), then
  // both run the 1 MiB bf16 (2 MiB) transfer; then bwd. Blocking NCCL semantics.
  GpuSpec gpu = FindGpuPreset("h100-sxm").value();
  TopologyConfig tc;
  tc.gpus = 2;
  tc.nvlink_bytes_per_s = gpu.nvlink_gbps / 8.0 * 1e9 * gpu.nvlink_efficiency;
  tc.nic_bytes_per_s = gpu.nic_gbps / 8.0 * 1e9 * gpu.nic_efficiency;
  tc.nvlink_latency_s = 2e-6;
  tc.nic_latency_s = 4e-6;
  const Topology topo(tc);
  const AnalyticCollectiveModel model(&topo);
  const Duration d = model.Estimate(CollectiveKind::kSendRecv, 2 << 20, topo.ShapeOf({0, 1}));
  EXPECT_EQ(SecondsToDuration(res->step_time_s), 10 * kMicrosecond + d + 10 * kMicrosecond);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace echosim
