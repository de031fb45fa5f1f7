// On a GPU: `echosim trace` with the CUPTI library and the NCCL shim on a real CUDA
// program (cuda_smoke_program.cc), checked against what the program launched.
// Skipped cleanly where there is no GPU or the capture libraries were not built.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tracer/capture_merge.h"
#include "tracer/trace_set.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

bool HaveGpu() {
  void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) return false;
  auto init = reinterpret_cast<int (*)(unsigned)>(dlsym(h, "cuInit"));
  auto count = reinterpret_cast<int (*)(int*)>(dlsym(h, "cuDeviceGetCount"));
  int n = 0;
  return init != nullptr && count != nullptr && init(0) == 0 && count(&n) == 0 && n > 0;
}

TEST(GpuCaptureTest, TraceOfARealCudaProgram) {
  const fs::path bin(ECHOSIM_BINARY_DIR);
  const fs::path echosim = bin / "bin" / "echosim";
  const fs::path program = bin / "bin" / "cuda_smoke_program";
  if (!fs::exists(bin / "lib" / "libechosim_cupti.so") || !fs::exists(bin / "lib" / "libechosim_nccl.so")) {
    GTEST_SKIP() << "capture libraries not built";
  }
  if (!HaveGpu()) GTEST_SKIP() << "no GPU (libcuda.so.1 / cuInit / a device)";
  ASSERT_TRUE(fs::exists(echosim) && fs::exists(program));
  const fs::path out = fs::temp_directory_path() / "echosim_gpu_capture_test";
  fs::remove_all(out);
  const std::string cmd = echosim.string() + " trace --world-size 2 --ranks 0,1 --out " +
                          out.string() + " -- " + program.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  // The raw CUPTI records: 5 kernels, the memset, the program's copy and the shim's copy.
  std::ifstream in(out / "raw" / "activity.0.tsv");
  std::stringstream ss;
  ss << in.rdbuf();
  auto cap = ParseActivityCapture(ss.str(), "activity.0.tsv");
  ASSERT_TRUE(cap.ok()) << cap.status().ToString();
  int busy = 0;
  for (const GpuOp& g : cap->log.gpu_ops) busy += g.kind == GpuOpKind::kKernel && g.name == "busy";
  EXPECT_EQ(busy, 5);
  EXPECT_EQ(cap->dropped_records, 0u);
  EXPECT_EQ(cap->marks.size(), 2u);  // the two NCCL calls were announced

  auto set = LoadTraceSet(out.string());
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->traces.size(), 2u);
  const RankTrace& t = set->traces[0];
  std::vector<const TraceNode*> kernels, memory, colls;
  for (const TraceNode& n : t.nodes) {
    if (n.on_cpu) continue;
    if (n.kind == TraceNodeKind::kCompute) kernels.push_back(&n);
    if (n.kind == TraceNodeKind::kMemory) memory.push_back(&n);
    if (n.kind == TraceNodeKind::kCollective) colls.push_back(&n);
  }
  ASSERT_EQ(kernels.size(), 5u);
  EXPECT_EQ(memory.size(), 2u);  // memset + the program's copy; the shim's copy is dropped
  ASSERT_EQ(colls.size(), 2u);
  EXPECT_EQ(colls[0]->name, "nccl:all_reduce");
  EXPECT_EQ(colls[1]->name, "nccl:all_gather");
  EXPECT_EQ(colls[1]->comm_bytes, 1024 * 4 * 2);
  // The kernel on stream B waits for the third kernel on stream A (cuStreamWaitEvent).
  const TraceNode* on_b = nullptr;
  for (const TraceNode* k : kernels) {
    if (k->stream != kernels[0]->stream) on_b = k;
  }
  ASSERT_NE(on_b, nullptr);
  EXPECT_EQ(std::count(on_b->data_deps.begin(), on_b->data_deps.end(), kernels[2]->id), 1);
  // The collectives sit on stream A after the copy.
  EXPECT_EQ(colls[0]->stream, kernels[0]->stream);
  auto res = SimulateTraceSet(*set, TraceSimOptions{});
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_TRUE(res->rendezvous);
  fs::remove_all(out);
}

}  // namespace
}  // namespace echosim
