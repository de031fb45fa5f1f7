// Training: run a scenario (GIL released while simulating) and hand back the result:
// the CLI's JSON summary, the resolved scenario, the timeline as numpy columns, and the
// Chrome/Perfetto trace. pandas conversion happens in echosim/training.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "python/src/bindings.h"
#include "python/src/status_exception.h"
#include "simulator/core/strings.h"
#include "simulator/scenario/simulation.h"
#include "simulator/scenario/trace_workload.h"
#include "simulator/training/timeline.h"

namespace py = pybind11;

namespace echosim::python {
namespace {

// Interns strings into category codes (first-seen order, so output is deterministic).
class Categories {
 public:
  int32_t Code(const std::string& s) {
    auto [it, inserted] = index_.emplace(s, static_cast<int32_t>(names_.size()));
    if (inserted) names_.push_back(s);
    return it->second;
  }
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::map<std::string, int32_t> index_;
  std::vector<std::string> names_;
};

const char* SpanKind(NodeKind kind) {
  switch (kind) {
    case NodeKind::kCollective: return "collective";
    case NodeKind::kSend:
    case NodeKind::kRecv: return "p2p";
    case NodeKind::kDelay: return "host";
    case NodeKind::kCompute: break;
  }
  return "kernel";
}

template <typename T>
py::array_t<T> Column(size_t n) {
  return py::array_t<T>(static_cast<py::ssize_t>(n));
}

// Spans of every recorded rank as numpy columns; string columns come as integer codes
// plus their category names (pandas.Categorical.from_codes in Python).
py::dict TimelineColumns(const TrainingRun& run) {
  const StepResult& r = run.result;
  size_t n = 0;
  for (const TimelineTrack& t : r.tracks) n += t.spans.size();
  auto rank = Column<int64_t>(n), stage = Column<int64_t>(n);
  auto stream = Column<int32_t>(n), name = Column<int32_t>(n), kind = Column<int32_t>(n);
  auto collective = Column<int32_t>(n), group = Column<int32_t>(n);
  auto layer = Column<int32_t>(n), microbatch = Column<int32_t>(n);
  auto start_s = Column<double>(n), end_s = Column<double>(n), bytes = Column<double>(n);
  auto start_ps = Column<int64_t>(n), end_ps = Column<int64_t>(n);
  Categories streams, names, kinds, collectives, groups;
  size_t i = 0;
  auto rk = rank.mutable_unchecked<1>();
  auto sg = stage.mutable_unchecked<1>();
  auto st = stream.mutable_unchecked<1>();
  auto nm = name.mutable_unchecked<1>();
  auto kd = kind.mutable_unchecked<1>();
  auto co = collective.mutable_unchecked<1>();
  auto gr = group.mutable_unchecked<1>();
  auto ly = layer.mutable_unchecked<1>();
  auto mb = microbatch.mutable_unchecked<1>();
  auto ss = start_s.mutable_unchecked<1>();
  auto es = end_s.mutable_unchecked<1>();
  auto by = bytes.mutable_unchecked<1>();
  auto sp = start_ps.mutable_unchecked<1>();
  auto ep = end_ps.mutable_unchecked<1>();
  for (const TimelineTrack& t : r.tracks) {
    const ExecutionGraph& g = *t.graph;
    const int64_t pp_stage = run.setup.plan.CoordsOf(t.global_rank).pp;
    for (const Span& s : t.spans) {
      const NodeKind k = g.kind(s.node);
      const bool comm = k == NodeKind::kCollective || k == NodeKind::kSend || k == NodeKind::kRecv;
      rk(i) = t.global_rank;
      sg(i) = pp_stage;
      st(i) = streams.Code(g.stream_names()[g.stream(s.node)]);
      nm(i) = names.Code(g.name(s.node));
      kd(i) = kinds.Code(SpanKind(k));
      co(i) = collectives.Code(comm ? CollectiveKindName(g.comm(s.node).kind) : "");
      gr(i) = groups.Code(comm ? GroupKindName(g.comm(s.node).group) : "");
      ly(i) = g.layer(s.node);
      mb(i) = g.microbatch(s.node);
      sp(i) = s.start;
      ep(i) = s.end;
      ss(i) = DurationToSeconds(s.start);
      es(i) = DurationToSeconds(s.end);
      by(i) = comm ? g.comm(s.node).bytes : 0.0;
      ++i;
    }
  }
  py::dict cols;
  cols["rank"] = rank;
  cols["stage"] = stage;
  cols["stream"] = py::make_tuple(stream, streams.names());
  cols["name"] = py::make_tuple(name, names.names());
  cols["kind"] = py::make_tuple(kind, kinds.names());
  cols["start_s"] = start_s;
  cols["end_s"] = end_s;
  cols["layer"] = layer;
  cols["microbatch"] = microbatch;
  cols["bytes"] = bytes;
  cols["collective"] = py::make_tuple(collective, collectives.names());
  cols["group"] = py::make_tuple(group, groups.names());
  cols["start_ps"] = start_ps;
  cols["end_ps"] = end_ps;
  return cols;
}

// Memory of one rank of each pipeline stage, as numpy columns.
py::dict MemoryColumns(const TrainingRun& run) {
  const std::vector<StageMemory>& mem = run.result.memory;
  const size_t n = mem.size();
  auto stage = Column<int64_t>(n);
  auto params = Column<double>(n), weight = Column<double>(n), grad = Column<double>(n);
  auto opt = Column<double>(n), act = Column<double>(n), res = Column<double>(n);
  auto total = Column<double>(n);
  for (size_t i = 0; i < n; ++i) {
    stage.mutable_at(i) = mem[i].stage;
    params.mutable_at(i) = mem[i].params;
    weight.mutable_at(i) = mem[i].weight_bytes;
    grad.mutable_at(i) = mem[i].gradient_bytes;
    opt.mutable_at(i) = mem[i].optimizer_bytes;
    act.mutable_at(i) = mem[i].activation_bytes;
    res.mutable_at(i) = mem[i].reserved_bytes;
    total.mutable_at(i) = mem[i].total_bytes();
  }
  py::dict cols;
  cols["stage"] = stage;
  cols["params"] = params;
  cols["weight_bytes"] = weight;
  cols["gradient_bytes"] = grad;
  cols["optimizer_bytes"] = opt;
  cols["activation_bytes"] = act;
  cols["reserved_bytes"] = res;
  cols["total_bytes"] = total;
  return cols;
}

}  // namespace

void RegisterTraining(py::module_& m) {
  py::class_<TrainingRun, std::shared_ptr<TrainingRun>>(
      m, "TrainingRun", "One simulated training iteration (wrapped by echosim.TrainingResult).")
      .def("summary_json", [](const TrainingRun& run) { return SummaryJson(run).dump(); },
           "The CLI's --json summary, as JSON text.")
      .def("resolved", [](const TrainingRun& run) { return ScenarioToBytes(run.resolved); },
           "The resolved scenario (every default filled in), as proto bytes.")
      .def("summary_table", [](const TrainingRun& run) { return SummaryTable(run); },
           "The CLI's human-readable table.")
      .def("timeline_columns", &TimelineColumns,
           "Spans of the recorded ranks as numpy columns (string columns as codes + names).")
      .def("memory_columns", &MemoryColumns, "Memory per pipeline stage as numpy columns.")
      .def(
          "chrome_trace",
          [](const TrainingRun& run) {
            std::ostringstream os;
            {
              py::gil_scoped_release release;
              WriteChromeTrace(run.result, run.setup.plan, os);
            }
            return os.str();
          },
          "The Chrome Trace Event JSON (the CLI's timeline.json), as text.")
      .def(
          "write_chrome_trace",
          [](const TrainingRun& run, const std::string& path) {
            Status st;
            {
              py::gil_scoped_release release;
              std::ofstream out(path, std::ios::binary);
              if (!out) {
                st = InvalidArgument(StrCat("cannot write '", path, "'"));
              } else {
                WriteChromeTrace(run.result, run.setup.plan, out);
                if (!out) st = Internal(StrCat("failed writing '", path, "'"));
              }
            }
            ThrowIfError(st);
          },
          py::arg("path"), "Writes the Chrome Trace Event JSON to `path`.")
      .def(
          "export_chakra",
          [](const TrainingRun& run, const std::string& dir, bool full) {
            StatusOr<TraceManifest> m = Internal("not run");
            {
              py::gil_scoped_release release;
              m = ExportTrainingChakra(run, dir, full);
            }
            return static_cast<int64_t>(ValueOrThrow(std::move(m)).traces.size());
          },
          py::arg("dir"), py::arg("full"),
          "Writes the step as Chakra ET (the CLI's --export-chakra); returns the file count.")
      .def(
          "write_kineto",
          [](const TrainingRun& run, const std::string& dir) {
            Status st;
            {
              py::gil_scoped_release release;
              st = WriteTrainingKineto(run, dir);
            }
            ThrowIfError(st);
          },
          py::arg("dir"), "Writes Kineto-layout JSON per recorded rank (the CLI's --kineto).");

  py::class_<TraceRun, std::shared_ptr<TraceRun>>(
      m, "TraceRun", "One simulated traced step (wrapped by echosim.TraceResult).")
      .def("summary_json", [](const TraceRun& run) { return TraceRunSummaryJson(run).dump(); },
           "The CLI's `run --trace --json` summary, as JSON text.")
      .def("resolved", [](const TraceRun& run) { return ScenarioToBytes(run.resolved); },
           "The resolved scenario, as proto bytes.")
      .def(
          "chrome_trace",
          [](const TraceRun& run) {
            std::ostringstream os;
            WriteTraceTimeline(run.result, os);
            return os.str();
          },
          "The Chrome Trace Event JSON (the CLI's timeline.json), as text.")
      .def(
          "write_kineto",
          [](const TraceRun& run, const std::string& dir) {
            Status st;
            {
              py::gil_scoped_release release;
              st = WriteTraceKineto(run.set, run.result, run.resolved.cluster().gpu(), dir);
            }
            ThrowIfError(st);
          },
          py::arg("dir"), "Writes Kineto-layout JSON per simulated rank (the CLI's --kineto).");

  m.def(
      "run_trace",
      [](const py::bytes& data) {
        scenario::Scenario s = ScenarioFromBytes(data);
        std::optional<StatusOr<TraceRun>> run;
        {
          py::gil_scoped_release release;
          run.emplace(RunTraceScenario(std::move(s)));
        }
        return std::make_shared<TraceRun>(ValueOrThrow(std::move(*run)));
      },
      py::arg("data"),
      "Simulates a scenario whose workload is a trace (workload.trace; the CLI's run --trace).");

  m.def(
      "run_training",
      [](const py::bytes& data, bool keep_timeline) {
        scenario::Scenario s = ScenarioFromBytes(data);
        std::optional<StatusOr<TrainingRun>> run;
        {
          py::gil_scoped_release release;
          run.emplace(RunTrainingScenario(std::move(s)));
          if (run->ok() && !keep_timeline) {
            (*run)->result.tracks.clear();
            (*run)->result.graphs.clear();
          }
        }
        return std::make_shared<TrainingRun>(ValueOrThrow(std::move(*run)));
      },
      py::arg("data"), py::arg("keep_timeline") = true,
      "Resolves and simulates a training scenario (proto bytes). The GIL is released while "
      "simulating. Raises ValueError with the CLI's message on bad input.");
}

}  // namespace echosim::python
