// 1F1B (PipeDream-Flush, Narayanan et al. 2021): stage s runs min(pp-s-1, m) warm-up
// forwards, then alternates one forward and one backward, then drains the backwards.
// Same bubble as GPipe, (pp-1)/(m+pp-1) of the ideal time, but at most pp-s micro-batches
// of activations alive on stage s.
#include <algorithm>

#include "policies/pipeline_schedule.h"

namespace echosim {
namespace {

class OneFOneBSchedule : public PipelineSchedule {
 public:
  const char* name() const override { return "1f1b"; }
  const char* description() const override {
    return "one-forward-one-backward (PipeDream-Flush); default when vpp = 1";
  }
  Status Check(int64_t, int64_t vpp, int64_t) const override {
    if (vpp != 1) return InvalidArgument("--vpp (parallelism.vpp): 1f1b runs one chunk per rank; use interleaved_1f1b for vpp > 1");
    return Status::Ok();
  }
  std::vector<PipelineStep> Order(int64_t stage, int64_t pp, int64_t, int64_t m) const override {
    const int64_t warmup = std::min(pp - stage - 1, m);
    std::vector<PipelineStep> out;
    int32_t f = 0, b = 0;
    for (; f < warmup; ++f) out.push_back({true, f, 0});
    while (f < m) {
      out.push_back({true, f++, 0});
      out.push_back({false, b++, 0});
    }
    while (b < m) out.push_back({false, b++, 0});
    return out;
  }
  int64_t InFlight(int64_t stage, int64_t pp, int64_t, int64_t m) const override {
    return std::min(pp - stage, m);
  }
};

}  // namespace

std::unique_ptr<PipelineSchedule> MakeOneFOneBSchedule() {
  return std::make_unique<OneFOneBSchedule>();
}

}  // namespace echosim
