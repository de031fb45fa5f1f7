#include "simulator/network/nccl/nccl_constants.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include "simulator/core/embedded_data.h"
#include "simulator/core/strings.h"
#include "simulator/core/yaml_load.h"

namespace echosim {
namespace {

constexpr std::string_view kPrefix = "hardware/nccl/nccl-";

struct Reader {
  const std::string& source;

  Status Error(const YAML::Node& n, const std::string& field, const std::string& msg) const {
    return InvalidArgument(StrCat(source, ":", n.Mark().line + 1, ": field '", field, "': ", msg));
  }

  Status Number(const YAML::Node& n, const std::string& field, double* out) const {
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, *out)) {
      return Error(n, field, StrCat("expected a number, got '", n.IsScalar() ? n.Scalar() : "(not a scalar)", "'"));
    }
    if (*out < 0) return Error(n, field, StrCat("must not be negative, got ", *out));
    return Status::Ok();
  }

  Status List(const YAML::Node& n, const std::string& field, size_t min_size, std::vector<double>* out) const {
    if (!n.IsSequence()) return Error(n, field, "expected a list of numbers");
    out->clear();
    for (size_t i = 0; i < n.size(); ++i) {
      double v = 0;
      ECHOSIM_RETURN_IF_ERROR(Number(n[i], StrCat(field, "[", i, "]"), &v));
      out->push_back(v);
    }
    if (out->size() < min_size) {
      return Error(n, field, StrCat("expected at least ", min_size, " numbers, got ", out->size()));
    }
    return Status::Ok();
  }

  template <size_t N>
  Status Fixed(const YAML::Node& n, const std::string& field, std::array<double, N>* out) const {
    std::vector<double> v;
    ECHOSIM_RETURN_IF_ERROR(List(n, field, N, &v));
    if (v.size() != N) return Error(n, field, StrCat("expected exactly ", N, " numbers, got ", v.size()));
    std::copy(v.begin(), v.end(), out->begin());
    return Status::Ok();
  }

  Status Map(const YAML::Node& doc, const std::string& field, YAML::Node* out) const {
    const YAML::Node n = doc[field];  // const lookup: never inserts
    if (!n) return InvalidArgument(StrCat(source, ": missing field '", field, "'"));
    if (!n.IsMap()) return Error(n, field, "expected a map");
    out->reset(n);  // rebind; operator= would overwrite the node `out` referred to before
    return Status::Ok();
  }

  // Rows keyed by architecture name; missing later rows repeat the last present one.
  template <typename T, typename F>
  Status ArchRows(const YAML::Node& doc, const std::string& field, std::array<T, kNumNcclArchs>* out,
                  F read_one) const {
    YAML::Node found;
    ECHOSIM_RETURN_IF_ERROR(Map(doc, field, &found));
    const YAML::Node& m = found;
    ECHOSIM_RETURN_IF_ERROR(OnlyArchKeys(m, field));
    for (int a = 0; a < kNumNcclArchs; ++a) {
      const char* name = NcclArchName(static_cast<NcclArch>(a));
      if (m[name]) {
        ECHOSIM_RETURN_IF_ERROR(read_one(m[name], StrCat(field, ".", name), &(*out)[a]));
      } else if (a == 0) {
        return Error(m, field, "needs a 'volta' row");
      } else {
        (*out)[a] = (*out)[a - 1];
      }
    }
    return Status::Ok();
  }

  Status OnlyArchKeys(const YAML::Node& m, const std::string& field) const {
    for (const auto& kv : m) {
      const std::string key = kv.first.Scalar();
      bool ok = false;
      for (int a = 0; a < kNumNcclArchs; ++a) ok |= key == NcclArchName(static_cast<NcclArch>(a));
      if (!ok) {
        return Error(kv.first, field, StrCat("unknown row '", key, "'; valid rows: volta, ampere, hopper, blackwell"));
      }
    }
    return Status::Ok();
  }

