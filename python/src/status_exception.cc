#include "python/src/status_exception.h"

#include <pybind11/pybind11.h>

#include <stdexcept>

namespace echosim::python {

void ThrowStatus(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
      throw pybind11::value_error(st.message());
    case StatusCode::kOk:
      throw std::logic_error("ThrowStatus called with an OK status");
    case StatusCode::kFailedPrecondition:
    case StatusCode::kInternal:
      break;
  }
  throw std::runtime_error(st.message());
}

}  // namespace echosim::python
