#include "tracer/kineto/kineto_import.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "simulator/core/strings.h"
#include "tracer/byte_stream.h"
#include "tracer/compute_scaling.h"

namespace echosim {
namespace {

using nlohmann::json;

constexpr size_t kMaxKinetoBytes = size_t{4} << 30;

std::string LineColumn(std::string_view text, size_t byte) {
  size_t line = 1, col = 1;
  const size_t end = std::min(byte > 0 ? byte - 1 : 0, text.size());
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return StrCat("line ", line, ", column ", col);
}

class EventReader {
 public:
  EventReader(const json& e, std::string where) : e_(e), where_(std::move(where)) {}

  StatusOr<int64_t> TimeNs(const char* field) const {
    auto it = e_.find(field);
    if (it == e_.end()) return Missing(field);
    if (!it->is_number()) return WrongType(field, "a number", *it);
    const double us = it->get<double>();
    if (!std::isfinite(us) || std::fabs(us) > 9e12 * 1000) {
      return InvalidArgument(StrCat(where_, ": '", field, "' is out of range"));
    }
    return static_cast<int64_t>(std::llround(us * 1000.0));
  }
  // Integer member of args.
  StatusOr<int64_t> ArgInt(const char* field) const {
    const json* args = Args();
    if (args == nullptr) return Missing("args");
    auto it = args->find(field);
    if (it == args->end()) return Missing(StrCat("args.", field));
    if (!it->is_number_integer()) return WrongType(StrCat("args.", field), "an integer", *it);
    return it->get<int64_t>();
  }
  int64_t ArgIntOr(const char* field, int64_t fallback) const {
    const json* args = Args();
    if (args == nullptr) return fallback;
    auto it = args->find(field);
    if (it == args->end() || !it->is_number_integer()) return fallback;
    return it->get<int64_t>();
  }
  std::string ArgString(const char* field) const {
    const json* args = Args();
    if (args == nullptr) return "";
    auto it = args->find(field);
    return it != args->end() && it->is_string() ? it->get<std::string>() : "";
  }
  const json* Args() const {
    auto it = e_.find("args");
    return it != e_.end() && it->is_object() ? &*it : nullptr;
  }
  int64_t Tid() const {
    auto it = e_.find("tid");
    return it != e_.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  }
  const std::string& where() const { return where_; }

