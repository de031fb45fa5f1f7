// `stage` and `decode`: real transformer work built from our kernels and cuBLASLt.
//
// stage: a stack of `layers` transformer layers (RMSNorm, fused QKV GEMM, RoPE, flash
// attention, output projection, residual, RMSNorm, MLP with SwiGLU or GeLU, residual) run
// forward and backward as one pipeline stage under 1F1B with M micro-batches (one stage:
// F and B alternate), weight gradients accumulated in fp32 across micro-batches, then one
// fused AdamW step over the stack's parameters (fp32 master weights, updated bf16 weights).
// The gradient arriving at the top of the stack (from the next stage) is a fixed random
// tensor. Each op of one micro-batch (the simulator's LayerForward/LayerBackward names)
// is timed with CUDA events separately from the step time (events between kernels would
// perturb the step).
//
// decode: a continuous-batching decode loop over `layers` layers: each iteration adds one
// token to every sequence of the batch (norm, QKV GEMM, RoPE, KV-cache append, flash
// attention over the cache, projection, MLP), timed at each context length of
// START:END:STEP for each batch size. The cache content before START is random data and
// positions between the timed points are not run.
#ifndef ECHOSIM_KERNELS_HARNESS_STAGE_H_
#define ECHOSIM_KERNELS_HARNESS_STAGE_H_

#include <string>

#include "kernels/harness/cli_args.h"
#include "kernels/harness/gpu_runner.h"
#include "simulator/core/status.h"

namespace echosim::kernels {

// Runs and times the stage; `json` receives FILE.json's content.
Status RunStage(GpuRunner& runner, const CliArgs& args, std::string* json);
Status RunDecode(GpuRunner& runner, const CliArgs& args, std::string* json);

}  // namespace echosim::kernels

#endif  // ECHOSIM_KERNELS_HARNESS_STAGE_H_