  // Speed ladders keyed pre_hopper / hopper / blackwell.
  Status Speeds(const YAML::Node& doc, const std::string& field,
                std::array<std::vector<double>, kNumNcclArchs>* out) const {
    YAML::Node found;
    ECHOSIM_RETURN_IF_ERROR(Map(doc, field, &found));
    const YAML::Node& m = found;
    std::vector<double> pre, hop, bw;
    for (const auto& kv : m) {
      const std::string key = kv.first.Scalar();
      if (key != "pre_hopper" && key != "hopper" && key != "blackwell") {
        return Error(kv.first, field, StrCat("unknown ladder '", key, "'; valid: pre_hopper, hopper, blackwell"));
      }
    }
    if (!m["pre_hopper"] || !m["hopper"]) return Error(m, field, "needs 'pre_hopper' and 'hopper' ladders");
    ECHOSIM_RETURN_IF_ERROR(List(m["pre_hopper"], field + ".pre_hopper", 1, &pre));
    ECHOSIM_RETURN_IF_ERROR(List(m["hopper"], field + ".hopper", 1, &hop));
    if (m["blackwell"]) {
      ECHOSIM_RETURN_IF_ERROR(List(m["blackwell"], field + ".blackwell", 1, &bw));
    } else {
      bw = hop;
    }
    for (const auto* v : {&pre, &hop, &bw}) {
      for (size_t i = 1; i < v->size(); ++i) {
        if ((*v)[i] >= (*v)[i - 1]) return Error(m, field, "speed ladders must be strictly decreasing");
      }
    }
    (*out)[0] = pre;
    (*out)[1] = pre;
    (*out)[2] = hop;
    (*out)[3] = bw;
    return Status::Ok();
  }
};

int AlgorithmIndex(const std::string& name) {
  for (int a = 0; a < kNumNcclAlgorithms; ++a) {
    if (name == NcclAlgorithmName(static_cast<NcclAlgorithm>(a))) return a;
  }
  return -1;
}

std::string AlgorithmList() {
  std::vector<std::string> v;
  for (int a = 0; a < kNumNcclAlgorithms; ++a) v.push_back(NcclAlgorithmName(static_cast<NcclAlgorithm>(a)));
  return Join(v, ", ");
}