 private:
  Status Missing(const std::string& field) const {
    return InvalidArgument(StrCat(where_, ": missing '", field, "'"));
  }
  Status WrongType(const std::string& field, const char* want, const json& got) const {
    return InvalidArgument(StrCat(where_, ": '", field, "' must be ", want, ", found ",
                                  got.type_name()));
  }
  const json& e_;
  std::string where_;
};

std::string Normalize(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

// Collective kind of a PyTorch collective name or an NCCL kernel name; p2p ops -> kSend.
struct CollectiveName {
  bool known = false;
  bool p2p = false;
  int32_t comm_type = 0;
};
CollectiveName ClassifyCollective(const std::string& raw) {
  const std::string n = Normalize(raw);
  CollectiveName c;
  c.known = true;
  auto has = [&](const char* s) { return n.find(s) != std::string::npos; };
  if (has("allreduce")) {
    c.comm_type = static_cast<int32_t>(ChakraCommType::kAllReduce);
  } else if (has("reducescatter")) {
    c.comm_type = static_cast<int32_t>(ChakraCommType::kReduceScatter);
  } else if (has("allgather")) {
    c.comm_type = static_cast<int32_t>(ChakraCommType::kAllGather);
  } else if (has("alltoall")) {
    c.comm_type = static_cast<int32_t>(ChakraCommType::kAllToAll);
  } else if (has("broadcast") || has("bcast")) {
    c.comm_type = static_cast<int32_t>(ChakraCommType::kBroadcast);
  } else if (has("sendrecv") || has("send") || has("recv")) {
    c.p2p = true;
  } else if (has("reduce")) {
    c.comm_type = static_cast<int32_t>(ChakraCommType::kReduce);
  } else if (has("gather")) {
    c.comm_type = static_cast<int32_t>(ChakraCommType::kGather);
  } else if (has("scatter")) {
    c.comm_type = static_cast<int32_t>(ChakraCommType::kScatter);
  } else if (has("barrier")) {
    c.comm_type = static_cast<int32_t>(ChakraCommType::kBarrier);
  } else {
    c.known = false;
  }
  return c;
}

int64_t DtypeBytes(const std::string& dtype) {
  const std::string d = Normalize(dtype);
  if (d == "double" || d == "float64" || d == "long" || d == "int64" || d == "uint64" ||
      d == "complexfloat") {
    return 8;
  }
  if (d == "float" || d == "float32" || d == "int" || d == "int32" || d == "uint32") return 4;
  if (d == "half" || d == "float16" || d == "bfloat16" || d == "short" || d == "int16") return 2;
  if (d == "byte" || d == "char" || d == "bool" || d == "int8" || d == "uint8" ||
      d.rfind("float8", 0) == 0) {
    return 1;
  }
  return 0;  // unknown
}

// "[0, 1, 2]" -> {0, 1, 2}; false if it is not such a list.
bool ParseRankList(const std::string& s, std::vector<int64_t>* out) {
  out->clear();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  if (i >= s.size() || s[i] != '[') return false;
  ++i;
  while (i < s.size()) {
    while (i < s.size() && (std::isspace(static_cast<unsigned char>(s[i])) || s[i] == ',')) ++i;
    if (i < s.size() && s[i] == ']') return true;
    if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    int64_t v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (v > (int64_t{1} << 40)) return false;
      v = v * 10 + (s[i] - '0');
      ++i;
    }
    out->push_back(v);
  }
  return false;
}

bool IsNcclKernel(const std::string& name) {
  return name.rfind("ncclKernel", 0) == 0 || name.rfind("ncclDevKernel", 0) == 0;
}

}  // namespace

StatusOr<ActivityLog> ParseKinetoJson(std::string_view text, const std::string& source,
                                      int64_t rank) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    // Parse again with exceptions to learn where it failed (nlohmann reports the byte).
    try {
      doc = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
      return InvalidArgument(StrCat(source, ": invalid JSON at ", LineColumn(text, e.byte),
                                    " (byte ", e.byte, ")"));
    } catch (const json::exception& e) {
      return InvalidArgument(StrCat(source, ": invalid JSON: ", e.what()));
    }
    return InvalidArgument(StrCat(source, ": invalid JSON"));
  }
  ActivityLog log;
  log.source = source;
  log.rank = rank < 0 ? 0 : rank;
  const json* events = nullptr;
  if (doc.is_array()) {
    events = &doc;
  } else if (doc.is_object()) {
    auto it = doc.find("traceEvents");
    if (it == doc.end()) return InvalidArgument(StrCat(source, ": no 'traceEvents' list"));
    if (!it->is_array()) {
      return InvalidArgument(StrCat(source, ": 'traceEvents' must be a list, found ",
                                    it->type_name()));
    }
    events = &*it;
    auto dp = doc.find("deviceProperties");
    if (dp != doc.end() && dp->is_array() && !dp->empty() && (*dp)[0].is_object()) {
      const json& d = (*dp)[0];
      if (d.contains("name") && d["name"].is_string()) log.device_name = d["name"].get<std::string>();
      if (d.contains("totalGlobalMem") && d["totalGlobalMem"].is_number()) {
        log.device_memory_bytes = d["totalGlobalMem"].get<double>();
      }
    }
    auto di = doc.find("distributedInfo");
    if (di != doc.end() && di->is_object()) {
      auto r = di->find("rank");
      if (r != di->end() && r->is_number_integer() && r->get<int64_t>() >= 0) {
        log.rank = r->get<int64_t>();
      }
      auto w = di->find("world_size");
      if (w != di->end() && w->is_number_integer() && w->get<int64_t>() > 0) {
        log.world_size = w->get<int64_t>();
      }
      auto pgs = di->find("pg_config");
      if (pgs != di->end() && pgs->is_array()) {
        for (const json& pg : *pgs) {
          if (!pg.is_object() || !pg.contains("pg_name") || !pg["pg_name"].is_string()) continue;
          Communicator c;
          c.name = pg["pg_name"].get<std::string>();
          if (pg.contains("ranks") && pg["ranks"].is_array()) {
            for (const json& r : pg["ranks"]) {
              if (r.is_number_integer()) c.ranks.push_back(r.get<int64_t>());
            }
          }
          log.communicators.push_back(std::move(c));
        }
      }
    }
  } else {
    return InvalidArgument(StrCat(source, ": expected a JSON object with 'traceEvents' or a list"));
  }
  auto intern_comm = [&](const std::string& name, const std::vector<int64_t>& ranks) {
    for (size_t i = 0; i < log.communicators.size(); ++i) {
      if (log.communicators[i].name == name) {
        if (log.communicators[i].ranks.empty()) log.communicators[i].ranks = ranks;
        return static_cast<int32_t>(i);
      }
    }
    log.communicators.push_back(Communicator{name, ranks});
    return static_cast<int32_t>(log.communicators.size() - 1);
  };

  // record_param_comms ops carry collective arguments for older kernels.
  std::unordered_map<int64_t, const json*> comm_params;
  for (const json& e : *events) {
    if (!e.is_object()) continue;
    auto name = e.find("name");
    if (name == e.end() || !name->is_string() || *name != "record_param_comms") continue;
    auto args = e.find("args");
    if (args == e.end() || !args->is_object()) continue;
    auto ext = args->find("External id");
    if (ext != args->end() && ext->is_number_integer()) comm_params[ext->get<int64_t>()] = &*args;
  }

  uint64_t comm_seq = 0;
  for (size_t i = 0; i < events->size(); ++i) {
    const json& e = (*events)[i];
    if (!e.is_object()) {
      return InvalidArgument(StrCat(source, ": traceEvents[", i, "] is not an object"));
    }
    auto ph = e.find("ph");
    if (ph == e.end() || !ph->is_string() || *ph != "X") continue;
    auto cat_it = e.find("cat");
    if (cat_it == e.end() || !cat_it->is_string()) continue;
    const std::string cat = cat_it->get<std::string>();
    auto name_it = e.find("name");
    const std::string name = name_it != e.end() && name_it->is_string() ? name_it->get<std::string>() : "";
    EventReader r(e, StrCat(source, ": traceEvents[", i, "] ('", name.substr(0, 80), "', cat ", cat, ")"));
    if (cat == "kernel" || cat == "gpu_memcpy" || cat == "gpu_memset") {
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t ts, r.TimeNs("ts"));
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t dur, r.TimeNs("dur"));
      if (dur < 0) return InvalidArgument(StrCat(r.where(), ": negative 'dur'"));
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t corr, r.ArgInt("correlation"));
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t stream, r.ArgInt("stream"));
      if (corr < 0) return InvalidArgument(StrCat(r.where(), ": negative 'args.correlation'"));
      if (cat == "kernel" && IsNcclKernel(name)) {
        const json* params = r.Args();
        if (params != nullptr && !params->contains("Collective name")) {
          auto it = comm_params.find(r.ArgIntOr("External id", -1));
          if (it != comm_params.end()) params = it->second;
        }
        auto str = [&](const char* k) {
          if (params == nullptr) return std::string();
          auto it = params->find(k);
          return it != params->end() && it->is_string() ? it->get<std::string>() : std::string();
        };
        auto num = [&](const char* k) -> int64_t {
          if (params == nullptr) return -1;
          auto it = params->find(k);
          return it != params->end() && it->is_number_integer() ? it->get<int64_t>() : -1;
        };
        std::string coll = str("Collective name");
        CollectiveName cn = ClassifyCollective(coll.empty() ? name : coll);
        if (cn.known && !cn.p2p) {
          CommCall c;
          c.seq = comm_seq++;
          c.kind = TraceNodeKind::kCollective;
          c.comm_type = cn.comm_type;
          const int64_t es = DtypeBytes(str("dtype"));
          const int64_t in = num("In msg nelems"), out = num("Out msg nelems");
          const bool gather = cn.comm_type == static_cast<int32_t>(ChakraCommType::kAllGather) ||
                              cn.comm_type == static_cast<int32_t>(ChakraCommType::kGather);
          const int64_t elems = gather ? out : in;
          c.bytes = es > 0 && elems > 0 ? es * elems : 0;
          const std::string pg = str("Process Group Name");
          if (!pg.empty()) {
            std::vector<int64_t> ranks;
            ParseRankList(str("Process Group Ranks"), &ranks);
            c.communicator = intern_comm(pg, ranks);
          }
          c.stream = stream;
          c.launch_correlation = static_cast<uint64_t>(corr);
          c.duration_ns = dur;
          c.name = name;
          log.comms.push_back(std::move(c));
          continue;
        }
      }
      GpuOp g;
      g.kind = cat == "kernel" ? GpuOpKind::kKernel
                               : cat == "gpu_memcpy" ? GpuOpKind::kMemcpy : GpuOpKind::kMemset;
      g.correlation = static_cast<uint64_t>(corr);
      g.stream = stream;
      g.start_ns = ts;
      g.end_ns = ts + dur;
      g.name = name;
      g.bytes = r.ArgIntOr("bytes", 0);
      log.gpu_ops.push_back(std::move(g));
    } else if (cat == "cuda_runtime" || cat == "cuda_driver") {
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t ts, r.TimeNs("ts"));
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t dur, r.TimeNs("dur"));
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t corr, r.ArgInt("correlation"));
      if (corr < 0) return InvalidArgument(StrCat(r.where(), ": negative 'args.correlation'"));
      log.api_calls.push_back(ApiCall{static_cast<uint64_t>(corr), name, r.Tid(), ts, ts + std::max<int64_t>(dur, 0)});
    } else if (cat == "cuda_sync") {
      SyncRecord s;
      const std::string kind = r.ArgString("cuda_sync_kind");
      if (kind == "Event Sync") {
        s.kind = SyncKind::kEventSync;
      } else if (kind == "Stream Wait Event") {
        s.kind = SyncKind::kStreamWaitEvent;
      } else if (kind == "Stream Sync") {
        s.kind = SyncKind::kStreamSync;
      } else if (kind == "Context Sync") {
        s.kind = SyncKind::kContextSync;
      } else {
        return InvalidArgument(StrCat(r.where(), ": args.cuda_sync_kind '", kind,
                                      "' is not one of: Event Sync, Stream Wait Event, Stream "
                                      "Sync, Context Sync"));
      }
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t corr, r.ArgInt("correlation"));
      if (corr < 0) return InvalidArgument(StrCat(r.where(), ": negative 'args.correlation'"));
      s.correlation = static_cast<uint64_t>(corr);
      ECHOSIM_ASSIGN_OR_RETURN(s.start_ns, r.TimeNs("ts"));
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t dur, r.TimeNs("dur"));
      s.end_ns = s.start_ns + std::max<int64_t>(dur, 0);
      s.stream = r.ArgIntOr("stream", -1);
      s.event_id = static_cast<uint64_t>(std::max<int64_t>(0, r.ArgIntOr("wait_on_cuda_event_id", 0)));
      s.wait_on_stream = r.ArgIntOr("wait_on_stream", -1);
      s.record_correlation = r.ArgIntOr("wait_on_cuda_event_record_corr_id", -1);
      if (s.kind == SyncKind::kStreamWaitEvent && s.stream < 0) {
        return InvalidArgument(StrCat(r.where(), ": a Stream Wait Event needs 'args.stream'"));
      }
      log.syncs.push_back(s);
    }
  }
  // Collective launches: their host thread and time come from the launching API call.
  std::unordered_map<uint64_t, const ApiCall*> api;
  for (const ApiCall& a : log.api_calls) api.emplace(a.correlation, &a);
  for (CommCall& c : log.comms) {
    auto it = api.find(c.launch_correlation);
    if (it != api.end()) {
      c.thread = it->second->thread;
      c.host_ns = it->second->start_ns;
    }
  }
  return log;
}

StatusOr<RankTrace> ReadKinetoFile(const std::string& path, int64_t rank,
                                   const ActivityOptions& options) {
  ECHOSIM_ASSIGN_OR_RETURN(std::unique_ptr<ByteStream> in, ByteStream::OpenFile(path));
  ECHOSIM_ASSIGN_OR_RETURN(const std::string text, in->ReadAll(kMaxKinetoBytes));
  ECHOSIM_ASSIGN_OR_RETURN(ActivityLog log, ParseKinetoJson(text, path, rank));
  ECHOSIM_ASSIGN_OR_RETURN(RankTrace t, BuildRankTrace(log, options));
  if (t.nodes.empty()) {
    // As an empty Chakra file is: a profile with nothing in it would simulate to 0 s.
    return InvalidArgument(StrCat(path, ": no kernels, memory copies, collectives or CPU operators in its "
                                  "traceEvents (an empty profile?)"));
  }
  t.schema = "kineto";
  t.gpu = GpuPresetForDevice(log.device_name, log.device_memory_bytes);
  return t;
}

}  // namespace echosim
