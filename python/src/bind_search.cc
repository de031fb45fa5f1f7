// Plan search: enumerate the valid parallel plans of a training job that fit in memory
// (policies/plan_search.h). Simulating and ranking them is echosim/search.py's job, so
// that the simulations can run in a sweep (local processes or a dask cluster).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "policies/plan_search.h"
#include "python/src/bindings.h"
#include "python/src/status_exception.h"
#include "simulator/core/strings.h"
#include "simulator/scenario/simulation.h"

namespace py = pybind11;

namespace echosim::python {

void RegisterSearch(py::module_& m) {
  m.def(
      "enumerate_training_plans",
      [](const py::bytes& base, const std::vector<int64_t>& tp, const std::vector<int64_t>& pp,
         const std::vector<int64_t>& vpp, const std::vector<int64_t>& cp,
         const std::vector<int64_t>& ep, const std::vector<int64_t>& micro_batch,
         const std::vector<int64_t>& zero, const std::vector<std::string>& recompute,
         bool keep_dominated_recompute) {
        // The job as the simulator will see it (model, GPU, batch, sequence length).
        scenario::Scenario s = ScenarioFromBytes(base);
        ThrowIfError(ResolveScenario(&s));
        const TrainingSetup setup = ValueOrThrow(MakeTrainingSetup(s));
        PlanSearchSpace space;
        ThrowIfError(SetPlanSearchJob(setup, &space));
        space.tp = tp;
        space.pp = pp;
        space.vpp = vpp;
        space.cp = cp;
        space.ep = ep;
        space.micro_batch = micro_batch;
        space.zero = zero;
        for (const std::string& r : recompute) {
          space.recompute.push_back(
              ValueOrThrow(ParseChoice<RecomputeMode>("recompute (parallelism.recompute)", r,
                                                      {{"none", RecomputeMode::kNone},
                                                       {"selective", RecomputeMode::kSelective},
                                                       {"full", RecomputeMode::kFull}})));
        }
        space.keep_dominated_recompute = keep_dominated_recompute;
        std::optional<StatusOr<PlanEnumeration>> result;
        {
          py::gil_scoped_release release;
          result.emplace(EnumerateTrainingPlans(setup.model, space));
        }
        const PlanEnumeration e = ValueOrThrow(std::move(*result));
        py::list plans;
        for (const PlanCandidate& c : e.plans) {
          py::dict d;
          d["tp"] = c.plan.tp;
          d["pp"] = c.plan.pp;
          d["vpp"] = c.plan.vpp;
          d["cp"] = c.plan.cp;
          d["ep"] = c.plan.ep;
          d["dp"] = c.plan.dp;
          d["micro_batch"] = c.plan.micro_batch;
          d["zero"] = c.plan.zero;
          d["recompute"] = RecomputeModeName(c.plan.recompute);
          d["sequence_parallel"] = c.plan.sequence_parallel;
          d["pipeline_schedule"] = c.plan.pipeline_schedule;
          d["peak_memory_bytes"] = c.peak_memory_bytes;
          plans.append(d);
        }
        py::dict counts;
        counts["considered"] = e.considered;
        counts["invalid"] = e.invalid;
        counts["over_memory"] = e.over_memory;
        counts["dominated"] = e.dominated;
        counts["fitting"] = e.plans.size();
        return py::make_tuple(plans, counts);
      },
      py::arg("base"), py::arg("tp"), py::arg("pp"), py::arg("vpp"), py::arg("cp"), py::arg("ep"),
      py::arg("micro_batch"), py::arg("zero"), py::arg("recompute"),
      py::arg("keep_dominated_recompute"),
      "Valid plans of the job in `base` (proto bytes) that fit in memory, in enumeration "
      "order, and the counts of what was dropped. Empty candidate lists mean the defaults.");
}

}  // namespace echosim::python
