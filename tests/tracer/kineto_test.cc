#include "tracer/kineto/kineto_import.h"

#include <gtest/gtest.h>

namespace echosim {
namespace {

void ExpectError(const std::string& json, const std::string& want) {
  auto r = ParseKinetoJson(json, "trace.json", -1);
  ASSERT_FALSE(r.ok()) << "expected: " << want;
  EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message();
}

TEST(KinetoTest, BadJsonNamesLineAndColumn) {
  ExpectError("{\n  \"traceEvents\": [\n    {\"ph\": \"X\",, }\n  ]\n}", "trace.json: invalid JSON at line 3, column 16");
  ExpectError("", "invalid JSON");
  ExpectError("{\"traceEvents\": 3}", "'traceEvents' must be a list, found number");
  ExpectError("{\"other\": []}", "no 'traceEvents' list");
  ExpectError("\"text\"", "expected a JSON object");
}

TEST(KinetoTest, MissingFieldsNameTheEvent) {
  ExpectError(R"({"traceEvents": [{"ph": "X", "cat": "kernel", "name": "gemm", "ts": 1.5,
                 "args": {"correlation": 3, "stream": 7}}]})",
              "traceEvents[0] ('gemm', cat kernel): missing 'dur'");
  ExpectError(R"({"traceEvents": [{"ph": "M"}, {"ph": "X", "cat": "kernel", "name": "gemm",
                 "ts": 1.5, "dur": 2, "args": {"stream": 7}}]})",
              "traceEvents[1] ('gemm', cat kernel): missing 'args.correlation'");
  ExpectError(R"({"traceEvents": [{"ph": "X", "cat": "kernel", "name": "gemm", "ts": "soon",
                 "dur": 2, "args": {"correlation": 3, "stream": 7}}]})",
              "'ts' must be a number, found string");
  ExpectError(R"({"traceEvents": [{"ph": "X", "cat": "cuda_sync", "name": "s", "ts": 1, "dur": 1,
                 "args": {"correlation": 3, "cuda_sync_kind": "Nap"}}]})",
              "args.cuda_sync_kind 'Nap' is not one of");
  ExpectError(R"({"traceEvents": [5]})", "traceEvents[0] is not an object");
}

TEST(KinetoTest, KernelsStreamsAndCollectives) {
  const char* json = R"json({
    "distributedInfo": {"rank": 1, "world_size": 4,
                        "pg_config": [{"pg_name": "0", "ranks": [0, 1, 2, 3]}]},
    "traceEvents": [
      {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "tid": 5, "ts": 10, "dur": 2,
       "args": {"correlation": 100}},
      {"ph": "X", "cat": "kernel", "name": "gemm", "ts": 20, "dur": 30,
       "args": {"correlation": 100, "stream": 7}},
      {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "tid": 5, "ts": 40, "dur": 2,
       "args": {"correlation": 101}},
      {"ph": "X", "cat": "kernel", "name": "ncclDevKernel_AllGather_RING_LL(ncclDevKernelArgsStorage<4096ul>)",
       "ts": 60, "dur": 100,
       "args": {"correlation": 101, "stream": 9, "Collective name": "_allgather_base",
                "In msg nelems": 256, "Out msg nelems": 1024, "dtype": "BFloat16",
                "Process Group Name": "0", "Process Group Ranks": "[0, 1, 2, 3]"}}
    ]})json";
  auto log = ParseKinetoJson(json, "k.json", -1);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(log->rank, 1);
  EXPECT_EQ(log->world_size, 4);
  ASSERT_EQ(log->gpu_ops.size(), 1u);
  EXPECT_EQ(log->gpu_ops[0].end_ns - log->gpu_ops[0].start_ns, 30000);
  ASSERT_EQ(log->comms.size(), 1u);
  const CommCall& c = log->comms[0];
  EXPECT_EQ(c.comm_type, static_cast<int32_t>(ChakraCommType::kAllGather));
  EXPECT_EQ(c.bytes, 1024 * 2);  // the gathered output, bf16
  EXPECT_EQ(c.communicator, 0);
  EXPECT_EQ(c.duration_ns, 100000);
  EXPECT_EQ(c.thread, 5);
  auto t = BuildRankTrace(*log, ActivityOptions{});
  ASSERT_TRUE(t.ok());
  const TraceNode* coll = nullptr;
  const TraceNode* gemm = nullptr;
  for (const TraceNode& n : t->nodes) {
    if (n.kind == TraceNodeKind::kCollective) coll = &n;
    if (n.name == "gemm") gemm = &n;
  }
  ASSERT_NE(coll, nullptr);
  ASSERT_NE(gemm, nullptr);
  // No stream-wait records: the collective waits for the work launched before it.
  EXPECT_EQ(std::count(coll->data_deps.begin(), coll->data_deps.end(), gemm->id), 1);
  EXPECT_EQ(coll->duration, 100 * kMicrosecond);
}

}  // namespace
}  // namespace echosim
