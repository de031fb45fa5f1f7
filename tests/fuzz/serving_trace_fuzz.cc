// libFuzzer target for the serving trace parsers (simulator/serving/workload.h): the first
// line of the input goes to ParseTraceHeader, every other line to ParseCsvTraceLine (with
// the header's columns, or the Azure layout when the header is rejected) and to
// ParseJsonlTraceLine, and every cell to ParseTimestampSeconds. Nothing may crash or throw;
// whatever parses must be a valid record (token counts >= 1, finite times; Azure timestamps
// before 1970 are negative seconds, which is fine: traces use times relative to the first).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "simulator/serving/workload.h"

namespace {

void Check(bool ok, const char* what, std::string_view line) {
  if (ok) return;
  std::fprintf(stderr, "serving_trace_fuzz: %s\n--- line:\n%.*s\n", what, static_cast<int>(line.size()), line.data());
  std::abort();
}

void CheckRecord(const echosim::TraceRecord& r, std::string_view line) {
  Check(std::isfinite(r.arrival_s), "arrival not finite", line);
  Check(r.input_tokens >= 1 && r.output_tokens >= 1, "token count below 1", line);
  Check(r.prefix_tokens >= -1, "negative prefix tokens", line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t nl = text.find('\n');
  const std::string_view header = text.substr(0, nl);
  echosim::TraceColumns columns;
  auto parsed = echosim::ParseTraceHeader(header);
  if (parsed.ok()) {
    columns = *parsed;
    Check(columns.arrival >= 0 && columns.input >= 0 && columns.output >= 0, "header without columns", header);
  } else {
    columns.format = echosim::TraceFormat::kAzure;
    columns.arrival = 0;
    columns.input = 1;
    columns.output = 2;
    columns.count = 3;
  }
  std::string_view rest = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  for (int lines = 0; !rest.empty() && lines < 64; ++lines) {
    const size_t e = rest.find('\n');
    const std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 1);
    echosim::TraceRecord rec;
    if (echosim::ParseCsvTraceLine(line, columns, &rec).ok()) CheckRecord(rec, line);
    echosim::TraceRecord json;
    if (echosim::ParseJsonlTraceLine(line, &json).ok()) CheckRecord(json, line);
    auto t = echosim::ParseTimestampSeconds(line.substr(0, 40));
    if (t.ok()) Check(std::isfinite(*t), "timestamp not finite", line);
  }
  return 0;
}
