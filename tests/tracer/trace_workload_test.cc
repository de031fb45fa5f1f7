// Trace workloads of scenarios (simulator/scenario/trace_workload.h), compute scaling
// across GPUs (tracer/compute_scaling.h), the Chakra exporter (tracer/graph_export.h) and
// the Kineto-layout writer (tracer/kineto/kineto_export.h).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hardware/compute_cost_model.h"
#include "hardware/gpu_spec.h"
#include "simulator/scenario/trace_workload.h"
#include "simulator/scenario/yaml_proto.h"
#include "tracer/chakra/chakra_io.h"
#include "tracer/compute_scaling.h"
#include "tracer/kineto/kineto_import.h"

namespace echosim {
namespace {
namespace fs = std::filesystem;

fs::path TestDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::temp_directory_path() /
                       (std::string("echosim_trace_workload_") + info->test_suite_name() + "_" + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A small training job: llama3-8b on 16 GPUs, tp 2 x pp 2 x dp 4.
scenario::Scenario SmallTraining(const std::string& gpu, bool interference_and_contention) {
  scenario::Scenario s;
  for (const char* a :
       {"workload.training.model=llama3-8b", "cluster.gpus=16", "parallelism.tp=2", "parallelism.pp=2",
        "workload.training.global_batch_seqs=16", "workload.training.seq_len_tokens=2048",
        "parallelism.zero=1", "parallelism.sequence_parallel=true"}) {
    EXPECT_TRUE(ApplyOverride(a, &s).ok()) << a;
  }
  s.mutable_cluster()->set_gpu(gpu);
  s.mutable_simulation()->set_interference(interference_and_contention);
  s.mutable_simulation()->set_contention(interference_and_contention);
  return s;
}

scenario::Scenario TraceScenario(const std::string& dir, const std::string& gpu) {
  scenario::Scenario s;
  s.mutable_workload()->mutable_trace()->set_dir(dir);
  s.mutable_cluster()->set_gpu(gpu);
  return s;
}

TEST(ComputeScalingTest, KernelNamesAndDevicesAreClassified) {
  EXPECT_EQ(ClassifyKernelName("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x256x64"), OpClass::kGemm);
  EXPECT_EQ(ClassifyKernelName("nvjet_hsh_256x128_64x4_1x2_h_bz_coopA_NTN"), OpClass::kGemm);
  EXPECT_EQ(ClassifyKernelName("void flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128>>"), OpClass::kAttention);
  EXPECT_EQ(ClassifyKernelName("void at::native::vectorized_elementwise_kernel<4, ...>"), OpClass::kMemoryBound);
  EXPECT_EQ(ClassifyKernelName("multi_tensor_apply_kernel<AdamFunctor>"), OpClass::kOptimizer);
  EXPECT_FALSE(ClassifyKernelName("my_custom_kernel").has_value());
  EXPECT_EQ(ClassifyKernelName("void cudnn::ops::nchwToNhwcKernel<float>"), OpClass::kMemoryBound);
  EXPECT_EQ(ClassifyKernelName("void cudnn::bn_bw_1C11_kernel_new<float>"), OpClass::kMemoryBound);
  EXPECT_EQ(ClassifyKernelName("cudnn_infer_ampere_scudnn_128x64_relu_xregs_large_nn_v1"), OpClass::kGemm);
  EXPECT_EQ(GpuPresetForDevice("NVIDIA H100 80GB HBM3", 0), "h100-sxm");
  EXPECT_EQ(GpuPresetForDevice("NVIDIA A100-PG509-200", 42297524224.0), "a100-40gb");
  EXPECT_EQ(GpuPresetForDevice("NVIDIA A100-SXM4-80GB", 0), "a100-80gb");
  EXPECT_EQ(GpuPresetForDevice("NVIDIA H200", 0), "h200");
  EXPECT_EQ(GpuPresetForDevice("NVIDIA GB300", 0), "gb300");
  EXPECT_EQ(GpuPresetForDevice("NVIDIA B300 SXM6 AC", 0), "b300");
  EXPECT_EQ(GpuPresetForDevice("Tesla V100-SXM2-32GB", 0), "");
}

TEST(ComputeScalingTest, RatiosComeFromTheCostModelOrTheSpecs) {
  const GpuSpec h100 = FindGpuPreset("h100-sxm").value();
  const GpuSpec a100 = FindGpuPreset("a100-80gb").value();
  // Same GPU: nothing changes.
  ComputeScaler same(h100, h100);
  TraceNode gemm;
  gemm.name = "sm90_xmma_gemm_bf16";
  gemm.duration = 500 * kMicrosecond;
  EXPECT_EQ(same.Scale(gemm), gemm.duration);

  ComputeScaler s(h100, a100);
  // A long GEMM scales like the cost model's estimate of a GEMM of that duration.
  const Duration long_gemm = s.Scale(gemm);
  ComputeCostModel mh(h100), ma(a100);
  // The ratio lies between 1 and the peak ratio x efficiency ratio of the specs.
  const double spec = h100.PeakFlopsPerS(DType::kBf16) * h100.gemm_max_efficiency_bf16 /
                      (a100.PeakFlopsPerS(DType::kBf16) * a100.gemm_max_efficiency_bf16);
  const double ratio = static_cast<double>(long_gemm) / static_cast<double>(gemm.duration);
  EXPECT_GT(ratio, 1.5);
  EXPECT_LE(ratio, spec * 1.001);
  // A tiny kernel is dominated by the fixed launch cost: it scales much less.
  TraceNode tiny = gemm;
  tiny.duration = 3 * kMicrosecond;
  const double tiny_ratio = static_cast<double>(s.Scale(tiny)) / static_cast<double>(tiny.duration);
  EXPECT_LT(tiny_ratio, ratio);
  // An unrecognised kernel scales with HBM bandwidth (the spec ratio, exactly).
  TraceNode other;
  other.name = "my_custom_kernel";
  other.duration = 1000 * kMicrosecond;
  const double hbm = h100.HbmBytesPerS() * h100.memory_efficiency / (a100.HbmBytesPerS() * a100.memory_efficiency);
  EXPECT_NEAR(static_cast<double>(s.Scale(other)), 1000 * kMicrosecond * hbm, 1.0);
  // Host work and host-device copies keep their durations.
  TraceNode host = other;
  host.on_cpu = true;
  EXPECT_EQ(s.Scale(host), host.duration);
  TraceNode h2d;
  h2d.kind = TraceNodeKind::kMemory;
  h2d.name = "Memcpy HtoD (Pageable -> Device)";
  h2d.duration = 10 * kMicrosecond;
  EXPECT_EQ(s.Scale(h2d), h2d.duration);
  const nlohmann::json j = s.Summary();
  EXPECT_EQ(j["classes"]["gemm"]["kernels"], 2);
  EXPECT_EQ(j["classes"]["unknown"]["kernels_by_spec_ratio"], 1);
  EXPECT_EQ(j["unscaled"]["kernels"], 1);
}

// Export a scenario, simulate the export on the same cluster: the step time is the
// direct prediction's. Without link contention both paths run the same graphs with the
// same collective and interference models (the export keeps each kernel's class), so they
// agree to rounding (1e-9 relative: durations are exact picoseconds in the export). With
// contention on (the default) the trace path does not model it: within 1% here.
TEST(TraceWorkloadTest, ExportedScenarioRoundTripsWithInterference) {
  const fs::path dir = TestDir();
  scenario::Scenario sc = SmallTraining("h100-sxm", true);
  sc.mutable_simulation()->set_contention(false);
  auto run = RunTrainingScenario(sc);
  ASSERT_TRUE(run.ok()) << run.status().message();
  ASSERT_TRUE(ExportTrainingChakra(*run, dir.string(), false).ok());
  auto tr = RunTraceScenario(TraceScenario(dir.string(), "h100-sxm"));
  ASSERT_TRUE(tr.ok()) << tr.status().message();
  EXPECT_TRUE(tr->resolved.simulation().interference());
  EXPECT_NEAR(tr->result.step_time_s, run->result.step_time_s, 1e-9 * run->result.step_time_s);
  // Interference off on the trace path: faster than the prediction with it.
  scenario::Scenario off = TraceScenario(dir.string(), "h100-sxm");
  off.mutable_simulation()->set_interference(false);
  auto tr_off = RunTraceScenario(off);
  ASSERT_TRUE(tr_off.ok());
  EXPECT_LT(tr_off->result.step_time_s, tr->result.step_time_s);
}

TEST(TraceWorkloadTest, ExportedScenarioRoundTrips) {
  const fs::path dir = TestDir();
  for (bool full : {false, true}) {
    auto run = RunTrainingScenario(SmallTraining("h100-sxm", false));
    ASSERT_TRUE(run.ok()) << run.status().message();
    const fs::path ex = dir / (full ? "full" : "symmetric");
    auto m = ExportTrainingChakra(*run, ex.string(), full);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m->traces.size(), full ? 16u : 2u);
    EXPECT_EQ(m->gpu, "h100-sxm");
    if (!full) {
      EXPECT_EQ(m->traces[0].stands_for, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
      EXPECT_EQ(m->traces[1].rank, 8);
    }
    scenario::Scenario ts = TraceScenario(ex.string(), "h100-sxm");
    ts.mutable_simulation()->set_interference(false);
    auto tr = RunTraceScenario(ts);
    ASSERT_TRUE(tr.ok()) << tr.status().message();
    EXPECT_EQ(tr->result.world_size, 16);
    EXPECT_EQ(tr->result.rendezvous, full);
    EXPECT_NEAR(tr->result.step_time_s, run->result.step_time_s, 1e-9 * run->result.step_time_s)
        << (full ? "full" : "symmetric");
    EXPECT_FALSE(tr->compute_scaling["applied"].get<bool>());
  }
  auto with = RunTrainingScenario(SmallTraining("h100-sxm", true));
  ASSERT_TRUE(with.ok());
  ASSERT_TRUE(ExportTrainingChakra(*with, (dir / "default").string(), false).ok());
  auto tr = RunTraceScenario(TraceScenario((dir / "default").string(), "h100-sxm"));
  ASSERT_TRUE(tr.ok());
  EXPECT_NEAR(tr->result.step_time_s, with->result.step_time_s, 0.01 * with->result.step_time_s);
}

// Streaming reads each file's nodes only while its graph is built; the result is the
// same as loading everything first.
TEST(TraceWorkloadTest, StreamedLoadingGivesTheSameResult) {
  const fs::path dir = TestDir();
  auto run = RunTrainingScenario(SmallTraining("h100-sxm", false));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(ExportTrainingChakra(*run, dir.string(), /*full=*/true).ok());
  auto streamed = LoadTraceSet(dir.string(), /*stream=*/true);
  ASSERT_TRUE(streamed.ok()) << streamed.status().message();
  ASSERT_EQ(streamed->traces.size(), 16u);
  ASSERT_EQ(streamed->files.size(), 16u);
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_TRUE(streamed->traces[i].nodes.empty());
    EXPECT_FALSE(streamed->files[i].empty());
    EXPECT_EQ(streamed->traces[i].rank, static_cast<int64_t>(i));
    EXPECT_EQ(streamed->traces[i].communicators.size(), 2u);  // tp and dp, from the metadata
  }
  auto loaded = LoadTraceSet(dir.string());
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->traces[3].nodes.empty());
  auto a = SimulateTraceSet(*streamed, TraceSimOptions{});
  auto b = SimulateTraceSet(*loaded, TraceSimOptions{});
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(a->step_time_s, b->step_time_s);
  EXPECT_EQ(a->nodes, b->nodes);
  EXPECT_TRUE(a->rendezvous);
  // Build-only: the graphs, not run.
  TraceSimOptions o;
  o.build_only = true;
  auto c = SimulateTraceSet(*streamed, o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->nodes, b->nodes);
  EXPECT_EQ(c->step_time_s, 0);
  // LoadStreamedTraces reads the nodes back.
  auto full = LoadStreamedTraces(*streamed);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->traces[3].nodes, loaded->traces[3].nodes);
}

