// The NCCL shim loaded as a program would load it (dlopen), called through its C ABI
// with calls that need no GPU (in-place operations copy nothing), and its record file
// read back. Skipped when the shim was not built (no CUDA toolkit headers).
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tracer/capture_merge.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

// The ABI types of nccl.h used here (ncclComm_t is a pointer, enums are int).
struct UniqueId {
  char internal[128];
};
using Comm = void*;
using GetUniqueId = int (*)(UniqueId*);
using InitRank = int (*)(Comm*, int, UniqueId, int);
using AllReduce = int (*)(const void*, void*, size_t, int, int, Comm, void*);
using AllGather = int (*)(const void*, void*, size_t, int, Comm, void*);
using SendRecv = int (*)(const void*, size_t, int, int, Comm, void*);
using NoArg = int (*)();
using CommCount = int (*)(Comm, int*);
using GetVersion = int (*)(int*);
using ErrorString = const char* (*)(int);
using Flush = void (*)();
using Destroy = int (*)(Comm);

TEST(NcclShimTest, RecordsCallsAndKeepsTheAbi) {
  const fs::path lib = fs::path(ECHOSIM_BINARY_DIR) / "lib" / "libechosim_nccl.so";
  if (!fs::exists(lib)) GTEST_SKIP() << "NCCL shim not built (" << lib << ")";
  const fs::path dir = fs::temp_directory_path() / "echosim_nccl_shim_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  setenv("ECHOSIM_TRACE_DIR", dir.c_str(), 1);
  setenv("ECHOSIM_RANK", "3", 1);
  setenv("ECHOSIM_WORLD_SIZE", "8", 1);
  void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(h, nullptr) << dlerror();
  auto sym = [&](const char* name) {
    void* p = dlsym(h, name);
    EXPECT_NE(p, nullptr) << name;
    return p;
  };
  auto get_id = reinterpret_cast<GetUniqueId>(sym("ncclGetUniqueId"));
  auto init = reinterpret_cast<InitRank>(sym("ncclCommInitRank"));
  auto all_reduce = reinterpret_cast<AllReduce>(sym("ncclAllReduce"));
  auto all_gather = reinterpret_cast<AllGather>(sym("ncclAllGather"));
  auto send = reinterpret_cast<SendRecv>(sym("ncclSend"));
  auto recv = reinterpret_cast<SendRecv>(sym("ncclRecv"));
  auto group_start = reinterpret_cast<NoArg>(sym("ncclGroupStart"));
  auto group_end = reinterpret_cast<NoArg>(sym("ncclGroupEnd"));
  auto count = reinterpret_cast<CommCount>(sym("ncclCommCount"));
  auto version = reinterpret_cast<GetVersion>(sym("ncclGetVersion"));
  auto err = reinterpret_cast<ErrorString>(sym("ncclGetErrorString"));
  auto flush = reinterpret_cast<Flush>(sym("echosim_nccl_shim_flush"));
  auto destroy = reinterpret_cast<Destroy>(sym("ncclCommDestroy"));
  auto last_error = reinterpret_cast<const char* (*)(Comm)>(sym("ncclGetLastError"));
  EXPECT_NE(dlsym(h, "pncclAllReduce"), nullptr);  // the profiling aliases exist too
  ASSERT_FALSE(::testing::Test::HasFailure());

  int v = 0;
  EXPECT_EQ(version(&v), 0);
  EXPECT_GT(v, 20000);
  EXPECT_STREQ(err(0), "no error");
  UniqueId id;
  EXPECT_EQ(get_id(&id), 0);
  Comm world = nullptr, pair = nullptr;
  EXPECT_EQ(init(&world, 8, id, 3), 0);
  EXPECT_EQ(init(&pair, 2, id, 1), 0);
  int n = 0;
  EXPECT_EQ(count(world, &n), 0);
  EXPECT_EQ(n, 8);
  float buf[64] = {1.5f};
  void* stream = reinterpret_cast<void*>(0x1234);
  // In place: nothing to copy, results stay as they are.
  EXPECT_EQ(all_reduce(buf, buf, 16, /*ncclFloat32*/ 7, /*ncclSum*/ 0, world, stream), 0);
  // An all-gather must fill the other ranks' slots with cuMemcpyAsync: without a GPU (or
  // with this fake stream) that fails cleanly, and the call is still recorded.
  EXPECT_EQ(all_gather(buf + 8, buf, 8, 7, pair, stream), /*ncclUnhandledCudaError*/ 1);
  EXPECT_NE(std::string(last_error(pair)).find("cuMemcpyAsync"), std::string::npos);
  EXPECT_EQ(buf[0], 1.5f);
  EXPECT_EQ(group_start(), 0);
  EXPECT_EQ(send(buf, 4, 7, 0, pair, stream), 0);
  EXPECT_EQ(recv(buf, 4, 7, 0, pair, stream), 0);
  EXPECT_EQ(group_end(), 0);
  EXPECT_NE(all_reduce(buf, buf, 1, /*invalid dtype*/ 99, 0, world, stream), 0);
  flush();
  EXPECT_EQ(destroy(pair), 0);

  std::ifstream in(dir / "nccl.3.tsv");
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  auto log = ParseNcclCallLog(ss.str(), "nccl.3.tsv");
  ASSERT_TRUE(log.ok()) << log.status().ToString() << "\n" << ss.str();
  EXPECT_EQ(log->rank, 3);
  EXPECT_EQ(log->world_size, 8);
  ASSERT_EQ(log->comms.size(), 2u);
  EXPECT_EQ(log->comms[1].nranks, 2);
  EXPECT_EQ(log->comms[1].comm_rank, 1);
  ASSERT_EQ(log->ops.size(), 4u);
  EXPECT_EQ(log->ops[0].op, "all_reduce");
  EXPECT_EQ(log->ops[0].count, 16u);
  EXPECT_EQ(log->ops[0].stream, 0x1234u);
  EXPECT_EQ(log->ops[0].group, 0);
  EXPECT_EQ(log->ops[1].op, "all_gather");
  EXPECT_EQ(log->ops[2].op, "send");
  EXPECT_EQ(log->ops[2].peer_or_root, 0);
  EXPECT_EQ(log->ops[2].group, 1);
  EXPECT_EQ(log->ops[3].group, 1);
  EXPECT_LE(log->ops[0].begin_ns, log->ops[0].end_ns);
  EXPECT_LE(log->ops[0].end_ns, log->ops[1].begin_ns);
  // The merge turns it into one rank's trace (communicators resolved without a layout).
  auto members = ResolveCommunicators(*log, nullptr);
  ASSERT_TRUE(members.ok());
  EXPECT_EQ((*members)[1], (std::vector<int64_t>{2, 3}));
  dlclose(h);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace echosim
