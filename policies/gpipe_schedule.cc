// GPipe (Huang et al. 2019): every micro-batch's forward, then every backward.
// Bubble fraction (pp-1)/(m+pp-1); activations of all m micro-batches stay alive.
#include "policies/pipeline_schedule.h"
#include "simulator/core/strings.h"

namespace echosim {
namespace {

class GpipeSchedule : public PipelineSchedule {
 public:
  const char* name() const override { return "gpipe"; }
  const char* description() const override {
    return "all forwards, then all backwards (GPipe); holds every micro-batch's activations";
  }
  Status Check(int64_t, int64_t vpp, int64_t) const override {
    if (vpp != 1) return InvalidArgument("--vpp (parallelism.vpp): gpipe runs one chunk per rank; use vpp = 1 or interleaved_1f1b");
    return Status::Ok();
  }
  std::vector<PipelineStep> Order(int64_t, int64_t, int64_t, int64_t m) const override {
    std::vector<PipelineStep> out;
    for (int32_t i = 0; i < m; ++i) out.push_back({true, i, 0});
    for (int32_t i = 0; i < m; ++i) out.push_back({false, i, 0});
    return out;
  }
  int64_t InFlight(int64_t, int64_t, int64_t, int64_t m) const override { return m; }
};

}  // namespace

std::unique_ptr<PipelineSchedule> MakeGpipeSchedule() { return std::make_unique<GpipeSchedule>(); }

}  // namespace echosim
