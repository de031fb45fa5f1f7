// Scenarios: YAML/JSON text, files, dotted overrides, resolution. A scenario crosses the
// boundary as serialized echosim.scenario.Scenario bytes; the Python Scenario class
// (echosim/scenario.py) holds those bytes.
#include <pybind11/pybind11.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "python/src/bindings.h"
#include "python/src/status_exception.h"
#include "simulator/scenario/simulation.h"
#include "simulator/scenario/yaml_proto.h"

namespace py = pybind11;
namespace pb = google::protobuf;

namespace echosim::python {

scenario::Scenario ScenarioFromBytes(const py::bytes& data) {
  scenario::Scenario s;
  const std::string raw = data;
  if (!s.ParseFromString(raw)) {
    throw py::value_error("not a serialized echosim scenario (echosim.scenario.Scenario proto bytes)");
  }
  return s;
}

py::bytes ScenarioToBytes(const scenario::Scenario& s) {
  std::string out;
  s.SerializeToString(&out);
  return py::bytes(out);
}

namespace {

py::object FieldValue(const pb::Message& msg, const pb::FieldDescriptor* f, int index);

// The fields that are set (proto3: non-default scalars, present messages/optionals), as a
// dict keyed by proto field name in field-number order: the shape YamlToProto reads back.
py::dict MessageToDict(const pb::Message& msg) {
  py::dict d;
  std::vector<const pb::FieldDescriptor*> fields;
  msg.GetReflection()->ListFields(msg, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    if (f->is_repeated()) {
      py::list items;
      const int n = msg.GetReflection()->FieldSize(msg, f);
      for (int i = 0; i < n; ++i) items.append(FieldValue(msg, f, i));
      d[py::str(f->name())] = items;
    } else {
      d[py::str(f->name())] = FieldValue(msg, f, -1);
    }
  }
  return d;
}

py::object FieldValue(const pb::Message& msg, const pb::FieldDescriptor* f, int i) {
  const pb::Reflection* r = msg.GetReflection();
  const bool rep = i >= 0;
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return py::int_(rep ? r->GetRepeatedInt32(msg, f, i) : r->GetInt32(msg, f));
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return py::int_(rep ? r->GetRepeatedInt64(msg, f, i) : r->GetInt64(msg, f));
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return py::int_(rep ? r->GetRepeatedUInt32(msg, f, i) : r->GetUInt32(msg, f));
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return py::int_(rep ? r->GetRepeatedUInt64(msg, f, i) : r->GetUInt64(msg, f));
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return py::float_(rep ? r->GetRepeatedDouble(msg, f, i) : r->GetDouble(msg, f));
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return py::float_(rep ? r->GetRepeatedFloat(msg, f, i) : r->GetFloat(msg, f));
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return py::bool_(rep ? r->GetRepeatedBool(msg, f, i) : r->GetBool(msg, f));
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return py::str((rep ? r->GetRepeatedEnum(msg, f, i) : r->GetEnum(msg, f))->name());
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return py::str(rep ? r->GetRepeatedString(msg, f, i) : r->GetString(msg, f));
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageToDict(rep ? r->GetRepeatedMessage(msg, f, i) : r->GetMessage(msg, f));
  }
  return py::none();
}

}  // namespace

void RegisterScenario(py::module_& m) {
  m.def(
      "scenario_from_text",
      [](const std::string& text, const std::string& source) {
        scenario::Scenario s;
        ThrowIfError(YamlToProto(text, source, &s));
        return ScenarioToBytes(s);
      },
      py::arg("text"), py::arg("source"),
      "Parses a YAML or JSON scenario document into proto bytes; errors name source:line:col.");
  m.def(
      "scenario_load",
      [](const std::string& path) { return ScenarioToBytes(ValueOrThrow(LoadScenarioFile(path))); },
      py::arg("path"), "Reads a scenario file (YAML or JSON) into proto bytes.");
  m.def(
      "scenario_apply",
      [](const py::bytes& data, const std::string& assignment) {
        scenario::Scenario s = ScenarioFromBytes(data);
        ThrowIfError(ApplyOverride(assignment, &s));
        return ScenarioToBytes(s);
      },
      py::arg("data"), py::arg("assignment"),
      "Applies one 'dotted.key=value' override (the CLI's --set) and returns new proto bytes.");
  m.def(
      "scenario_resolve",
      [](const py::bytes& data) {
        scenario::Scenario s = ScenarioFromBytes(data);
        ThrowIfError(ResolveScenario(&s));
        return ScenarioToBytes(s);
      },
      py::arg("data"), "Fills every default (as scenario.resolved.yaml) and validates names.");
  m.def(
      "scenario_to_yaml", [](const py::bytes& data) { return ProtoToYaml(ScenarioFromBytes(data)); },
      py::arg("data"), "Renders every field as YAML (the resolved-scenario format).");
  m.def(
      "scenario_workload_kind",
      [](const py::bytes& data) -> std::string {
        const scenario::Scenario s = ScenarioFromBytes(data);
        if (s.workload().has_serving()) return "serving";
        if (s.workload().has_training()) return "training";
        if (s.workload().has_trace()) return "trace";
        return "";
      },
      py::arg("data"), "'training', 'serving', 'trace' or '' (no workload set yet).");
  m.def(
      "scenario_to_dict", [](const py::bytes& data) { return MessageToDict(ScenarioFromBytes(data)); },
      py::arg("data"), "The fields that are set, as nested dicts keyed by proto field name.");
}

}  // namespace echosim::python
