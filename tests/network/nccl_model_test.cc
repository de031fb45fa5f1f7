// Analytic tests of the NCCL collective model (simulator/network/nccl). Every expected number is
// derived in a comment from NCCL's formulas (src/graph/{search,tuning}.cc) and the constants in
// hardware/nccl/nccl-<version>.yaml.
#include "simulator/network/nccl/nccl_model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "hardware/gpu_spec.h"
#include "simulator/network/nccl/algorithms.h"
#include "simulator/network/nccl/alltoall_efficiency.h"
#include "simulator/network/nccl/nccl_constants.h"
#include "simulator/network/nccl/nccl_system.h"

namespace echosim {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kGiB = 1024.0 * kMiB;

GroupShape Group(int64_t size, int64_t nodes) {
  GroupShape g;
  g.size = size;
  g.nodes = nodes;
  g.per_node = size / nodes;
  return g;
}

TopologyConfig Cluster(const GpuSpec& gpu, int64_t gpus, int64_t per_node = 8, double nic_gbps = 0) {
  TopologyConfig t;
  t.gpus = gpus;
  t.gpus_per_node = per_node;
  t.nic_bytes_per_s = (nic_gbps > 0 ? nic_gbps : gpu.nic_gbps) / 8 * 1e9 * gpu.nic_efficiency;
  t.nvlink_bytes_per_s = gpu.nvlink_gbps / 8 * 1e9 * gpu.nvlink_efficiency;
  return t;
}

// NCCL's own model (identity calibration).
NcclModel Model(const std::string& gpu_name, int64_t gpus, const std::string& version, int64_t per_node = 8,
                double nic_gbps = 0) {
  auto gpu = FindGpuPreset(gpu_name);
  EXPECT_TRUE(gpu.ok()) << gpu.status().message();
  auto m = NcclModel::CreateWithCalibration(*gpu, Cluster(*gpu, gpus, per_node, nic_gbps), version, NcclCalibration{});
  EXPECT_TRUE(m.ok()) << m.status().message();
  return *m;
}

TEST(NcclConstantsTest, EveryVersionLoads) {
  for (const char* v : {"2.18", "2.21", "2.27", "2.30"}) {
    auto c = FindNcclConstants(v);
    ASSERT_TRUE(c.ok()) << v << ": " << c.status().message();
    EXPECT_EQ(c->version, v);
    // tuning.cc: Ring Simple base latency 8.4 us and NVLink hop 3.4 us in every version.
    EXPECT_DOUBLE_EQ(c->BaseLatencyUs(NcclAlgorithm::kRing, NcclProtocol::kSimple), 8.4);
    EXPECT_DOUBLE_EQ(c->HwLatencyUs(NcclLink::kNvlink, NcclAlgorithm::kRing, NcclProtocol::kSimple), 3.4);
  }
  // PAT appears with 2.23: present in the 2.27 and 2.30 tables only.
  EXPECT_FALSE(FindNcclConstants("2.21")->has_algorithm[static_cast<int>(NcclAlgorithm::kPat)]);
  EXPECT_TRUE(FindNcclConstants("2.30")->has_algorithm[static_cast<int>(NcclAlgorithm::kPat)]);
  // topo.h: SM90_NVLINK_BW was 20.0 in 2.18 and 20.6 from 2.21.
  EXPECT_DOUBLE_EQ(FindNcclConstants("2.18")->nvlink_bw_per_link_GBps[2], 20.0);
  EXPECT_DOUBLE_EQ(FindNcclConstants("2.21")->nvlink_bw_per_link_GBps[2], 20.6);
}

TEST(NcclConstantsTest, UnknownVersionListsTheValidOnes) {
  auto c = FindNcclConstants("2.99");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("2.99"), std::string::npos);
  EXPECT_NE(c.status().message().find("2.18, 2.21, 2.27, 2.30"), std::string::npos);
  auto gpu = FindGpuPreset("a100-40gb");
  auto m = NcclModel::Create(*gpu, Cluster(*gpu, 8), "3.0", "");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("unknown NCCL version '3.0'"), std::string::npos);
}

