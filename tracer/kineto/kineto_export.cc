#include "tracer/kineto/kineto_export.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

constexpr int64_t kFirstStream = 7;           // Kineto's default stream id on the device
constexpr Time kOrigin = 1'000'000'000'000;   // timestamps start at 1 s (room for launches)
constexpr Duration kLaunchPs = 2'000'000;     // a cudaLaunchKernel call: 2 us
constexpr Duration kLaunchLeadPs = 5'000'000; // launched at most 5 us before it starts
constexpr int64_t kBaseTimeNs = 1'700'000'000'000'000'000;

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string DtypeShort(const std::string& dtype) {
  if (dtype == "BFloat16") return "bf16";
  if (dtype == "Half") return "f16";
  if (dtype == "Float") return "f32";
  if (dtype == "Float8_e4m3fn") return "f8e4m3";
  return "bf16";
}

std::string NcclKernelName(NodeKind kind, const CommInfo& ci, const std::string& dtype) {
  std::string algo = ci.algorithm.empty() ? "RING" : Upper(ci.algorithm);
  std::string proto = ci.protocol.empty() ? "LL" : Upper(ci.protocol);
  const std::string suffix = "(ncclDevKernelArgsStorage<4096ul>)";
  if (kind != NodeKind::kCollective) return "ncclDevKernel_SendRecv" + suffix;
  const std::string tail = StrCat("_", algo, "_", proto, suffix);
  switch (ci.kind) {
    case CollectiveKind::kAllReduce: return StrCat("ncclDevKernel_AllReduce_Sum_", DtypeShort(dtype), tail);
    case CollectiveKind::kAllGather: return StrCat("ncclDevKernel_AllGather", tail);
    case CollectiveKind::kReduceScatter:
      return StrCat("ncclDevKernel_ReduceScatter_Sum_", DtypeShort(dtype), tail);
    case CollectiveKind::kBroadcast: return StrCat("ncclDevKernel_Broadcast", tail);
    case CollectiveKind::kAllToAll:
    case CollectiveKind::kSendRecv: break;
  }
  return "ncclDevKernel_SendRecv" + suffix;
}

const char* CollectiveName(NodeKind kind, CollectiveKind k) {
  if (kind == NodeKind::kSend) return "send";
  if (kind == NodeKind::kRecv) return "recv";
  switch (k) {
    case CollectiveKind::kAllReduce: return "allreduce";
    case CollectiveKind::kAllGather: return "_allgather_base";
    case CollectiveKind::kReduceScatter: return "_reduce_scatter_base";
    case CollectiveKind::kAllToAll: return "all_to_all";
    case CollectiveKind::kBroadcast: return "broadcast";
    case CollectiveKind::kSendRecv: return "send";
  }
  return "allreduce";
}

std::string RanksText(const std::vector<int64_t>& ranks) {
  std::string s = "[";
  for (size_t i = 0; i < ranks.size(); ++i) s += (i ? ", " : "") + std::to_string(ranks[i]);
  return s + "]";
}

std::string Ts(Time t) { return FormatMicros(t + kOrigin); }

}  // namespace