Status ReadAlgorithmTriples(const Reader& r, const YAML::Node& m, const std::string& field,
                            const std::array<bool, kNumNcclAlgorithms>& present,
                            std::array<ProtocolTriple, kNumNcclAlgorithms>* out) {
  if (!m.IsMap()) return r.Error(m, field, "expected a map from algorithm to [LL, LL128, Simple]");
  for (const auto& kv : m) {
    const std::string key = kv.first.Scalar();
    const int a = AlgorithmIndex(key);
    if (a < 0) return r.Error(kv.first, field, StrCat("unknown algorithm '", key, "'; valid: ", AlgorithmList()));
    ECHOSIM_RETURN_IF_ERROR(r.Fixed(kv.second, StrCat(field, ".", key), &(*out)[a]));
  }
  for (int a = 0; a < kNumNcclAlgorithms; ++a) {
    if (present[a] && !m[NcclAlgorithmName(static_cast<NcclAlgorithm>(a))]) {
      return r.Error(m, field, StrCat("missing algorithm '", NcclAlgorithmName(static_cast<NcclAlgorithm>(a)), "'"));
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<NcclConstants> ParseNcclConstantsYaml(const std::string& text, const std::string& source) {
  ECHOSIM_ASSIGN_OR_RETURN(const YAML::Node doc,
                           LoadYamlMap(text, source, "an NCCL constants file must be a YAML map"));
  const Reader r{source};
  static const std::set<std::string> kKnown = {"version",
                                               "release",
                                               "formula_generation",
                                               "algorithms",
                                               "base_latency_us",
                                               "hw_latency_us",
                                               "ll_max_bw_GBps",
                                               "per_channel_max_ring_ll128_bw_GBps",
                                               "per_channel_max_tree_ll128_bw_GBps",
                                               "per_channel_max_tree_bw_GBps",
                                               "per_channel_max_nvls_tree_bw_GBps",
                                               "nvls_efficiency",
                                               "tree_correction_factor",
                                               "nvlink_bw_per_link_GBps",
                                               "pci_bw_GBps",
                                               "pcie_x16_bw_GBps",
                                               "speed_intra_GBps",
                                               "speed_inter_GBps",
                                               "net_overhead_us",
                                               "ring_plateau_latency_factor",
                                               "ring_max_channels"};
  for (const auto& kv : doc) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (!kKnown.count(key)) {
      return InvalidArgument(StrCat(source, ":", kv.first.Mark().line + 1, ": unknown field '", key,
                                    "'; valid fields: ", Join(kKnown.begin(), kKnown.end(), ", ")));
    }
  }
  NcclConstants c;
  for (const char* f : {"version", "release"}) {
    if (!doc[f] || !doc[f].IsScalar()) return InvalidArgument(StrCat(source, ": missing field '", f, "'"));
  }
  c.version = doc["version"].Scalar();
  c.release = doc["release"].Scalar();
  double gen = 0;
  if (!doc["formula_generation"]) return InvalidArgument(StrCat(source, ": missing field 'formula_generation'"));
  ECHOSIM_RETURN_IF_ERROR(r.Number(doc["formula_generation"], "formula_generation", &gen));
  c.formula_generation = static_cast<int>(gen);
  if (c.formula_generation != 218 && c.formula_generation != 221 && c.formula_generation != 227 &&
      c.formula_generation != 230) {
    return r.Error(doc["formula_generation"], "formula_generation",
                   StrCat("unknown generation ", gen, "; valid: 218, 221, 227, 230"));
  }
  const YAML::Node algos = doc["algorithms"];
  if (!algos || !algos.IsSequence()) return InvalidArgument(StrCat(source, ": missing list 'algorithms'"));
  for (const auto& a : algos) {
    const int i = a.IsScalar() ? AlgorithmIndex(a.Scalar()) : -1;
    if (i < 0) return r.Error(a, "algorithms", StrCat("unknown algorithm; valid: ", AlgorithmList()));
    c.has_algorithm[i] = true;
  }
  if (!c.has_algorithm[static_cast<int>(NcclAlgorithm::kRing)] ||
      !c.has_algorithm[static_cast<int>(NcclAlgorithm::kTree)]) {
    return r.Error(algos, "algorithms", "must include ring and tree");
  }
  YAML::Node found;
  const YAML::Node& m = found;  // lookups through a const reference never insert keys
  ECHOSIM_RETURN_IF_ERROR(r.Map(doc, "base_latency_us", &found));
  ECHOSIM_RETURN_IF_ERROR(ReadAlgorithmTriples(r, m, "base_latency_us", c.has_algorithm, &c.base_latency_us));
  ECHOSIM_RETURN_IF_ERROR(r.Map(doc, "hw_latency_us", &found));
  const char* kLinks[kNumNcclLinks] = {"nvlink", "pci", "net"};
  for (const auto& kv : m) {
    const std::string key = kv.first.Scalar();
    if (key != "nvlink" && key != "pci" && key != "net") {
      return r.Error(kv.first, "hw_latency_us", StrCat("unknown link '", key, "'; valid: nvlink, pci, net"));
    }
  }
  for (int l = 0; l < kNumNcclLinks; ++l) {
    if (!m[kLinks[l]]) return r.Error(m, "hw_latency_us", StrCat("missing link '", kLinks[l], "'"));
    ECHOSIM_RETURN_IF_ERROR(ReadAlgorithmTriples(r, m[kLinks[l]], StrCat("hw_latency_us.", kLinks[l]), c.has_algorithm,
                                                 &c.hw_latency_us[l]));
  }
  auto triple = [&](const YAML::Node& n, const std::string& f, NodeTriple* out) { return r.Fixed(n, f, out); };
  auto number = [&](const YAML::Node& n, const std::string& f, double* out) { return r.Number(n, f, out); };
  ECHOSIM_RETURN_IF_ERROR(r.ArchRows(doc, "ll_max_bw_GBps", &c.ll_max_bw_GBps, triple));
  ECHOSIM_RETURN_IF_ERROR(
      r.ArchRows(doc, "per_channel_max_ring_ll128_bw_GBps", &c.ring_ll128_bw_per_channel_GBps, triple));
  ECHOSIM_RETURN_IF_ERROR(
      r.ArchRows(doc, "per_channel_max_tree_ll128_bw_GBps", &c.tree_ll128_bw_per_channel_GBps, triple));
  ECHOSIM_RETURN_IF_ERROR(r.ArchRows(doc, "per_channel_max_tree_bw_GBps", &c.tree_bw_per_channel_GBps, triple));
  if (c.formula_generation >= 230) {
    ECHOSIM_RETURN_IF_ERROR(
        r.ArchRows(doc, "per_channel_max_nvls_tree_bw_GBps", &c.nvls_tree_bw_per_channel_GBps, triple));
    ECHOSIM_RETURN_IF_ERROR(r.ArchRows(doc, "nvls_efficiency", &c.nvls_efficiency, number));
  }
  ECHOSIM_RETURN_IF_ERROR(r.Map(doc, "tree_correction_factor", &found));
  for (int p = 0; p < kNumNcclProtocols; ++p) {
    const char* name = NcclProtocolName(static_cast<NcclProtocol>(p));
    if (!m[name]) return r.Error(m, "tree_correction_factor", StrCat("missing protocol '", name, "'"));
    ECHOSIM_RETURN_IF_ERROR(r.List(m[name], StrCat("tree_correction_factor.", name), 23, &c.tree_correction[p]));
  }
  ECHOSIM_RETURN_IF_ERROR(r.ArchRows(doc, "nvlink_bw_per_link_GBps", &c.nvlink_bw_per_link_GBps, number));
  if (!doc["pci_bw_GBps"]) return InvalidArgument(StrCat(source, ": missing field 'pci_bw_GBps'"));
  ECHOSIM_RETURN_IF_ERROR(r.Number(doc["pci_bw_GBps"], "pci_bw_GBps", &c.pci_bw_GBps));
  ECHOSIM_RETURN_IF_ERROR(r.Map(doc, "pcie_x16_bw_GBps", &found));
  for (int g = 3; g <= 6; ++g) {
    const std::string key = StrCat("gen", g);
    if (!m[key]) return r.Error(m, "pcie_x16_bw_GBps", StrCat("missing '", key, "'"));
    ECHOSIM_RETURN_IF_ERROR(r.Number(m[key], "pcie_x16_bw_GBps." + key, &c.pcie_x16_bw_GBps[g]));
  }
  ECHOSIM_RETURN_IF_ERROR(r.Speeds(doc, "speed_intra_GBps", &c.speed_intra_GBps));
  ECHOSIM_RETURN_IF_ERROR(r.Speeds(doc, "speed_inter_GBps", &c.speed_inter_GBps));
  ECHOSIM_RETURN_IF_ERROR(r.Map(doc, "net_overhead_us", &found));
  if (!m["intel"] || !m["amd"]) return r.Error(m, "net_overhead_us", "needs 'intel' and 'amd'");
  ECHOSIM_RETURN_IF_ERROR(r.Number(m["intel"], "net_overhead_us.intel", &c.net_overhead_intel_us));
  ECHOSIM_RETURN_IF_ERROR(r.Number(m["amd"], "net_overhead_us.amd", &c.net_overhead_amd_us));
  ECHOSIM_RETURN_IF_ERROR(r.Map(doc, "ring_plateau_latency_factor", &found));
  if (!m["ampere_and_later"] || !m["older"]) {
    return r.Error(m, "ring_plateau_latency_factor", "needs 'ampere_and_later' and 'older'");
  }
  ECHOSIM_RETURN_IF_ERROR(
      r.Number(m["ampere_and_later"], "ring_plateau_latency_factor.ampere_and_later", &c.ring_plateau_factor));
  ECHOSIM_RETURN_IF_ERROR(r.Number(m["older"], "ring_plateau_latency_factor.older", &c.ring_plateau_factor_pre_sm80));
  double max_ch = 0;
  if (!doc["ring_max_channels"]) return InvalidArgument(StrCat(source, ": missing field 'ring_max_channels'"));
  ECHOSIM_RETURN_IF_ERROR(r.Number(doc["ring_max_channels"], "ring_max_channels", &max_ch));
  c.ring_max_channels = static_cast<int>(max_ch);
  if (c.ring_max_channels < 1 || c.ring_max_channels > 64) {
    return r.Error(doc["ring_max_channels"], "ring_max_channels", "must be between 1 and 64");
  }
  for (int a = 0; a < kNumNcclArchs; ++a) {
    if (!(c.nvlink_bw_per_link_GBps[a] > 0)) {
      return InvalidArgument(
          StrCat(source, ": nvlink_bw_per_link_GBps.", NcclArchName(static_cast<NcclArch>(a)), " must be positive"));
    }
  }
  if (!(c.pci_bw_GBps > 0)) return InvalidArgument(StrCat(source, ": pci_bw_GBps must be positive"));
  return c;
}

std::vector<std::string> NcclVersions() {
  std::vector<std::string> out;
  for (const EmbeddedFile& f : EmbeddedFilesUnder(kPrefix)) {
    std::string base(f.path.substr(kPrefix.size()));
    if (base.size() > 5 && base.substr(base.size() - 5) == ".yaml") out.push_back(base.substr(0, base.size() - 5));
  }
  std::sort(out.begin(), out.end());
  return out;
}

StatusOr<NcclConstants> FindNcclConstants(const std::string& version) {
  const std::string path = StrCat(kPrefix, version, ".yaml");
  for (const EmbeddedFile& f : EmbeddedFilesUnder(kPrefix)) {
    if (f.path != path) continue;
    ECHOSIM_ASSIGN_OR_RETURN(NcclConstants c, ParseNcclConstantsYaml(std::string(f.contents), path));
    ECHOSIM_ASSIGN_OR_RETURN(c.alltoall, LoadAllToAllEfficiency());
    return c;
  }
  return NotFound(StrCat("unknown NCCL version '", version, "'; valid versions: ", Join(NcclVersions(), ", ")));
}

}  // namespace echosim
