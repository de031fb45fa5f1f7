// libFuzzer target: arbitrary bytes as a Chakra ET file (plain or gzip). Reading, turning
// the result into an execution graph and scaling its kernels to another GPU (whatever
// durations and op_class attributes it holds) must return a Status, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "hardware/gpu_spec.h"
#include "tracer/chakra/chakra_io.h"
#include "tracer/compute_scaling.h"
#include "tracer/trace_graph.h"

// Protobuf logs every string with invalid UTF-8 it rejects; the reader reports those
// itself, so keep the fuzzer's output readable.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto t = echosim::ParseChakraBytes(bytes, "fuzz.0.et", 0);
  if (t.ok()) {
    auto g = echosim::BuildTraceGraph(*t, echosim::TraceGraphOptions{});
    (void)g.ok();
    static const echosim::GpuSpec h100 = echosim::FindGpuPreset("h100-sxm").value();
    static const echosim::GpuSpec a100 = echosim::FindGpuPreset("a100-80gb").value();
    echosim::ComputeScaler scaler(h100, a100);
    for (const echosim::TraceNode& n : t->nodes) {
      if (n.duration >= 0) (void)scaler.Scale(n);
    }
  }
  return 0;
}
