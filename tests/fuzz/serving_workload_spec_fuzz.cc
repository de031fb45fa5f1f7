// libFuzzer target for workload spec strings (simulator/serving/workload.h): the input is
// parsed as a synthetic workload spec and as a length distribution. Specs that read files
// (trace:) are skipped. Nothing may crash or throw; a spec that parses must generate
// requests with token counts >= 1 in non-decreasing arrival order.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "simulator/serving/workload.h"

namespace {

void Check(bool ok, const char* what, const std::string& spec) {
  if (ok) return;
  std::fprintf(stderr, "serving_workload_spec_fuzz: %s\n--- spec:\n%s\n", what, spec.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string spec(reinterpret_cast<const char*>(data), size);
  if (spec.find("trace") != std::string::npos) return 0;  // no file access from the fuzzer
  auto dist = echosim::LengthDistribution::Parse(spec, "input", "fuzz");
  if (dist.ok()) {
    echosim::Rng rng(1);
    for (int i = 0; i < 16; ++i) Check(dist->Sample(rng) >= 1, "length below 1", spec);
  }
  if (!echosim::ParseSyntheticSpec(spec).ok()) return 0;
  echosim::WorkloadOptions o;
  o.max_requests = 32;
  o.duration_s = 1e6;
  auto src = echosim::MakeRequestSource(spec, o);
  if (!src.ok()) return 0;
  echosim::Request r;
  echosim::Time last = 0;
  for (int i = 0; i < 40; ++i) {
    auto more = (*src)->Next(&r);
    if (!more.ok() || !*more) break;
    Check(r.input_tokens >= 1 && r.output_tokens >= 1, "token count below 1", spec);
    Check(r.arrival >= last, "arrivals out of order", spec);
    last = r.arrival;
  }
  return 0;
}
