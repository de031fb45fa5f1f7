// The real traces in ../shared/traces (read in place, never copied): each imports,
// becomes a valid execution graph and simulates. Skipped when ../shared is absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "hardware/gpu_spec.h"
#include "simulator/network/collective_model.h"
#include "tracer/chakra/chakra_io.h"
#include "tracer/kineto/kineto_import.h"
#include "tracer/trace_graph.h"
#include "tracer/trace_set.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

fs::path Traces() { return fs::path(ECHOSIM_SOURCE_DIR) / ".." / "shared" / "traces"; }

#define REQUIRE_SHARED()                                                          \
  if (!fs::exists(Traces())) GTEST_SKIP() << "../shared/traces is absent (" << Traces() << ")"

// The topology SimulateTraceSet builds for the default options (h100-sxm, 8 per node).
Topology DefaultTopology(int64_t world) {
  const GpuSpec gpu = FindGpuPreset("h100-sxm").value();
  TopologyConfig tc;
  tc.gpus = world;
  tc.gpus_per_node = 8;
  tc.nvlink_bytes_per_s = gpu.nvlink_gbps / 8.0 * 1e9 * gpu.nvlink_efficiency;
  tc.nic_bytes_per_s = gpu.nic_gbps / 8.0 * 1e9 * gpu.nic_efficiency;
  tc.nvlink_latency_s = 2e-6;
  tc.nic_latency_s = 4e-6;
  return Topology(tc);
}

TEST(SharedChakraTest, PytorchConvertedTrace) {
  REQUIRE_SHARED();
  const fs::path path = Traces() / "chakra" / "pytorch_converted.0.et";
  // The file holds 3,665 messages: one GlobalMetadata and 3,664 nodes.
  auto reader = ChakraReader::Open(path.string());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto t = ReadChakraFile(path.string(), 0);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->nodes.size(), 3664u);
  EXPECT_EQ(t->schema, "1.0.1");
  std::map<std::pair<TraceNodeKind, bool>, int> kinds;
  std::map<std::string, int> streams;
  for (const TraceNode& n : t->nodes) {
    ++kinds[{n.kind, n.on_cpu}];
    ++streams[n.stream];
  }
  // 3,643 COMP_NODEs (2,434 + 14 host ops, 1,209 kernels) and 21 COMM_COLL_NODEs: 14
  // host-side c10d wrappers (host compute) and 7 NCCL kernels (collectives).
  EXPECT_EQ((kinds[{TraceNodeKind::kCompute, true}]), 2434 + 14);
  EXPECT_EQ((kinds[{TraceNodeKind::kCompute, false}]), 1209);
  EXPECT_EQ((kinds[{TraceNodeKind::kCollective, false}]), 7);
  EXPECT_EQ(streams["stream 7"], 1209);
  EXPECT_EQ(streams["stream 14"], 7);
  auto g = BuildTraceGraph(*t, TraceGraphOptions{});
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->graph.num_nodes(), 3664u);
  EXPECT_EQ(g->missing_deps, 0u);  // the dangling ids are all in ctrl_deps
  EXPECT_GT(g->graph.num_edges(), 100000u);
  // Every node depends only on nodes before it in the (topological) graph order.
  for (NodeId v = 0; v < g->graph.num_nodes(); ++v) {
    for (NodeId s : g->graph.successors(v)) EXPECT_LT(v, s);
  }
  TraceSet set;
  set.origin = path.string();
  set.world_size = 1;
  set.traces.push_back(*t);
  set.stands_for = {{0}};
  auto r = SimulateTraceSet(set, TraceSimOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // One GPU stream runs the kernels back to back at best: the step takes at least their sum.
  Duration kernels = 0;
  for (const TraceNode& n : t->nodes) {
    if (!n.on_cpu && n.kind == TraceNodeKind::kCompute && n.stream == "stream 7") kernels += n.duration;
  }
  EXPECT_GE(r->step_time_s, DurationToSeconds(kernels));
  EXPECT_EQ(r->nodes, 3664u);
}

