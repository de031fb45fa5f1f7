#include "simulator/network/nccl/nccl_calibration.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "simulator/core/embedded_data.h"
#include "simulator/core/strings.h"
#include "simulator/core/yaml_load.h"

namespace echosim {
namespace {

constexpr std::string_view kCalibrationDir = "hardware/calibration/";

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

struct Reader {
  const std::string& source;

  Status Error(const YAML::Node& n, const std::string& field, const std::string& msg) const {
    return InvalidArgument(StrCat(source, ":", n.Mark().line + 1, ": field '", field, "': ", msg));
  }
  Status Number(const YAML::Node& n, const std::string& field, double lo, double hi, double* out) const {
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, *out) || !std::isfinite(*out)) {
      return Error(n, field, StrCat("expected a number, got '", n.IsScalar() ? n.Scalar() : "(not a scalar)", "'"));
    }
    if (*out < lo || *out > hi) return Error(n, field, StrCat("must be between ", lo, " and ", hi, ", got ", *out));
    return Status::Ok();
  }
  Status Keys(const YAML::Node& m, const std::string& field, const std::set<std::string>& valid) const {
    if (!m.IsMap()) return Error(m, field, "expected a map");
    for (const auto& kv : m) {
      const std::string key = kv.first.Scalar();
      if (!valid.count(key)) {
        return Error(kv.first, field,
                     StrCat("unknown key '", key, "'; valid keys: ", Join(valid.begin(), valid.end(), ", ")));
      }
    }
    return Status::Ok();
  }
  Status Protocols(const YAML::Node& m, const std::string& field, double lo, double hi,
                   NcclCalibration::Protocols* out) const {
    ECHOSIM_RETURN_IF_ERROR(Keys(m, field, {"LL", "LL128", "Simple"}));
    for (int p = 0; p < kNumNcclProtocols; ++p) {
      const char* name = NcclProtocolName(static_cast<NcclProtocol>(p));
      if (m[name]) ECHOSIM_RETURN_IF_ERROR(Number(m[name], StrCat(field, ".", name), lo, hi, &(*out)[p]));
    }
    return Status::Ok();
  }
  Status Domains(const YAML::Node& m, const std::string& field, double lo, double hi, NcclCalibration::ByDomain* out,
                 const std::set<std::string>& extra = {}) const {
    std::set<std::string> valid = {"intra", "inter"};
    valid.insert(extra.begin(), extra.end());
    ECHOSIM_RETURN_IF_ERROR(Keys(m, field, valid));
    for (int d = 0; d < kNumNcclDomains; ++d) {
      const char* name = NcclDomainName(static_cast<NcclDomain>(d));
      if (m[name]) ECHOSIM_RETURN_IF_ERROR(Protocols(m[name], StrCat(field, ".", name), lo, hi, &(*out)[d]));
    }
    return Status::Ok();
  }
  Status Strings(const YAML::Node& n, const std::string& field, std::vector<std::string>* out) const {
    if (!n.IsSequence()) return Error(n, field, "expected a list of strings");
    for (const auto& e : n) {
      if (!e.IsScalar()) return Error(e, field, "expected a string");
      out->push_back(e.Scalar());
    }
    return Status::Ok();
  }
};

StatusOr<NcclDomain> ParseDomain(const Reader& r, const YAML::Node& n, const std::string& field) {
  if (n.IsScalar() && n.Scalar() == "intra") return NcclDomain::kIntra;
  if (n.IsScalar() && n.Scalar() == "inter") return NcclDomain::kInter;
  return r.Error(n, field, StrCat("unknown domain '", n.IsScalar() ? n.Scalar() : "", "'; valid: intra, inter"));
}

