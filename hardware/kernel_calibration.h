// Kernel calibration: kernel times measured on a real GPU, and the compute-model parameters
// fitted to them.
//
// A calibration file (hardware/calibration/<gpu>.yaml, `kind: kernel_calibration`) is written
// by `echosim-kernels calibrate` (kernels/): device facts (name, compute capability, clocks)
// and one sample per measured kernel shape (a ComputeOp plus its median time). Every file
// under hardware/calibration/ is embedded in the binary; the one named after the scenario's
// GPU preset is used by default, `--kernel-calibration FILE` (simulation.kernel_calibration)
// names another.
//
// FitKernelCalibration() turns the samples into the roofline parameters of
// hardware/compute_cost_model.h, per op class:
//   memory_bound, optimizer: t = overhead + bytes / (hbm_bw * efficiency), weighted linear
//     least squares (weights 1/t^2, i.e. relative error) in closed form;
//   gemm (per dtype): t = max(flops / (peak(dtype) * eff(m,n,k)), bytes / (hbm_bw * mem_eff))
//     + overhead, eff = max_eff * d/(d + min_dim_half) * F/(F + flops_half); the three
//     parameters by a deterministic coarse-to-fine grid search minimising the squared log error;
//   attention (forward and backward separately): t = max(flops / (peak_bf16 * eff), bytes /
//     (hbm_bw * mem_eff)) + overhead, eff by the same grid search in one dimension.
// The overhead of GEMM and attention kernels is the memory-bound fit's per-kernel overhead.
// A class with no samples keeps the GPU preset's datasheet value; a class with more than 400
// is fitted on 400 evenly spaced ones (the grid search's cost). Ops whose shape matches a
// sample exactly (KernelShapeKey) use the measured median instead of the curve.
#ifndef ECHOSIM_HARDWARE_KERNEL_CALIBRATION_H_
#define ECHOSIM_HARDWARE_KERNEL_CALIBRATION_H_

#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "hardware/gpu_spec.h"
#include "models/ops.h"
#include "simulator/core/embedded_data.h"
#include "simulator/core/status.h"

namespace echosim {

// One measured kernel shape.
struct KernelSample {
  ComputeOp op;
  double median_us = 0, p10_us = 0, p90_us = 0;
  int64_t repeats = 0;
  std::string kernel;  // what actually ran (e.g. "cublasLt")
  int line = 0;        // line in the file it came from (for messages)
};

struct KernelCalibration {
  std::string source;  // file path (or embedded path)
  std::string gpu;     // echosim GPU preset name
  std::string device;  // CUDA device name
  std::string compute_capability;
  int64_t sm_count = 0;
  std::string driver_version, cuda_runtime_version, measured_at;
  double sm_mhz = 0, max_sm_mhz = 0, mem_mhz = 0;
  bool clocks_locked = false;
  bool clocks_known = true;  // false: the harness could not read clocks (no NVML)
  int64_t warmup = 0, repeats = 0;
  std::string statistic, timer;
  std::vector<KernelSample> samples;

