// PipelineSchedule: the order in which one pipeline rank runs the forward and
// backward passes of its micro-batches (and model chunks, when interleaved).
//
// Implementations, one file each, registered by name in pipeline_schedule.cc:
//   gpipe             all forwards, then all backwards (Huang et al. 2019)
//   1f1b              PipeDream-Flush one-forward-one-backward (Narayanan et al. 2021)
//   interleaved_1f1b  Megatron-LM's interleaved schedule with vpp chunks per rank
//                     (Narayanan et al. SC'21, Sec. 2.2)
#ifndef ECHOSIM_POLICIES_PIPELINE_SCHEDULE_H_
#define ECHOSIM_POLICIES_PIPELINE_SCHEDULE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {

struct PipelineStep {
  bool forward;
  int32_t microbatch;
  int32_t chunk;  // model chunk on this rank, 0..vpp-1 (virtual stage = chunk*pp + stage)
};

class PipelineSchedule {
 public:
  virtual ~PipelineSchedule() = default;
  virtual const char* name() const = 0;
  virtual const char* description() const = 0;
  // Whether (pp, vpp, microbatches) can run under this schedule; the error names the field.
  virtual Status Check(int64_t pp, int64_t vpp, int64_t microbatches) const = 0;
  // Every (microbatch, chunk) forward and backward exactly once, in execution order.
  virtual std::vector<PipelineStep> Order(int64_t stage, int64_t pp, int64_t vpp,
                                          int64_t microbatches) const = 0;
  // Micro-batch-chunks whose activations are alive at once on `stage` (memory peak).
  virtual int64_t InFlight(int64_t stage, int64_t pp, int64_t vpp, int64_t microbatches) const = 0;
};

std::unique_ptr<PipelineSchedule> MakeGpipeSchedule();
std::unique_ptr<PipelineSchedule> MakeOneFOneBSchedule();
std::unique_ptr<PipelineSchedule> MakeInterleavedOneFOneBSchedule();

// Registered schedules by name; NotFound lists the valid names.
StatusOr<const PipelineSchedule*> FindPipelineSchedule(const std::string& name);
std::vector<const PipelineSchedule*> PipelineSchedules();

}  // namespace echosim

#endif  // ECHOSIM_POLICIES_PIPELINE_SCHEDULE_H_