TEST(NcclConstantsTest, MalformedFilesNameTheField) {
  auto c = ParseNcclConstantsYaml("version: \"x\"\nrelease: y\nformula_generation: 17\n", "f.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("formula_generation"), std::string::npos);
  c = ParseNcclConstantsYaml("bogus: 1\n", "f.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("unknown field 'bogus'"), std::string::npos);
  c = ParseNcclConstantsYaml("[1, 2", "f.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("malformed YAML"), std::string::npos);
}

TEST(NcclSystemTest, DgxA100SearchOutcome) {
  // One node: L = 12 links x 20 GB/s = 240. Ladder 40 -> floor(240/40) = 6 channels = 240 = L;
  // 40 >= 25 on sm80 duplicates to 12 channels x 20 GB/s.
  NcclModel m = Model("a100-40gb", 16, "2.18");
  auto one = m.Communicator(Group(8, 1));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->ring.channels, 12);
  EXPECT_DOUBLE_EQ(one->ring.bw_intra_GBps, 20.0);
  // Two nodes: NIC path P = min(25 GB/s HDR, 24 GB/s PCIe Gen4 x16) = 24 -> rung 24, one channel
  // per NIC, 8 NICs: 8 x 24 = 192 GB/s (NVIDIA's "8x200Gb DGX A100" all_reduce figure); 24 < 25,
  // no duplication.
  auto two = m.Communicator(Group(16, 2));
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->ring.channels, 8);
  EXPECT_DOUBLE_EQ(two->ring.bw_inter_GBps, 24.0);
  // The tree on two nodes raises bwIntra one rung at a time below 2 x 24 while 8 channels fit
  // the 240 GB/s of NVLink: 28 -> 30 (8 x 30 = 240), 48 would need 384.
  EXPECT_DOUBLE_EQ(two->tree.bw_intra_GBps, 30.0);
}

TEST(NcclSystemTest, HopperNvlsGraph) {
  // H100, NCCL 2.21: L = 18 x 20.6 = 370.8. NVLS has one channel per GPU; each channel takes its
  // speed on every GPU's link and twice on its head: (8+1) s <= 370.8 -> s <= 41.2 -> rung 40.
  // Pass 2 raises bwInter to the top rung 60 (< 2 x 40).
  NcclModel m = Model("h100-sxm", 8, "2.21");
  auto c = m.Communicator(Group(8, 1));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->nvls);
  EXPECT_EQ(c->nvls_graph.channels, 8);
  EXPECT_DOUBLE_EQ(c->nvls_graph.bw_intra_GBps, 40.0);
  EXPECT_DOUBLE_EQ(c->nvls_graph.bw_inter_GBps, 60.0);
  // The physical graph runs at the capacity 8 x 370.8 / 9 = 329.6 GB/s instead of 8 x 40 = 320.
  EXPECT_NEAR(c->nvls_graph.Physical().bw_intra_GBps * 8, 8 * 370.8 / 9, 1e-9);
}

TEST(NcclModelTest, RingAllReduceBusBandwidthEqualsLinkBandwidthAtLargeSizes) {
  // Ring all_reduce (nccl-tests doc/PERFORMANCE.md): algbw = S/t and busbw = algbw * 2(n-1)/n.
  // NCCL's model: t = lat + S / algBw with algBw = busBw * n / (2(n-1)), busBw = channels * bw =
  // 12 x 20 = 240 GB/s on one DGX A100 node (the NVLink bandwidth NCCL assigns one GPU). So
  // busbw(S) = 240 * S / (S + lat * algBw) -> 240 GB/s as S grows; at 64 GiB the latency (56 us
  // for Simple: 8.4 + 14 x 3.4) costs 56 us / 501 ms = 0.01%.
  NcclModel m = Model("a100-40gb", 8, "2.18");
  auto e = m.Estimate(CollectiveKind::kAllReduce, 64 * kGiB, Group(8, 1), "ring", "Simple");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_NEAR(e->bus_bytes_per_s / 240e9, 1.0, 2e-4);
  EXPECT_EQ(e->channels, 12);
}

