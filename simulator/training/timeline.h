// Chrome Trace Event timeline of a simulated training step (opens in Perfetto UI
// and chrome://tracing). One process per recorded rank ("rank N"), one thread per
// stream; every kernel, collective and transfer is a complete ("X") event named by
// its operator, with layer / micro-batch and, for communication, bytes and group.
// Timestamps are microseconds with picosecond-exact decimals, so output is
// byte-identical across runs.
#ifndef ECHOSIM_SIMULATOR_TRAINING_TIMELINE_H_
#define ECHOSIM_SIMULATOR_TRAINING_TIMELINE_H_

#include <ostream>

#include "simulator/training/training_step.h"

namespace echosim {

void WriteChromeTrace(const StepResult& result, const ParallelPlan& plan, std::ostream& out);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_TRAINING_TIMELINE_H_
