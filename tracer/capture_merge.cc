#include "tracer/capture_merge.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <unordered_map>

#include "policies/parallel_plan.h"
#include "simulator/core/strings.h"
#include "tracer/capture_format.h"

namespace echosim {
namespace {

// One tab-separated line with typed field access; errors name source:line and field.
class Line {
 public:
  Line(std::string_view text, const std::string& source, size_t number)
      : source_(source), number_(number) {
    size_t start = 0;
    while (true) {
      const size_t tab = text.find('\t', start);
      fields_.push_back(text.substr(start, tab == std::string_view::npos ? tab : tab - start));
      if (tab == std::string_view::npos) break;
      start = tab + 1;
    }
  }
  size_t size() const { return fields_.size(); }
  std::string_view operator[](size_t i) const { return fields_[i]; }
  std::string Where() const { return StrCat(source_, ":", number_); }

  Status Expect(size_t n, const char* what) const {
    if (fields_.size() < n) {
      return InvalidArgument(StrCat(Where(), ": a '", fields_[0], "' record (", what, ") needs ", n,
                                    " fields, found ", fields_.size()));
    }
    return Status::Ok();
  }
  StatusOr<int64_t> Int(size_t i, const char* name) const {
    int64_t v = 0;
    const std::string_view f = fields_[i];
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
    if (ec != std::errc() || p != f.data() + f.size() || f.empty()) {
      return InvalidArgument(StrCat(Where(), ": field ", i + 1, " (", name,
                                    ") must be an integer, found '", f.substr(0, 40), "'"));
    }
    return v;
  }
  StatusOr<uint64_t> Uint(size_t i, const char* name) const {
    uint64_t v = 0;
    const std::string_view f = fields_[i];
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
    if (ec != std::errc() || p != f.data() + f.size() || f.empty()) {
      return InvalidArgument(StrCat(Where(), ": field ", i + 1, " (", name,
                                    ") must be a non-negative integer, found '", f.substr(0, 40),
                                    "'"));
    }
    return v;
  }
  // Fields from i on, joined (a name).
  std::string Rest(size_t i) const {
    std::string s;
    for (size_t k = i; k < fields_.size(); ++k) {
      if (k > i) s += ' ';
      s += fields_[k];
    }
    return s;
  }

 private:
  const std::string& source_;
  size_t number_;
  std::vector<std::string_view> fields_;
};

// Calls fn(Line) for each non-empty line after checking the header "<magic> <version>
// <rank> <world>"; fills rank and world.
template <typename Fn>
Status ForEachLine(std::string_view text, const std::string& source, const char* magic,
                   int64_t* rank, int64_t* world, Fn fn) {
  size_t number = 0, pos = 0;
  bool header = false;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view s = text.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    if (s.empty()) continue;
    Line line(s, source, number);
    if (!header) {
      if (line[0] != magic) {
        return InvalidArgument(StrCat(line.Where(), ": expected the header '", magic,
                                      " <version> <rank> <world_size>'"));
      }
      ECHOSIM_RETURN_IF_ERROR(line.Expect(4, "header"));
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t version, line.Int(1, "version"));
      if (version != kCaptureFormatVersion) {
        return InvalidArgument(StrCat(line.Where(), ": format version ", version,
                                      " is not supported (this echosim reads version ",
                                      kCaptureFormatVersion, ")"));
      }
      ECHOSIM_ASSIGN_OR_RETURN(*rank, line.Int(2, "rank"));
      ECHOSIM_ASSIGN_OR_RETURN(*world, line.Int(3, "world_size"));
      if (*rank < 0 || *world < 1 || *rank >= *world) {
        return InvalidArgument(StrCat(line.Where(), ": rank ", *rank, " and world size ", *world,
                                      " are inconsistent"));
      }
      header = true;
      continue;
    }
    ECHOSIM_RETURN_IF_ERROR(fn(line));
  }
  if (!header) return InvalidArgument(StrCat(source, ": empty file (no '", magic, "' header)"));
  return Status::Ok();
}

