#include "simulator/network/nccl/alltoall_efficiency.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <set>

#include "simulator/core/embedded_data.h"
#include "simulator/core/strings.h"
#include "simulator/core/yaml_load.h"

namespace echosim {

StatusOr<AllToAllEfficiency> ParseAllToAllEfficiencyYaml(const std::string& text, const std::string& source) {
  ECHOSIM_ASSIGN_OR_RETURN(const YAML::Node doc,
                           LoadYamlMap(text, source, "an all-to-all efficiency file must be a YAML map"));
  static const std::set<std::string> kKeys = {"name",     "source",           "fitted_on",         "fit",
                                              "nvlink_efficiency", "network_efficiency", "rows"};
  for (const auto& kv : doc) {
    if (!kKeys.count(kv.first.Scalar())) {
      return InvalidArgument(StrCat(source, ":", kv.first.Mark().line + 1, ": unknown key '", kv.first.Scalar(),
                                    "'; valid keys: ", Join(kKeys.begin(), kKeys.end(), ", ")));
    }
  }
  AllToAllEfficiency e;
  for (const char* key : {"nvlink_efficiency", "network_efficiency"}) {
    const YAML::Node n = doc[key];
    if (!n) return InvalidArgument(StrCat(source, ": missing field '", key, "'"));
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v) || v <= 0 || v > 1.5) {
      return InvalidArgument(StrCat(source, ":", n.Mark().line + 1, ": field '", key,
                                    "': expected a number in (0, 1.5], got '", n.IsScalar() ? n.Scalar() : "", "'"));
    }
    (std::string(key) == "nvlink_efficiency" ? e.nvlink : e.network) = v;
  }
  return e;
}

StatusOr<AllToAllEfficiency> LoadAllToAllEfficiency() {
  for (const EmbeddedFile& f : EmbeddedFiles()) {
    if (f.path == kAllToAllEfficiencyPath)
      return ParseAllToAllEfficiencyYaml(std::string(f.contents), kAllToAllEfficiencyPath);
  }
  return NotFound(StrCat(kAllToAllEfficiencyPath, " is not embedded in this build"));
}

}  // namespace echosim
