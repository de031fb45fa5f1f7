// Validation against published training measurements.
//
// Reads the measured tables (Megatron-LM SC'21 Table 1 on A100, Korthikanti et al.
// 2022 Table 5 on A100, Megatron-Core r0.8 weak scaling on H100) from a data
// directory, rebuilds every row's configuration as stated by its source, simulates
// it, and compares the predicted with the measured step time. Nothing in the
// simulator is fitted to these rows: all constants come from datasheets and
// micro-benchmarks (hardware/gpus/*.yaml) except two global constants (a sustained-
// throughput factor and a per-step host overhead, hardware/calibration/training.yaml).
// Those are refitted here leaving each source out in turn, and each table is predicted
// with the constants fitted on the others.
#ifndef ECHOSIM_SIMULATOR_VALIDATION_PUBLISHED_H_
#define ECHOSIM_SIMULATOR_VALIDATION_PUBLISHED_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "hardware/calibration.h"
#include <vector>

#include "simulator/core/status.h"
#include "simulator/scenario/simulation.h"

namespace echosim {

struct ValidationOptions {
  std::string data_dir;  // contains training/*.csv
};

struct ValidationRow {
  std::string source;      // table name
  std::string label;       // model and variant
  std::string config;      // short plan description
  double measured_step_s = 0;
  double predicted_step_s = 0;
  double measured_tflops_per_gpu = 0;
  double predicted_tflops_per_gpu = 0;
  double error = 0;        // (predicted - measured) / measured, step time, held-out constants
  double predicted_step_shipped_s = 0;  // with the shipped constants (fitted on all rows)
  double error_shipped = 0;
  double fit_factor = 0;        // the held-out constants used for this row
  double fit_overhead_ms = 0;
  bool skipped = false;
  std::string skip_reason;
  std::string assumptions; // what the source did not state and we assumed
};

struct ValidationSummary {
  std::string source;
  bool shipped_constants = false;  // false: held-out (leave-one-source-out) predictions
  int rows = 0;
  int skipped = 0;
  double median_abs_error = 0;
  double mean_abs_error = 0;
  double worst_abs_error = 0;
  std::string worst_label;
};

struct ValidationReport {
  std::vector<ValidationRow> rows;
  std::vector<ValidationSummary> summaries;  // per source, then "all" held-out and in-sample
  TrainingCalibration shipped;                // hardware/calibration/training.yaml
  TrainingCalibration fit_all;                // refit on every row now
  std::map<std::string, TrainingCalibration> fit_without;  // per held-out source
};

StatusOr<ValidationReport> RunPublishedValidation(const ValidationOptions& options);
nlohmann::json ValidationReportJson(const ValidationReport& report);
std::string ValidationReportText(const ValidationReport& report);

// Parses a '#'-commented CSV (no quoted fields) into header -> column maps; the
// error names the file and line.
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> line_numbers;
  StatusOr<std::string> Get(size_t row, const std::string& column) const;
};
StatusOr<CsvTable> ReadCommentedCsv(const std::string& path);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_VALIDATION_PUBLISHED_H_
