#include "simulator/interference/interference_model.h"

#include <yaml-cpp/yaml.h>

#include <Eigen/Dense>
#include <sstream>

#include "simulator/core/embedded_data.h"
#include "simulator/core/strings.h"
#include "simulator/core/yaml_load.h"

namespace echosim {
namespace {

StatusOr<int> ClassIndex(const std::string& name, const std::string& where) {
  for (int c = 0; c < 4; ++c) {
    if (name == OpClassName(static_cast<OpClass>(c))) return c;
  }
  return InvalidArgument(StrCat(where, ": unknown kernel class '", name,
                                "'; valid classes: gemm, attention, memory_bound, optimizer"));
}

}  // namespace

StatusOr<InterferenceParams> ParseInterferenceYaml(const std::string& text,
                                                   const std::string& source) {
  ECHOSIM_ASSIGN_OR_RETURN(const YAML::Node doc, LoadYamlMap(text, source, "must be a YAML map"));
  InterferenceParams p;
  try {
    for (const auto& kv : doc) {
      const std::string key = kv.first.as<std::string>();
      const int line = kv.first.Mark().line + 1;
      if (key == "source") {
        p.source = kv.second.as<std::string>();
      } else if (key == "comm_slowdown") {
        p.comm_slowdown = kv.second.as<double>();
      } else if (key == "classes") {
        for (const auto& c : kv.second) {
          ECHOSIM_ASSIGN_OR_RETURN(int idx, ClassIndex(c.first.as<std::string>(),
                                                       StrCat(source, ":", c.first.Mark().line + 1)));
          p.a[idx] = c.second["a"].as<double>();
          p.b[idx] = c.second["b"].as<double>();
        }
      } else if (key == "sm_count") {
        for (const auto& g : kv.second) p.sm_count[g.first.as<std::string>()] = g.second.as<int>();
      } else {
        return InvalidArgument(StrCat(source, ":", line, ": unknown field '", key,
                                      "'; valid fields: source, comm_slowdown, classes, sm_count"));
      }
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(StrCat(source, ":", e.mark.line + 1, ": bad value: ", e.msg));
  }
  for (int c = 0; c < 4; ++c) {
    if (!(p.a[c] >= 0 && p.b[c] >= 0)) {
      return InvalidArgument(StrCat(source, ": class ", OpClassName(static_cast<OpClass>(c)),
                                    ": a and b must be non-negative"));
    }
  }
  if (!(p.comm_slowdown >= 0)) return InvalidArgument(StrCat(source, ": comm_slowdown must be >= 0"));
  return p;
}

const InterferenceParams& DefaultInterferenceParams() {
  static const InterferenceParams* p = [] {
    for (const EmbeddedFile& f : EmbeddedFilesUnder("hardware/calibration/interference.yaml")) {
      auto r = ParseInterferenceYaml(std::string(f.contents), std::string(f.path));
      ECHOSIM_CHECK_MSG(r.ok(), r.status().ToString());
      return new InterferenceParams(*r);
    }
    return new InterferenceParams();
  }();
  return *p;
}

StatusOr<int> SmCount(const InterferenceParams& p, const std::string& gpu) {
  auto it = p.sm_count.find(gpu);
  if (it != p.sm_count.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [n, c] : p.sm_count) names.push_back(n);
  return NotFound(StrCat("interference: no SM count for gpu '", gpu, "'; known: ", Join(names, ", ")));
}

StatusOr<InterferenceParams> FitInterference(const std::vector<InterferenceSample>& samples,
                                             const InterferenceParams& prior) {
  InterferenceParams out = prior;
  for (int c = 0; c < 4; ++c) {
    std::vector<const InterferenceSample*> rows;
    for (const auto& s : samples) {
      if (static_cast<int>(s.cls) == c) rows.push_back(&s);
    }
    if (rows.empty()) continue;
    bool distinct = false;
    for (const auto* r : rows) distinct |= r->channels != rows[0]->channels;
    if (!distinct) {
      return InvalidArgument(StrCat("interference fit: class ", OpClassName(static_cast<OpClass>(c)),
                                    " needs samples at two or more channel counts"));
    }
    Eigen::MatrixXd x(rows.size(), 2);
    Eigen::VectorXd y(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      x(i, 0) = rows[i]->channels / static_cast<double>(rows[i]->sm_count);
      x(i, 1) = 1.0;
      y(i) = rows[i]->slowdown - 1.0;
    }
    const Eigen::Vector2d ab = x.colPivHouseholderQr().solve(y);
    out.a[c] = std::max(0.0, ab(0));
    out.b[c] = std::max(0.0, ab(1));
  }
  out.source = StrCat("least-squares fit on ", samples.size(), " measured samples");
  return out;
}

StatusOr<std::vector<InterferenceSample>> ReadInterferenceCsv(const std::string& text,
                                                               const std::string& source) {
  std::istringstream in(text);
  std::string line;
  std::vector<InterferenceSample> out;
  int n = 0;
  bool header = false;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    if (!header) {
      if (line != "class,channels,sm_count,slowdown") {
        return InvalidArgument(StrCat(source, ":", n, ": expected header 'class,channels,sm_count,slowdown'"));
      }
      header = true;
      continue;
    }
    std::istringstream ls(line);
    std::string cls, ch, sm, sd;
    if (!std::getline(ls, cls, ',') || !std::getline(ls, ch, ',') || !std::getline(ls, sm, ',') ||
        !std::getline(ls, sd)) {
      return InvalidArgument(StrCat(source, ":", n, ": expected 4 cells"));
    }
    ECHOSIM_ASSIGN_OR_RETURN(int idx, ClassIndex(cls, StrCat(source, ":", n)));
    InterferenceSample s;
    s.cls = static_cast<OpClass>(idx);
    try {
      size_t u1, u2, u3;
      s.channels = std::stoi(ch, &u1);
      s.sm_count = std::stoi(sm, &u2);
      s.slowdown = std::stod(sd, &u3);
      if (u1 != ch.size() || u2 != sm.size() || u3 != sd.size()) throw std::invalid_argument(line);
    } catch (const std::exception&) {
      return InvalidArgument(StrCat(source, ":", n, ": bad number in '", line, "'"));
    }
    if (s.channels < 0 || s.sm_count <= 0 || !(s.slowdown >= 1.0)) {
      return InvalidArgument(StrCat(source, ":", n, ": need channels >= 0, sm_count > 0, slowdown >= 1"));
    }
    out.push_back(s);
  }
  if (!header) return InvalidArgument(StrCat(source, ": empty table"));
  return out;
}

}  // namespace echosim