TEST(TraceWorkloadTest, ExportHoldsCollectivesSendsAndDependencies) {
  const fs::path dir = TestDir();
  auto run = RunTrainingScenario(SmallTraining("h100-sxm", false));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(ExportTrainingChakra(*run, dir.string(), false).ok());
  auto t = ReadChakraFile((dir / "trace.8.et").string(), -1);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->rank, 8);
  EXPECT_EQ(t->world_size, 16);
  EXPECT_EQ(t->gpu, "h100-sxm");
  size_t colls = 0, sends = 0, recvs = 0, with_deps = 0, classed = 0;
  for (const TraceNode& n : t->nodes) {
    if (n.kind == TraceNodeKind::kCollective) {
      ++colls;
      ASSERT_GE(n.communicator, 0);
      const Communicator& c = t->communicators[n.communicator];
      EXPECT_TRUE(c.name == "tp.8" || c.name == "dp.8") << c.name;
      EXPECT_GT(n.comm_bytes, 0);
    }
    if (n.kind == TraceNodeKind::kSend) {
      ++sends;
      EXPECT_EQ(n.peer, 0);  // the last stage sends gradients back to stage 0
    }
    if (n.kind == TraceNodeKind::kRecv) ++recvs;
    if (!n.data_deps.empty()) ++with_deps;
    if (!n.op_class.empty()) ++classed;
  }
  EXPECT_GT(colls, 0u);
  // One per micro-batch: 16 sequences / dp 4 / micro-batch 1.
  EXPECT_EQ(sends, 4u);
  EXPECT_EQ(recvs, 4u);
  EXPECT_GT(with_deps, t->nodes.size() - 10);
  EXPECT_GT(classed, 0u);
}

