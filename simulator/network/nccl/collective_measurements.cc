#include "simulator/network/nccl/collective_measurements.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "hardware/gpu_spec.h"
#include "simulator/core/embedded_data.h"
#include "simulator/core/strings.h"
#include "simulator/core/yaml_load.h"

namespace echosim {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr const char* kCatalogPath = "hardware/nccl/measured-systems.yaml";
constexpr const char* kBusbwCsv = "collectives_measured_busbw.csv";

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(StrCat("cannot read '", path, "'"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ParseNumber(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool Matches(const MeasuredBusbwRow& r, const std::string& system, const std::string& prefix, const std::string& coll) {
  if (!system.empty() && r.system != system) return false;
  if (!prefix.empty() && r.source.rfind(prefix, 0) != 0) return false;
  if (!coll.empty() && r.collective != coll) return false;
  return !(system.empty() && prefix.empty() && coll.empty());
}

// The published table names all_to_all as nccl-tests' program does (alltoall_perf).
std::string CanonicalCollective(const std::string& name) { return name == "alltoall" ? "all_to_all" : name; }

std::string Str(const YAML::Node& m, const char* key) {
  const YAML::Node n = m[key];
  return n && n.IsScalar() ? n.Scalar() : "";
}

std::string SizeLabel(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), bytes == std::floor(bytes) ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

// An error naming the first key of `map` not in `keys` ("<source>:<line>: <what> 'k'; valid
// keys: ..."); OK when every key is known.
Status CheckKeys(const YAML::Node& map, const std::set<std::string>& keys, const std::string& source,
                 const std::string& what) {
  for (const auto& kv : map) {
    if (!keys.count(kv.first.Scalar())) {
      return InvalidArgument(StrCat(source, ":", kv.first.Mark().line + 1, ": ", what, " '", kv.first.Scalar(),
                                    "'; valid keys: ", Join(keys.begin(), keys.end(), ", ")));
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<MeasuredSystems> ParseMeasuredSystemsYaml(const std::string& text, const std::string& source) {
  ECHOSIM_ASSIGN_OR_RETURN(const YAML::Node doc,
                           LoadYamlMap(text, source, "expected a map with a 'systems' list"));
  if (!doc["systems"] || !doc["systems"].IsSequence()) {
    return InvalidArgument(StrCat(source, ": expected a map with a 'systems' list"));
  }
  MeasuredSystems out;
  for (const auto& s : doc["systems"]) {
    const int line = s.Mark().line + 1;
    if (!s.IsMap()) return InvalidArgument(StrCat(source, ":", line, ": a system must be a map"));
    static const std::set<std::string> kKeys = {"id",           "description",    "why",
                                                "gpu",          "gpus_per_node",  "nic_gbps",
                                                "nccl_version", "calibration",    "calibration_from",
                                                "logs",         "log_collective", "rows",
                                                "size_bytes",   "nodes"};
    ECHOSIM_RETURN_IF_ERROR(CheckKeys(s, kKeys, source, "unknown key"));
    MeasuredSystem m;
    m.id = Str(s, "id");
    m.description = Str(s, "description");
    m.why = Str(s, "why");
    m.gpu = Str(s, "gpu");
    m.nccl_version = Str(s, "nccl_version");
    m.calibration = Str(s, "calibration");
    m.calibration_from = Str(s, "calibration_from");
    if (m.id.empty() || m.gpu.empty() || m.nccl_version.empty() || m.calibration.empty()) {
      return InvalidArgument(StrCat(source, ":", line, ": a system needs id, gpu, nccl_version and calibration"));
    }
    double v = 0;
    if (!ParseNumber(Str(s, "gpus_per_node"), &v) || v < 1) {
      return InvalidArgument(
          StrCat(source, ":", line, ": system '", m.id, "': gpus_per_node must be a positive integer"));
    }
    m.gpus_per_node = static_cast<int>(v);
    if (!ParseNumber(Str(s, "nic_gbps"), &m.nic_gbps) || m.nic_gbps <= 0) {
      return InvalidArgument(StrCat(source, ":", line, ": system '", m.id, "': nic_gbps must be positive"));
    }
    if (s["size_bytes"] && (!ParseNumber(Str(s, "size_bytes"), &m.size_override_bytes) || m.size_override_bytes <= 0)) {
      return InvalidArgument(StrCat(source, ":", line, ": system '", m.id, "': size_bytes must be positive"));
    }
    if (s["nodes"]) {
      if (!ParseNumber(Str(s, "nodes"), &v) || v < 1 || v != std::floor(v)) {
        return InvalidArgument(StrCat(source, ":", line, ": system '", m.id, "': nodes must be a positive integer"));
      }
      m.nodes_override = static_cast<int64_t>(v);
    }
    if (s["logs"]) {
      if (!s["logs"].IsSequence()) return InvalidArgument(StrCat(source, ":", line, ": logs must be a list"));
      for (const auto& l : s["logs"]) m.logs.push_back(l.Scalar());
      auto c = ParseNcclCollective(StrCat(source, ":", line, ": log_collective"), Str(s, "log_collective"));
      if (!c.ok()) return c.status();
      m.log_collective = *c;
    }
    if (const YAML::Node r = s["rows"]) {
      m.match_system = Str(r, "system");
      m.match_source_prefix = Str(r, "source_prefix");
      m.match_collective = Str(r, "collective");
      static const std::set<std::string> kRowKeys = {"system", "source_prefix", "collective", "max_nodes"};
      ECHOSIM_RETURN_IF_ERROR(CheckKeys(r, kRowKeys, source, StrCat("system '", m.id, "': unknown rows key")));
      if (r["max_nodes"]) {
        if (!ParseNumber(Str(r, "max_nodes"), &v) || v < 1 || v != std::floor(v)) {
          return InvalidArgument(
              StrCat(source, ":", line, ": system '", m.id, "': rows.max_nodes must be a positive integer"));
        }
        m.max_nodes = static_cast<int64_t>(v);
      }
    }
    if (m.logs.empty() && m.match_system.empty() && m.match_source_prefix.empty()) {
      return InvalidArgument(StrCat(source, ":", line, ": system '", m.id, "' names neither logs nor rows"));
    }
    out.systems.push_back(m);
  }
  if (const YAML::Node u = doc["unknown"]) {
    if (!u.IsSequence()) return InvalidArgument(StrCat(source, ": 'unknown' must be a list"));
    for (const auto& e : u) {
      UnknownRule r;
      r.match_system = Str(e, "system");
      r.match_source_prefix = Str(e, "source_prefix");
      r.match_collective = Str(e, "collective");
      r.why = Str(e, "why");
      if (r.why.empty())
        return InvalidArgument(StrCat(source, ":", e.Mark().line + 1, ": an unknown rule needs 'why'"));
      out.unknown.push_back(r);
    }
  }
  return out;
}

StatusOr<MeasuredSystems> LoadMeasuredSystems() {
  for (const EmbeddedFile& f : EmbeddedFiles()) {
    if (f.path == kCatalogPath) return ParseMeasuredSystemsYaml(std::string(f.contents), kCatalogPath);
  }
  return NotFound(StrCat(kCatalogPath, " is not embedded in this build"));
}

const MeasuredSystem* FindMeasuredSystem(const MeasuredSystems& all, const std::string& id) {
  for (const MeasuredSystem& s : all.systems) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

StatusOr<NcclModel> ModelForSystem(const MeasuredSystem& system, int64_t cluster_gpus, NcclCalibration calibration) {
  ECHOSIM_ASSIGN_OR_RETURN(GpuSpec gpu, FindGpuPreset(system.gpu));
  TopologyConfig topo;
  topo.gpus_per_node = system.gpus_per_node;
  const int64_t gpn = system.gpus_per_node;
  topo.gpus = std::max<int64_t>(1, cluster_gpus <= gpn ? cluster_gpus : (cluster_gpus + gpn - 1) / gpn * gpn);
  topo.nic_bytes_per_s = system.nic_gbps / 8.0 * 1e9 * gpu.nic_efficiency;
  topo.nvlink_bytes_per_s = gpu.nvlink_gbps / 8.0 * 1e9 * gpu.nvlink_efficiency;
  return NcclModel::CreateWithCalibration(gpu, topo, system.nccl_version, std::move(calibration));
}

StatusOr<std::vector<CollectiveSample>> SamplesFromNcclTestsLog(const NcclTestsLog& log,
                                                                std::optional<NcclCollective> collective, int64_t ranks,
                                                                int64_t nodes) {
  const std::optional<NcclCollective> coll = collective ? collective : log.collective;
  if (!coll) {
    return InvalidArgument(StrCat(log.source, ": the log does not say which collective it measured; pass --op"));
  }
  const int64_t n = ranks > 0 ? ranks : log.ranks;
  const int64_t N = nodes > 0 ? nodes : log.nodes;
  if (n < 1 || N < 1) {
    return InvalidArgument(StrCat(log.source,
                                  ": no '# Rank ... on HOST device ...' lines to tell the GPU count and nodes; ",
                                  "pass --gpus and --gpus-per-node"));
  }
  std::vector<CollectiveSample> out;
  for (const NcclTestsRow& r : log.rows) {
    if (!(r.size_bytes > 0) || !(r.oop_time_us > 0)) continue;
    CollectiveSample s;
    s.collective = *coll;
    s.ranks = n;
    s.nodes = N;
    s.bytes = r.size_bytes;
    s.time_us = r.oop_time_us;
    s.source = StrCat(log.source, ":", r.line);
    out.push_back(s);
  }
  return out;
}

std::vector<CollectiveSample> SamplesFromVidur(const std::vector<VidurRow>& rows, const std::string& source) {
  std::vector<CollectiveSample> out;
  for (const VidurRow& r : rows) {
    if (!(r.size_bytes > 0) || !(r.median_ms > 0) || r.workers % r.devices_per_node != 0) continue;
    CollectiveSample s;
    s.collective = r.collective;
    s.ranks = r.workers;
    s.nodes = r.workers / r.devices_per_node;
    s.bytes = r.size_bytes;
    s.time_us = r.median_ms * 1e3;
    s.source = StrCat(source, ":", r.line);
    out.push_back(s);
  }
  return out;
}

void AddFittedOn(const MeasuredSystem& system, const std::vector<CollectiveSample>& samples,
                 std::vector<std::string>* fitted_on) {
  auto add = [&](const std::string& line) {
    if (std::find(fitted_on->begin(), fitted_on->end(), line) == fitted_on->end()) fitted_on->push_back(line);
  };
  for (const CollectiveSample& c : samples) add(c.source.substr(0, c.source.rfind(':')));
  if (!system.match_system.empty()) {
    add(StrCat("rows with system '", system.match_system, "'",
               system.max_nodes > 0 ? StrCat(" on at most ", system.max_nodes, " node(s)") : std::string()));
  }
  if (!system.match_source_prefix.empty()) add(StrCat("rows whose source starts '", system.match_source_prefix, "'"));
}

StatusOr<std::vector<CollectiveSample>> SamplesForSystem(const MeasuredSystem& system,
                                                         const std::string& collectives_dir,
                                                         std::vector<ExcludedRow>* excluded) {
  std::vector<CollectiveSample> out;
  for (const std::string& rel : system.logs) {
    const std::string path = StrCat(collectives_dir, "/", rel);
    ECHOSIM_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    ECHOSIM_ASSIGN_OR_RETURN(NcclTestsLog log, ParseNcclTestsLog(text, rel));
    if (log.ranks < 2) {
      if (excluded)
        excluded->push_back(
            {system.id, rel, StrCat(log.ranks, " GPU"), "one GPU: nothing crosses a link (busbw is 0 by definition)"});
      continue;
    }
    ECHOSIM_ASSIGN_OR_RETURN(std::vector<CollectiveSample> s, SamplesFromNcclTestsLog(log, system.log_collective));
    out.insert(out.end(), s.begin(), s.end());
  }
  if (system.match_system.empty() && system.match_source_prefix.empty()) return out;
  ECHOSIM_ASSIGN_OR_RETURN(std::string text, ReadFile(StrCat(collectives_dir, "/", kBusbwCsv)));
  ECHOSIM_ASSIGN_OR_RETURN(std::vector<MeasuredBusbwRow> rows, ParseMeasuredBusbwCsv(text, kBusbwCsv));
  for (const MeasuredBusbwRow& r : rows) {
    if (!Matches(r, system.match_system, system.match_source_prefix, system.match_collective)) continue;
    const std::string where = StrCat(kBusbwCsv, ":", r.line);
    auto reject = [&](const std::string& why) {
      if (excluded)
        excluded->push_back({system.id, where, StrCat(r.system, " / ", r.collective, " / ", r.msg_bytes), why});
    };
    auto coll = ParseNcclCollective("collective", CanonicalCollective(r.collective));
    double n = 0, N = static_cast<double>(system.nodes_override), bytes = system.size_override_bytes, t = 0, busbw = 0;
    if (!coll.ok()) {
      reject(StrCat("collective '", r.collective, "' is not modelled"));
      continue;
    }
    if (!ParseNumber(r.n_gpus, &n) || (N <= 0 && !ParseNumber(r.n_nodes, &N)) || n < 1 || N < 1 ||
        n != std::floor(n)) {
      reject("GPU or node count is not a number");
      continue;
    }
    // Not this view's row, but not an unusable one: the system without the limit compares it.
    if (system.max_nodes > 0 && N > static_cast<double>(system.max_nodes)) continue;
    if (bytes <= 0 && (!ParseNumber(r.msg_bytes, &bytes) || bytes <= 0)) {
      reject(StrCat("message size '", r.msg_bytes, "' is not a byte count"));
      continue;
    }
    const double factor = BusBandwidthFactor(*coll, static_cast<int64_t>(n));
    if (!ParseNumber(r.time_us, &t) || t <= 0) {
      if (!ParseNumber(r.busbw_GBps, &busbw) || busbw <= 0) {
        reject("neither a time nor a positive bus bandwidth");
        continue;
      }
      t = bytes * factor / (busbw * 1e3);
    }
    CollectiveSample s;
    s.collective = *coll;
    s.ranks = static_cast<int64_t>(n);
    s.nodes = static_cast<int64_t>(N);
    s.bytes = bytes;
    s.time_us = t;
    s.source = where;
    out.push_back(s);
  }
  return out;
}

StatusOr<CollectivesValidation> ValidateCollectives(const std::string& collectives_dir) {
  ECHOSIM_ASSIGN_OR_RETURN(MeasuredSystems cat, LoadMeasuredSystems());
  CollectivesValidation v;
  for (const MeasuredSystem& sys : cat.systems) {
    SystemReport rep;
    rep.system = sys;
    ECHOSIM_ASSIGN_OR_RETURN(std::vector<CollectiveSample> samples,
                             SamplesForSystem(sys, collectives_dir, &v.excluded));
    if (samples.empty())
      return FailedPrecondition(StrCat("system '", sys.id, "' has no usable measurements under ", collectives_dir));
    int64_t cluster = 1;
    for (const CollectiveSample& s : samples) cluster = std::max({cluster, s.ranks, s.nodes * sys.gpus_per_node});
    ECHOSIM_ASSIGN_OR_RETURN(NcclCalibration cal, LoadNcclCalibration(sys.calibration));
    ECHOSIM_ASSIGN_OR_RETURN(NcclModel model, ModelForSystem(sys, cluster, cal));
    ECHOSIM_ASSIGN_OR_RETURN(rep.results, EvaluateNcclCalibration(model, cal, samples));
    // NCCL's own modelled time (its latency and quantised bandwidth, no calibration).
    std::vector<SampleResult> raw = rep.results;
    for (SampleResult& r : raw) {
      r.predicted_us = r.decision.NcclTimeUs();
      r.error = r.sample.time_us / r.predicted_us - 1.0;
    }
    rep.calibrated = SummarizeResults(rep.results, kMiB);
    rep.uncalibrated = SummarizeResults(raw, kMiB);
    rep.pass = rep.calibrated.max_error_from_1mib <= kGateFrom1MiB + 1e-12 &&
               rep.calibrated.max_error_from_64mib <= kGateFrom64MiB + 1e-12;
    v.all_pass &= rep.pass;
    v.systems.push_back(std::move(rep));
  }
  // Every other row of the published table, with why it is not compared.
  ECHOSIM_ASSIGN_OR_RETURN(std::string text, ReadFile(StrCat(collectives_dir, "/", kBusbwCsv)));
  ECHOSIM_ASSIGN_OR_RETURN(std::vector<MeasuredBusbwRow> rows, ParseMeasuredBusbwCsv(text, kBusbwCsv));
  for (const MeasuredBusbwRow& r : rows) {
    bool known = false;
    for (const MeasuredSystem& sys : cat.systems) {
      known |= Matches(r, sys.match_system, sys.match_source_prefix, sys.match_collective);
    }
    if (known) continue;
    std::string why = "not described in hardware/nccl/measured-systems.yaml";
    for (const UnknownRule& u : cat.unknown) {
      if (Matches(r, u.match_system, u.match_source_prefix, u.match_collective)) {
        why = u.why;
        break;
      }
    }
    v.excluded.push_back(
        {"", StrCat(kBusbwCsv, ":", r.line), StrCat(r.system, " / ", r.collective, " / ", r.msg_bytes), why});
  }
  return v;
}

StatusOr<AllToAllFit> FitAllToAllEfficiency(const MeasuredSystems& systems, const std::string& collectives_dir) {
  AllToAllFit fit;
  for (const MeasuredSystem& sys : systems.systems) {
    if (CanonicalCollective(sys.match_collective) != "all_to_all") continue;
    ECHOSIM_ASSIGN_OR_RETURN(GpuSpec gpu, FindGpuPreset(sys.gpu));
    const double nvlink = gpu.nvlink_gbps / 8.0;  // GB/s per direction
    if (!(nvlink > 0)) {
      return FailedPrecondition(StrCat("system '", sys.id, "': GPU ", sys.gpu, " has no NVLink; the all_to_all fit ",
                                       "covers NVLink and network links"));
    }
    // One NIC per GPU, behind its PCIe x16 link as NCCL's topology sees it (p2p.cc's path P).
    ECHOSIM_ASSIGN_OR_RETURN(NcclConstants constants, FindNcclConstants(sys.nccl_version));
    const int gen = std::clamp(gpu.pcie_gen > 0 ? gpu.pcie_gen : 4, 3, 6);
    const double nic = std::min(sys.nic_gbps / 8.0, constants.pcie_x16_bw_GBps[gen]);
    ECHOSIM_ASSIGN_OR_RETURN(std::vector<CollectiveSample> samples, SamplesForSystem(sys, collectives_dir));
    AddFittedOn(sys, samples, &fit.fitted_on);
    for (const CollectiveSample& s : samples) {
      if (s.collective != NcclCollective::kAllToAll || s.ranks < 2) continue;
      const double n = static_cast<double>(s.ranks);
      const double ppn = n / static_cast<double>(s.nodes);
      const double t_nvlink = (ppn - 1) / n / nvlink;
      const double t_network = (n - ppn) / n / nic;
      AllToAllFitRow row;
      row.system_id = sys.id;
      row.source = s.source;
      row.ranks = s.ranks;
      row.nodes = s.nodes;
      row.bound = t_network > t_nvlink ? "network" : "nvlink";
      row.line_busbw_GBps = (n - 1) / n / std::max(t_nvlink, t_network);
      row.measured_busbw_GBps = s.bytes * BusBandwidthFactor(s.collective, s.ranks) / (s.time_us * 1e3);
      fit.rows.push_back(row);
    }
  }
  // Median ratio of the rows of `bound`, leaving out row `skip` (-1: none).
  auto median = [&](const std::string& bound, int skip, double* out) -> Status {
    std::vector<double> r;
    for (size_t i = 0; i < fit.rows.size(); ++i)
      if (fit.rows[i].bound == bound && static_cast<int>(i) != skip) r.push_back(fit.rows[i].Ratio());
    if (r.empty()) return FailedPrecondition(StrCat("no all_to_all measurement bounded by ", bound, " links"));
    std::sort(r.begin(), r.end());
    *out = r.size() % 2 ? r[r.size() / 2] : 0.5 * (r[r.size() / 2 - 1] + r[r.size() / 2]);
    return Status::Ok();
  };
  ECHOSIM_RETURN_IF_ERROR(median("nvlink", -1, &fit.efficiency.nvlink));
  ECHOSIM_RETURN_IF_ERROR(median("network", -1, &fit.efficiency.network));
  for (size_t i = 0; i < fit.rows.size(); ++i) {
    const AllToAllFitRow& row = fit.rows[i];
    const double e = row.bound == "nvlink" ? fit.efficiency.nvlink : fit.efficiency.network;
    fit.max_residual = std::max(fit.max_residual, std::fabs(row.Ratio() / e - 1.0));
    double others = 0;
    if (median(row.bound, static_cast<int>(i), &others).ok()) {
      fit.max_held_out_error = std::max(fit.max_held_out_error, std::fabs(others / row.Ratio() - 1.0));
      ++fit.held_out_rows;
    }
  }
  return fit;
}

std::string AllToAllEfficiencyYaml(const AllToAllFit& fit, const std::string& command) {
  std::ostringstream os;
  char buf[512];
  os << "# All-to-all bandwidth efficiency (simulator/network/nccl/alltoall_efficiency.h), written by\n"
     << "#   " << command << "\n"
     << "# Each row: measured all_to_all bus bandwidth / the line-rate bus bandwidth of the link class that\n"
     << "# bounds it (NVLink per direction inside one NVLink domain; across nodes the GPU's NIC, capped at\n"
     << "# its PCIe x16 rate as NCCL's topology sees it). A class's efficiency is the median of its rows;\n"
     << "# held out: each row predicted by the median of the other rows of its class. Regenerate with the\n"
     << "# command above; do not edit by hand.\n"
     << "name: alltoall-efficiency\n"
     << "source: \"the all_to_all systems of hardware/nccl/measured-systems.yaml (rows of collectives_measured_busbw.csv)\"\n"
     << "fitted_on:\n";
  for (const std::string& f : fit.fitted_on) os << "  - \"" << f << "\"\n";
  std::snprintf(buf, sizeof(buf), "nvlink_efficiency: %.4g\nnetwork_efficiency: %.4g\n", fit.efficiency.nvlink,
                fit.efficiency.network);
  os << buf;
  std::snprintf(buf, sizeof(buf), "fit: {rows: %zu, max_residual: %.4g, held_out_rows: %d, max_held_out_error: %.4g}\n",
                fit.rows.size(), fit.max_residual, fit.held_out_rows, fit.max_held_out_error);
  os << buf << "rows:\n";
  for (const AllToAllFitRow& r : fit.rows) {
    std::snprintf(buf, sizeof(buf),
                  "  - {system: %s, source: \"%s\", gpus: %lld, nodes: %lld, bound: %s, measured_busbw_GBps: %.4g, "
                  "line_busbw_GBps: %.4g, ratio: %.4g}\n",
                  r.system_id.c_str(), r.source.c_str(), static_cast<long long>(r.ranks),
                  static_cast<long long>(r.nodes), r.bound.c_str(), r.measured_busbw_GBps, r.line_busbw_GBps,
                  r.Ratio());
    os << buf;
  }
  return os.str();
}

std::string CollectivesValidationText(const CollectivesValidation& v) {
  std::ostringstream os;
  char line[512];
  os << "Collective bus bandwidth, predicted (NCCL tuner choice + calibration) vs measured\n"
     << "gate on systems with a known topology: |error| <= " << kGateFrom64MiB * 100
     << "% from 64 MiB, <= " << kGateFrom1MiB * 100 << "% from 1 MiB (smaller sizes shown, not gated)\n";
  for (const SystemReport& r : v.systems) {
    os << "\n== " << r.system.id << ": " << r.system.description << "\n   topology: " << r.system.why
       << "\n   model: gpu " << r.system.gpu << ", " << r.system.gpus_per_node << " GPUs/node, NIC "
       << r.system.nic_gbps << " Gbit/s, NCCL " << r.system.nccl_version << " constants, calibration "
       << r.system.calibration
       << (r.system.calibration_from.empty() ? " (fitted on this system)"
                                             : StrCat(" (fitted on ", r.system.calibration_from, ")"))
       << "\n";
    std::snprintf(line, sizeof(line), "   %5s %5s %10s %11s %11s %8s  %-10s %-7s %s\n", "gpus", "nodes", "size",
                  "meas GB/s", "pred GB/s", "error", "algorithm", "proto", "source");
    os << line;
    for (const SampleResult& s : r.results) {
      std::snprintf(line, sizeof(line), "   %5lld %5lld %10s %11.2f %11.2f %+7.1f%%  %-10s %-7s %s\n",
                    static_cast<long long>(s.sample.ranks), static_cast<long long>(s.sample.nodes),
                    SizeLabel(s.sample.bytes).c_str(), s.MeasuredBusBwGBps(), s.PredictedBusBwGBps(), s.error * 100,
                    s.decision.AlgorithmName().c_str(), NcclProtocolName(s.decision.protocol), s.sample.source.c_str());
      os << line;
    }
    std::snprintf(
        line, sizeof(line),
        "   summary: from 1 MiB max |err| %.1f%% (gate 25%%), from 64 MiB %.1f%% (gate 10%%), rms %.1f%%, %d sizes; "
        "NCCL's own model: %.1f%% / %.1f%%  -> %s\n",
        r.calibrated.max_error_from_1mib * 100, r.calibrated.max_error_from_64mib * 100, r.calibrated.rms_error * 100,
        r.calibrated.points, r.uncalibrated.max_error_from_1mib * 100, r.uncalibrated.max_error_from_64mib * 100,
        r.pass ? "PASS" : "FAIL");
    os << line;
  }
  os << "\nSummary (sizes >= 1 MiB)\n";
  std::snprintf(line, sizeof(line), "  %-28s %6s %12s %12s %12s %12s  %s\n", "system", "sizes", "max>=1MiB",
                "max>=64MiB", "NCCL>=1MiB", "NCCL>=64MiB", "gate");
  os << line;
  for (const SystemReport& r : v.systems) {
    std::snprintf(line, sizeof(line), "  %-28s %6d %11.1f%% %11.1f%% %11.1f%% %11.1f%%  %s\n", r.system.id.c_str(),
                  r.calibrated.points, r.calibrated.max_error_from_1mib * 100, r.calibrated.max_error_from_64mib * 100,
                  r.uncalibrated.max_error_from_1mib * 100, r.uncalibrated.max_error_from_64mib * 100,
                  r.pass ? "PASS" : "FAIL");
    os << line;
  }
  os << "  overall: " << (v.all_pass ? "PASS" : "FAIL") << "\n";
  // Rows not compared, grouped by reason.
  std::map<std::string, std::vector<const ExcludedRow*>> by_why;
  std::vector<std::string> order;
  for (const ExcludedRow& e : v.excluded) {
    if (!by_why.count(e.why)) order.push_back(e.why);
    by_why[e.why].push_back(&e);
  }
  os << "\nNot compared (" << v.excluded.size() << " rows)\n";
  for (const std::string& why : order) {
    const auto& rows = by_why[why];
    os << "  " << rows.size() << " row" << (rows.size() > 1 ? "s" : "") << ": " << why << "\n";
    for (size_t i = 0; i < rows.size() && i < 3; ++i)
      os << "      " << rows[i]->source << "  " << rows[i]->what << "\n";
    if (rows.size() > 3) os << "      ...\n";
  }
  return os.str();
}

}  // namespace echosim