void WriteKinetoTrace(const KinetoRankTimeline& t, std::ostream& out) {
  const ExecutionGraph& g = *t.graph;
  const int64_t host_pid = 100000 + t.rank;
  const int64_t host_tid = host_pid;
  const int64_t work_tid = host_pid + 1;
  auto kind_of = [&](NodeId v) {
    if (t.kind) return t.kind(v);
    return g.kind(v) == NodeKind::kDelay ? KinetoOpKind::kHost : KinetoOpKind::kKernel;
  };
  std::vector<Span> spans = *t.spans;
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.start != b.start ? a.start < b.start : a.node < b.node;
  });

  out << "{\n  \"schemaVersion\": 1,\n  \"deviceProperties\": [\n    {\"id\": 0, \"name\": \""
      << JsonEscape(t.device_name) << "\", \"totalGlobalMem\": "
      << static_cast<int64_t>(t.device_memory_bytes) << ", \"computeMajor\": " << t.sm_arch / 10
      << ", \"computeMinor\": " << t.sm_arch % 10 << "}\n  ],\n";
  out << "  \"distributedInfo\": {\"backend\": \"nccl\", \"rank\": " << t.rank
      << ", \"world_size\": " << t.world_size << ", \"pg_count\": " << t.communicators.size()
      << ", \"pg_config\": [";
  for (size_t i = 0; i < t.communicators.size(); ++i) {
    const KinetoCommunicator& c = t.communicators[i];
    out << (i ? ", " : "") << "{\"pg_name\": \"" << JsonEscape(c.name) << "\", \"pg_desc\": \""
        << JsonEscape(c.desc) << "\", \"backend_config\": \"cuda:nccl\", \"pg_size\": " << c.ranks.size()
        << ", \"ranks\": " << RanksText(c.ranks) << "}";
  }
  out << "]},\n  \"traceEvents\": [\n";
  bool first = true;
  auto sep = [&]() {
    if (!first) out << ",\n";
    first = false;
  };
  // Metadata: processes and threads.
  sep();
  out << "  {\"name\": \"process_name\", \"ph\": \"M\", \"ts\": " << Ts(0) << ", \"pid\": " << host_pid
      << ", \"tid\": 0, \"args\": {\"name\": \"echosim rank " << t.rank << "\"}}";
  sep();
  out << "  {\"name\": \"process_name\", \"ph\": \"M\", \"ts\": " << Ts(0)
      << ", \"pid\": 0, \"tid\": 0, \"args\": {\"name\": \"GPU 0\"}}";
  sep();
  out << "  {\"name\": \"process_labels\", \"ph\": \"M\", \"ts\": " << Ts(0)
      << ", \"pid\": 0, \"tid\": 0, \"args\": {\"labels\": \"GPU 0\"}}";
  sep();
  out << "  {\"name\": \"thread_name\", \"ph\": \"M\", \"ts\": " << Ts(0) << ", \"pid\": " << host_pid
      << ", \"tid\": " << host_tid << ", \"args\": {\"name\": \"thread " << host_tid << " (python)\"}}";
  sep();
  out << "  {\"name\": \"thread_name\", \"ph\": \"M\", \"ts\": " << Ts(0) << ", \"pid\": " << host_pid
      << ", \"tid\": " << work_tid << ", \"args\": {\"name\": \"thread " << work_tid << " (host work)\"}}";
  for (size_t s = 0; s < g.stream_names().size(); ++s) {
    sep();
    out << "  {\"name\": \"thread_name\", \"ph\": \"M\", \"ts\": " << Ts(0)
        << ", \"pid\": 0, \"tid\": " << kFirstStream + static_cast<int64_t>(s)
        << ", \"args\": {\"name\": \"stream " << kFirstStream + static_cast<int64_t>(s) << " ("
        << JsonEscape(g.stream_names()[s]) << ")\"}}";
  }
  // The step, as torch.profiler marks it.
  Time step_begin = 0, step_end = 0;
  for (const Span& s : spans) step_end = std::max(step_end, s.end);
  if (!spans.empty()) step_begin = std::max<Time>(-kOrigin, spans.front().start - kLaunchLeadPs);
  sep();
  out << "  {\"ph\": \"X\", \"cat\": \"user_annotation\", \"name\": \"ProfilerStep#" << t.step
      << "\", \"pid\": " << host_pid << ", \"tid\": " << host_tid << ", \"ts\": " << Ts(step_begin)
      << ", \"dur\": " << FormatMicros(step_end - step_begin) << ", \"args\": {\"External id\": 0}}";

  int64_t correlation = 0;
  Time launch_free = step_begin;  // the host thread is busy until then
  for (const Span& s : spans) {
    const NodeId v = s.node;
    const KinetoOpKind k = kind_of(v);
    const Duration dur = s.end - s.start;
    if (k == KinetoOpKind::kHost) {
      sep();
      out << "  {\"ph\": \"X\", \"cat\": \"cpu_op\", \"name\": \"" << JsonEscape(g.name(v))
          << "\", \"pid\": " << host_pid << ", \"tid\": " << work_tid << ", \"ts\": " << Ts(s.start)
          << ", \"dur\": " << FormatMicros(dur) << ", \"args\": {\"External id\": 0}}";
      continue;
    }
    ++correlation;
    const int64_t stream = kFirstStream + g.stream(v);
    // The launch: on the host thread, after the previous one, ending before the op starts.
    Time launch = std::max(launch_free, s.start - kLaunchLeadPs);
    Duration launch_dur = kLaunchPs;
    if (launch + launch_dur > s.start) launch_dur = std::max<Duration>(s.start - launch, 1000);
    launch_free = launch + launch_dur;
    const char* api = k == KinetoOpKind::kMemcpy   ? "cudaMemcpyAsync"
                      : k == KinetoOpKind::kMemset ? "cudaMemsetAsync"
                                                   : "cudaLaunchKernel";
    const int cbid = k == KinetoOpKind::kMemcpy ? 41 : k == KinetoOpKind::kMemset ? 51 : 211;
    sep();
    out << "  {\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"" << api << "\", \"pid\": " << host_pid
        << ", \"tid\": " << host_tid << ", \"ts\": " << Ts(launch) << ", \"dur\": " << FormatMicros(launch_dur)
        << ", \"args\": {\"External id\": " << correlation << ", \"cbid\": " << cbid
        << ", \"correlation\": " << correlation << "}}";
    sep();
    out << "  {\"ph\": \"s\", \"id\": " << correlation << ", \"pid\": " << host_pid << ", \"tid\": " << host_tid
        << ", \"ts\": " << Ts(launch) << ", \"cat\": \"ac2g\", \"name\": \"ac2g\"}";
    const NodeKind nk = g.kind(v);
    const bool comm = nk == NodeKind::kCollective || nk == NodeKind::kSend || nk == NodeKind::kRecv;
    std::string name = g.name(v);
    const char* cat = "kernel";
    if (comm) {
      name = NcclKernelName(nk, g.comm(v), t.dtype);
    } else if (k == KinetoOpKind::kMemcpy) {
      cat = "gpu_memcpy";
      if (name.rfind("Memcpy", 0) != 0) name = "Memcpy DtoD (Device -> Device) " + name;
    } else if (k == KinetoOpKind::kMemset) {
      cat = "gpu_memset";
      if (name.rfind("Memset", 0) != 0) name = "Memset (Device) " + name;
    }
    sep();
    out << "  {\"ph\": \"X\", \"cat\": \"" << cat << "\", \"name\": \"" << JsonEscape(name)
        << "\", \"pid\": 0, \"tid\": " << stream << ", \"ts\": " << Ts(s.start) << ", \"dur\": " << FormatMicros(dur)
        << ", \"args\": {\"External id\": " << correlation << ", \"queued\": 0, \"device\": 0, \"context\": 1"
        << ", \"stream\": " << stream << ", \"correlation\": " << correlation;
    if (std::string(cat) == "kernel") out << ", \"grid\": [132, 1, 1], \"block\": [256, 1, 1]";
    if (comm) {
      const CommInfo& ci = g.comm(v);
      const int32_t c = t.communicator ? t.communicator(v) : -1;
      const KinetoCommunicator* pg =
          c >= 0 && static_cast<size_t>(c) < t.communicators.size() ? &t.communicators[c] : nullptr;
      const int64_t size = pg != nullptr && !pg->ranks.empty() ? static_cast<int64_t>(pg->ranks.size()) : 2;
      const int64_t elems = static_cast<int64_t>(ci.bytes) / std::max<int64_t>(1, t.dtype_bytes);
      int64_t in = elems, outn = elems;
      if (nk == NodeKind::kCollective && ci.kind == CollectiveKind::kAllGather) in = elems / size;
      if (nk == NodeKind::kCollective && ci.kind == CollectiveKind::kReduceScatter) outn = elems / size;
      out << ", \"Collective name\": \"" << CollectiveName(nk, ci.kind) << "\", \"In msg nelems\": " << in
          << ", \"Out msg nelems\": " << outn << ", \"Group size\": " << size << ", \"dtype\": \""
          << JsonEscape(t.dtype) << "\", \"In split size\": \"[]\", \"Out split size\": \"[]\"";
      if (pg != nullptr) {
        out << ", \"Process Group Name\": \"" << JsonEscape(pg->name)
            << "\", \"Process Group Description\": \"" << JsonEscape(pg->desc)
            << "\", \"Process Group Ranks\": \"" << RanksText(pg->ranks) << "\"";
      }
    }
    out << "}}";
    sep();
    out << "  {\"ph\": \"f\", \"id\": " << correlation << ", \"pid\": 0, \"tid\": " << stream
        << ", \"ts\": " << Ts(s.start) << ", \"cat\": \"ac2g\", \"name\": \"ac2g\", \"bp\": \"e\"}";
  }
  out << "\n  ],\n  \"traceName\": \"rank" << t.rank << ".json\",\n  \"displayTimeUnit\": \"ms\",\n"
      << "  \"baseTimeNanoseconds\": " << kBaseTimeNs << "\n}\n";
}

Status WriteKinetoDir(const std::vector<KinetoRankTimeline>& ranks, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return InvalidArgument(StrCat("cannot create '", dir, "': ", ec.message()));
  for (const KinetoRankTimeline& r : ranks) {
    const std::string path = (std::filesystem::path(dir) / StrCat("rank", r.rank, ".json")).string();
    std::ofstream out(path, std::ios::binary);
    if (!out) return InvalidArgument(StrCat("cannot write '", path, "'"));
    WriteKinetoTrace(r, out);
    if (!out) return Internal(StrCat("failed writing '", path, "'"));
  }
  return Status::Ok();
}

}  // namespace echosim
