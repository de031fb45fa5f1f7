// The one place a Status becomes a Python exception.
//
// InvalidArgument and NotFound (bad input: the CLI's exit code 2) raise ValueError;
// FailedPrecondition and Internal raise RuntimeError. The exception text is the Status
// message exactly as the CLI prints it after "echosim: error: ".
#ifndef ECHOSIM_PYTHON_SRC_STATUS_EXCEPTION_H_
#define ECHOSIM_PYTHON_SRC_STATUS_EXCEPTION_H_

#include <utility>

#include "simulator/core/status.h"

namespace echosim::python {

// Throws the C++ exception pybind11 translates into the Python exception for `st` (not OK).
[[noreturn]] void ThrowStatus(const Status& st);

inline void ThrowIfError(const Status& st) {
  if (!st.ok()) ThrowStatus(st);
}

template <typename T>
T ValueOrThrow(StatusOr<T> s) {
  if (!s.ok()) ThrowStatus(s.status());
  return std::move(s).value();
}

}  // namespace echosim::python

#endif  // ECHOSIM_PYTHON_SRC_STATUS_EXCEPTION_H_
