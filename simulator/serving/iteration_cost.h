// IterationCostModel: how long one serving iteration takes on one replica.
//
// What it models: the GPU time of one forward pass of a batch that mixes prefill chunks and
// decode tokens (models/inference_ops.h for the operators), plus the host time of the
// engine's step (scheduling, input preparation, sampling bookkeeping, detokenisation):
//   t = sum over layers [ linear(T) + attention(work) ] + embedding(T) + head(S)
//       + (pp - 1) * send_recv(T * hidden * 2 bytes) + cpu_overhead(seqs)
//   T = new tokens in the batch, S = sequences sampling a token.
//   linear(T): every non-attention op of a layer through the roofline ComputeCostModel and
//     the TP all-reduces through the AnalyticCollectiveModel (TP groups inside one node).
//   attention(work): the batched prefill and decode attention kernels; the roofline of an
//     attention op is max(flops * f, bytes * b) + kernel overhead, so f, b and the overhead
//     are read once from the ComputeCostModel (probe ops) and applied to each iteration's
//     summed work. This keeps the memo bounded (no entry per distinct context length).
//   cpu_overhead(seqs) = cpu_overhead_per_iteration + cpu_overhead_per_seq * seqs
//     + cpu_overhead_per_new_request * requests starting in this iteration (the front end's
//     per-request work, request parsing, tokenisation and output set-up, which in vLLM runs
//     on the engine's host thread), the calibrated host term (serving_calibration.h).
// Pipeline parallelism runs one batch at a time through the stages (no micro-batch overlap):
// the stages' times add up, plus one activation send per stage boundary.
// linear(T), embedding(T) and head(S) are memoised per T and S. Deterministic.
// With a kernel calibration (hardware/kernel_calibration.h) the compute model uses the
// parameters fitted to measured kernels (`echosim validate --on-gpu` compares decode).
#ifndef ECHOSIM_SIMULATOR_SERVING_ITERATION_COST_H_
#define ECHOSIM_SIMULATOR_SERVING_ITERATION_COST_H_

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "hardware/compute_cost_model.h"
#include "hardware/kernel_calibration.h"
#include "hardware/gpu_spec.h"
#include "models/inference_ops.h"
#include "models/model_spec.h"
#include "simulator/core/time.h"
#include "simulator/network/collective_model.h"
#include "simulator/network/topology.h"

namespace echosim {

struct BatchWork {
  int64_t tokens = 0;   // new tokens of the iteration (prefill chunks + decodes)
  int64_t sampled = 0;  // sequences that sample a token
  int64_t seqs = 0;     // sequences in the batch
  int64_t new_requests = 0;  // sequences scheduled for the first time
  AttentionWork attention;
};

class IterationCostModel {
 public:
  IterationCostModel(ModelSpec model, GpuSpec gpu, InferenceConfig config, TopologyConfig topology,
                     double cpu_overhead_per_iteration_s, double cpu_overhead_per_seq_s,
                     double cpu_overhead_per_new_request_s = 0,
                     std::shared_ptr<const ComputeCalibration> calibration = nullptr);
  IterationCostModel(const IterationCostModel&) = delete;
  IterationCostModel& operator=(const IterationCostModel&) = delete;

  // GPU time of the iteration (all stages), without the host overhead.
  Duration GpuTime(const BatchWork& work);
  // Host time of an iteration of `seqs` sequences of which `new_requests` start.
  Duration CpuOverhead(int64_t seqs, int64_t new_requests) const;
  Duration Total(const BatchWork& work) { return GpuTime(work) + CpuOverhead(work.seqs, work.new_requests); }

  // Measured kernels (`echosim serve --compute-backend gpu`). MeasurementTokens() is the grid
  // of new-token counts whose non-attention ops are measured; MeasurementOps() every op to
  // measure (those of the grid, and attention kernels of a few prefill and decode works up to
  // `max_context` tokens). UseMeasuredKernels() then prices ops from `times`: linear(T),
  // embedding(T) and head(S) interpolate linearly between grid points (beyond the last, they
  // extrapolate from the last two), and the attention rates become the medians of the
  // measured attention kernels (per byte from decode, per FLOP from prefill, after the kernel
  // overhead fitted to the measured memory-bound ops).
  static std::vector<int64_t> MeasurementTokens(int64_t max_tokens);
  std::vector<ComputeOp> MeasurementOps(const std::vector<int64_t>& grid, int64_t max_context) const;
  Status UseMeasuredKernels(std::shared_ptr<const MeasuredKernelTimes> times, std::vector<int64_t> grid,
                            int64_t max_context);

  // Pieces, for tests and reports.
  Duration LinearLayerTime(int64_t tokens);
  Duration AttentionLayerTime(const AttentionWork& work) const;
  Duration EmbeddingTime(int64_t tokens);
  Duration HeadTime(int64_t sampled);
  Duration StageSendTime(int64_t tokens) const;

  const ModelSpec& model() const { return model_; }
  const InferenceConfig& config() const { return config_; }
  const GpuSpec& gpu() const { return gpu_; }
  const TopologyConfig& topology() const { return topology_.config(); }

 private:
  Duration StepsTime(const std::vector<LayerStep>& steps);
  // Attention works whose kernels are measured (see MeasurementOps).
  std::vector<AttentionWork> MeasurementWorks(const std::vector<int64_t>& grid, int64_t max_context) const;
  // With measured kernels: `exact(T)` at the grid points around T, interpolated.
  Duration Interpolated(int64_t tokens, Duration (IterationCostModel::*exact)(int64_t));
  Duration LinearExact(int64_t tokens) { return StepsTime(InferenceLayerOps(model_, tokens, config_)); }
  Duration EmbeddingExact(int64_t tokens) { return StepsTime(InferenceEmbeddingOps(model_, tokens, config_)); }
  Duration HeadExact(int64_t sampled) { return StepsTime(InferenceHeadOps(model_, sampled, config_)); }
  static Duration Lookup(std::vector<Duration>* table, std::unordered_map<int64_t, Duration>* big,
                         int64_t key);

  ModelSpec model_;
  GpuSpec gpu_;
  InferenceConfig config_;
  Topology topology_;
  ComputeCostModel compute_;
  AnalyticCollectiveModel comm_;
  GroupShape tp_group_;
  double cpu_base_s_, cpu_per_seq_s_, cpu_per_new_request_s_;
  // Attention roofline, read from the compute model.
  double attn_s_per_flop_ = 0, attn_s_per_byte_ = 0, kernel_overhead_s_ = 0;
  std::vector<Duration> linear_, embed_, head_;
  std::unordered_map<int64_t, Duration> linear_big_, embed_big_, head_big_;
  std::vector<int64_t> grid_;  // measured token counts (empty: the model prices every T)
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SERVING_ITERATION_COST_H_
