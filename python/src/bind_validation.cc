// Published-data validation (simulator/validation/published.h): the whole run in C++, its
// report handed to Python as the JSON document `echosim validate --json` prints; the tables
// are built from it by echosim/validation.py.
#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "python/src/bindings.h"
#include "python/src/status_exception.h"
#include "simulator/validation/published.h"

namespace py = pybind11;

namespace echosim::python {

void RegisterValidation(py::module_& m) {
  m.def(
      "validate_published",
      [](const std::string& data_dir, int threads, const std::string& scenarios_dir) {
        ValidationOptions o;
        o.data_dir = data_dir;
        o.threads = threads;
        o.scenarios_dir = scenarios_dir;
        std::optional<StatusOr<ValidationReport>> report;
        {
          py::gil_scoped_release release;  // tens of seconds of simulation
          report.emplace(RunPublishedValidation(o));
        }
        return ValidationReportJson(ValueOrThrow(std::move(*report))).dump();
      },
      py::arg("data_dir"), py::arg("threads") = 0, py::arg("scenarios_dir") = "",
      "Runs the published-data validation; returns its report as JSON (echosim validate --json).");
}

}  // namespace echosim::python
