// Loading one YAML document that must be a map, for the project's data-file parsers: a syntax
// error names the file and line; anything but a map gives `map_error` after the file name.
// Header-only: every parser that uses it already links yaml-cpp.
#ifndef ECHOSIM_SIMULATOR_CORE_YAML_LOAD_H_
#define ECHOSIM_SIMULATOR_CORE_YAML_LOAD_H_

#include <yaml-cpp/yaml.h>

#include <exception>
#include <string>

#include "simulator/core/status.h"
#include "simulator/core/strings.h"

namespace echosim {

inline StatusOr<YAML::Node> LoadYamlMap(const std::string& text, const std::string& source,
                                        const std::string& map_error) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(StrCat(source, ":", e.mark.line + 1, ": malformed YAML: ", e.msg));
  } catch (const std::exception& e) {
    return InvalidArgument(StrCat(source, ": malformed YAML: ", e.what()));
  }
  if (!doc.IsMap()) return InvalidArgument(StrCat(source, ": ", map_error));
  return doc;
}

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_CORE_YAML_LOAD_H_
