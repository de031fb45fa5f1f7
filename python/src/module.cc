// The _echosim extension module: registration only. Each concept registers its own
// functions (one file each); the Pythonic API lives in python/echosim/*.py.
#include <pybind11/pybind11.h>

#include "python/src/bindings.h"

PYBIND11_MODULE(_echosim, m) {
  m.doc() = "echosim native core (use the `echosim` package, not this module directly)";
  echosim::python::RegisterScenario(m);
  echosim::python::RegisterTraining(m);
  echosim::python::RegisterPresets(m);
  echosim::python::RegisterSearch(m);
  echosim::python::RegisterServing(m);
  echosim::python::RegisterValidation(m);
}