TEST(NcclModelTest, RingLatencyIsStepsTimesPerStepLatency) {
  // Ring LL on one node (tuning.cc): latency = base + nsteps * hwLat[NVLINK][Ring][LL]
  // = 6.6 + 2(8-1) * 0.6 = 15.0 us for all_reduce, 6.6 + (8-1) * 0.6 = 10.8 us for all_gather.
  NcclModel m = Model("a100-40gb", 8, "2.18");
  auto ar = m.Estimate(CollectiveKind::kAllReduce, 4096, Group(8, 1), "ring", "LL");
  ASSERT_TRUE(ar.ok());
  EXPECT_NEAR(ar->latency_s, 15.0e-6, 1e-12);
  auto ag = m.Estimate(CollectiveKind::kAllGather, 4096, Group(8, 1), "ring", "LL");
  ASSERT_TRUE(ag.ok());
  EXPECT_NEAR(ag->latency_s, 10.8e-6, 1e-12);
  // Across 4 nodes in 2.18 (32 GPUs, Ring Simple): nInter = 2N = 8 network steps at
  // hwLat[NET][Ring][Simple] = 14 us, the other 62 - 8 = 54 at max(3.4, 3 x 1 us net overhead)
  // = 3.4 us: 8.4 + 54 x 3.4 + 8 x 14 = 304.0 us, then x1.4 (ring plateau, S/(8 ch x 32) >= 64).
  NcclModel big = Model("a100-40gb", 32, "2.18");
  auto multi = big.Estimate(CollectiveKind::kAllReduce, 1 * kGiB, Group(32, 4), "ring", "Simple");
  ASSERT_TRUE(multi.ok());
  EXPECT_NEAR(multi->latency_s, 304.0e-6 * 1.4, 1e-9);
  // 2.27 counts 2(N-1) = 6 network steps: 8.4 + 56 x 3.4 + 6 x 14 = 282.8 us (x1.4).
  NcclModel big27 = Model("a100-40gb", 32, "2.27");
  auto multi27 = big27.Estimate(CollectiveKind::kAllReduce, 1 * kGiB, Group(32, 4), "ring", "Simple");
  ASSERT_TRUE(multi27.ok());
  EXPECT_NEAR(multi27->latency_s, 282.8e-6 * 1.4, 1e-9);
}

TEST(NcclModelTest, TunerPicksLlForTinyAndSimpleForHugeMessages) {
  // LL has the smallest latency (6.6 + 14 x 0.6 = 15 us against 40.6 for LL128 and 56 for
  // Simple on one A100 node) and the lowest bandwidth (min(llMaxBw 87.7, 240/4) = 60 GB/s
  // against 220.8 and 240): the smallest time goes LL -> LL128 -> Simple as S grows.
  for (const char* v : {"2.18", "2.21", "2.30"}) {
    NcclModel m = Model("a100-40gb", 8, v);
    auto tiny = m.Estimate(CollectiveKind::kAllReduce, 1024, Group(8, 1));
    auto mid = m.Estimate(CollectiveKind::kAllReduce, 4 * kMiB, Group(8, 1));
    auto huge = m.Estimate(CollectiveKind::kAllReduce, 4 * kGiB, Group(8, 1));
    ASSERT_TRUE(tiny.ok() && mid.ok() && huge.ok());
    EXPECT_EQ(tiny->protocol, "LL") << v;
    EXPECT_EQ(mid->protocol, "LL128") << v;
    EXPECT_EQ(huge->protocol, "Simple") << v;
    EXPECT_EQ(huge->algorithm, "ring") << v;
  }
  // Across nodes the same holds for 256 GPUs (the tree's log latency wins the small sizes).
  NcclModel m = Model("h100-sxm", 256, "2.21");
  auto tiny = m.Estimate(CollectiveKind::kAllReduce, 1024, Group(256, 32));
  auto huge = m.Estimate(CollectiveKind::kAllReduce, 16 * kGiB, Group(256, 32));
  ASSERT_TRUE(tiny.ok() && huge.ok());
  EXPECT_EQ(tiny->protocol, "LL");
  EXPECT_EQ(huge->protocol, "Simple");
}

