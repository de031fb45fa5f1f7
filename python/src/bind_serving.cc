// Serving: run a serving scenario (GIL released while simulating) and hand back the CLI's
// JSON summary, the resolved scenario and every request as numpy columns.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "python/src/bindings.h"
#include "python/src/status_exception.h"
#include "simulator/serving/serving_scenario.h"
#include "simulator/serving/serving_simulation.h"

namespace py = pybind11;

namespace echosim::python {
namespace {

struct ServingRun {
  ServingResult result;
  std::vector<RequestRecord> requests;  // in completion order
  scenario::Scenario resolved;
};

template <typename T>
py::array_t<T> Column(size_t n) {
  return py::array_t<T>(static_cast<py::ssize_t>(n));
}

py::dict RequestColumns(const ServingRun& run) {
  const std::vector<RequestRecord>& rs = run.requests;
  const size_t n = rs.size();
  auto id = Column<uint64_t>(n);
  auto replica = Column<int32_t>(n), decode_replica = Column<int32_t>(n);
  auto input = Column<int32_t>(n), output = Column<int32_t>(n), cached = Column<int32_t>(n);
  auto preemptions = Column<int32_t>(n);
  auto arrival = Column<double>(n), queue = Column<double>(n), ttft = Column<double>(n);
  auto tpot = Column<double>(n), e2e = Column<double>(n), max_itl = Column<double>(n);
  auto rejected = Column<bool>(n);
  py::list reason;
  for (size_t i = 0; i < n; ++i) {
    const RequestRecord& r = rs[i];
    id.mutable_at(i) = r.id;
    replica.mutable_at(i) = r.replica;
    decode_replica.mutable_at(i) = r.decode_replica;
    arrival.mutable_at(i) = r.arrival_s;
    input.mutable_at(i) = r.input_tokens;
    output.mutable_at(i) = r.output_tokens;
    cached.mutable_at(i) = r.cached_tokens;
    queue.mutable_at(i) = r.queue_s;
    ttft.mutable_at(i) = r.ttft_s;
    tpot.mutable_at(i) = r.tpot_s;
    e2e.mutable_at(i) = r.e2e_s;
    max_itl.mutable_at(i) = r.max_itl_s;
    preemptions.mutable_at(i) = r.preemptions;
    rejected.mutable_at(i) = r.rejected;
    reason.append(py::str(r.reason));
  }
  py::dict cols;
  cols["id"] = id;
  cols["replica"] = replica;
  cols["decode_replica"] = decode_replica;
  cols["arrival_s"] = arrival;
  cols["input_tokens"] = input;
  cols["output_tokens"] = output;
  cols["cached_tokens"] = cached;
  cols["queue_s"] = queue;
  cols["ttft_s"] = ttft;
  cols["tpot_s"] = tpot;
  cols["e2e_s"] = e2e;
  cols["max_itl_s"] = max_itl;
  cols["preemptions"] = preemptions;
  cols["rejected"] = rejected;
  cols["reason"] = reason;
  return cols;
}

}  // namespace

void RegisterServing(py::module_& m) {
  py::class_<ServingRun, std::shared_ptr<ServingRun>>(
      m, "ServingRun", "One simulated serving run (wrapped by echosim.ServingResult).")
      .def(
          "summary_json",
          [](const ServingRun& r, int indent) { return ServingSummaryJson(r.result).dump(indent); },
          py::arg("indent") = -1,
          "The CLI's `echosim serve --json` summary, as JSON text (indent 2: byte-identical).")
      .def("summary_text", [](const ServingRun& r) { return ServingSummaryText(r.result); },
           "The CLI's human-readable summary.")
      .def("resolved", [](const ServingRun& r) { return ScenarioToBytes(r.resolved); },
           "The resolved scenario (every default filled in), as proto bytes.")
      .def("requests_columns", &RequestColumns,
           "Every finished or rejected request as numpy columns, in completion order.");

  m.def(
      "run_serving",
      [](const py::bytes& data, const std::string& base_dir, const std::string& out_dir,
         bool keep_requests) {
        scenario::Scenario s = ScenarioFromBytes(data);
        s.mutable_workload()->mutable_serving();  // flags alone make a serving scenario, as the CLI
        auto run = std::make_shared<ServingRun>();
        Status st;
        {
          py::gil_scoped_release release;
          StatusOr<ServingConfig> cfg = ServingConfigFromScenario(s, base_dir);
          if (!cfg.ok()) {
            st = cfg.status();
          } else {
            cfg->out_dir = out_dir;
            RequestObserver observer = nullptr;
            if (keep_requests) {
              observer = [&run](const RequestRecord& r) { run->requests.push_back(r); };
            }
            StatusOr<ServingResult> res = RunServing(*cfg, observer);
            if (!res.ok()) {
              st = res.status();
            } else {
              run->result = std::move(*res);
              run->resolved = s;
              FillResolvedServingScenario(run->result.config, &run->resolved);
            }
          }
        }
        ThrowIfError(st);
        return run;
      },
      py::arg("data"), py::arg("base_dir") = "", py::arg("out_dir") = "",
      py::arg("keep_requests") = true,
      "Simulates a serving scenario (proto bytes); relative trace paths are taken from "
      "`base_dir`; with `out_dir` the run also writes requests.csv, timeseries.csv and "
      "timeline.json there, as `echosim serve --out`. The GIL is released while simulating.");
}

}  // namespace echosim::python
