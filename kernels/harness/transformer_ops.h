// The ComputeOps of one transformer layer, encoded exactly as the simulator encodes them
// (models/layer_ops.cc with flash attention, no sequence/context parallelism, no
// recompute; models/inference_ops.cc for serving decode), and the shape grid the
// `calibrate` command sweeps.
//
// kernels/ does not link the simulator, so the encodings are restated here; the CPU test
// kernels/tests/harness_test.cc checks them against hand-derived values, and the names
// match the simulator's so a calibration sample can be looked up by name and shape.
#ifndef ECHOSIM_KERNELS_HARNESS_TRANSFORMER_OPS_H_
#define ECHOSIM_KERNELS_HARNESS_TRANSFORMER_OPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/harness/op_spec.h"
#include "simulator/core/status.h"

namespace echosim::kernels {

enum class MlpType : uint8_t { kSwiglu, kGelu };

struct LayerShape {
  int64_t hidden = 4096, heads = 32, kv_heads = 32, ffn = 11008;
  MlpType mlp = MlpType::kSwiglu;
  bool rope = true;
  int64_t seq = 2048, micro_batch = 1;
  int64_t tp = 1;  // heads, kv heads and ffn are split over tp (kv heads at least 1)
  DataType dtype = DataType::kBf16;

  int64_t head_dim() const { return hidden / heads; }
  int64_t heads_local() const { return heads / tp; }
  int64_t kv_local() const { return kv_heads / tp > 0 ? kv_heads / tp : 1; }
  int64_t ffn_local() const { return ffn / tp; }
  int64_t tokens() const { return seq * micro_batch; }
  // Weights of one layer on one TP rank (QKV, projection, MLP; norms are negligible).
  int64_t LocalParams() const;
};

// hidden % heads == 0, head_dim 64 or 128, heads % kv_heads == 0, tp divides heads and ffn.
Status ValidateLayerShape(const LayerShape& s);

std::vector<OpSpec> LayerForwardOps(const LayerShape& s);
std::vector<OpSpec> LayerBackwardOps(const LayerShape& s);
// The fused Adam op over `params` parameters (the simulator's 34 bytes per parameter:
// simulator/training/training_step.cc).
OpSpec OptimizerOp(int64_t params);
// Serving decode of `seqs` sequences with `context` tokens each (models/inference_ops.cc):
// GEMM rows padded to the 64-row tile, decode attention over the whole context.
std::vector<OpSpec> DecodeLayerOps(const LayerShape& s, int64_t seqs, int64_t context);

struct GridOptions {
  bool quick = false;
  bool fp8 = false;  // the device supports fp8 GEMMs (compute capability >= 8.9)
};
// The calibrate sweep: layers of 1.3B, 8B, 13B, 70B and 175B models at TP 1, 2, 4, 8,
// sequence 2048 and 4096 (quick: TP 1 and 8, sequence 2048, bf16 only), plus optimizer
// shards and serving decode shapes; duplicates (same class, dtype, shape, bytes and name)
// removed, order deterministic.
std::vector<OpSpec> CalibrationGrid(const GridOptions& o);

}  // namespace echosim::kernels

#endif  // ECHOSIM_KERNELS_HARNESS_TRANSFORMER_OPS_H_
