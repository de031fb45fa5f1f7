// GpuSpec: datasheet peaks and achievable-efficiency figures of one GPU type,
// and the node it typically sits in. Presets live in hardware/gpus/<name>.yaml,
// each number with its source in a comment beside it.
#ifndef ECHOSIM_HARDWARE_GPU_SPEC_H_
#define ECHOSIM_HARDWARE_GPU_SPEC_H_

#include <string>
#include <vector>

#include "models/ops.h"
#include "simulator/core/status.h"

namespace echosim {

struct GpuSpec {
  std::string name;
  std::string description;
  double peak_tflops_bf16 = 0, peak_tflops_fp16 = 0, peak_tflops_fp8 = 0, peak_tflops_fp32 = 0;
  double peak_tflops_fp4 = 0;  // dense NVFP4; 0 = no FP4 tensor cores
  double hbm_capacity_gb = 0;  // decimal GB (1e9 bytes)
  double hbm_tbps = 0;         // TB/s (1e12 bytes/s)
  double memory_efficiency = 0.85;
  double gemm_max_efficiency_bf16 = 0.8;
  double gemm_max_efficiency_fp8 = 0.7;
  double gemm_max_efficiency_fp4 = 0;  // 0 = as fp8
  double gemm_min_dim_half = 120;
  double gemm_flops_half = 2e9;
  // The size curve of FP4 GEMMs where it differs from the other precisions' (negative: as
  // gemm_min_dim_half / gemm_flops_half).
  double gemm_min_dim_half_fp4 = -1;
  double gemm_flops_half_fp4 = -1;
  double GemmMinDimHalf(DType dtype) const {
    return dtype == DType::kFp4 && gemm_min_dim_half_fp4 >= 0 ? gemm_min_dim_half_fp4 : gemm_min_dim_half;
  }
  // The precision whose GEMMs gemm_flops_half was fitted on: the work that half-fills the GPU
  // is a fixed time at the tensor-core rate, so other precisions scale it by their peak.
  DType gemm_curve_dtype = DType::kBf16;
  double GemmFlopsHalf(DType dtype) const {
    if (dtype == DType::kFp4 && gemm_flops_half_fp4 >= 0) return gemm_flops_half_fp4;
    const double ref = PeakFlopsPerS(gemm_curve_dtype), own = PeakFlopsPerS(dtype);
    return ref > 0 && own > 0 ? gemm_flops_half * own / ref : gemm_flops_half;
  }
  double attention_efficiency = 0.35;
  // Head dimension at which attention_efficiency was measured: it holds from there up, and
  // smaller head dims run slower (AttentionHeadDimFactor, hardware/kernel_calibration.h).
  int attention_head_dim = 128;
  // Flash attention with fp8 matmuls (Transformer Engine's fp8 dot-product attention) as a
  // speed-up over the same kernel in bf16, forward and backward, for per-tensor scaled fp8
  // (delayed or current scaling) and for MXFP8 (block-scaled): the measured ratio of cuDNN's
  // kernel times, not the ratio of the peaks. Measured at query-key head dim 128 (GQA, the
  // Llama shape) and, the *_d192 fields, at 192 (MLA's width, 128 heads): the wider head gains
  // more from fp8 matmuls. Between the two the speed-up is interpolated in the head dim; below
  // 128 it is the 128 value, above 192 the 192 value. 0 (unmeasured): the fp8 : bf16 peak
  // ratio at 128; the 128 value at 192; for MXFP8, per-tensor fp8's values.
  double attention_fp8_speedup_fwd = 0;
  double attention_fp8_speedup_bwd = 0;
  double attention_mxfp8_speedup_fwd = 0;
  double attention_mxfp8_speedup_bwd = 0;
  double attention_fp8_speedup_fwd_d192 = 0;
  double attention_fp8_speedup_bwd_d192 = 0;
  double attention_mxfp8_speedup_fwd_d192 = 0;
  double attention_mxfp8_speedup_bwd_d192 = 0;
  // The speed-up of an fp8 attention kernel over its bf16 twin at query-key head dim
  // `head_dim` (see the fields above).
  double AttentionFp8Speedup(bool backward, bool block_scaled, int64_t head_dim) const;
  // Fraction of the 16-bit peak that Mamba-2's chunked scan reaches (mamba_ssm's Triton
  // mamba_chunk_scan_combined, as Megatron-Core's Mamba mixer runs it), by the FLOPs of
  // ModelSpec::MambaScanFlopsPerToken. Measured on H200: the geometric mean of the upstream
  // kernel's forward times in tile-ai/TileOPs pull request 1557 at 16,384 and 65,536 tokens per
  // call (heads 24 to 128, head dim 64, state 128, chunk 256, bf16, SM clock locked at 1830 MHz):
  // 81.7 TFLOP/s of 989, 0.083 (from 127 TFLOP/s at 16K tokens down to 58 at 65K). Other GPUs
  // (their presets): that rate per SM, times their SMs and clock, as a fraction of their own
  // peak. The scan does not follow the tensor-core peak: Mamba-2 1.4B training measures 2.33x
  // faster on H200 than on A100 and 1.51x faster on GB200 than on H200 (state-spaces/mamba
  // issue 904; tests/validation/mamba_scaling_test.cc), where the peaks differ by 3.2x and 2.5x.
  double mamba_scan_efficiency = 0.083;
  // Fraction of the benchmark tensor-core rates above (the GEMM plateaus, attention_efficiency:
  // short benchmarks, best shapes) that this GPU holds through a training step; it multiplies
  // them. Memory-bound kernels and the Mamba scan do not take it. 1: the benchmarks hold
  // (Hopper and Ampere, whose training rows the global sustained factor calibrates). A kernel
  // calibration measured on the GPU (FitKernelSamples) replaces it for the classes it fits.
  double sustained_tensor_rate = 1.0;
  // Host (CPU) time per kernel launch of eager Megatron-Core / Transformer Engine training on
  // this GPU's usual system (simulation.host_launch_us), microseconds; 0: not measured (the
  // host is then not simulated).
  double host_launch_us = 0;
  // Host time per kernel a C++ loop inside one framework call launches (Transformer Engine's
  // per-expert grouped GEMM and quantisation; simulation.host_loop_launch_us), microseconds;
  // 0: host_launch_us.
  double host_loop_launch_us = 0;
  double nvlink_gbps = 0;      // per GPU, one direction, Gbit/s
  double nvlink_efficiency = 0.8;
  double nic_gbps = 0;         // per GPU, one direction, Gbit/s
  double nic_efficiency = 0.9;
  double memory_reserved_gb = 2.0;
  // What NCCL's topology detection sees (simulator/network/nccl): CUDA compute capability x10
  // (80 Ampere, 90 Hopper, 100 Blackwell), NVLink links per GPU, whether the GPUs of a node
  // meet at NVSwitches (NVLS, NVLink SHARP, needs Hopper+ and NVSwitch), and the PCIe
  // generation of the x16 path between a GPU and its NIC.
  int sm_arch = 0;
  int nvlink_links = 0;
  bool nvswitch = false;
  int pcie_gen = 0;

  // Peak dense tensor-core FLOP/s for `dtype` (fp8 falls back to bf16 where absent).
  double PeakFlopsPerS(DType dtype) const;
  double HbmBytesPerS() const { return hbm_tbps * 1e12; }
  double HbmCapacityBytes() const { return hbm_capacity_gb * 1e9; }
  Status Validate() const;
};

StatusOr<GpuSpec> ParseGpuYaml(const std::string& text, const std::string& source);
std::vector<std::string> GpuPresetNames();
StatusOr<GpuSpec> FindGpuPreset(const std::string& name);

}  // namespace echosim

#endif  // ECHOSIM_HARDWARE_GPU_SPEC_H_
