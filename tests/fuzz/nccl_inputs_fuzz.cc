// libFuzzer target for the NCCL model's input parsers: nccl-tests logs (text and -J JSON),
// Vidur CSVs, the published bus-bandwidth table, calibration, constants and all-to-all efficiency
// YAML, size ranges.
// Any input must give a value or a Status, never a crash, a hang or an exception. A log that
// parses must also survive calibration sample extraction.
#include <cstddef>
#include <cstdint>
#include <string>

#include "simulator/network/nccl/alltoall_efficiency.h"
#include "simulator/network/nccl/collective_measurements.h"
#include "simulator/network/nccl/nccl_calibration.h"
#include "simulator/network/nccl/nccl_constants.h"
#include "simulator/network/nccl/nccl_tests_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace echosim;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto log = ParseNcclTestsLog(text, "fuzz.log");
  if (log.ok()) {
    if (log->rows.empty()) __builtin_trap();  // a parsed log always has rows
    (void)SamplesFromNcclTestsLog(*log, NcclCollective::kAllReduce);
  }
  (void)ParseVidurCsv(text, "fuzz.csv");
  (void)ParseMeasuredBusbwCsv(text, "fuzz.csv");
  (void)ParseNcclCalibrationYaml(text, "fuzz.yaml");
  (void)ParseNcclConstantsYaml(text, "fuzz.yaml");
  (void)ParseMeasuredSystemsYaml(text, "fuzz.yaml");
  (void)ParseAllToAllEfficiencyYaml(text, "fuzz.yaml");
  (void)ParseSizeRange("--sizes", text.substr(0, 64));
  return 0;
}
