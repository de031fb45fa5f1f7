// libFuzzer target for the pipeline layout parser (parallelism.pipeline_layout).
// Any input must give stages or a Status, never a crash, a hang or an exception. A layout that
// parses must hold the embedding first and the loss last, stay within the expansion bound, and
// read back the same from its expanded form; and validating it against DeepSeek-V3 on a plan
// of as many virtual stages must not crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "policies/parallel_plan.h"
#include "policies/pipeline_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace echosim;
  if (size > 4096) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto stages = ParsePipelineLayout(text);
  if (!stages.ok()) return 0;
  if (stages->empty() || !stages->front().embedding || !stages->back().loss) __builtin_trap();
  int64_t symbols = 0;
  for (const LayoutStage& st : *stages) symbols += st.layers + st.mtp + 1;
  if (symbols > 200000) __builtin_trap();
  auto again = ParsePipelineLayout(FormatPipelineLayout(*stages));
  if (!again.ok() || *again != *stages) __builtin_trap();
  static const ModelSpec model = FindModelPreset("deepseek-v3").value();
  ParallelPlan p;
  p.pp = static_cast<int64_t>(stages->size());
  p.gpus = p.pp;
  p.global_batch = p.pp;
  p.layout = *stages;
  if (ValidatePlan(p, model, 4096).ok()) {
    int64_t layers = 0;
    for (int64_t v = 0; v < p.pp; ++v) {
      if (p.ChunkFirstLayer(model, v) != layers) __builtin_trap();
      layers += p.ChunkLayers(model, v);
    }
    if (layers != model.layers) __builtin_trap();
  }
  return 0;
}
