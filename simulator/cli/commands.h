// Subcommands of the `echosim` command, one function each (args exclude the command name).
// Exit codes: 0 success, 2 usage or input error, 1 any other failure.
#ifndef ECHOSIM_SIMULATOR_CLI_COMMANDS_H_
#define ECHOSIM_SIMULATOR_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {
namespace scenario {
class Scenario;
}  // namespace scenario

int CmdTrain(const std::vector<std::string>& args);
int CmdRun(const std::vector<std::string>& args);
int CmdList(const std::vector<std::string>& args);
int CmdValidate(const std::vector<std::string>& args);
int CmdCalibrateInterference(const std::vector<std::string>& args);
int CmdSearch(const std::vector<std::string>& args);
int CmdServe(const std::vector<std::string>& args);
int CmdServeSearch(const std::vector<std::string>& args);
int CmdValidateServing(const std::vector<std::string>& args);
int CmdCollective(const std::vector<std::string>& args);           // collective_cmd.cc
int CmdCalibrate(const std::vector<std::string>& args);            // calibrate_cmd.cc
int CmdValidateCollectives(const std::vector<std::string>& args);  // validate_collectives_cmd.cc
int CmdValidateOnGpu(const std::vector<std::string>& args);        // validate_gpu_cmd.cc

int CmdTrace(const std::vector<std::string>& args);     // trace_cmd.cc
int CmdImport(const std::vector<std::string>& args);    // import_cmd.cc
int CmdRunTrace(const std::vector<std::string>& args);  // run_trace_cmd.cc
// `echosim run --trace DIR` / a scenario with workload.trace (run_trace_cmd.cc): prints the
// summary, writes --timeline, --out DIR (summary.json, timeline.json, scenario.resolved.yaml)
// and --kineto DIR.
int RunTraceScenarioAndReport(scenario::Scenario sc, bool json, const std::string& timeline_file,
                              const std::string& out_dir, const std::string& kineto_dir);

// Prints "echosim: error: <message>" and returns the exit code for the status:
// 2 for invalid input / unknown names, 1 otherwise.
int Fail(const Status& st);
// Prints the message and `usage`, returns 2.
int UsageError(const std::string& message, const char* usage);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_CLI_COMMANDS_H_
