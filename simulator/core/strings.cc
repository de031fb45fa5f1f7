#include "simulator/core/strings.h"

#include <cstdio>

namespace echosim {

std::string FormatDouble(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
  return buf;
}

}  // namespace echosim