TEST(NcclModelTest, NvlsOnlyOnHopperOrNewerWithNvSwitch) {
  // H100 on NVSwitch: NVLS all_reduce bus bandwidth (2.21) = 8 ch x min(40, 60) x 5/6 algBw
  // = 266.7, i.e. 466.7 GB/s in nccl-tests busbw, above the ring's 12 x 30 = 360: chosen at 1 GiB.
  NcclModel h100 = Model("h100-sxm", 8, "2.21");
  auto e = h100.Estimate(CollectiveKind::kAllReduce, 1 * kGiB, Group(8, 1));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->algorithm, "nvls");
  EXPECT_EQ(e->protocol, "Simple");
  // A100 (sm80) has no NVLS.
  NcclModel a100 = Model("a100-40gb", 8, "2.21");
  auto forced = a100.Estimate(CollectiveKind::kAllReduce, 1 * kGiB, Group(8, 1), "nvls");
  ASSERT_FALSE(forced.ok());
  EXPECT_NE(forced.status().message().find("Hopper"), std::string::npos) << forced.status().message();
  // Hopper without NVSwitch: no NVLS either.
  GpuSpec gpu = *FindGpuPreset("h100-sxm");
  gpu.nvswitch = false;
  auto m = NcclModel::CreateWithCalibration(gpu, Cluster(gpu, 8), "2.21", NcclCalibration{});
  ASSERT_TRUE(m.ok());
  auto none = m->Estimate(CollectiveKind::kAllReduce, 1 * kGiB, Group(8, 1), "nvls");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("NVSwitch"), std::string::npos);
  auto best = m->Estimate(CollectiveKind::kAllReduce, 1 * kGiB, Group(8, 1));
  ASSERT_TRUE(best.ok());
  EXPECT_NE(best->algorithm, "nvls");
}

TEST(NcclModelTest, AlgorithmsRunOnlyTheirCollectives) {
  NcclModel m = Model("h100-sxm", 16, "2.30");
  // Tree runs only all_reduce.
  auto tree_ag = m.Estimate(CollectiveKind::kAllGather, kMiB, Group(16, 2), "tree");
  ASSERT_FALSE(tree_ag.ok());
  EXPECT_NE(tree_ag.status().message().find("tree runs only all_reduce"), std::string::npos);
  // NVLS-Tree needs several nodes.
  auto nvt = m.Estimate(CollectiveKind::kAllReduce, kMiB, Group(8, 1), "nvls_tree");
  ASSERT_FALSE(nvt.ok());
  EXPECT_NE(nvt.status().message().find("several nodes"), std::string::npos);
  // CollNet needs a SHARP fabric.
  auto cn = m.Estimate(CollectiveKind::kAllReduce, kMiB, Group(16, 2), "collnet_direct");
  ASSERT_FALSE(cn.ok());
  EXPECT_NE(cn.status().message().find("SHARP"), std::string::npos);
  // all_to_all is point-to-point.
  auto a2a = m.Estimate(CollectiveKind::kAllToAll, kMiB, Group(16, 2), "ring");
  ASSERT_FALSE(a2a.ok());
  EXPECT_NE(a2a.status().message().find("p2p"), std::string::npos);
  auto ok = m.Estimate(CollectiveKind::kAllToAll, kMiB, Group(16, 2));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->algorithm, "p2p");
}