TEST(TraceWorkloadTest, ComputeIsScaledToTheTargetGpu) {
  const fs::path dir = TestDir();
  auto run = RunTrainingScenario(SmallTraining("h100-sxm", false));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(ExportTrainingChakra(*run, dir.string(), false).ok());
  auto a100 = RunTraceScenario(TraceScenario(dir.string(), "a100-80gb"));
  ASSERT_TRUE(a100.ok()) << a100.status().message();
  EXPECT_TRUE(a100->compute_scaling["applied"].get<bool>());
  EXPECT_EQ(a100->compute_scaling["traced_gpu"], "h100-sxm");
  EXPECT_EQ(a100->compute_scaling["traced_gpu_from"], "trace metadata");
  EXPECT_GT(a100->compute_scaling["classes"]["gemm"]["ratio"].get<double>(), 2.0);
  // Slower GPU: a longer step, and near what the simulator predicts for the A100 directly
  // (same graphs; per-kernel scaling by class instead of per-shape estimates).
  auto direct = RunTrainingScenario(SmallTraining("a100-80gb", false));
  ASSERT_TRUE(direct.ok());
  EXPECT_GT(a100->result.step_time_s, 1.5 * run->result.step_time_s);
  EXPECT_NEAR(a100->result.step_time_s, direct->result.step_time_s, 0.15 * direct->result.step_time_s);
  // The flag wins over the metadata; a name that is not a GPU preset is an input error.
  scenario::Scenario s = TraceScenario(dir.string(), "a100-80gb");
  s.mutable_workload()->mutable_trace()->set_gpu("a100-80gb");
  auto same = RunTraceScenario(s);
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->compute_scaling["applied"].get<bool>());
  s.mutable_workload()->mutable_trace()->set_gpu("k80");
  auto bad = RunTraceScenario(s);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("workload.trace.gpu (--trace-gpu)"), std::string::npos)
      << bad.status().message();
}

