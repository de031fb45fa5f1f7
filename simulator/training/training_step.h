// Training-step simulation: model + parallel plan + cluster -> one iteration.
//
// Builds one ExecutionGraph per pipeline stage (the rank classes), runs them on the
// Engine through the Executor, and reports the step time, its breakdown, memory
// per rank, and the spans of the recorded ranks for a timeline.
//
// Symmetry: ranks of one pipeline stage run identical graphs, and every collective
// they issue (TP, CP, EP, DP) is among such ranks, so by default one rank per stage
// is simulated (simulated_ranks = pp) and a collective completes when that rank
// reaches it, with the duration of the full group. `full = true` simulates every
// rank with real group rendezvous; it gives the same step time on uniform clusters
// and is the path for per-rank perturbations.
#ifndef ECHOSIM_SIMULATOR_TRAINING_TRAINING_STEP_H_
#define ECHOSIM_SIMULATOR_TRAINING_TRAINING_STEP_H_

#include <memory>
#include <string>
#include <vector>

#include "hardware/gpu_spec.h"
#include "hardware/kernel_calibration.h"
#include "models/layer_ops.h"
#include "models/model_spec.h"
#include "policies/memory_model.h"
#include "policies/parallel_plan.h"
#include "simulator/graph/execution_graph.h"
#include "simulator/graph/executor.h"
#include "simulator/network/topology.h"

