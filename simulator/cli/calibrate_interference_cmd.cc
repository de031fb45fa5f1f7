// echosim calibrate-interference TABLE.csv [--out FILE]
//
// Fits the compute/communication interference model (simulator/interference) to measured
// slowdowns: a CSV with header class,channels,sm_count,slowdown, as the kernels harness
// writes it. Prints the fitted parameters as a calibration YAML (or writes it to FILE).
#include <fstream>
#include <iostream>
#include <sstream>

#include "simulator/cli/commands.h"
#include "simulator/core/strings.h"
#include "simulator/interference/interference_model.h"

namespace echosim {

int CmdCalibrateInterference(const std::vector<std::string>& args) {
  static const char* kHelp =
      "usage: echosim calibrate-interference TABLE.csv [--out FILE]\n"
      "  TABLE.csv: class,channels,sm_count,slowdown (class: gemm|attention|memory_bound|optimizer)\n";
  std::string table, out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--out") {
      if (i + 1 >= args.size()) return UsageError("--out needs a value", kHelp);
      out = args[++i];
    } else if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kHelp;
      return 0;
    } else if (table.empty() && args[i][0] != '-') {
      table = args[i];
    } else {
      return UsageError(StrCat("unexpected argument '", args[i], "'"), kHelp);
    }
  }
  if (table.empty()) return UsageError("a measured table is required", kHelp);
  std::ifstream in(table);
  if (!in) return Fail(NotFound(StrCat("cannot open '", table, "'")));
  std::stringstream ss;
  ss << in.rdbuf();
  auto samples = ReadInterferenceCsv(ss.str(), table);
  if (!samples.ok()) return Fail(samples.status());
  auto fit = FitInterference(*samples, DefaultInterferenceParams());
  if (!fit.ok()) return Fail(fit.status());
  std::ostringstream y;
  y << "# Fitted by echosim calibrate-interference from " << table << " (" << samples->size()
    << " samples)\n";
  y << "source: \"" << fit->source << "\"\n";
  y << "comm_slowdown: " << FormatDouble(fit->comm_slowdown, 6) << "\n";
  y << "classes:\n";
  for (int c = 0; c < 4; ++c) {
    y << "  " << OpClassName(static_cast<OpClass>(c)) << ": {a: " << FormatDouble(fit->a[c], 6)
      << ", b: " << FormatDouble(fit->b[c], 6) << "}\n";
  }
  y << "sm_count:\n";
  for (const auto& [gpu, sms] : fit->sm_count) y << "  " << gpu << ": " << sms << "\n";
  if (out.empty()) {
    std::cout << y.str();
  } else {
    std::ofstream o(out);
    if (!o) return Fail(InvalidArgument(StrCat("--out: cannot write '", out, "'")));
    o << y.str();
    std::cout << "wrote " << out << "\n";
  }
  return 0;
}

}  // namespace echosim
