// libFuzzer target: arbitrary bytes as Kineto JSON. Parsing, building the rank's trace
// and its execution graph must return a Status, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tracer/kineto/kineto_import.h"
#include "tracer/trace_graph.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto log = echosim::ParseKinetoJson(text, "fuzz.json", -1);
  if (!log.ok()) return 0;
  auto t = echosim::BuildRankTrace(*log, echosim::ActivityOptions{});
  if (t.ok()) {
    auto g = echosim::BuildTraceGraph(*t, echosim::TraceGraphOptions{});
    (void)g.ok();
  }
  return 0;
}
