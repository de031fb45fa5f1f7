// YAML <-> protobuf message conversion, generic over any message type (driven by
// google::protobuf::Descriptor / Reflection). Used to load scenarios, to apply
// `--set dotted.path=value` overrides and to print the resolved scenario.
//
// Reading (YamlToProto, ApplyOverride):
//  - A message is a YAML map whose keys are the proto field names (snake_case,
//    exactly as declared). JSON is read as YAML, so `{"cluster": {"gpus": 8}}` works.
//  - Scalars: bool accepts true/false/yes/no/on/off (any case); integers are
//    decimal with an optional sign and are range checked for their proto type
//    (a negative value for an unsigned field is an error); float/double must be
//    finite decimal numbers; strings take the scalar text (must be UTF-8); enums
//    are given by value name (or by number). Quoting does not change the meaning
//    of a scalar: `gpus: "8"` is 8.
//  - Repeated fields take a YAML sequence (which replaces the field's content).
//    Map fields are repeated entries: a sequence of {key: ..., value: ...}.
//  - Nested messages take a nested map.
//  - A null value (`key:`, `key: ~`, `key: null`) leaves the field untouched.
//  - Errors are InvalidArgument "<source>:<line>:<col>: <dotted.path>: <what>"
//    (1-based line and column), naming the valid choices where the set is closed.
//    Unknown fields, duplicate keys, two members of one oneof, a document that is
//    not a map, several documents, nesting deeper than 64 messages, and malformed
//    YAML are all errors. No exception escapes these functions.
//
// Writing (ProtoToYaml): every field in field-number order, set or not (the
// resolved view), nested messages as nested maps indented by two spaces,
// repeated scalars as flow sequences `[a, b]`, repeated messages as block
// sequences. Doubles use the shortest text that round-trips; strings are quoted
// only when the plain form would be read as something else. Output bytes are a
// pure function of the message. Exceptions to "every field":
//  - in a real oneof only the member that is set is printed;
//  - an unset message field whose type is already being printed further up
//    (recursive types) is printed as `~` so output stays finite;
//  - an unset proto3 `optional` scalar is left out, so that it reads back unset
//    ("unset" carries a meaning of its own: overlap_grad_reduce defaults on).
// Unset message fields are printed as their (empty or default) contents, so
// reading the output back gives a message MessageDifferencer::Equivalent to the
// input, and exactly equal when every message field is set (e.g. after defaults
// are applied).
#ifndef ECHOSIM_SIMULATOR_SCENARIO_YAML_PROTO_H_
#define ECHOSIM_SIMULATOR_SCENARIO_YAML_PROTO_H_

#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "simulator/core/status.h"

namespace echosim {

// Parses YAML (or JSON) text into `msg`. On success `msg` holds exactly the parsed
// content (it is cleared first); on error `msg` is left unchanged. `source_name`
// (e.g. the file name) starts every error message.
Status YamlToProto(std::string_view yaml_text, std::string_view source_name,
                   google::protobuf::Message* msg);

// Applies one override "dotted.path=value" (e.g. "parallelism.tp=4") to `msg`.
// The value is read as YAML for the field's type (a scalar; a flow sequence such
// as [1, 2] for a repeated field; a flow map such as {gpus: 8} is merged into a
// message field). An empty or null value clears the field. Errors start with
// "--set <assignment>: "; on error `msg` is left unchanged.
Status ApplyOverride(std::string_view assignment, google::protobuf::Message* msg);

// Renders every field of `msg` as YAML (see the contract above).
std::string ProtoToYaml(const google::protobuf::Message& msg);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SCENARIO_YAML_PROTO_H_
