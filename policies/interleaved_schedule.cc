// Interleaved 1F1B (Megatron-LM, Narayanan et al. SC'21 Sec. 2.2): each rank holds vpp
// model chunks (virtual stage v = chunk*pp + stage). Forwards are issued in groups of pp
// micro-batches per chunk; the k-th forward runs chunk (k mod pp*vpp) / pp of micro-batch
// (k / (pp*vpp)) * pp + k mod pp, backwards mirror it with the chunk order reversed.
// Warm-up: (pp - stage - 1) * 2 + (vpp - 1) * pp forwards. The bubble shrinks by vpp:
// (pp-1)/(vpp*m) of the ideal. Needs m divisible by pp, as Megatron-LM requires.
#include <algorithm>

#include "policies/pipeline_schedule.h"
#include "simulator/core/strings.h"

namespace echosim {
namespace {

class InterleavedSchedule : public PipelineSchedule {
 public:
  const char* name() const override { return "interleaved_1f1b"; }
  const char* description() const override {
    return "Megatron-LM interleaved 1F1B with vpp model chunks per rank; default when vpp > 1";
  }
  Status Check(int64_t pp, int64_t, int64_t m) const override {
    if (pp > 1 && m % pp != 0) {
      return InvalidArgument(StrCat(
          "--global-batch (workload.training.global_batch_seqs): the interleaved schedule needs "
          "the number of micro-batches per pipeline (", m, ") to be a multiple of pp = ", pp));
    }
    return Status::Ok();
  }
  std::vector<PipelineStep> Order(int64_t stage, int64_t pp, int64_t vpp,
                                  int64_t m) const override {
    const int64_t total = m * vpp;
    const int64_t group = pp * vpp;
    auto fwd = [&](int64_t k) {
      return PipelineStep{true, static_cast<int32_t>((k / group) * pp + k % pp),
                          static_cast<int32_t>((k % group) / pp)};
    };
    auto bwd = [&](int64_t k) {
      return PipelineStep{false, static_cast<int32_t>((k / group) * pp + k % pp),
                          static_cast<int32_t>(vpp - 1 - (k % group) / pp)};
    };
    const int64_t warmup = std::min((pp - stage - 1) * 2 + (vpp - 1) * pp, total);
    std::vector<PipelineStep> out;
    int64_t f = 0, b = 0;
    for (; f < warmup; ++f) out.push_back(fwd(f));
    while (f < total) {
      out.push_back(fwd(f++));
      out.push_back(bwd(b++));
    }
    while (b < total) out.push_back(bwd(b++));
    return out;
  }
  int64_t InFlight(int64_t stage, int64_t pp, int64_t vpp, int64_t m) const override {
    return std::min((pp - stage - 1) * 2 + (vpp - 1) * pp + 1, m * vpp);
  }
};

}  // namespace

std::unique_ptr<PipelineSchedule> MakeInterleavedOneFOneBSchedule() {
  return std::make_unique<InterleavedSchedule>();
}

}  // namespace echosim
