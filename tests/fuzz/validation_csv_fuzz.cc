// libFuzzer target for the published-data tables: the commented-CSV reader (quoted cells,
// comments, multi-line fields) and the NeMo / Megatron-Bridge row builder over whatever it
// parses. Any input must give rows or a Status naming the line, never a crash or a hang; every
// row either carries a skip reason or a configuration the simulator accepts.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "simulator/scenario/simulation.h"
#include "simulator/validation/csv_table.h"
#include "simulator/validation/validation_case.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto table = echosim::ParseCommentedCsv(text, "fuzz.csv");
  if (!table.ok()) return 0;
  if (table->rows.size() != table->line_numbers.size()) __builtin_trap();
  for (const auto& row : table->rows) {
    for (const std::string& cell : row) (void)echosim::PrimaryCellValue(cell);
  }
  std::vector<echosim::ValidationCase> cases;
  if (!echosim::NemoRowsFromTable(*table, &cases).ok()) return 0;
  for (const echosim::ValidationCase& c : cases) {
    if (c.row.skipped) {
      if (c.row.skip_reason.empty()) __builtin_trap();
      continue;
    }
    if (!(c.row.measured_step_s > 0)) __builtin_trap();
    // The scenario must resolve (or be refused with a message); small jobs are also run.
    echosim::scenario::Scenario s = echosim::ToScenario(c.config, "fuzz row");
    if (c.config.gpus <= 64 && c.config.gbs <= 256) {
      auto run = echosim::RunTrainingScenario(s);
      if (!run.ok() && run.status().message().empty()) __builtin_trap();
    }
  }
  return 0;
}
