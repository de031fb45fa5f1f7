// libFuzzer target for simulator/scenario/yaml_proto.h.
//
// Feeds arbitrary bytes to YamlToProto as a Scenario, and the first line of
// them to ApplyOverride. Neither may crash or throw; whenever one succeeds,
// ProtoToYaml's output must read back to an equivalent message (unset ==
// default, see yaml_proto.h) and print the same bytes again. Any violation aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <google/protobuf/util/message_differencer.h>

#include "scenario.pb.h"
#include "simulator/scenario/yaml_proto.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& yaml, const std::string& detail) {
  std::fprintf(stderr, "yaml_proto_fuzz: %s\n--- yaml:\n%s\n--- detail:\n%s\n", what, yaml.c_str(),
               detail.c_str());
  std::abort();
}

void CheckRoundTrip(const echosim::scenario::Scenario& parsed) {
  const std::string yaml = echosim::ProtoToYaml(parsed);
  echosim::scenario::Scenario reparsed;
  const echosim::Status status = echosim::YamlToProto(yaml, "roundtrip.yaml", &reparsed);
  if (!status.ok()) Fail("ProtoToYaml output does not parse", yaml, status.ToString());
  if (!google::protobuf::util::MessageDifferencer::Equivalent(parsed, reparsed)) {
    Fail("round trip changed the message", yaml, reparsed.DebugString());
  }
  const std::string again = echosim::ProtoToYaml(reparsed);
  if (again != yaml) Fail("ProtoToYaml is not stable across a round trip", yaml, again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  echosim::scenario::Scenario parsed;
  if (echosim::YamlToProto(text, "fuzz.yaml", &parsed).ok()) CheckRoundTrip(parsed);

  echosim::scenario::Scenario overridden;
  overridden.set_name("base");
  if (echosim::ApplyOverride(text.substr(0, text.find('\n')), &overridden).ok()) {
    CheckRoundTrip(overridden);
  }
  return 0;
}
