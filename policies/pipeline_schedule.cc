#include "policies/pipeline_schedule.h"

#include "simulator/core/strings.h"

namespace echosim {

std::vector<const PipelineSchedule*> PipelineSchedules() {
  static const std::vector<std::unique_ptr<PipelineSchedule>>* owned = [] {
    auto* v = new std::vector<std::unique_ptr<PipelineSchedule>>();
    v->push_back(MakeOneFOneBSchedule());
    v->push_back(MakeInterleavedOneFOneBSchedule());
    v->push_back(MakeGpipeSchedule());
    return v;
  }();
  std::vector<const PipelineSchedule*> out;
  for (const auto& s : *owned) out.push_back(s.get());
  return out;
}

StatusOr<const PipelineSchedule*> FindPipelineSchedule(const std::string& name) {
  std::vector<std::string> names;
  for (const PipelineSchedule* s : PipelineSchedules()) {
    if (name == s->name()) return s;
    names.push_back(s->name());
  }
  return InvalidArgument(StrCat("parallelism.pipeline_schedule: unknown schedule '", name,
                                "'; valid schedules: ", Join(names, ", ")));
}

}  // namespace echosim