TEST(NcclModelTest, CollNetWhenTheFabricHasSharp) {
  // H100 nodes over 8 NDR NICs with SHARP. The CollNet graph is the ring's: rung 48 (= min(50 GB/s
  // NIC, 48 GB/s PCIe Gen5)) fits only floor(370.8 / 48) = 7 channels through each GPU's NVLink,
  // rung 45 fits 8 (360 > 336 GB/s), so 8 channels x 45. CollNet Direct all_reduce (2.21):
  // busBw = 8 x 45 / f x 0.85 (Hopper), f = ppn/C - (ppn/C - 1)/2 = 1 with 8 GPUs and 8 NICs;
  // on the links' real speed the 360 becomes the 370.8 GB/s of NVLink that bounded it: busBw =
  // 370.8 x 0.85 = 315.2, algBw = busBw / 2 = 157.6, nccl-tests busbw = 157.6 x 2 x 15/16 = 295.5.
  NcclHardware hw;
  hw.sm_arch = 90;
  hw.nvlink_links = 18;
  hw.nvswitch = true;
  hw.pcie_gen = 5;
  hw.nic_GBps = 50;
  hw.collnet = true;
  auto m = NcclModel::FromHardware(hw, 16, "2.21", NcclCalibration{});
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto e = m->Estimate(CollectiveKind::kAllReduce, 64 * kGiB, Group(16, 2), "collnet_direct");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->algorithm, "collnet_direct");
  EXPECT_NEAR(e->bus_bytes_per_s / 295.5e9, 1.0, 1e-3);
  // NVLS across nodes needs CollNet too: available here, not without SHARP.
  EXPECT_TRUE(m->Estimate(CollectiveKind::kAllReduce, 64 * kGiB, Group(16, 2), "nvls").ok());
  hw.collnet = false;
  auto plain = NcclModel::FromHardware(hw, 16, "2.21", NcclCalibration{});
  ASSERT_TRUE(plain.ok());
  auto no = plain->Estimate(CollectiveKind::kAllReduce, 64 * kGiB, Group(16, 2), "nvls");
  ASSERT_FALSE(no.ok());
  EXPECT_NE(no.status().message().find("CollNet"), std::string::npos) << no.status().message();
}

TEST(NcclModelTest, PatOnlyWithOneGpuPerNode) {
  // 2.30 PAT (all_gather/reduce_scatter, one rank per node): busBw = 0.75 x channels x bw.
  NcclModel m = Model("h100-sxm", 64, "2.30");
  auto one_per_node = m.Estimate(CollectiveKind::kAllGather, 64 * kMiB, Group(8, 8), "pat");
  ASSERT_TRUE(one_per_node.ok()) << one_per_node.status().message();
  EXPECT_EQ(one_per_node->algorithm, "pat");
  auto two_per_node = m.Estimate(CollectiveKind::kAllGather, 64 * kMiB, Group(16, 8), "pat");
  ASSERT_FALSE(two_per_node.ok());
  EXPECT_NE(two_per_node.status().message().find("one GPU of the communicator per node"), std::string::npos);
  // 2.21 has no PAT.
  NcclModel old = Model("h100-sxm", 64, "2.21");
  auto none = old.Estimate(CollectiveKind::kAllGather, 64 * kMiB, Group(8, 8), "pat");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("does not exist in NCCL 2.21"), std::string::npos);
}

TEST(NcclModelTest, AllGatherAndBroadcastBusBandwidth) {
  // Ring all_gather: nsteps = n-1, algBw = busBw * n/(n-1), nccl-tests busbw = algbw (n-1)/n
  // = busBw = 240 GB/s on one A100 node at large sizes. Broadcast: nsteps = n, algBw = busBw
  // * n/n, busbw factor 1: also 240.
  NcclModel m = Model("a100-40gb", 8, "2.18");
  for (CollectiveKind k : {CollectiveKind::kAllGather, CollectiveKind::kReduceScatter, CollectiveKind::kBroadcast}) {
    auto e = m.Estimate(k, 64 * kGiB, Group(8, 1), "ring", "Simple");
    ASSERT_TRUE(e.ok());
    EXPECT_NEAR(e->bus_bytes_per_s / 240e9, 1.0, 1e-3) << CollectiveKindName(k);
  }
}