struct OpShape {
  TraceNodeKind kind;
  int32_t comm_type;
  bool times_nranks;  // bytes = count * nranks * element size
};
bool OpShapeOf(const std::string& op, OpShape* s) {
  static const std::map<std::string, OpShape> kOps = {
      {"all_reduce", {TraceNodeKind::kCollective, 0, false}},
      {"reduce", {TraceNodeKind::kCollective, 1, false}},
      {"all_gather", {TraceNodeKind::kCollective, 2, true}},
      {"gather", {TraceNodeKind::kCollective, 3, true}},
      {"scatter", {TraceNodeKind::kCollective, 4, true}},
      {"broadcast", {TraceNodeKind::kCollective, 5, false}},
      {"all_to_all", {TraceNodeKind::kCollective, 6, true}},
      {"reduce_scatter", {TraceNodeKind::kCollective, 7, true}},
      {"send", {TraceNodeKind::kSend, 0, false}},
      {"recv", {TraceNodeKind::kRecv, 0, false}},
  };
  auto it = kOps.find(op);
  if (it == kOps.end()) return false;
  *s = it->second;
  return true;
}

}  // namespace

int64_t NcclDtypeBytes(int64_t dtype) {
  switch (dtype) {
    case 0: case 1: return 1;    // int8, uint8
    case 2: case 3: return 4;    // int32, uint32
    case 4: case 5: return 8;    // int64, uint64
    case 6: return 2;            // float16
    case 7: return 4;            // float32
    case 8: return 8;            // float64
    case 9: return 2;            // bfloat16
    case 10: case 11: return 1;  // float8 e4m3, e5m2
    default: return 0;
  }
}

