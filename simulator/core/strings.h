// Small string helpers used in error messages and output (no dependencies).
#ifndef ECHOSIM_SIMULATOR_CORE_STRINGS_H_
#define ECHOSIM_SIMULATOR_CORE_STRINGS_H_

#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

template <typename It>
std::string Join(It begin, It end, const std::string& sep) {
  std::string out;
  for (It it = begin; it != end; ++it) {
    if (it != begin) out += sep;
    out += *it;
  }
  return out;
}
inline std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  return Join(v.begin(), v.end(), sep);
}

// Maps `value` of field `field` onto one of `choices`; the error lists the valid names.
template <typename E>
StatusOr<E> ParseChoice(const std::string& field, const std::string& value,
                        std::initializer_list<std::pair<const char*, E>> choices) {
  std::vector<std::string> names;
  for (const auto& [name, e] : choices) {
    if (value == name) return e;
    names.push_back(name);
  }
  return InvalidArgument(StrCat(field, ": unknown value '", value, "'; valid choices: ",
                                Join(names, ", ")));
}

// Formats a double with up to `digits` significant digits (deterministic, locale-free).
std::string FormatDouble(double v, int digits = 6);
// Splits one CSV line into cells (RFC 4180 quoting: "a,b" is one cell, "" inside quotes is
// a quote; carriage returns dropped). An unterminated quote is an error.
StatusOr<std::vector<std::string>> SplitCsvLine(std::string_view line);
// Picoseconds as "microseconds.picoseconds" text, exact (Chrome trace timestamps).
std::string FormatMicros(int64_t ps);
// Escapes a string for a JSON string literal (quotes, backslashes, control characters).
std::string JsonEscape(const std::string& s);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_CORE_STRINGS_H_
