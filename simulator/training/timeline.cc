#include "simulator/training/timeline.h"

#include <cstdio>
#include <string>

#include "simulator/core/strings.h"

namespace echosim {

void WriteChromeTrace(const StepResult& result, const ParallelPlan& plan, std::ostream& out) {
  out << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  bool first = true;
  auto sep = [&]() {
    if (!first) out << ",\n";
    first = false;
  };
  for (const TimelineTrack& t : result.tracks) {
    const ParallelPlan::Coords c = plan.CoordsOf(t.global_rank);
    sep();
    out << "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":" << t.global_rank
        << ",\"args\":{\"name\":\"rank " << t.global_rank << " (pp stage " << c.pp << ")\"}}";
    sep();
    out << "{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":" << t.global_rank
        << ",\"args\":{\"sort_index\":" << t.global_rank << "}}";
    const auto& streams = t.graph->stream_names();
    for (size_t i = 0; i < streams.size(); ++i) {
      sep();
      out << "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":" << t.global_rank
          << ",\"tid\":" << i << ",\"args\":{\"name\":\"" << JsonEscape(streams[i]) << "\"}}";
    }
  }
  for (const TimelineTrack& t : result.tracks) {
    const ExecutionGraph& g = *t.graph;
    for (const Span& s : t.spans) {
      sep();
      const NodeKind kind = g.kind(s.node);
      const char* cat = "kernel";
      if (kind == NodeKind::kCollective) cat = "collective";
      if (kind == NodeKind::kSend || kind == NodeKind::kRecv) cat = "p2p";
      if (kind == NodeKind::kDelay) cat = "host";
      out << "{\"ph\":\"X\",\"cat\":\"" << cat << "\",\"name\":\"" << JsonEscape(g.name(s.node))
          << "\",\"pid\":" << t.global_rank << ",\"tid\":" << static_cast<int>(g.stream(s.node))
          << ",\"ts\":" << FormatMicros(s.start) << ",\"dur\":" << FormatMicros(s.end - s.start)
          << ",\"args\":{";
      bool first_arg = true;
      auto arg = [&](const char* k, const std::string& v) {
        if (!first_arg) out << ",";
        first_arg = false;
        out << "\"" << k << "\":" << v;
      };
      if (g.layer(s.node) >= 0) arg("layer", std::to_string(g.layer(s.node)));
      if (g.microbatch(s.node) >= 0) arg("microbatch", std::to_string(g.microbatch(s.node)));
      if (kind == NodeKind::kCollective || kind == NodeKind::kSend || kind == NodeKind::kRecv) {
        const CommInfo& ci = g.comm(s.node);
        char bytes[32];
        std::snprintf(bytes, sizeof(bytes), "%.0f", ci.bytes);
        arg("bytes", bytes);
        arg("collective", std::string("\"") + CollectiveKindName(ci.kind) + "\"");
        arg("group", std::string("\"") + GroupKindName(ci.group) + "\"");
        arg("group_size", std::to_string(kind == NodeKind::kCollective ? plan.GroupSize(ci.group) : 2));
        if (!ci.algorithm.empty()) arg("algorithm", "\"" + JsonEscape(ci.algorithm) + "\"");
        if (!ci.protocol.empty()) arg("protocol", "\"" + JsonEscape(ci.protocol) + "\"");
        if (ci.channels > 0) arg("channels", std::to_string(ci.channels));
      }
      out << "}}";
    }
  }
  out << "\n]}\n";
}

}  // namespace echosim
