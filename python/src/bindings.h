// Registration functions of the _echosim module, one per concept (one file each).
#ifndef ECHOSIM_PYTHON_SRC_BINDINGS_H_
#define ECHOSIM_PYTHON_SRC_BINDINGS_H_

#include <pybind11/pybind11.h>

#include <string>

#include "scenario.pb.h"

namespace echosim::python {

void RegisterScenario(pybind11::module_& m);  // bind_scenario.cc
void RegisterTraining(pybind11::module_& m);  // bind_training.cc
void RegisterPresets(pybind11::module_& m);   // bind_presets.cc
void RegisterSearch(pybind11::module_& m);    // bind_search.cc
void RegisterServing(pybind11::module_& m);   // bind_serving.cc
void RegisterValidation(pybind11::module_& m);  // bind_validation.cc

// Scenarios cross the boundary as serialized proto bytes (bind_scenario.cc).
scenario::Scenario ScenarioFromBytes(const pybind11::bytes& data);
pybind11::bytes ScenarioToBytes(const scenario::Scenario& s);

}  // namespace echosim::python

#endif  // ECHOSIM_PYTHON_SRC_BINDINGS_H_
