#include "simulator/network/nccl/nccl_tests_log.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

std::vector<std::string> Tokens(const std::string& s) {
  std::istringstream is(s);
  std::vector<std::string> out;
  for (std::string t; is >> t;) out.push_back(t);
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool AllDigits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// Strips an mpirun --tag-output prefix such as "[1,0]<stdout>:".
std::string StripTag(const std::string& line) {
  if (!line.empty() && line[0] == '[') {
    const size_t close = line.find("]<");
    if (close != std::string::npos) {
      const size_t colon = line.find(">:", close);
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return line;
}

bool ParseDouble(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

std::string TrimString(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Column layouts nccl-tests has printed: 2.x before the root column, and after it.
const std::vector<std::string> kColumnsNoRoot = {"size",  "count", "type", "redop", "time",  "algbw",
                                                 "busbw", "error", "time", "algbw", "busbw", "error"};
const std::vector<std::string> kColumnsRoot = {"size",  "count",  "type", "redop", "root",  "time",  "algbw",
                                               "busbw", "#wrong", "time", "algbw", "busbw", "#wrong"};

bool SameColumns(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  if (got.size() < want.size()) return false;
  for (size_t i = 0; i < want.size(); ++i) {
    std::string g = got[i], w = want[i];
    // "error" and "#wrong" name the same column; cputime replaces time with -C.
    if ((g == "error" || g == "#wrong") && (w == "error" || w == "#wrong")) continue;
    if (g == "cputime" && w == "time") continue;
    if (g != w) return false;
  }
  return true;
}

}  // namespace

std::optional<NcclCollective> CollectiveOfProgram(const std::string& program) {
  std::string base = program;
  const size_t slash = base.find_last_of('/');
  if (slash != std::string::npos) base = base.substr(slash + 1);
  static const std::map<std::string, NcclCollective> kPrograms = {
      {"all_reduce_perf", NcclCollective::kAllReduce},
      {"all_gather_perf", NcclCollective::kAllGather},
      {"reduce_scatter_perf", NcclCollective::kReduceScatter},
      {"broadcast_perf", NcclCollective::kBroadcast},
      {"reduce_perf", NcclCollective::kReduce},
      {"alltoall_perf", NcclCollective::kAllToAll},
      {"sendrecv_perf", NcclCollective::kSendRecv}};
  auto it = kPrograms.find(base);
  if (it == kPrograms.end()) return std::nullopt;
  return it->second;
}

std::string NcclVersionFromCode(long long code) {
  if (code >= 10000) return StrCat(code / 10000, ".", (code / 100) % 100);
  if (code >= 1000) return StrCat(code / 1000, ".", (code / 100) % 10);
  return "";
}

std::string ClosestNcclModelVersion(const std::string& version, const std::vector<std::string>& available) {
  if (version.empty() || available.empty()) return version;
  auto key = [](const std::string& v) {
    const size_t dot = v.find('.');
    const int major = std::atoi(v.substr(0, dot).c_str());
    const int minor = dot == std::string::npos ? 0 : std::atoi(v.substr(dot + 1).c_str());
    return major * 1000 + minor;
  };
  std::string best = available.front();
  for (const std::string& a : available) {
    const int d = std::abs(key(a) - key(version)), db = std::abs(key(best) - key(version));
    if (d < db || (d == db && key(a) < key(best))) best = a;
  }
  return best;
}

StatusOr<std::string> GpuPresetForDevice(const std::string& device_name) {
  const std::string d = Lower(device_name);
  auto has = [&](const char* s) { return d.find(s) != std::string::npos; };
  if (has("a100")) return std::string(has("80gb") ? "a100-80gb" : "a100-40gb");
  if (has("h100") && !has("pcie") && !has("nvl")) return std::string("h100-sxm");
  if (has("h200")) return std::string("h200");
  if (has("h800")) return std::string("h800");
  if (has("b200") && !has("gb200")) return std::string("b200");
  return NotFound(StrCat("no GPU preset for device '", device_name, "'; pass --gpu"));
}

StatusOr<NcclTestsLog> ParseNcclTestsText(const std::string& text, const std::string& source) {
  NcclTestsLog log;
  log.source = source;
  log.format = "text";
  std::set<std::string> hosts;
  std::vector<std::string> columns;
  bool footer = false;
  int line_no = 0;
  std::istringstream is(text);
  for (std::string raw; std::getline(is, raw);) {
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    const std::string line = StripTag(raw);
    std::vector<std::string> t = Tokens(line);
    if (t.empty()) continue;
    if (t[0][0] == '#') {
      // Comment lines: header facts, the device list, the column header, the footer.
      std::vector<std::string> c = t;
      if (c[0] == "#") {
        c.erase(c.begin());
      } else {
        c[0] = c[0].substr(1);
      }
      if (c.empty()) continue;
      if (c[0] == "Rank" && c.size() >= 3) {
        // "Rank 0 [Group 0] Pid 123 on host device 0 [0x00] NAME..."
        auto on = std::find(c.begin(), c.end(), "on");
        auto dev = std::find(c.begin(), c.end(), "device");
        if (on == c.end() || on + 1 == c.end() || dev == c.end()) {
          return InvalidArgument(StrCat(
              source, ":", line_no, ": malformed device line (expected '# Rank N ... on HOST device D [BUS] NAME')"));
        }
        hosts.insert(*(on + 1));
        ++log.ranks;
        if (log.device_name.empty()) {
          auto name_begin = dev + 2;  // skip "device", its index
          if (name_begin < c.end() && !name_begin->empty() && (*name_begin)[0] == '[') ++name_begin;
          std::vector<std::string> name(name_begin < c.end() ? name_begin : c.end(), c.end());
          log.device_name = Join(name, " ");
        }
      } else if (c[0] == "size") {
        columns = c;
        if (!SameColumns(columns, kColumnsNoRoot) && !SameColumns(columns, kColumnsRoot)) {
          return InvalidArgument(StrCat(source, ":", line_no, ": unexpected nccl-tests columns '", Join(c, " "),
                                        "'; expected '", Join(kColumnsNoRoot, " "), "' or '", Join(kColumnsRoot, " "),
                                        "'"));
        }
      } else if (c[0] == "Collective" && c.size() >= 4 && c[1] == "test" && c[2] == "starting:") {
        log.collective = CollectiveOfProgram(c[3]);
      } else if (c[0] == "nccl-tests" && c.size() >= 2) {
        for (const std::string& f : c) {
          if (f.rfind("nccl-library=", 0) == 0) log.nccl_version = NcclVersionFromCode(std::atoll(f.c_str() + 13));
        }
      } else if (c[0] == "Avg" || (c[0] == "Out" && c.size() > 1 && c[1] == "of")) {
        footer = true;
      }
      continue;
    }
    if (t[0].rfind("NCCL", 0) == 0 && t.size() > 2 && t[1] == "version") {
      // "NCCL version 2.21.5+cuda12.4"
      const std::string v = t[2];
      const size_t d1 = v.find('.');
      const size_t d2 = d1 == std::string::npos ? std::string::npos : v.find('.', d1 + 1);
      if (d1 != std::string::npos) log.nccl_version = v.substr(0, d2 == std::string::npos ? v.size() : d2);
      continue;
    }
    if (!AllDigits(t[0])) continue;  // NCCL INFO/WARN lines and other noise between rows
    if (columns.empty()) {
      return InvalidArgument(
          StrCat(source, ":", line_no, ": result row before the '# size count type ...' column header"));
    }
    const bool with_root = SameColumns(columns, kColumnsRoot);
    const size_t want = with_root ? 13 : 12;
    if (t.size() < want) {
      return InvalidArgument(StrCat(source, ":", line_no, ": truncated result row: ", t.size(), " fields, expected ",
                                    want, " (", Join(with_root ? kColumnsRoot : kColumnsNoRoot, " "), ")"));
    }
    NcclTestsRow r;
    r.line = line_no;
    const size_t o = with_root ? 5 : 4;  // first timing column
    r.type = t[2];
    r.redop = t[3];
    struct Field {
      size_t idx;
      double* dst;
      const char* name;
    };
    for (const Field& f :
         {Field{0, &r.size_bytes, "size"}, Field{1, &r.count, "count"}, Field{o, &r.oop_time_us, "out-of-place time"},
          Field{o + 1, &r.oop_algbw_GBps, "out-of-place algbw"}, Field{o + 2, &r.oop_busbw_GBps, "out-of-place busbw"},
          Field{o + 4, &r.ip_time_us, "in-place time"}, Field{o + 5, &r.ip_algbw_GBps, "in-place algbw"},
          Field{o + 6, &r.ip_busbw_GBps, "in-place busbw"}}) {
      if (!ParseDouble(t[f.idx], f.dst) || *f.dst < 0) {
        return InvalidArgument(StrCat(source, ":", line_no, ": column '", f.name,
                                      "': expected a non-negative number, got '", t[f.idx], "'"));
      }
    }
    if (!(r.size_bytes >= 0) || r.size_bytes > 1e18) {
      return InvalidArgument(StrCat(source, ":", line_no, ": size out of range: ", t[0]));
    }
    log.rows.push_back(r);
  }
  if (log.rows.empty()) {
    return InvalidArgument(StrCat(source, ": no nccl-tests result rows found (is this an nccl-tests log?)"));
  }
  if (!footer) {
    return InvalidArgument(StrCat(source, ": truncated: the table stops after line ", log.rows.back().line,
                                  " without nccl-tests' '# Avg bus bandwidth' footer"));
  }
  log.nodes = static_cast<int>(hosts.size());
  return log;
}

StatusOr<NcclTestsLog> ParseNcclTestsJson(const std::string& text, const std::string& source) {
  using nlohmann::json;
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    return InvalidArgument(StrCat(source, ": malformed JSON (truncated or not nccl-tests -J output)"));
  if (!doc.is_object()) return InvalidArgument(StrCat(source, ": nccl-tests JSON must be an object"));
  NcclTestsLog log;
  log.source = source;
  log.format = "json";
  if (doc.contains("nccl_version") && doc["nccl_version"].is_number_integer()) {
    log.nccl_version = NcclVersionFromCode(doc["nccl_version"].get<long long>());
  }
  if (doc.contains("args") && doc["args"].is_array() && !doc["args"].empty() && doc["args"][0].is_string()) {
    log.collective = CollectiveOfProgram(doc["args"][0].get<std::string>());
  }
  if (doc.contains("config") && doc["config"].is_object()) {
    const json& cfg = doc["config"];
    if (cfg.contains("devices") && cfg["devices"].is_array()) {
      std::set<std::string> hosts;
      for (const json& d : cfg["devices"]) {
        if (!d.is_object()) return InvalidArgument(StrCat(source, ": config.devices: expected objects"));
        ++log.ranks;
        if (d.contains("hostname") && d["hostname"].is_string()) hosts.insert(d["hostname"].get<std::string>());
        if (log.device_name.empty() && d.contains("device_info") && d["device_info"].is_string()) {
          log.device_name = d["device_info"].get<std::string>();
        }
      }
      log.nodes = static_cast<int>(hosts.size());
    }
  }
  if (!doc.contains("results") || !doc["results"].is_array()) {
    return InvalidArgument(
        StrCat(source, ": missing 'results' list (expected nccl-tests -J output, JSON_FILE_VERSION 3)"));
  }
  int index = 0;
  for (const json& r : doc["results"]) {
    ++index;
    const std::string where = StrCat(source, ": results[", index - 1, "]");
    if (!r.is_object()) return InvalidArgument(StrCat(where, ": expected an object"));
    NcclTestsRow row;
    row.line = index;
    auto number = [&](const json& o, const char* key, double* out) -> Status {
      if (!o.contains(key) || !o[key].is_number())
        return InvalidArgument(StrCat(where, ": missing number '", key, "'"));
      *out = o[key].get<double>();
      if (!std::isfinite(*out) || *out < 0)
        return InvalidArgument(StrCat(where, ": '", key, "' must be a non-negative number"));
      return Status::Ok();
    };
    ECHOSIM_RETURN_IF_ERROR(number(r, "size", &row.size_bytes));
    ECHOSIM_RETURN_IF_ERROR(number(r, "count", &row.count));
    if (r.contains("type") && r["type"].is_string()) row.type = r["type"].get<std::string>();
    if (r.contains("redop") && r["redop"].is_string()) row.redop = r["redop"].get<std::string>();
    bool any = false;
    for (const char* place : {"out_of_place", "in_place"}) {
      if (!r.contains(place) || r[place].is_null()) continue;
      const json& p = r[place];
      if (!p.is_object()) return InvalidArgument(StrCat(where, ": '", place, "' must be an object"));
      const char* time_key = p.contains("cpu_time") ? "cpu_time" : "time";
      const bool oop = std::string(place) == "out_of_place";
      ECHOSIM_RETURN_IF_ERROR(number(p, time_key, oop ? &row.oop_time_us : &row.ip_time_us));
      ECHOSIM_RETURN_IF_ERROR(number(p, "alg_bw", oop ? &row.oop_algbw_GBps : &row.ip_algbw_GBps));
      ECHOSIM_RETURN_IF_ERROR(number(p, "bus_bw", oop ? &row.oop_busbw_GBps : &row.ip_busbw_GBps));
      any = true;
    }
    if (!any) return InvalidArgument(StrCat(where, ": neither 'out_of_place' nor 'in_place' timings"));
    if (row.oop_time_us == 0 && row.ip_time_us > 0) {
      row.oop_time_us = row.ip_time_us;
      row.oop_algbw_GBps = row.ip_algbw_GBps;
      row.oop_busbw_GBps = row.ip_busbw_GBps;
    }
    log.rows.push_back(row);
  }
  if (log.rows.empty()) return InvalidArgument(StrCat(source, ": 'results' is empty"));
  return log;
}

StatusOr<NcclTestsLog> ParseNcclTestsLog(const std::string& text, const std::string& source) {
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (c == '{') return ParseNcclTestsJson(text, source);
    break;
  }
  return ParseNcclTestsText(text, source);
}

StatusOr<std::vector<VidurRow>> ParseVidurCsv(const std::string& text, const std::string& source) {
  std::istringstream is(text);
  std::string line;
  int line_no = 0;
  std::map<std::string, size_t> col;
  std::vector<VidurRow> rows;
  while (std::getline(is, line)) {
    ++line_no;
    if (TrimString(line).empty()) continue;
    auto fields = SplitCsvLine(line);
    if (!fields.ok()) return InvalidArgument(StrCat(source, ":", line_no, ": ", fields.status().message()));
    if (col.empty()) {
      for (size_t i = 0; i < fields->size(); ++i) col[TrimString((*fields)[i])] = i;
      for (const char* need : {"num_workers", "size", "collective", "devices_per_node"}) {
        if (!col.count(need)) {
          return InvalidArgument(StrCat(source, ":", line_no, ": missing column '", need,
                                        "' (expected a Vidur network_*.csv with time_stats.<collective>.median)"));
        }
      }
      continue;
    }
    if (fields->size() != col.size()) {
      return InvalidArgument(
          StrCat(source, ":", line_no, ": ", fields->size(), " fields, the header has ", col.size()));
    }
    VidurRow r;
    r.line = line_no;
    const std::string coll = TrimString((*fields)[col["collective"]]);
    auto c = ParseNcclCollective(StrCat(source, ":", line_no, ": collective"), coll);
    if (!c.ok()) return c.status();
    r.collective = *c;
    const std::string median_col = StrCat("time_stats.", coll, ".median");
    if (!col.count(median_col)) {
      return InvalidArgument(
          StrCat(source, ":", line_no, ": no column '", median_col, "' for collective '", coll, "'"));
    }
    double workers = 0, dpn = 0;
    struct Field {
      const char* name;
      double* dst;
    };
    for (const Field& f : {Field{"num_workers", &workers}, Field{"devices_per_node", &dpn},
                           Field{"size", &r.size_bytes}, Field{median_col.c_str(), &r.median_ms}}) {
      const std::string v = TrimString((*fields)[col[f.name]]);
      if (!ParseDouble(v, f.dst) || *f.dst < 0) {
        return InvalidArgument(
            StrCat(source, ":", line_no, ": column '", f.name, "': expected a non-negative number, got '", v, "'"));
      }
    }
    if (workers < 1 || dpn < 1 || workers > 1e6 || dpn > workers) {
      return InvalidArgument(StrCat(source, ":", line_no, ": num_workers ", workers, " and devices_per_node ", dpn,
                                    " do not describe a cluster"));
    }
    r.workers = static_cast<int>(workers);
    r.devices_per_node = static_cast<int>(dpn);
    rows.push_back(r);
  }
  if (rows.empty()) return InvalidArgument(StrCat(source, ": no data rows"));
  return rows;
}

StatusOr<std::vector<MeasuredBusbwRow>> ParseMeasuredBusbwCsv(const std::string& text, const std::string& source) {
  static const std::vector<std::string> kHeader = {
      "source",     "system",    "gpu",   "n_gpus",    "n_nodes", "interconnect", "nccl_version", "tool",
      "collective", "algorithm", "dtype", "msg_bytes", "time_us", "algbw_GBps",   "busbw_GBps",   "notes"};
  std::istringstream is(text);
  std::string line;
  int line_no = 0;
  bool header = false;
  std::vector<MeasuredBusbwRow> rows;
  while (std::getline(is, line)) {
    ++line_no;
    if (TrimString(line).empty() || line[0] == '#') continue;
    auto f = SplitCsvLine(line);
    if (!f.ok()) return InvalidArgument(StrCat(source, ":", line_no, ": ", f.status().message()));
    if (!header) {
      std::vector<std::string> got;
      for (const std::string& s : *f) got.push_back(TrimString(s));
      if (got != kHeader) {
        return InvalidArgument(StrCat(source, ":", line_no, ": unexpected columns '", Join(got, ","), "'; expected '",
                                      Join(kHeader, ","), "'"));
      }
      header = true;
      continue;
    }
    if (f->size() != kHeader.size()) {
      return InvalidArgument(StrCat(source, ":", line_no, ": ", f->size(), " fields, expected ", kHeader.size()));
    }
    MeasuredBusbwRow r;
    r.line = line_no;
    std::string* dst[] = {&r.source,       &r.system,     &r.gpu,        &r.n_gpus,    &r.n_nodes, &r.interconnect,
                          &r.nccl_version, &r.tool,       &r.collective, &r.algorithm, &r.dtype,   &r.msg_bytes,
                          &r.time_us,      &r.algbw_GBps, &r.busbw_GBps, &r.notes};
    for (size_t i = 0; i < kHeader.size(); ++i) *dst[i] = TrimString((*f)[i]);
    rows.push_back(r);
  }
  if (!header) return InvalidArgument(StrCat(source, ": no header row"));
  return rows;
}

StatusOr<double> ParseByteSize(const std::string& field, const std::string& value) {
  std::string v = TrimString(value);
  std::string num;
  size_t i = 0;
  while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) num.push_back(v[i++]);
  std::string unit = Lower(v.substr(i));
  double mult = 1;
  if (unit == "" || unit == "b") {
    mult = 1;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    mult = 1024.0;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    mult = 1024.0 * 1024;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    mult = 1024.0 * 1024 * 1024;
  } else if (unit == "t" || unit == "tb" || unit == "tib") {
    mult = 1024.0 * 1024 * 1024 * 1024;
  } else {
    return InvalidArgument(StrCat(field, ": unknown size unit in '", value, "'; use a byte count or K, M, G, T"));
  }
  double x = 0;
  if (!ParseDouble(num, &x))
    return InvalidArgument(StrCat(field, ": expected a size such as 1048576, 64K or 1G, got '", value, "'"));
  const double bytes = x * mult;
  if (!(bytes >= 1)) return InvalidArgument(StrCat(field, ": size must be at least 1 byte, got '", value, "'"));
  if (bytes > 1e15) return InvalidArgument(StrCat(field, ": size '", value, "' is larger than 1 PB"));
  return std::floor(bytes);
}

StatusOr<std::vector<double>> ParseSizeRange(const std::string& field, const std::string& value) {
  const size_t colon = value.find(':');
  if (colon == std::string::npos) {
    ECHOSIM_ASSIGN_OR_RETURN(double one, ParseByteSize(field, value));
    return std::vector<double>{one};
  }
  ECHOSIM_ASSIGN_OR_RETURN(double lo, ParseByteSize(field, value.substr(0, colon)));
  ECHOSIM_ASSIGN_OR_RETURN(double hi, ParseByteSize(field, value.substr(colon + 1)));
  if (lo > hi) return InvalidArgument(StrCat(field, ": MIN must not exceed MAX in '", value, "'"));
  std::vector<double> out;
  for (double s = lo; s <= hi; s *= 2) out.push_back(s);
  return out;
}

}  // namespace echosim
