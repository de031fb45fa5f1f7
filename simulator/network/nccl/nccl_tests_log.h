// Parsers for the collective measurements the NCCL model is calibrated and validated on:
//   - nccl-tests output, the text table (any version: with or without the root column, with
//     mpirun "[1,0]<stdout>:" prefixes and NCCL debug lines interleaved) and the -J JSON file
//     (nccl-tests src/util.cu, JSON_FILE_VERSION 3);
//   - Vidur's collective profiles (network_*.csv: median time in ms per size and shape);
//   - the shared table of published bus bandwidths (collectives_measured_busbw.csv);
//   - size arguments ("1K", "16G", "1K:16G").
// Every error names the source, the line (or JSON key) and what was expected.
#ifndef ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_TESTS_LOG_H_
#define ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_TESTS_LOG_H_

#include <optional>
#include <string>
#include <vector>

#include "simulator/core/status.h"
#include "simulator/network/nccl/nccl_types.h"

namespace echosim {

struct NcclTestsRow {
  double size_bytes = 0;
  double count = 0;
  std::string type;
  std::string redop;
  double oop_time_us = 0, oop_algbw_GBps = 0, oop_busbw_GBps = 0;
  double ip_time_us = 0, ip_algbw_GBps = 0, ip_busbw_GBps = 0;
  int line = 0;  // 1-based line (text) or result index (JSON)
};

struct NcclTestsLog {
  std::string source;
  std::string format;                        // "text" or "json"
  std::optional<NcclCollective> collective;  // from the program name, when the log names it
  std::string nccl_version;                  // "2.21" when the log says, else ""
  int ranks = 0;                             // device lines
  int nodes = 0;                             // distinct hosts among them
  std::string device_name;                   // rank 0's GPU, e.g. "A100-SXM4-40GB"
  std::vector<NcclTestsRow> rows;
};

StatusOr<NcclTestsLog> ParseNcclTestsLog(const std::string& text, const std::string& source);  // text or JSON
StatusOr<NcclTestsLog> ParseNcclTestsText(const std::string& text, const std::string& source);
StatusOr<NcclTestsLog> ParseNcclTestsJson(const std::string& text, const std::string& source);

// "all_reduce_perf" (or a path to it) -> all_reduce.
std::optional<NcclCollective> CollectiveOfProgram(const std::string& program);
// The GPU preset of a CUDA device name ("A100-SXM4-40GB" -> "a100-40gb", "NVIDIA H100 80GB
// HBM3" -> "h100-sxm"); NotFound when there is none.
StatusOr<std::string> GpuPresetForDevice(const std::string& device_name);
// NCCL_VERSION_CODE (22105) or "2.21.5" -> "2.21"; "" when unparsable.
std::string NcclVersionFromCode(long long code);
// The modelled version (of `available`) nearest to `version` by minor number, the older on a tie;
// `version` itself when empty.
std::string ClosestNcclModelVersion(const std::string& version, const std::vector<std::string>& available);

struct VidurRow {
  NcclCollective collective = NcclCollective::kAllReduce;
  int workers = 0;
  int devices_per_node = 0;
  double size_bytes = 0;
  double median_ms = 0;
  int line = 0;
};
StatusOr<std::vector<VidurRow>> ParseVidurCsv(const std::string& text, const std::string& source);

// One row of collectives_measured_busbw.csv, fields as written (the file mixes numbers, ranges
// and prose; callers decide which rows they can use).
struct MeasuredBusbwRow {
  int line = 0;
  std::string source, system, gpu, n_gpus, n_nodes, interconnect, nccl_version, tool, collective, algorithm, dtype,
      msg_bytes, time_us, algbw_GBps, busbw_GBps, notes;
};
StatusOr<std::vector<MeasuredBusbwRow>> ParseMeasuredBusbwCsv(const std::string& text, const std::string& source);

// "1048576", "1K", "16M", "2G", "1T", "64KiB", "1MB" (binary multiples, as nccl-tests' -b/-e).
StatusOr<double> ParseByteSize(const std::string& field, const std::string& value);
// "MIN:MAX" doubling from MIN to MAX inclusive, or one size.
StatusOr<std::vector<double>> ParseSizeRange(const std::string& field, const std::string& value);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_TESTS_LOG_H_