TEST(NcclModelTest, SendRecvAndAllToAllBandwidth) {
  // send/recv inside a node: S / L with L = 240 GB/s on A100; across nodes S / P, P = 24 GB/s.
  NcclModel m = Model("a100-40gb", 16, "2.18");
  auto intra = m.Estimate(CollectiveKind::kSendRecv, 64 * kGiB, Group(2, 1));
  auto inter = m.Estimate(CollectiveKind::kSendRecv, 64 * kGiB, Group(2, 2));
  ASSERT_TRUE(intra.ok() && inter.ok());
  EXPECT_NEAR(intra->bus_bytes_per_s / 240e9, 1.0, 1e-3);
  EXPECT_NEAR(inter->bus_bytes_per_s / 24e9, 1.0, 1e-3);
  // all_to_all over 2 nodes x 8: a rank sends 7/16 of S over NVLink (300 GB/s line rate) and
  // 8/16 over its NIC (24 GB/s): the NIC decides, t = S (8/16) / (e_net 24 GB/s); busbw =
  // S/t * 15/16 = e_net 45 GB/s, e_net the measured all-to-all network efficiency.
  auto eff = LoadAllToAllEfficiency();
  ASSERT_TRUE(eff.ok()) << eff.status().message();
  EXPECT_GT(eff->network, 0.5);
  EXPECT_LT(eff->network, 1.0);
  auto a2a = m.Estimate(CollectiveKind::kAllToAll, 64 * kGiB, Group(16, 2));
  ASSERT_TRUE(a2a.ok());
  EXPECT_NEAR(a2a->bus_bytes_per_s / (eff->network * 45e9), 1.0, 1e-3);
  // Inside one node NVLink decides: busbw = e_nvl * 300 GB/s (NVLink3 per direction), not
  // NCCL's 240 GB/s figure for 12 links.
  auto node = m.Estimate(CollectiveKind::kAllToAll, 64 * kGiB, Group(8, 1));
  ASSERT_TRUE(node.ok());
  EXPECT_NEAR(node->bus_bytes_per_s / (eff->nvlink * 300e9), 1.0, 1e-3);
}

TEST(NcclModelTest, AllToAllEfficiencyFileErrorsNameTheField) {
  auto ok = ParseAllToAllEfficiencyYaml("nvlink_efficiency: 0.7\nnetwork_efficiency: 0.74\n", "t.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_DOUBLE_EQ(ok->nvlink, 0.7);
  EXPECT_DOUBLE_EQ(ok->network, 0.74);
  struct Case {
    const char* text;
    const char* needle;
  };
  for (const Case& c : {Case{"nvlink_efficiency: 0.7\n", "missing field 'network_efficiency'"},
                        Case{"nvlink_efficiency: 0\nnetwork_efficiency: 0.7\n", "field 'nvlink_efficiency'"},
                        Case{"nvlink_efficiency: abc\nnetwork_efficiency: 0.7\n", "expected a number in (0, 1.5]"},
                        Case{"nvlink_efficiency: 0.7\nnetwork_efficiency: 0.7\nspeed: 3\n", "unknown key 'speed'"},
                        Case{"[1, 2]", "must be a YAML map"}, Case{"a: [", "malformed YAML"}}) {
    auto e = ParseAllToAllEfficiencyYaml(c.text, "t.yaml");
    ASSERT_FALSE(e.ok()) << c.text;
    EXPECT_NE(e.status().message().find(c.needle), std::string::npos) << e.status().message();
    EXPECT_NE(e.status().message().find("t.yaml"), std::string::npos) << e.status().message();
  }
}

TEST(NcclModelTest, BadGroupsAndSizesNameTheProblem) {
  NcclModel m = Model("a100-40gb", 64, "2.21");
  struct Case {
    GroupShape g;
    double bytes;
    const char* needle;
  };
  GroupShape non_uniform;
  non_uniform.size = 12;
  non_uniform.nodes = 8;
  non_uniform.per_node = 2;
  for (const Case& c :
       {Case{Group(128, 16), kMiB, "larger than the cluster"}, Case{non_uniform, kMiB, "not uniform"},
        Case{Group(16, 1), kMiB, "nodes have 8"}, Case{Group(8, 1), 0, "size must be a positive number of bytes"},
        Case{Group(8, 1), -5, "size must be a positive number of bytes"},
        Case{Group(8, 1), std::nan(""), "size must be a positive number of bytes"}}) {
    auto e = m.Estimate(CollectiveKind::kAllReduce, c.bytes, c.g);
    ASSERT_FALSE(e.ok()) << c.needle;
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(e.status().message().find(c.needle), std::string::npos) << e.status().message();
  }
  auto alg = m.Estimate(CollectiveKind::kAllReduce, kMiB, Group(8, 1), "butterfly");
  ASSERT_FALSE(alg.ok());
  EXPECT_NE(alg.status().message().find("unknown algorithm 'butterfly'"), std::string::npos);
  EXPECT_NE(alg.status().message().find("nvls_tree"), std::string::npos);
  auto proto = m.Estimate(CollectiveKind::kAllReduce, kMiB, Group(8, 1), "", "LL64");
  ASSERT_FALSE(proto.ok());
  EXPECT_NE(proto.status().message().find("unknown protocol 'LL64'"), std::string::npos);
  // A cluster that is not whole nodes.
  GpuSpec gpu = *FindGpuPreset("a100-40gb");
  auto partial = NcclModel::CreateWithCalibration(gpu, Cluster(gpu, 12, 8), "2.21", NcclCalibration{});
  ASSERT_FALSE(partial.ok());
  EXPECT_NE(partial.status().message().find("not a multiple of gpus_per_node"), std::string::npos);
}

TEST(NcclModelTest, OneRankDoesNotCommunicate) {
  NcclModel m = Model("a100-40gb", 8, "2.21");
  auto e = m.Estimate(CollectiveKind::kAllReduce, kGiB, Group(1, 1));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->time_s, 0);
  EXPECT_EQ(e->algorithm, "none");
}