namespace echosim {

// SMs the flex token dispatcher's kernels hold when parallelism.flex_dispatcher_sms is unset:
// the value NeMo / Megatron-Bridge's performance scripts give every HybridEP run.
inline constexpr int kDefaultFlexDispatcherSms = 32;

struct TrainingSetup {
  ModelSpec model;
  GpuSpec gpu;
  ParallelPlan plan;
  int64_t seq_len = 2048;
  DType dtype = DType::kBf16;
  AttentionImpl attention = AttentionImpl::kFlash;
  bool fp8_attention = false;        // flash attention matmuls in fp8 (dtype fp8 only)
  Fp8Recipe fp8_recipe = Fp8Recipe::kDelayed;  // how fp8 scales its tensors (dtype fp8 only)
  bool mtp_bf16 = false;             // the MTP depths' GEMMs in bf16 (keep_mtp_spec_in_bf16)
  // Layers kept in bf16 under fp8 / fp4, from the first and from the last layer.
  int64_t bf16_layers_at_start = 0;
  int64_t bf16_layers_at_end = 0;
  double moe_load_imbalance = 0;     // busiest EP rank's routed tokens over the mean; 0: random routing's
  // LoRA (workload.training.lora_rank, lora_modules): frozen base weights, adapters of this
  // rank on the LoraModule bits; only the adapters are reduced over DP and stepped.
  int64_t lora_rank = 0;
  uint32_t lora_modules = 0;
  // Packed sequences (workload.training.packed_sample_tokens): attention within samples of this
  // many tokens; 0 = one sample per sequence.
  int64_t packed_sample_tokens = 0;
  TopologyConfig topology;
  double host_overhead_s = 0;        // fixed host time per step (data loading, logging)
  // Host time per kernel launch (simulation.host_launch_us), seconds; 0: no host model.
  double host_launch_s = 0;
  // Host time per kernel a C++ loop inside one framework call issues (LoopLaunches), seconds.
  double host_loop_launch_s = 0;
  // Parts of the step captured in CUDA graphs (parallelism.cuda_graph_scope, GraphScope bits).
  uint32_t cuda_graph_scopes = 0;
  double compute_sustained_factor = 1.0;  // scales GEMM and attention throughput
  bool full = false;                 // simulate every rank
  bool overlap_grad_reduce = true;   // DP gradient reduction overlaps the backward pass
  bool overlap_param_gather = false; // ZeRO parameter all-gather hidden behind next forward
  bool tp_comm_overlap = false;      // TP all-gather/reduce-scatter overlapped with GEMMs (SP only)
  // MoE all-to-all of one micro-batch overlapped with another's compute (Megatron-Core
  // overlap_moe_expert_parallel_comm / combined 1F1B); needs ep > 1 and an MoE model.
  bool ep_comm_overlap = false;
  bool flex_dispatch = false;        // parallelism.moe_dispatcher: flex
  double flex_dispatch_traffic_factor = 1.0;  // simulation.flex_dispatch_traffic_factor
  // SMs the flex dispatcher's kernels hold (parallelism.flex_dispatcher_sms): the channel count
  // its all-to-alls present to the interference model.
  int flex_dispatcher_sms = kDefaultFlexDispatcherSms;
  bool grouped_gemm_single_kernel = false;  // parallelism.moe_grouped_gemm: single_kernel
  bool fused_moe_mlp = false;               // parallelism.moe_fused_mlp
  double grad_bucket_params = 40e6;  // DP gradient bucket size in parameters
  bool interference = true;          // compute/communication slow each other on a GPU
  bool contention = true;            // transfers share NIC and fabric links (flow level)
  std::string collective_model = "nccl";  // nccl | analytic
  std::string nccl_version;          // empty: the calibration's, else 2.21
  std::string nccl_calibration;      // path of a calibration file; empty: the GPU's built-in one
  // Kernel calibration of the compute model (hardware/kernel_calibration.h); null: the GPU
  // preset's datasheet roofline.
  std::shared_ptr<const ComputeCalibration> compute_calibration;
  // Kernel times measured on a GPU (--compute-backend gpu); ops found here take these.
  std::shared_ptr<const MeasuredKernelTimes> measured_kernels;
};

struct StepBreakdown {
  double compute_s = 0;          // GPU busy with compute kernels
  double exposed_comm_s = 0;     // communication running with no compute beside it
  // exposed_comm_s split by parallel dimension (tp, cp, ep, dp, pp, edp), indexed by GroupKind;
  // time when several dimensions are exposed at once is shared equally among them.
  double exposed_comm_by_group_s[kNumGroupKinds] = {};
  double pipeline_bubble_s = 0;  // nothing running: waiting on other stages
  double other_s = 0;            // optimizer step and host overheads
  // Nothing running while a kernel whose GPU-side inputs were ready waited for the host to
  // issue it (simulation.host_launch_us; 0 without it).
  double host_bound_s = 0;
};

struct TimelineTrack {
  int64_t global_rank = 0;
  const ExecutionGraph* graph = nullptr;
  std::vector<Span> spans;
};

struct StepResult {
  double step_time_s = 0;
  Time step_end = 0;  // step_time_s in the simulator's picoseconds
  // Every simulated rank ends with its host-overhead delay (nothing finishes after it): the
  // step then grows by exactly any increase of the overhead, all else unchanged.
  bool host_overhead_is_tail = false;
  double tokens_per_s_per_gpu = 0;
  double model_flops_per_step = 0;
  double model_tflops_per_gpu = 0;
  double mfu = 0;
  double peak_memory_bytes = 0;
  double memory_capacity_bytes = 0;
  // The busiest EP rank's routed load over the mean its MoE layers were priced at (1: no EP).
  double moe_load_imbalance = 1.0;
  bool fits_in_memory = true;
  int64_t peak_memory_stage = 0;
  std::vector<StageMemory> memory;
  StepBreakdown breakdown;
  int64_t breakdown_rank = 0;  // global rank the breakdown describes (the last to finish)
  int64_t simulated_ranks = 0;
  uint64_t events = 0;
  uint64_t graph_nodes = 0;    // nodes executed across simulated ranks
  double sim_wall_s = 0;
  std::vector<std::shared_ptr<const ExecutionGraph>> graphs;  // one per stage
  std::vector<TimelineTrack> tracks;
};

// Validates the setup (plan vs model) and simulates one training iteration.
StatusOr<StepResult> SimulateTrainingStep(const TrainingSetup& setup);

// Every distinct compute op shape (kernel family included) of the step's stage graphs, in
// first-seen order: what `--compute-backend gpu` measures.
StatusOr<std::vector<ComputeOp>> CollectComputeOps(const TrainingSetup& setup);

// Builds the execution graph of one rank of pipeline stage `stage` (exposed for tests).
StatusOr<ExecutionGraph> BuildStageGraph(const TrainingSetup& setup, int64_t stage);

// Stream indices of stage graphs.
enum StageStream : uint8_t {
  kStreamCompute = 0,
  kStreamDpComm = 1,
  kStreamSendFwd = 2,
  kStreamRecvFwd = 3,
  kStreamSendBwd = 4,
  kStreamRecvBwd = 5,
  kStreamTpComm = 6,
  kStreamDpReduce = 7,  // ZeRO-3 gradient reduce-scatter
  kStreamEpComm = 8,    // EP all-to-all with ep_comm_overlap (present only then)
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_TRAINING_TRAINING_STEP_H_