StatusOr<NcclCallLog> ParseNcclCallLog(std::string_view text, const std::string& source) {
  NcclCallLog log;
  log.source = source;
  Status st = ForEachLine(text, source, "echosim-nccl", &log.rank, &log.world_size,
                          [&](const Line& l) -> Status {
    if (l[0] == "M") {
      ECHOSIM_RETURN_IF_ERROR(l.Expect(9, "communicator"));
      NcclCommRecord c;
      ECHOSIM_ASSIGN_OR_RETURN(c.id, l.Uint(1, "comm"));
      ECHOSIM_ASSIGN_OR_RETURN(c.nranks, l.Int(2, "nranks"));
      ECHOSIM_ASSIGN_OR_RETURN(c.comm_rank, l.Int(3, "comm_rank"));
      ECHOSIM_ASSIGN_OR_RETURN(c.parent, l.Uint(4, "parent"));
      ECHOSIM_ASSIGN_OR_RETURN(c.color, l.Int(5, "color"));
      ECHOSIM_ASSIGN_OR_RETURN(c.key, l.Int(6, "key"));
      c.how = std::string(l[7]);
      ECHOSIM_ASSIGN_OR_RETURN(c.device, l.Int(8, "device"));
      if (c.nranks < 0 || c.comm_rank < 0 || (c.nranks > 0 && c.comm_rank >= c.nranks)) {
        return InvalidArgument(StrCat(l.Where(), ": communicator ", c.id, " has rank ", c.comm_rank,
                                      " of ", c.nranks));
      }
      for (const NcclCommRecord& o : log.comms) {
        if (o.id == c.id) return InvalidArgument(StrCat(l.Where(), ": communicator ", c.id, " declared twice"));
      }
      log.comms.push_back(std::move(c));
    } else if (l[0] == "O") {
      ECHOSIM_RETURN_IF_ERROR(l.Expect(12, "operation"));
      NcclOpRecord o;
      ECHOSIM_ASSIGN_OR_RETURN(o.seq, l.Uint(1, "seq"));
      ECHOSIM_ASSIGN_OR_RETURN(o.comm, l.Uint(2, "comm"));
      o.op = std::string(l[3]);
      ECHOSIM_ASSIGN_OR_RETURN(o.dtype, l.Int(4, "dtype"));
      ECHOSIM_ASSIGN_OR_RETURN(o.count, l.Uint(5, "count"));
      ECHOSIM_ASSIGN_OR_RETURN(o.peer_or_root, l.Int(6, "peer_or_root"));
      ECHOSIM_ASSIGN_OR_RETURN(o.stream, l.Uint(7, "stream"));
      ECHOSIM_ASSIGN_OR_RETURN(o.group, l.Int(8, "group"));
      ECHOSIM_ASSIGN_OR_RETURN(o.begin_ns, l.Int(9, "begin_ns"));
      ECHOSIM_ASSIGN_OR_RETURN(o.end_ns, l.Int(10, "end_ns"));
      ECHOSIM_ASSIGN_OR_RETURN(o.thread, l.Int(11, "thread"));
      if (o.end_ns < o.begin_ns) {
        return InvalidArgument(StrCat(l.Where(), ": ends (", o.end_ns, ") before it begins (", o.begin_ns, ")"));
      }
      OpShape shape;
      if (!OpShapeOf(o.op, &shape)) {
        return InvalidArgument(StrCat(l.Where(), ": unknown op '", o.op, "'; valid: all_reduce, "
                                      "reduce, all_gather, gather, scatter, broadcast, all_to_all, "
                                      "reduce_scatter, send, recv"));
      }
      if (NcclDtypeBytes(o.dtype) == 0) {
        return InvalidArgument(StrCat(l.Where(), ": dtype ", o.dtype, " is not an ncclDataType_t (0 to 11)"));
      }
      if (!log.ops.empty() && o.seq <= log.ops.back().seq) {
        return InvalidArgument(StrCat(l.Where(), ": seq ", o.seq, " does not increase"));
      }
      log.ops.push_back(std::move(o));
    } else {
      return InvalidArgument(StrCat(l.Where(), ": unknown record type '", l[0].substr(0, 16),
                                    "'; valid: M, O"));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  // Every op names a declared communicator.
  for (const NcclOpRecord& o : log.ops) {
    bool found = false;
    for (const NcclCommRecord& c : log.comms) found = found || c.id == o.comm;
    if (!found) {
      return InvalidArgument(StrCat(source, ": operation seq ", o.seq, " uses communicator ", o.comm,
                                    " which was never created"));
    }
  }
  return log;
}

std::string FormatNcclCallLog(const NcclCallLog& log) {
  std::string s = "echosim-nccl\t";
  AppendInt(&s, kCaptureFormatVersion);
  s += '\t';
  AppendInt(&s, log.rank);
  s += '\t';
  AppendInt(&s, log.world_size);
  s += '\n';
  for (const NcclCommRecord& c : log.comms) {
    s += "M\t";
    AppendUint(&s, c.id);
    for (int64_t v : {c.nranks, c.comm_rank}) {
      s += '\t';
      AppendInt(&s, v);
    }
    s += '\t';
    AppendUint(&s, c.parent);
    for (int64_t v : {c.color, c.key}) {
      s += '\t';
      AppendInt(&s, v);
    }
    s += '\t';
    AppendField(&s, c.how.c_str());
    s += '\t';
    AppendInt(&s, c.device);
    s += '\n';
  }
  for (const NcclOpRecord& o : log.ops) {
    s += "O\t";
    AppendUint(&s, o.seq);
    s += '\t';
    AppendUint(&s, o.comm);
    s += '\t';
    AppendField(&s, o.op.c_str());
    s += '\t';
    AppendInt(&s, o.dtype);
    s += '\t';
    AppendUint(&s, o.count);
    s += '\t';
    AppendInt(&s, o.peer_or_root);
    s += '\t';
    AppendUint(&s, o.stream);
    for (int64_t v : {o.group, o.begin_ns, o.end_ns, o.thread}) {
      s += '\t';
      AppendInt(&s, v);
    }
    s += '\n';
  }
  return s;
}

StatusOr<ActivityCapture> ParseActivityCapture(std::string_view text, const std::string& source) {
  ActivityCapture cap;
  cap.log.source = source;
  Status st = ForEachLine(text, source, "echosim-activity", &cap.log.rank, &cap.log.world_size,
                          [&](const Line& l) -> Status {
    const std::string_view kind = l[0];
    if (kind == "A") {
      ECHOSIM_RETURN_IF_ERROR(l.Expect(6, "API call"));
      ApiCall a;
      ECHOSIM_ASSIGN_OR_RETURN(a.correlation, l.Uint(1, "corr"));
      ECHOSIM_ASSIGN_OR_RETURN(a.thread, l.Int(2, "thread"));
      ECHOSIM_ASSIGN_OR_RETURN(a.start_ns, l.Int(3, "start_ns"));
      ECHOSIM_ASSIGN_OR_RETURN(a.end_ns, l.Int(4, "end_ns"));
      a.name = l.Rest(5);
      cap.log.api_calls.push_back(std::move(a));
    } else if (kind == "K" || kind == "C" || kind == "S") {
      ECHOSIM_RETURN_IF_ERROR(l.Expect(kind == "S" ? 6 : kind == "C" ? 7 : 6, "GPU activity"));
      GpuOp g;
      g.kind = kind == "K" ? GpuOpKind::kKernel : kind == "C" ? GpuOpKind::kMemcpy : GpuOpKind::kMemset;
      ECHOSIM_ASSIGN_OR_RETURN(g.correlation, l.Uint(1, "corr"));
      ECHOSIM_ASSIGN_OR_RETURN(g.stream, l.Int(2, "stream"));
      ECHOSIM_ASSIGN_OR_RETURN(g.start_ns, l.Int(3, "start_ns"));
      ECHOSIM_ASSIGN_OR_RETURN(g.end_ns, l.Int(4, "end_ns"));
      if (g.end_ns < g.start_ns) {
        return InvalidArgument(StrCat(l.Where(), ": ends (", g.end_ns, ") before it starts (", g.start_ns, ")"));
      }
      if (kind == "K") {
        g.name = l.Rest(5);
      } else {
        ECHOSIM_ASSIGN_OR_RETURN(g.bytes, l.Int(5, "bytes"));
        g.name = kind == "C" ? StrCat("Memcpy ", l.Rest(6)) : std::string("Memset");
      }
      cap.log.gpu_ops.push_back(std::move(g));
    } else if (kind == "E") {
      ECHOSIM_RETURN_IF_ERROR(l.Expect(4, "event record"));
      EventRecord e;
      ECHOSIM_ASSIGN_OR_RETURN(e.correlation, l.Uint(1, "corr"));
      ECHOSIM_ASSIGN_OR_RETURN(e.stream, l.Int(2, "stream"));
      ECHOSIM_ASSIGN_OR_RETURN(e.event_id, l.Uint(3, "event_id"));
      cap.log.events.push_back(e);
    } else if (kind == "Y") {
      ECHOSIM_RETURN_IF_ERROR(l.Expect(7, "synchronisation"));
      SyncRecord s;
      ECHOSIM_ASSIGN_OR_RETURN(s.correlation, l.Uint(1, "corr"));
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t type, l.Int(2, "type"));
      switch (type) {
        case 1: s.kind = SyncKind::kEventSync; break;
        case 2: s.kind = SyncKind::kStreamWaitEvent; break;
        case 3: s.kind = SyncKind::kStreamSync; break;
        case 4: s.kind = SyncKind::kContextSync; break;
        default:
          return InvalidArgument(StrCat(l.Where(), ": synchronisation type ", type,
                                        " is not 1 (event), 2 (stream wait event), 3 (stream) or 4 (context)"));
      }
      ECHOSIM_ASSIGN_OR_RETURN(s.stream, l.Int(3, "stream"));
      ECHOSIM_ASSIGN_OR_RETURN(s.event_id, l.Uint(4, "event_id"));
      ECHOSIM_ASSIGN_OR_RETURN(s.start_ns, l.Int(5, "start_ns"));
      ECHOSIM_ASSIGN_OR_RETURN(s.end_ns, l.Int(6, "end_ns"));
      cap.log.syncs.push_back(s);
    } else if (kind == "N") {
      ECHOSIM_RETURN_IF_ERROR(l.Expect(3, "NCCL mark"));
      NcclMark m;
      ECHOSIM_ASSIGN_OR_RETURN(m.seq, l.Uint(1, "seq"));
      ECHOSIM_ASSIGN_OR_RETURN(m.stream, l.Int(2, "stream"));
      cap.marks.push_back(m);
    } else if (kind == "D") {
      ECHOSIM_RETURN_IF_ERROR(l.Expect(2, "dropped records"));
      ECHOSIM_ASSIGN_OR_RETURN(const uint64_t d, l.Uint(1, "dropped"));
      cap.dropped_records += d;
    } else {
      return InvalidArgument(StrCat(l.Where(), ": unknown record type '", kind.substr(0, 16),
                                    "'; valid: A, K, C, S, E, Y, N, D"));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return cap;
}

StatusOr<std::vector<std::vector<int64_t>>> ResolveCommunicators(const NcclCallLog& log,
                                                                 const Layout* layout) {
  const int64_t world = log.world_size;
  const int64_t rank = log.rank;
  std::vector<std::vector<int64_t>> out;
  ParallelPlan plan;
  const bool use_layout = layout != nullptr && layout->tp * layout->pp * layout->dp == world;
  if (layout != nullptr && !use_layout) {
    return InvalidArgument(StrCat("layout tp ", layout->tp, " x pp ", layout->pp, " x dp ",
                                  layout->dp, " does not make the world of ", world));
  }
  if (use_layout) {
    plan.gpus = world;
    plan.tp = layout->tp;
    plan.pp = layout->pp;
    plan.dp = layout->dp;
  }
  std::map<int64_t, std::vector<GroupKind>> used;  // size (0: unknown) -> kinds used so far
  for (const NcclCommRecord& c : log.comms) {
    std::vector<int64_t> ranks;
    if (c.nranks == world) {
      for (int64_t r = 0; r < world; ++r) ranks.push_back(r);
    } else if (c.nranks == 1) {
      ranks = {rank};
    } else {
      if (use_layout) {
        std::vector<GroupKind> candidates;
        for (GroupKind g : {GroupKind::kTp, GroupKind::kDp, GroupKind::kPp}) {
          // Size 0: not known (a split); the position alone must fit.
          if (c.nranks > 0 && plan.GroupSize(g) != c.nranks) continue;
          const std::vector<int64_t> m = plan.GroupMembers(rank, g);
          if (c.comm_rank < static_cast<int64_t>(m.size()) && m[c.comm_rank] == rank &&
              m.size() > 1) {
            candidates.push_back(g);
          }
        }
        std::vector<GroupKind>& u = used[c.nranks];
        auto fresh = std::find_if(candidates.begin(), candidates.end(), [&](GroupKind g) {
          return std::find(u.begin(), u.end(), g) == u.end();
        });
        if (!candidates.empty()) {
          const GroupKind g = fresh != candidates.end() ? *fresh : candidates.front();
          u.push_back(g);
          ranks = plan.GroupMembers(rank, g);
        }
      }
      if (ranks.empty() && c.nranks == 0) {
        return InvalidArgument(StrCat(log.source, ": communicator ", c.id,
                                      " was split from another without a known size; give the "
                                      "layout (--tp/--pp/--dp)"));
      }
      if (ranks.empty()) {
        const int64_t start = rank - c.comm_rank;
        if (start >= 0 && start + c.nranks <= world) {
          for (int64_t r = start; r < start + c.nranks; ++r) ranks.push_back(r);
        } else {
          return InvalidArgument(StrCat(log.source, ": communicator ", c.id, " (", c.nranks,
                                        " ranks, this rank at position ", c.comm_rank,
                                        ") cannot be placed in the world of ", world,
                                        "; give the layout (--tp/--pp/--dp)"));
        }
      }
    }
    out.push_back(std::move(ranks));
  }
  return out;
}

StatusOr<ActivityLog> MergeCapture(const ActivityCapture* activity, const NcclCallLog* nccl,
                                   const std::vector<Communicator>& communicators) {
  ECHOSIM_CHECK(activity != nullptr || nccl != nullptr);
  ActivityLog log;
  if (activity != nullptr) log = activity->log;
  if (nccl == nullptr) return log;
  if (activity != nullptr && (activity->log.rank != nccl->rank ||
                              activity->log.world_size != nccl->world_size)) {
    return InvalidArgument(StrCat(activity->log.source, " is rank ", activity->log.rank, " of ",
                                  activity->log.world_size, " but ", nccl->source, " is rank ",
                                  nccl->rank, " of ", nccl->world_size));
  }
  log.rank = nccl->rank;
  log.world_size = nccl->world_size;
  if (log.source.empty()) log.source = nccl->source;
  if (communicators.size() != nccl->comms.size()) {
    return InvalidArgument(StrCat(nccl->source, ": ", nccl->comms.size(), " communicators but ",
                                  communicators.size(), " names given"));
  }
  log.communicators = communicators;
  std::unordered_map<uint64_t, size_t> comm_index;
  for (size_t i = 0; i < nccl->comms.size(); ++i) comm_index[nccl->comms[i].id] = i;
  std::unordered_map<uint64_t, const NcclMark*> marks;
  if (activity != nullptr) {
    for (const NcclMark& m : activity->marks) marks[m.seq] = &m;
  }
  const bool have_marks = !marks.empty();
  // API calls by start time (with the running maximum correlation id), and per thread.
  std::vector<std::pair<int64_t, uint64_t>> api_by_time;
  std::map<int64_t, std::vector<std::pair<int64_t, uint64_t>>> api_by_thread;
  int64_t window_start = std::numeric_limits<int64_t>::max(), window_end = 0;
  for (const ApiCall& a : log.api_calls) {
    api_by_time.emplace_back(a.start_ns, a.correlation);
    api_by_thread[a.thread].emplace_back(a.start_ns, a.correlation);
    window_start = std::min(window_start, a.start_ns);
    window_end = std::max(window_end, a.end_ns);
  }
  std::sort(api_by_time.begin(), api_by_time.end());
  for (size_t i = 1; i < api_by_time.size(); ++i) {
    api_by_time[i].second = std::max(api_by_time[i].second, api_by_time[i - 1].second);
  }
  for (auto& [thread, v] : api_by_thread) std::sort(v.begin(), v.end());
  std::map<uint64_t, int64_t> handle_stream;  // cudaStream_t -> synthetic id (no marks)
  for (const NcclOpRecord& o : nccl->ops) {
    const std::string where = StrCat(nccl->source, ": operation seq ", o.seq, " (", o.op, ")");
    const NcclMark* mark = nullptr;
    if (have_marks) {
      auto it = marks.find(o.seq);
      if (it == marks.end()) continue;  // outside the capture window
      mark = it->second;
    } else if (!api_by_time.empty() && (o.begin_ns < window_start || o.begin_ns > window_end)) {
      continue;  // outside the recorded activity
    }
    const size_t ci = comm_index.at(o.comm);
    const NcclCommRecord& comm = nccl->comms[ci];
    const std::vector<int64_t>& members = communicators[ci].ranks;
    const int64_t nranks = comm.nranks > 0 ? comm.nranks : static_cast<int64_t>(members.size());
    OpShape shape;
    ECHOSIM_CHECK(OpShapeOf(o.op, &shape));  // validated by the parser
    CommCall c;
    c.seq = o.seq;
    c.kind = shape.kind;
    c.comm_type = shape.comm_type;
    const double bytes = static_cast<double>(o.count) * static_cast<double>(NcclDtypeBytes(o.dtype)) *
                         static_cast<double>(shape.times_nranks ? nranks : 1);
    if (bytes > 9e18) return InvalidArgument(StrCat(where, ": message size overflows"));
    c.bytes = static_cast<int64_t>(bytes);
    c.communicator = static_cast<int32_t>(ci);
    if (shape.kind != TraceNodeKind::kCollective) {
      if (static_cast<int64_t>(members.size()) != nranks || nranks == 0) {
        return InvalidArgument(StrCat(where, ": the members of communicator ", o.comm,
                                      " are unknown, so its peer cannot be named"));
      }
      if (o.peer_or_root < 0 || o.peer_or_root >= nranks) {
        return InvalidArgument(StrCat(where, ": peer ", o.peer_or_root,
                                      " is not a rank of communicator ", o.comm, " (", nranks,
                                      " ranks)"));
      }
      c.peer = members[o.peer_or_root];
    }
    c.group = o.group;
    c.thread = o.thread;
    c.host_ns = o.begin_ns;
    c.name = StrCat("nccl:", o.op);
    if (mark != nullptr) {
      c.stream = mark->stream;
    } else {
      auto [it, inserted] = handle_stream.emplace(o.stream, 0);
      if (inserted) it->second = (int64_t{1} << 40) + static_cast<int64_t>(handle_stream.size());
      c.stream = it->second;
    }
    // After every API call that started before the call began.
    auto pos = std::lower_bound(api_by_time.begin(), api_by_time.end(),
                                std::make_pair(o.begin_ns, uint64_t{0}));
    c.launch_correlation = pos == api_by_time.begin() ? 0 : std::prev(pos)->second;
    // The shim's own API calls: its thread, between begin and end.
    auto th = api_by_thread.find(o.thread);
    if (th != api_by_thread.end()) {
      auto lo = std::lower_bound(th->second.begin(), th->second.end(),
                                 std::make_pair(o.begin_ns, uint64_t{0}));
      for (auto p = lo; p != th->second.end() && p->first <= o.end_ns; ++p) {
        if (c.first_inner_correlation == 0 || p->second < c.first_inner_correlation) {
          c.first_inner_correlation = p->second;
        }
        c.last_inner_correlation = std::max(c.last_inner_correlation, p->second);
      }
    }
    log.comms.push_back(std::move(c));
  }
  return log;
}

}  // namespace echosim