TEST(SharedChakraTest, EightRankAllReduceRendezvous) {
  REQUIRE_SHARED();
  auto set = LoadTraceSet((Traces() / "chakra" / "allreduce_8npus_1MB").string());
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->traces.size(), 8u);
  for (size_t r = 0; r < 8; ++r) {
    EXPECT_EQ(set->traces[r].rank, static_cast<int64_t>(r));
    ASSERT_EQ(set->traces[r].nodes.size(), 1u);
    EXPECT_EQ(set->traces[r].nodes[0].kind, TraceNodeKind::kCollective);
    EXPECT_EQ(set->traces[r].nodes[0].comm_bytes, 1 << 20);
  }
  auto res = SimulateTraceSet(*set, TraceSimOptions{});
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_TRUE(res->rendezvous);
  EXPECT_EQ(res->simulated_ranks, 8);
  // One all-reduce of 1 MiB over the 8 GPUs of one node, as the network model times it.
  const Topology topo = DefaultTopology(8);
  const AnalyticCollectiveModel model(&topo);
  const Duration want = model.Estimate(CollectiveKind::kAllReduce, 1 << 20,
                                       topo.ShapeOf({0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(SecondsToDuration(res->step_time_s), want);
  // Plausible for NVLink: tens of microseconds.
  EXPECT_GT(res->step_time_s, 5e-6);
  EXPECT_LT(res->step_time_s, 100e-6);
  for (const TraceRankResult& r : res->ranks) EXPECT_EQ(r.finish_s, res->step_time_s);
}

TEST(SharedChakraTest, EightRankRingOfSendRecvMatchesEverySend) {
  REQUIRE_SHARED();
  auto set = LoadTraceSet((Traces() / "chakra" / "custom_ring_allreduce_8npus_1MB").string());
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->traces.size(), 8u);
  size_t sends = 0, recvs = 0, comps = 0;
  for (const RankTrace& t : set->traces) {
    for (const TraceNode& n : t.nodes) {
      sends += n.kind == TraceNodeKind::kSend;
      recvs += n.kind == TraceNodeKind::kRecv;
      comps += n.kind == TraceNodeKind::kCompute;
      if (n.kind == TraceNodeKind::kSend) {
        EXPECT_EQ(n.peer, (t.rank + 1) % 8);
      }
      if (n.kind == TraceNodeKind::kRecv) {
        EXPECT_EQ(n.peer, (t.rank + 7) % 8);
      }
    }
  }
  EXPECT_EQ(sends, 8u * 14);
  EXPECT_EQ(recvs, 8u * 14);
  EXPECT_EQ(comps, 8u * 7);
  auto res = SimulateTraceSet(*set, TraceSimOptions{});
  ASSERT_TRUE(res.ok()) << res.status().ToString();  // a lost send would deadlock
  uint64_t graph_nodes = 0;
  for (const TraceGraph& g : res->graphs) graph_nodes += g.graph.num_nodes();
  EXPECT_EQ(res->nodes, graph_nodes);
  // Each rank alternates send, receive, 7 us reduction, 14 times (7 reductions): with
  // eager sends every step costs one 128 KiB transfer to the next rank, so the ring
  // takes 14 transfers plus 7 reductions.
  const Topology topo = DefaultTopology(8);
  const AnalyticCollectiveModel model(&topo);
  const Duration d = model.Estimate(CollectiveKind::kSendRecv, 131072, topo.ShapeOf({0, 1}));
  EXPECT_EQ(SecondsToDuration(res->step_time_s), 14 * d + 7 * 7 * kMicrosecond);
}

TEST(SharedKinetoTest, EventSyncTrace) {
  REQUIRE_SHARED();
  auto t = ReadKinetoFile((Traces() / "kineto" / "cuda_event_sync.json.gz").string(), -1);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  size_t kernels = 0, memory = 0, host = 0;
  for (const TraceNode& n : t->nodes) {
    if (n.on_cpu) {
      ++host;
    } else if (n.kind == TraceNodeKind::kCompute) {
      ++kernels;
      EXPECT_EQ(n.stream, "stream 7");
    } else if (n.kind == TraceNodeKind::kMemory) {
      ++memory;
    }
  }
  EXPECT_EQ(kernels, 4u);
  EXPECT_EQ(memory, 1u);
  EXPECT_GT(host, 0u);
  // cudaEventSynchronize waits for the spin kernel recorded by the event.
  const TraceNode* spin = nullptr;
  for (const TraceNode& n : t->nodes) {
    if (n.name.find("spin_kernel") != std::string::npos) spin = &n;
  }
  ASSERT_NE(spin, nullptr);
  bool host_waits_for_spin = false;
  for (const TraceNode& n : t->nodes) {
    if (n.on_cpu && n.name == "cudaEventSynchronize wait") {
      host_waits_for_spin = std::count(n.data_deps.begin(), n.data_deps.end(), spin->id) > 0;
    }
  }
  EXPECT_TRUE(host_waits_for_spin);
  auto g = BuildTraceGraph(*t, TraceGraphOptions{});
  ASSERT_TRUE(g.ok()) << g.status().ToString();
}

TEST(SharedKinetoTest, CrossStreamWaitIsKept) {
  REQUIRE_SHARED();
  auto t = ReadKinetoFile((Traces() / "kineto" / "cuda_event_sync_multi_stream.json.gz").string(), -1);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  // cudaStreamWaitEvent(stream 24, event recorded on stream 20 after its GEMM): the first
  // op on stream 24 after the wait (a memset) depends on that GEMM.
  const TraceNode* gemm20 = nullptr;
  const TraceNode* memset24 = nullptr;
  for (const TraceNode& n : t->nodes) {
    if (n.stream == "stream 20" && n.kind == TraceNodeKind::kCompute) gemm20 = &n;
    if (n.stream == "stream 24" && n.kind == TraceNodeKind::kMemory && memset24 == nullptr) memset24 = &n;
  }
  ASSERT_NE(gemm20, nullptr);
  ASSERT_NE(memset24, nullptr);
  EXPECT_EQ(std::count(memset24->data_deps.begin(), memset24->data_deps.end(), gemm20->id), 1);
  auto g = BuildTraceGraph(*t, TraceGraphOptions{});
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  TraceSet set;
  set.world_size = 1;
  set.traces.push_back(*t);
  set.stands_for = {{0}};
  auto r = SimulateTraceSet(set, TraceSimOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // The waiting memset starts after the GEMM on stream 20 ends.
  Time gemm_end = -1, memset_start = -1;
  for (const Span& s : r->spans[0]) {
    const TraceNode& n = t->nodes[r->graphs[0].trace_node[s.node]];
    if (n.id == gemm20->id) gemm_end = s.end;
    if (n.id == memset24->id) memset_start = s.start;
  }
  ASSERT_GE(gemm_end, 0);
  EXPECT_GE(memset_start, gemm_end);
}

TEST(SharedKinetoTest, NcclTraceHasCollectivesWithArguments) {
  REQUIRE_SHARED();
  auto t = ReadKinetoFile((Traces() / "kineto" / "nccl_2ranks_rank0.json.gz").string(), -1);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->rank, 0);
  EXPECT_EQ(t->world_size, 2);
  ASSERT_EQ(t->communicators.size(), 1u);
  EXPECT_EQ(t->communicators[0].name, "0");
  EXPECT_EQ(t->communicators[0].ranks, (std::vector<int64_t>{0, 1}));
  int all_reduce = 0, broadcast = 0;
  for (const TraceNode& n : t->nodes) {
    if (n.kind != TraceNodeKind::kCollective) continue;
    EXPECT_EQ(n.stream, "stream 40");
    EXPECT_EQ(n.communicator, 0);
    EXPECT_GT(n.comm_bytes, 0);
    all_reduce += n.comm_type == static_cast<int32_t>(ChakraCommType::kAllReduce);
    broadcast += n.comm_type == static_cast<int32_t>(ChakraCommType::kBroadcast);
  }
  EXPECT_EQ(all_reduce, 15);
  EXPECT_EQ(broadcast, 6);
  auto set = LoadTraceSet((Traces() / "kineto" / "nccl_2ranks_rank0.json.gz").string());
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  auto r = SimulateTraceSet(*set, TraceSimOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->rendezvous);  // rank 1 has no trace
  EXPECT_GT(r->step_time_s, 0);
}

}  // namespace
}  // namespace echosim
