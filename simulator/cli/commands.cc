#include "simulator/cli/commands.h"

#include <iostream>

namespace echosim {

int Fail(const Status& st) {
  std::cerr << "echosim: error: " << st.message() << "\n";
  return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kNotFound ? 2 : 1;
}

int UsageError(const std::string& message, const char* usage) {
  std::cerr << "echosim: error: " << message << "\n\n" << usage;
  return 2;
}

}  // namespace echosim