TEST(NcclModelTest, DeterministicAndMonotoneInSize) {
  NcclModel m = Model("h100-sxm", 1024, "2.21");
  double prev = 0;
  for (double s = 1024; s <= 16 * kGiB; s *= 2) {
    auto a = m.Estimate(CollectiveKind::kAllReduce, s, Group(1024, 128));
    auto b = m.Estimate(CollectiveKind::kAllReduce, s, Group(1024, 128));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->time_s, b->time_s);  // bitwise
    EXPECT_EQ(a->algorithm, b->algorithm);
    EXPECT_GT(a->time_s, prev) << s;
    prev = a->time_s;
  }
}

TEST(NcclModelTest, BuiltInCalibrationIsUsedWhenNoneIsGiven) {
  auto gpu = FindGpuPreset("a100-40gb");
  auto m = NcclModel::Create(*gpu, Cluster(*gpu, 8), "2.18", "");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->calibration().name, "nccl-a100");
  auto missing = NcclModel::Create(*gpu, Cluster(*gpu, 8), "2.18", "no/such/calibration.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no/such/calibration.yaml"), std::string::npos);
}

TEST(NcclTypesTest, BusBandwidthFactorsFollowNcclTests) {
  EXPECT_DOUBLE_EQ(BusBandwidthFactor(NcclCollective::kAllReduce, 8), 2.0 * 7 / 8);
  EXPECT_DOUBLE_EQ(BusBandwidthFactor(NcclCollective::kAllGather, 8), 7.0 / 8);
  EXPECT_DOUBLE_EQ(BusBandwidthFactor(NcclCollective::kAllToAll, 8), 7.0 / 8);
  EXPECT_DOUBLE_EQ(BusBandwidthFactor(NcclCollective::kBroadcast, 8), 1.0);
  auto c = ParseNcclCollective("--op", "allreduce");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, NcclCollective::kAllReduce);
  auto bad = ParseNcclCollective("--op", "allscatter");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("valid collectives: all_reduce"), std::string::npos);
}

}  // namespace
}  // namespace echosim