TEST(TraceWorkloadTest, BadScenariosNameTheField) {
  const fs::path dir = TestDir();
  scenario::Scenario s;
  s.mutable_workload()->mutable_trace();
  s.mutable_cluster()->set_gpu("h100-sxm");
  auto r = RunTraceScenario(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("workload.trace.dir"), std::string::npos);
  auto run = RunTrainingScenario(SmallTraining("h100-sxm", false));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(ExportTrainingChakra(*run, dir.string(), false).ok());
  s = TraceScenario(dir.string(), "h100-sxm");
  s.mutable_cluster()->set_gpus(8);
  r = RunTraceScenario(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cluster.gpus"), std::string::npos) << r.status().message();
  // Kernel measurements and calibrations would not be used on a trace: an error, not silence.
  scenario::Scenario g = TraceScenario(dir.string(), "h100-sxm");
  g.mutable_simulation()->set_compute_backend("gpu");
  r = RunTraceScenario(g);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("simulation.compute_backend (--compute-backend)"), std::string::npos);
  g = TraceScenario(dir.string(), "h100-sxm");
  g.mutable_simulation()->set_kernel_calibration("cal.yaml");
  r = RunTraceScenario(g);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("simulation.kernel_calibration (--kernel-calibration)"), std::string::npos);
  g.mutable_simulation()->set_kernel_calibration("none");
  EXPECT_TRUE(RunTraceScenario(g).ok());
  // A bigger cluster repeats the traced world.
  s.mutable_cluster()->set_gpus(32);
  r = RunTraceScenario(s);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->result.world_size, 32);
}