  // "FILE (gpu, device, measured_at)", as summaries print it.
  std::string Describe() const;
};

// Parses a calibration file; errors name the source, the line and the field.
StatusOr<KernelCalibration> ParseKernelCalibration(const std::string& text, const std::string& source);
StatusOr<KernelCalibration> LoadKernelCalibrationFile(const std::string& path);
// The embedded calibration of GPU preset `gpu` (hardware/calibration/<gpu>.yaml with
// `kind: kernel_calibration`) among `files` (default: the binary's embedded files); NotFound
// when there is none. A file that exists but does not parse is an error.
StatusOr<KernelCalibration> BuiltInKernelCalibration(const std::string& gpu);
StatusOr<KernelCalibration> BuiltInKernelCalibration(const std::string& gpu,
                                                     std::span<const EmbeddedFile> files);

// Parses one ComputeOp JSON object (the contract's encoding) from `json_text`; `where`
// prefixes error messages (e.g. "FILE:LINE").
StatusOr<ComputeOp> ComputeOpFromJson(const std::string& json_text, const std::string& where);
// The contract's JSON of an op (one line, no trailing newline).
std::string ComputeOpToJson(const ComputeOp& op);

// Which kernel the harness runs for a memory-bound op, from its name: norm, activation,
// softmax, rope, embedding or copy. For attention: "fwd", "bwd" or "decode" (from the name's
// suffix; serving's prefill attention is a forward kernel).
std::string KernelFamily(const ComputeOp& op);
// Identity of a kernel shape for exact matching and caches: class, dtype, dimensions
// (gemm, attention), bytes (memory-bound, optimizer) and the kernel family.
std::string KernelShapeKey(const ComputeOp& op);

// Roofline parameters fitted to samples (see the header comment).
struct FittedComputeParams {
  struct Gemm {
    bool fitted = false;
    int samples = 0;
    double max_efficiency = 0, min_dim_half = 0, flops_half = 0;
  };
  struct Linear {  // t = overhead + bytes / (hbm_bw * efficiency)
    bool fitted = false;
    int samples = 0;
    double efficiency = 0, overhead_s = 0;
  };
  Gemm gemm[kNumDTypes];  // indexed by DType
  bool attention_fitted[2] = {false, false};  // forward, backward
  int attention_samples[2] = {0, 0};
  double attention_efficiency[2] = {0, 0};
  Linear memory, optimizer;
  double kernel_overhead_s = 2e-6;  // GEMM and attention kernels
};

// Datasheet values of `gpu` (what the model uses without a calibration).
FittedComputeParams DatasheetParams(const GpuSpec& gpu);
// Fits `samples` measured on `gpu`; classes without samples keep DatasheetParams(gpu).
FittedComputeParams FitKernelSamples(const GpuSpec& gpu, const std::vector<KernelSample>& samples);

// Fraction of the throughput measured at head dimension `reference_dim` (GpuSpec::
// attention_head_dim, 128 unless the GPU file says otherwise) that a fused attention kernel
// reaches at `head_dim`. Each query-key score costs 4 * head_dim matmul FLOPs (forward) plus
// softmax work that does not depend on head_dim (the exponential, the running max and sum),
// so at small head dims the softmax share grows and the FLOP rate falls as d / (d + d0).
// d0 = 124 makes head dim 64 reach 0.670 of head dim 128: cuDNN's forward on H100 SXM5,
// 4K tokens, non-causal, reaches 408 TFLOP/s at head dim 64 and 609 at head dim 128
// (FlashAttention-3 paper, Shah et al. 2024, arXiv 2407.08608, Fig. 5). From the reference
// head dim up the measured efficiency applies unchanged (cuDNN's head dim 256 is 581 TFLOP/s,
// within 5% of 128, not the 1.3x the formula would give). The backward is taken to scale the
// same way, and d0 is taken from H100 for every GPU.
double AttentionHeadDimFactor(int64_t head_dim, int64_t reference_dim = 128);

// The FLOP rate of a sliding-window attention kernel (each query sees `window` of `keys`
// keys; window 0 = no window) relative to the causal kernel of the same shape and head dim,
// counting only the scored pairs. A query tile of a narrow band does the per-tile work
// (loading the query tile, the masked part of the diagonal tile, the softmax rescaling, the
// output) for few keys; the causal kernel amortises it over keys / 2 on average. With c keys'
// worth of such work per query: [w / (w + c)] / [(keys / 2) / (keys / 2 + c)], and 1 from a
// band of keys / 2 up (as much work per query as the causal kernel). c is fitted on cuDNN
// 9.22's window-128 kernels on GB200 (NVIDIA/cudnn-frontend
// benchmark/sdpa_benchmark_training/results/gpt_oss/gb200, 4K tokens, head dim 64, bf16:
// 161 / 182 TFLOP/s forward / backward against 943 / 769 for the causal kernel at head dim
// 64, the Llama-shape 1408 / 1148 times AttentionHeadDimFactor(64)): c = 980 keys forward and
// 560 backward. Checks: cuDNN 9.19's window-1024 kernels there (574 / 617 TFLOP/s) give 0.61
// / 0.80 against 0.76 / 0.82 from the formula; GB300's window-128 ones 0.15 / 0.23 against
// 0.17 / 0.24. Applied on every GPU (Hopper's window-1024 kernels, H200 9.19, run relatively
// faster: 0.81 / 0.73).
double WindowedAttentionRate(int64_t window, int64_t keys, bool backward);

// The FLOP rate of a flash-attention kernel with attention dropout relative to the same kernel
// without it (forward or backward): the random number drawn per score costs the kernel a
// fifth of its forward rate and a third of its backward.
double AttentionDropoutRate(bool backward);

// Fraction of `op`'s peak FLOP/s that the GEMM curve of `p` gives it (see ComputeCostModel).
double GemmCurveEfficiency(const FittedComputeParams& p, const ComputeOp& op);
// GEMMs of `op` running at once (ComputeOp::concurrency; all of a batched kernel's).
int64_t GemmsInFlight(const ComputeOp& op);
// Back-to-back kernel waves of `op`: 1, or batch / concurrency for a grouped GEMM issued
// one GEMM per group (each wave pays the kernel overhead).
int64_t KernelLaunches(const ComputeOp& op);

// MXFP8 (block-scaled, ComputeOp::block_scaled) GEMMs take this many times the time of fp8
// GEMMs with one scale per tensor. Transformer Engine's GEMM profiling guide
// (docs/examples/gemm_profiling/gemm_profiling.rst, pull request 2863) on B300, cuBLAS, the
// operands quantized before the timed loop: one transformer layer's Fprop, Dgrad and Wgrad
// (hidden 4096, MLP 16384, 15,872 tokens) take 7.161 ms in MXFP8 and 6.812 ms with per-tensor
// current scaling.
inline constexpr double kBlockScaledGemmTimeRatio = 7.161 / 6.812;

// Seconds of `op` under `p` on `gpu`, GEMM and attention throughput scaled by `sustained`.
double RooflineSeconds(const GpuSpec& gpu, const FittedComputeParams& p, const ComputeOp& op,
                       double sustained = 1.0);

// What ComputeCostModel uses from a calibration: the fitted curve and the measured samples.
struct ComputeCalibration {
  std::string description;  // KernelCalibration::Describe()
  FittedComputeParams params;
  std::unordered_map<std::string, double> sample_s;  // KernelShapeKey -> measured seconds
  bool use_exact_samples = true;
};
StatusOr<ComputeCalibration> MakeComputeCalibration(const GpuSpec& gpu, const KernelCalibration& cal);
// The calibration a run of `gpu` uses: `path` names a file; "none" means no calibration
// (null); empty means the built-in one of the GPU (null when there is none). Fits are kept
// per GPU and file contents, so sweeps fit once.
StatusOr<std::shared_ptr<const ComputeCalibration>> ResolveComputeCalibration(const GpuSpec& gpu,
                                                                              const std::string& path);
// What the summary says about the compute model: the calibration's description, or
// "built-in datasheet roofline".
std::string DescribeComputeCalibration(const ComputeCalibration* cal);

// Kernel durations measured for one run (`--compute-backend gpu`): KernelShapeKey -> seconds.
struct MeasuredKernelTimes {
  std::string device;
  std::unordered_map<std::string, double> seconds;
};

}  // namespace echosim

#endif  // ECHOSIM_HARDWARE_KERNEL_CALIBRATION_H_
