#include "tracer/manifest.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

using nlohmann::json;

StatusOr<int64_t> GetInt(const json& j, const std::string& field, const std::string& where) {
  if (!j.is_number_integer()) {
    return InvalidArgument(StrCat(where, ": '", field, "' must be an integer, found ",
                                  j.type_name()));
  }
  return j.get<int64_t>();
}

StatusOr<std::vector<int64_t>> GetIntList(const json& j, const std::string& field,
                                          const std::string& where) {
  if (!j.is_array()) {
    return InvalidArgument(StrCat(where, ": '", field, "' must be a list of integers, found ",
                                  j.type_name()));
  }
  std::vector<int64_t> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    ECHOSIM_ASSIGN_OR_RETURN(const int64_t v, GetInt(j[i], StrCat(field, "[", i, "]"), where));
    out.push_back(v);
  }
  return out;
}

}  // namespace

std::string ManifestToJson(const TraceManifest& m) {
  json j;
  j["format"] = "echosim-trace-set";
  j["version"] = 1;
  j["world_size"] = m.world_size;
  if (m.tp > 0 || m.pp > 0 || m.dp > 0) j["layout"] = {{"tp", m.tp}, {"pp", m.pp}, {"dp", m.dp}};
  if (!m.gpu.empty()) j["gpu"] = m.gpu;
  json traces = json::array();
  for (const TraceManifest::Entry& e : m.traces) {
    traces.push_back({{"rank", e.rank}, {"file", e.file}, {"stands_for", e.stands_for}});
  }
  j["traces"] = traces;
  json comms = json::array();
  for (const Communicator& c : m.communicators) {
    comms.push_back({{"name", c.name}, {"ranks", c.ranks}});
  }
  j["communicators"] = comms;
  j["command"] = m.command;
  return j.dump(2) + "\n";
}

StatusOr<TraceManifest> ParseManifest(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return InvalidArgument(StrCat(source, ": invalid JSON at byte ", e.byte, ": ", e.what()));
  }
  if (!j.is_object()) return InvalidArgument(StrCat(source, ": expected a JSON object"));
  if (!j.contains("format") || j["format"] != "echosim-trace-set") {
    return InvalidArgument(StrCat(source, ": 'format' must be \"echosim-trace-set\""));
  }
  TraceManifest m;
  if (!j.contains("world_size")) return InvalidArgument(StrCat(source, ": 'world_size' is missing"));
  ECHOSIM_ASSIGN_OR_RETURN(m.world_size, GetInt(j["world_size"], "world_size", source));
  if (j.contains("layout")) {
    const json& l = j["layout"];
    if (!l.is_object()) return InvalidArgument(StrCat(source, ": 'layout' must be an object"));
    for (const auto& [k, dst] : {std::pair<const char*, int64_t*>{"tp", &m.tp}, {"pp", &m.pp},
                                 {"dp", &m.dp}}) {
      if (l.contains(k)) {
        ECHOSIM_ASSIGN_OR_RETURN(*dst, GetInt(l[k], StrCat("layout.", k), source));
      }
    }
  }
  if (j.contains("gpu")) {
    if (!j["gpu"].is_string()) return InvalidArgument(StrCat(source, ": 'gpu' must be a string"));
    m.gpu = j["gpu"].get<std::string>();
  }
  if (!j.contains("traces") || !j["traces"].is_array()) {
    return InvalidArgument(StrCat(source, ": 'traces' must be a list"));
  }
  for (size_t i = 0; i < j["traces"].size(); ++i) {
    const json& e = j["traces"][i];
    const std::string where = StrCat(source, ": traces[", i, "]");
    if (!e.is_object()) return InvalidArgument(StrCat(where, ": expected an object"));
    TraceManifest::Entry entry;
    if (!e.contains("rank") || !e.contains("file")) {
      return InvalidArgument(StrCat(where, ": needs 'rank' and 'file'"));
    }
    ECHOSIM_ASSIGN_OR_RETURN(entry.rank, GetInt(e["rank"], "rank", where));
    if (!e["file"].is_string()) return InvalidArgument(StrCat(where, ": 'file' must be a string"));
    entry.file = e["file"].get<std::string>();
    if (e.contains("stands_for")) {
      ECHOSIM_ASSIGN_OR_RETURN(entry.stands_for, GetIntList(e["stands_for"], "stands_for", where));
    } else {
      entry.stands_for = {entry.rank};
    }
    m.traces.push_back(std::move(entry));
  }
  if (j.contains("communicators")) {
    const json& cs = j["communicators"];
    if (!cs.is_array()) return InvalidArgument(StrCat(source, ": 'communicators' must be a list"));
    for (size_t i = 0; i < cs.size(); ++i) {
      const std::string where = StrCat(source, ": communicators[", i, "]");
      if (!cs[i].is_object() || !cs[i].contains("name") || !cs[i]["name"].is_string() ||
          !cs[i].contains("ranks")) {
        return InvalidArgument(StrCat(where, ": needs 'name' (string) and 'ranks'"));
      }
      Communicator c;
      c.name = cs[i]["name"].get<std::string>();
      ECHOSIM_ASSIGN_OR_RETURN(c.ranks, GetIntList(cs[i]["ranks"], "ranks", where));
      m.communicators.push_back(std::move(c));
    }
  }
  if (j.contains("command") && j["command"].is_array()) {
    for (const json& a : j["command"]) {
      if (a.is_string()) m.command.push_back(a.get<std::string>());
    }
  }
  ECHOSIM_RETURN_IF_ERROR(ValidateManifest(m, source));
  return m;
}

StatusOr<TraceManifest> ReadManifest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(StrCat("cannot open '", path, "'"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseManifest(ss.str(), path);
}

Status ValidateManifest(const TraceManifest& m, const std::string& source) {
  if (m.world_size < 1 || m.world_size > (int64_t{1} << 20)) {
    return InvalidArgument(StrCat(source, ": world_size ", m.world_size,
                                  " is out of range (1 to 1048576)"));
  }
  if (m.traces.empty()) return InvalidArgument(StrCat(source, ": 'traces' is empty"));
  std::vector<int> covered(static_cast<size_t>(m.world_size), -1);
  for (size_t i = 0; i < m.traces.size(); ++i) {
    const TraceManifest::Entry& e = m.traces[i];
    const std::string where = StrCat(source, ": traces[", i, "]");
    if (e.rank < 0 || e.rank >= m.world_size) {
      return InvalidArgument(StrCat(where, ": rank ", e.rank, " is outside the world of ",
                                    m.world_size));
    }
    for (int64_t r : e.stands_for) {
      if (r < 0 || r >= m.world_size) {
        return InvalidArgument(StrCat(where, ": stands_for rank ", r, " is outside the world of ",
                                      m.world_size));
      }
      if (covered[r] >= 0) {
        return InvalidArgument(StrCat(where, ": rank ", r, " is already stood for by traces[",
                                      covered[r], "]"));
      }
      covered[r] = static_cast<int>(i);
    }
  }
  for (int64_t r = 0; r < m.world_size; ++r) {
    if (covered[r] < 0) {
      return InvalidArgument(StrCat(source, ": rank ", r, " is not stood for by any trace"));
    }
  }
  for (const Communicator& c : m.communicators) {
    for (int64_t r : c.ranks) {
      if (r < 0 || r >= m.world_size) {
        return InvalidArgument(StrCat(source, ": communicator '", c.name, "' has rank ", r,
                                      " outside the world of ", m.world_size));
      }
    }
  }
  return Status::Ok();
}

}  // namespace echosim