TEST(KinetoExportTest, TrainingTimelineReadsBackAsKineto) {
  const fs::path dir = TestDir();
  auto run = RunTrainingScenario(SmallTraining("h100-sxm", false));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(WriteTrainingKineto(*run, dir.string()).ok());
  for (const TimelineTrack& t : run->result.tracks) {
    const fs::path f = dir / ("rank" + std::to_string(t.global_rank) + ".json");
    ASSERT_TRUE(fs::exists(f)) << f;
    std::ifstream in(f);
    const nlohmann::json j = nlohmann::json::parse(in);
    EXPECT_EQ(j["distributedInfo"]["rank"], t.global_rank);
    EXPECT_EQ(j["distributedInfo"]["world_size"], 16);
    EXPECT_TRUE(j.contains("baseTimeNanoseconds"));
    size_t kernels = 0, launches = 0, nccl = 0;
    for (const auto& e : j["traceEvents"]) {
      if (e.value("cat", "") == "kernel") {
        ++kernels;
        EXPECT_TRUE(e["args"].contains("stream"));
        EXPECT_TRUE(e["args"].contains("correlation"));
        if (e["name"].get<std::string>().rfind("ncclDevKernel_", 0) == 0) {
          ++nccl;
          EXPECT_TRUE(e["args"].contains("Collective name"));
          EXPECT_TRUE(e["args"].contains("Process Group Ranks"));
        }
      }
      if (e.value("cat", "") == "cuda_runtime") ++launches;
    }
    EXPECT_EQ(kernels, launches);
    EXPECT_GT(nccl, 0u);
    // echosim's own Kineto importer reads it: the collectives come back with their sizes.
    auto rt = ReadKinetoFile(f.string(), -1);
    ASSERT_TRUE(rt.ok()) << rt.status().message();
    EXPECT_EQ(rt->rank, t.global_rank);
    EXPECT_EQ(rt->gpu, "h100-sxm");
    size_t colls = 0, graph_colls = 0;
    for (const TraceNode& n : rt->nodes) colls += n.kind == TraceNodeKind::kCollective;
    for (NodeId v = 0; v < t.graph->num_nodes(); ++v) graph_colls += t.graph->kind(v) == NodeKind::kCollective;
    EXPECT_EQ(colls, graph_colls);
  }
  // Byte-identical when written again.
  const fs::path again = dir / "again";
  ASSERT_TRUE(WriteTrainingKineto(*run, again.string()).ok());
  std::ifstream a(dir / "rank0.json"), b(again / "rank0.json");
  const std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(sa, sb);
}

}  // namespace
}  // namespace echosim