std::string ProtocolMap(const NcclCalibration::Protocols& v) {
  return StrCat("{LL: ", Num(v[0]), ", LL128: ", Num(v[1]), ", Simple: ", Num(v[2]), "}");
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

const char* NcclDomainName(NcclDomain d) { return d == NcclDomain::kIntra ? "intra" : "inter"; }

std::string NcclDecision::AlgorithmName() const {
  return family == NcclFamily::kP2p ? "p2p" : NcclAlgorithmName(algorithm);
}

double NcclCalibration::Efficiency(NcclDomain d, NcclFamily f, NcclProtocol p) const {
  auto it = family_efficiency.find({d, f, p});
  if (it != family_efficiency.end()) return it->second;
  return efficiency[static_cast<int>(d)][static_cast<int>(p)];
}

double NcclCalibration::LatencyUs(const NcclDecision& d) const {
  const int p = static_cast<int>(d.protocol);
  double lat =
      d.nccl_latency_us + launch_us[p] + d.intra_steps * per_intra_step_us[p] + d.inter_steps * per_inter_step_us[p];
  auto it = family_launch_us.find({d.family, d.protocol});
  if (it != family_launch_us.end()) lat += it->second;
  return std::max(lat, 0.0);
}

double NcclCalibration::BandwidthTimeUs(const NcclDecision& d) const {
  const int dom = static_cast<int>(d.domain);
  const int p = static_cast<int>(d.protocol);
  const double t = d.physical_bandwidth_time_us > 0 ? d.physical_bandwidth_time_us : d.nccl_bandwidth_time_us;
  // all_to_all's peak bandwidth carries its own measured efficiency (alltoall_efficiency.h), and
  // it has no ring steps; the fitted efficiency and rank share describe ring/tree/NVLS all_reduce
  // and send/recv. The system's latency and pipeline-fill terms (the approach to the peak below
  // the knee) apply to it: there are no per-size all_to_all measurements to fit its own.
  const bool a2a = d.collective == NcclCollective::kAllToAll;
  double out = a2a ? t : t / Efficiency(d.domain, d.family, d.protocol);
  if (!a2a) out += rank_share[dom][p] * t / std::max(1, d.ring_steps);
  if (knee_bytes > 0 && d.bytes > 0) out += fill[dom][p] * t * std::min(d.bytes, knee_bytes) / d.bytes;
  return out;
}

bool NcclCalibration::IsIdentity() const {
  for (const auto& dom : efficiency)
    for (double v : dom)
      if (v != 1.0) return false;
  for (const auto* t : {&rank_share, &fill})
    for (const auto& dom : *t)
      for (double v : dom)
        if (v != 0.0) return false;
  for (const auto* t : {&launch_us, &per_intra_step_us, &per_inter_step_us})
    for (double v : *t)
      if (v != 0.0) return false;
  return family_efficiency.empty() && family_launch_us.empty();
}

StatusOr<NcclCalibration> ParseNcclCalibrationYaml(const std::string& text, const std::string& source) {
  ECHOSIM_ASSIGN_OR_RETURN(const YAML::Node doc,
                           LoadYamlMap(text, source, "an NCCL calibration file must be a YAML map"));
  const Reader r{source};
  ECHOSIM_RETURN_IF_ERROR(r.Keys(
      doc, "(top level)",
      {"name", "description", "nccl_version", "default_for_gpus", "system", "fitted_on", "fit", "bandwidth_efficiency",
       "family_bandwidth_efficiency", "rank_share", "pipeline_fill", "extra_latency_us", "family_launch_us"}));
  NcclCalibration c;
  for (const char* f : {"name", "description", "nccl_version", "system"}) {
    const YAML::Node n = doc[f];
    if (!n) continue;
    if (!n.IsScalar()) return r.Error(n, f, "expected a string");
    std::string* dst = std::string(f) == "name"           ? &c.name
                       : std::string(f) == "description"  ? &c.description
                       : std::string(f) == "nccl_version" ? &c.nccl_version
                                                          : &c.system;
    *dst = n.Scalar();
  }
  if (c.name.empty()) return InvalidArgument(StrCat(source, ": missing field 'name'"));
  if (doc["default_for_gpus"])
    ECHOSIM_RETURN_IF_ERROR(r.Strings(doc["default_for_gpus"], "default_for_gpus", &c.default_for_gpus));
  if (doc["fitted_on"]) ECHOSIM_RETURN_IF_ERROR(r.Strings(doc["fitted_on"], "fitted_on", &c.fitted_on));
  if (const YAML::Node f = doc["fit"]) {
    ECHOSIM_RETURN_IF_ERROR(
        r.Keys(f, "fit", {"points", "min_bytes", "max_error_from_1MiB", "max_error_from_64MiB", "rms_error"}));
    double pts = 0;
    if (f["points"]) ECHOSIM_RETURN_IF_ERROR(r.Number(f["points"], "fit.points", 0, 1e9, &pts));
    c.fit.points = static_cast<int>(pts);
    if (f["min_bytes"]) ECHOSIM_RETURN_IF_ERROR(r.Number(f["min_bytes"], "fit.min_bytes", 0, 1e18, &c.fit.min_bytes));
    if (f["max_error_from_1MiB"])
      ECHOSIM_RETURN_IF_ERROR(
          r.Number(f["max_error_from_1MiB"], "fit.max_error_from_1MiB", 0, 1e6, &c.fit.max_error_from_1mib));
    if (f["max_error_from_64MiB"])
      ECHOSIM_RETURN_IF_ERROR(
          r.Number(f["max_error_from_64MiB"], "fit.max_error_from_64MiB", 0, 1e6, &c.fit.max_error_from_64mib));
    if (f["rms_error"]) ECHOSIM_RETURN_IF_ERROR(r.Number(f["rms_error"], "fit.rms_error", 0, 1e6, &c.fit.rms_error));
  }
  if (doc["bandwidth_efficiency"]) {
    ECHOSIM_RETURN_IF_ERROR(r.Domains(doc["bandwidth_efficiency"], "bandwidth_efficiency", 0.01, 100, &c.efficiency));
  }
  if (const YAML::Node list = doc["family_bandwidth_efficiency"]) {
    if (!list.IsSequence()) return r.Error(list, "family_bandwidth_efficiency", "expected a list");
    for (const auto& e : list) {
      ECHOSIM_RETURN_IF_ERROR(r.Keys(e, "family_bandwidth_efficiency", {"domain", "family", "protocol", "efficiency"}));
      for (const char* k : {"domain", "family", "protocol", "efficiency"}) {
        if (!e[k]) return r.Error(e, "family_bandwidth_efficiency", StrCat("entry needs '", k, "'"));
      }
      ECHOSIM_ASSIGN_OR_RETURN(NcclDomain d, ParseDomain(r, e["domain"], "family_bandwidth_efficiency.domain"));
      ECHOSIM_ASSIGN_OR_RETURN(
          NcclFamily f, ParseNcclFamily(StrCat(source, ":", e.Mark().line + 1, ": family"), e["family"].Scalar()));
      ECHOSIM_ASSIGN_OR_RETURN(NcclProtocol p, ParseNcclProtocol(StrCat(source, ":", e.Mark().line + 1, ": protocol"),
                                                                 e["protocol"].Scalar()));
      double v = 0;
      ECHOSIM_RETURN_IF_ERROR(r.Number(e["efficiency"], "family_bandwidth_efficiency.efficiency", 0.01, 100, &v));
      c.family_efficiency[{d, f, p}] = v;
    }
  }
  if (doc["rank_share"]) ECHOSIM_RETURN_IF_ERROR(r.Domains(doc["rank_share"], "rank_share", 0, 1000, &c.rank_share));
  if (const YAML::Node f = doc["pipeline_fill"]) {
    ECHOSIM_RETURN_IF_ERROR(r.Domains(f, "pipeline_fill", 0, 1000, &c.fill, {"knee_bytes"}));
    if (f["knee_bytes"])
      ECHOSIM_RETURN_IF_ERROR(r.Number(f["knee_bytes"], "pipeline_fill.knee_bytes", 0, 1e18, &c.knee_bytes));
  }
  if (const YAML::Node l = doc["extra_latency_us"]) {
    ECHOSIM_RETURN_IF_ERROR(r.Keys(l, "extra_latency_us", {"launch", "per_intra_step", "per_inter_step"}));
    if (l["launch"])
      ECHOSIM_RETURN_IF_ERROR(r.Protocols(l["launch"], "extra_latency_us.launch", -1e6, 1e6, &c.launch_us));
    if (l["per_intra_step"])
      ECHOSIM_RETURN_IF_ERROR(
          r.Protocols(l["per_intra_step"], "extra_latency_us.per_intra_step", -1e6, 1e6, &c.per_intra_step_us));
    if (l["per_inter_step"])
      ECHOSIM_RETURN_IF_ERROR(
          r.Protocols(l["per_inter_step"], "extra_latency_us.per_inter_step", -1e6, 1e6, &c.per_inter_step_us));
  }
  if (const YAML::Node list = doc["family_launch_us"]) {
    if (!list.IsSequence()) return r.Error(list, "family_launch_us", "expected a list");
    for (const auto& e : list) {
      ECHOSIM_RETURN_IF_ERROR(r.Keys(e, "family_launch_us", {"family", "protocol", "delta"}));
      for (const char* k : {"family", "protocol", "delta"}) {
        if (!e[k]) return r.Error(e, "family_launch_us", StrCat("entry needs '", k, "'"));
      }
      ECHOSIM_ASSIGN_OR_RETURN(
          NcclFamily f, ParseNcclFamily(StrCat(source, ":", e.Mark().line + 1, ": family"), e["family"].Scalar()));
      ECHOSIM_ASSIGN_OR_RETURN(NcclProtocol p, ParseNcclProtocol(StrCat(source, ":", e.Mark().line + 1, ": protocol"),
                                                                 e["protocol"].Scalar()));
      double v = 0;
      ECHOSIM_RETURN_IF_ERROR(r.Number(e["delta"], "family_launch_us.delta", -1e6, 1e6, &v));
      c.family_launch_us[{f, p}] = v;
    }
  }
  return c;
}

std::string NcclCalibrationToYaml(const NcclCalibration& c, const std::string& header) {
  std::ostringstream os;
  std::istringstream hs(header);
  for (std::string line; std::getline(hs, line);) os << "#" << (line.empty() ? "" : " ") << line << "\n";
  os << "name: " << c.name << "\n";
  if (!c.description.empty()) os << "description: " << Quote(c.description) << "\n";
  if (!c.nccl_version.empty()) os << "nccl_version: " << Quote(c.nccl_version) << "\n";
  if (!c.default_for_gpus.empty()) os << "default_for_gpus: [" << Join(c.default_for_gpus, ", ") << "]\n";
  if (!c.system.empty()) os << "system: " << Quote(c.system) << "\n";
  if (!c.fitted_on.empty()) {
    os << "fitted_on:\n";
    for (const std::string& f : c.fitted_on) os << "  - " << Quote(f) << "\n";
  }
  os << "fit: {points: " << c.fit.points << ", min_bytes: " << Num(c.fit.min_bytes)
     << ", max_error_from_1MiB: " << Num(c.fit.max_error_from_1mib)
     << ", max_error_from_64MiB: " << Num(c.fit.max_error_from_64mib) << ", rms_error: " << Num(c.fit.rms_error)
     << "}\n";
  os << "bandwidth_efficiency:  # achieved / NCCL-modelled bandwidth\n";
  for (int d = 0; d < kNumNcclDomains; ++d) {
    os << "  " << NcclDomainName(static_cast<NcclDomain>(d)) << ": " << ProtocolMap(c.efficiency[d]) << "\n";
  }
  if (!c.family_efficiency.empty()) {
    os << "family_bandwidth_efficiency:\n";
    for (const auto& [k, v] : c.family_efficiency) {
      os << "  - {domain: " << NcclDomainName(std::get<0>(k)) << ", family: " << NcclFamilyName(std::get<1>(k))
         << ", protocol: " << NcclProtocolName(std::get<2>(k)) << ", efficiency: " << Num(v) << "}\n";
    }
  }
  os << "rank_share:  # extra cost per byte of one ring step, in units of NCCL's bandwidth time\n";
  for (int d = 0; d < kNumNcclDomains; ++d) {
    os << "  " << NcclDomainName(static_cast<NcclDomain>(d)) << ": " << ProtocolMap(c.rank_share[d]) << "\n";
  }
  char knee[32];
  std::snprintf(knee, sizeof(knee), "%.0f", c.knee_bytes);
  os << "pipeline_fill:  # extra cost per byte below knee_bytes, in units of NCCL's bandwidth time\n  knee_bytes: "
     << knee << "\n";
  for (int d = 0; d < kNumNcclDomains; ++d) {
    os << "  " << NcclDomainName(static_cast<NcclDomain>(d)) << ": " << ProtocolMap(c.fill[d]) << "\n";
  }
  os << "extra_latency_us:\n";
  os << "  launch: " << ProtocolMap(c.launch_us) << "\n";
  os << "  per_intra_step: " << ProtocolMap(c.per_intra_step_us) << "\n";
  os << "  per_inter_step: " << ProtocolMap(c.per_inter_step_us) << "\n";
  if (!c.family_launch_us.empty()) {
    os << "family_launch_us:\n";
    for (const auto& [k, v] : c.family_launch_us) {
      os << "  - {family: " << NcclFamilyName(k.first) << ", protocol: " << NcclProtocolName(k.second)
         << ", delta: " << Num(v) << "}\n";
    }
  }
  return os.str();
}

std::vector<std::string> EmbeddedNcclCalibrations() {
  std::vector<std::string> out;
  for (const EmbeddedFile& f : EmbeddedFilesUnder(StrCat(kCalibrationDir, "nccl-"))) out.emplace_back(f.path);
  return out;
}

StatusOr<NcclCalibration> LoadNcclCalibration(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::ostringstream ss;
    ss << in.rdbuf();
    return ParseNcclCalibrationYaml(ss.str(), path);
  }
  for (const EmbeddedFile& f : EmbeddedFiles()) {
    if (f.path == path) return ParseNcclCalibrationYaml(std::string(f.contents), path);
  }
  return NotFound(StrCat("calibration file '", path, "' not found (neither on disk nor among the built-in ",
                         Join(EmbeddedNcclCalibrations(), ", "), ")"));
}

StatusOr<NcclCalibration> DefaultNcclCalibration(const std::string& gpu) {
  for (const EmbeddedFile& f : EmbeddedFilesUnder(StrCat(kCalibrationDir, "nccl-"))) {
    auto cal = ParseNcclCalibrationYaml(std::string(f.contents), std::string(f.path));
    if (!cal.ok()) return cal.status();
    if (std::find(cal->default_for_gpus.begin(), cal->default_for_gpus.end(), gpu) != cal->default_for_gpus.end()) {
      return cal;
    }
  }
  return NotFound(StrCat("no built-in NCCL calibration lists gpu '", gpu, "'"));
}

}  // namespace echosim
