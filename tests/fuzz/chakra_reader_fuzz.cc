// libFuzzer target: arbitrary bytes as a Chakra ET file (plain or gzip). Reading and
// turning the result into an execution graph must return a Status, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "tracer/chakra/chakra_io.h"
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
  }
  return 0;
}
