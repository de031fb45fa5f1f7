// Tests of simulator/scenario/yaml_proto.h against the real Scenario message
// (and, for what Scenario cannot exercise, google.protobuf.Struct / Value).
#include "simulator/scenario/yaml_proto.h"

#include <string>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "scenario.pb.h"

namespace echosim {
namespace {

using google::protobuf::util::MessageDifferencer;
using scenario::Scenario;

// A scenario that sets every message and every field with presence, so that the
// round trip must reproduce it exactly (MessageDifferencer::Equals).
constexpr char kFullScenario[] = R"yaml(# comment lines are fine
name: llama3-8b on 64 H100
seed: 42
cluster:
  gpu: h100
  gpus: 64
  gpus_per_node: 8
  network:
    nic_gbps: 400
    nvlink_gbps: 3600
    topology: nvswitch_fat_tree
    nic_latency_us: 5.5
    nvlink_latency_us: 0.1
workload:
  training:
    model: llama3-8b
    shape:
      layers: 32
      hidden: 4096
      mlp: swiglu
      tied_embeddings: yes
    seq_len_tokens: 8192
    global_batch_seqs: 512
    dtype: bf16
parallelism:
  tp: 4
  pp: 2
  zero: 1
  sequence_parallel: on
  recompute: selective
  pipeline_schedule: 1f1b
  grad_bucket_mparams: 12.5
  overlap_grad_reduce: false
output:
  timeline: true
simulation:
  full: false
  host_overhead_per_step_ms: 1e-3
  interference: true
  contention: false
)yaml";

// Whether `text` contains `part`; prints both when not.
::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected to find\n" << part << "\nin\n" << text;
}

Scenario ParseOrDie(const std::string& yaml) {
  Scenario scenario;
  const Status status = YamlToProto(yaml, "test.yaml", &scenario);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n--- input:\n" << yaml;
  return scenario;
}

// Parses `yaml`, expecting failure, and returns the error message.
std::string ParseError(const std::string& yaml) {
  Scenario scenario;
  const Status status = YamlToProto(yaml, "scen.yaml", &scenario);
  EXPECT_FALSE(status.ok()) << "unexpectedly parsed:\n" << yaml;
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  return status.message();
}

TEST(YamlToProtoTest, ReadsEveryKindOfScalar) {
  const Scenario s = ParseOrDie(kFullScenario);
  EXPECT_EQ(s.name(), "llama3-8b on 64 H100");
  EXPECT_EQ(s.seed(), 42u);
  EXPECT_EQ(s.cluster().gpus(), 64u);
  EXPECT_EQ(s.cluster().network().topology(), "nvswitch_fat_tree");
  EXPECT_EQ(s.cluster().network().nic_latency_us(), 5.5);
  EXPECT_EQ(s.cluster().network().nvlink_latency_us(), 0.1);
  EXPECT_TRUE(s.workload().training().shape().tied_embeddings());
  EXPECT_EQ(s.workload().training().shape().layers(), 32u);
  EXPECT_TRUE(s.parallelism().sequence_parallel());
  EXPECT_EQ(s.parallelism().pipeline_schedule(), "1f1b");
  EXPECT_EQ(s.parallelism().grad_bucket_mparams(), 12.5);
  EXPECT_TRUE(s.parallelism().has_overlap_grad_reduce());
  EXPECT_FALSE(s.parallelism().overlap_grad_reduce());
  EXPECT_TRUE(s.output().has_timeline());
  EXPECT_TRUE(s.output().timeline());
  EXPECT_EQ(s.simulation().host_overhead_per_step_ms(), 0.001);
}

TEST(YamlToProtoTest, RoundTripIsExactAndDeterministic) {
  const Scenario original = ParseOrDie(kFullScenario);
  const std::string yaml = ProtoToYaml(original);
  const Scenario reparsed = ParseOrDie(yaml);
  EXPECT_TRUE(MessageDifferencer::Equals(original, reparsed)) << yaml;
  EXPECT_EQ(ProtoToYaml(reparsed), yaml);

  // Field-number order, nested maps with two-space indent, every field printed.
  EXPECT_EQ(yaml.rfind("name: \"llama3-8b on 64 H100\"\nseed: 42\ncluster:\n  gpu: h100\n", 0), 0u)
      << yaml;
  EXPECT_TRUE(Contains(yaml, "\n  network:\n    nic_gbps: 400\n    nvlink_gbps: 3600\n"));
  EXPECT_TRUE(Contains(yaml, "\n    nvlink_latency_us: 0.1\n"));
  EXPECT_TRUE(Contains(yaml, "\n      tied_embeddings: true\n"));
  EXPECT_TRUE(Contains(yaml, "\n      kv_heads: 0\n"));  // unset: printed with its default
  EXPECT_TRUE(Contains(yaml, "\n  pipeline_schedule: 1f1b\n"));
  EXPECT_TRUE(Contains(yaml, "\n  overlap_grad_reduce: false\n"));
  EXPECT_TRUE(Contains(yaml, "\n  host_overhead_per_step_ms: 0.001\n"));
  EXPECT_TRUE(Contains(yaml, "\n    attention: \"\"\n"));  // empty string is quoted
}

TEST(YamlToProtoTest, RoundTripOfAwkwardStringsAndDoubles) {
  Scenario original;
  original.set_name("true");
  original.mutable_cluster()->set_gpu("");
  original.mutable_cluster()->mutable_network()->set_topology("a: b # c");
  original.mutable_cluster()->mutable_network()->set_nic_gbps(0.1 + 0.2);
  original.mutable_cluster()->mutable_network()->set_nvlink_gbps(1e300);
  original.mutable_cluster()->mutable_network()->set_nic_latency_us(5e-324);
  original.mutable_cluster()->mutable_network()->set_nvlink_latency_us(-123456.789);
  auto* training = original.mutable_workload()->mutable_training();
  training->set_model("1e3");
  training->set_dtype("tab\tquote\"back\\slash\nnewline\x01");
  training->set_attention("\xC3\xBCn\xC3\xAF \xE2\x82\xAC \xF0\x9F\x98\x80");  // "ünï € 😀"
  training->mutable_shape()->set_mlp("010");
  training->mutable_shape()->set_norm("~");
  training->mutable_shape()->set_position(" leading space");
  original.mutable_parallelism()->set_recompute("null");
  original.mutable_parallelism()->set_pipeline_schedule("- x");
  original.set_seed(18446744073709551615u);

  const std::string yaml = ProtoToYaml(original);
  const Scenario reparsed = ParseOrDie(yaml);
  // Unset message fields (output, simulation) come back set to their defaults.
  EXPECT_TRUE(MessageDifferencer::Equivalent(original, reparsed)) << yaml;
  EXPECT_EQ(reparsed.workload().training().dtype(), training->dtype());
  EXPECT_EQ(reparsed.cluster().network().nic_gbps(), 0.1 + 0.2);
  EXPECT_EQ(ProtoToYaml(reparsed), yaml);

  EXPECT_TRUE(Contains(yaml, "name: \"true\"\n"));
  EXPECT_TRUE(Contains(yaml, "seed: 18446744073709551615\n"));
  EXPECT_TRUE(Contains(yaml, "    nic_gbps: 0.30000000000000004\n"));
  EXPECT_TRUE(Contains(yaml, "    nvlink_gbps: 1e+300\n"));
  EXPECT_TRUE(Contains(yaml, "    model: \"1e3\"\n"));
  EXPECT_TRUE(Contains(yaml, "    dtype: \"tab\\tquote\\\"back\\\\slash\\nnewline\\x01\"\n"));
  EXPECT_TRUE(Contains(yaml, "      mlp: \"010\"\n"));
  EXPECT_TRUE(Contains(yaml, "  recompute: \"null\"\n"));
}

TEST(YamlToProtoTest, UnknownFieldNamesLineAndValidFields) {
  EXPECT_EQ(ParseError("name: x\ncluster:\n  gpu: h100\n  gpuz: 3\n"),
            "scen.yaml:4:3: cluster.gpuz: unknown field; valid fields of cluster: gpu, gpus, "
            "gpus_per_node, network");
  EXPECT_EQ(ParseError("nmae: x\n"),
            "scen.yaml:1:1: nmae: unknown field; valid fields of Scenario: name, seed, cluster, "
            "workload, parallelism, output, simulation");
}

TEST(YamlToProtoTest, BadTypeNamesLineColumnAndValue) {
  EXPECT_EQ(ParseError("name: x\ncluster:\n  gpu: h100\n  gpus: abc\n"),
            "scen.yaml:4:9: cluster.gpus: expected an unsigned integer, got 'abc'");
  EXPECT_EQ(ParseError("parallelism:\n  sequence_parallel: maybe\n"),
            "scen.yaml:2:22: parallelism.sequence_parallel: expected a boolean (true/false), got "
            "'maybe'");
  EXPECT_EQ(ParseError("parallelism:\n  grad_bucket_mparams: .inf\n"),
            "scen.yaml:2:24: parallelism.grad_bucket_mparams: expected a number, got '.inf'");
  EXPECT_EQ(ParseError("parallelism:\n  tp: 2.5\n"),
            "scen.yaml:2:7: parallelism.tp: expected an unsigned integer, got '2.5'");
  EXPECT_EQ(ParseError("cluster: 4\n"),
            "scen.yaml:1:10: cluster: expected a map with fields gpu, gpus, gpus_per_node, "
            "network, got '4'");
  EXPECT_EQ(ParseError("name: [a, b]\n"), "scen.yaml:1:7: name: expected a string, got a sequence");
  EXPECT_EQ(ParseError("name: \xff\n"),
            "scen.yaml:1:7: name: expected a UTF-8 string, got invalid UTF-8 bytes");
}

TEST(YamlToProtoTest, UnsignedRangeIsChecked) {
  EXPECT_EQ(ParseError("cluster:\n  gpus: -1\n"),
            "scen.yaml:2:9: cluster.gpus: expected an unsigned integer, got negative value '-1'");
  EXPECT_EQ(ParseError("cluster:\n  gpus: 4294967296\n"),
            "scen.yaml:2:9: cluster.gpus: value '4294967296' is out of range for uint32 (at most "
            "4294967295)");
  EXPECT_TRUE(Contains(ParseError("seed: 18446744073709551616\n"),
                       "seed: value '18446744073709551616' is out of range for uint64"));
  EXPECT_EQ(ParseOrDie("cluster:\n  gpus: 4294967295\n").cluster().gpus(), 4294967295u);
  EXPECT_EQ(ParseOrDie("cluster:\n  gpus: +8\n").cluster().gpus(), 8u);
}

TEST(YamlToProtoTest, MalformedYamlNamesTheLine) {
  // The tab that YAML forbids as indentation is at line 2, column 1.
  EXPECT_TRUE(Contains(ParseError("name: a\n\tseed: 1\n"), "scen.yaml:2:1: malformed YAML: "));
  // yaml-cpp's LoadAll never returns on a stray top-level ','; this must not hang.
  EXPECT_EQ(ParseError(","), "scen.yaml:1:1: malformed YAML: unexpected ','");
  // yaml-cpp stops recursing at a fixed depth; that is a parse error, not a crash.
  EXPECT_TRUE(Contains(ParseError("cluster: " + std::string(5000, '[')),
                       "malformed YAML: nested too deeply"));
  EXPECT_TRUE(Contains(ParseError("name: a\nseed: 1\ncluster: {gpus: 8\n"),
                       "malformed YAML: end of map flow not found"));
}

TEST(YamlToProtoTest, DocumentMustBeOneMap) {
  EXPECT_EQ(ParseError("- a\n- b\n"),
            "scen.yaml:1:1: the document must be a map of Scenario fields (name, seed, cluster, "
            "workload, parallelism, output, simulation), got a sequence");
  EXPECT_TRUE(Contains(ParseError("just text\n"),
                       "scen.yaml:1:1: the document must be a map of Scenario fields"));
  // The second document starts at its "---" marker.
  EXPECT_EQ(ParseError("name: a\n---\nname: b\n"),
            "scen.yaml:2:1: expected a single YAML document; another one starts here");
  // An empty document is an empty scenario.
  EXPECT_TRUE(MessageDifferencer::Equals(ParseOrDie(""), Scenario()));
  EXPECT_TRUE(MessageDifferencer::Equals(ParseOrDie("# nothing here\n"), Scenario()));
}

TEST(YamlToProtoTest, DuplicateKeysNameBothLines) {
  EXPECT_EQ(ParseError("name: a\nseed: 2\ncluster:\n  gpus: 8\n  gpus: 9\n"),
            "scen.yaml:5:3: cluster.gpus: duplicate field (first given at line 4)");
}

TEST(YamlToProtoTest, NullLeavesFieldUnset) {
  const Scenario s = ParseOrDie("name:\nseed: ~\ncluster: null\nparallelism:\n  tp: 2\n");
  EXPECT_EQ(s.name(), "");
  EXPECT_FALSE(s.has_cluster());
  EXPECT_EQ(s.parallelism().tp(), 2u);
  // A quoted "null" is a string.
  EXPECT_EQ(ParseOrDie("name: \"null\"\n").name(), "null");
}

TEST(YamlToProtoTest, ReplacesContentAndKeepsMessageOnError) {
  Scenario s;
  s.set_name("keep");
  s.mutable_parallelism()->set_tp(8);
  ASSERT_FALSE(YamlToProto("name: other\nseed: abc\n", "scen.yaml", &s).ok());
  EXPECT_EQ(s.name(), "keep");
  ASSERT_TRUE(YamlToProto("seed: 3\n", "scen.yaml", &s).ok());
  EXPECT_EQ(s.name(), "");
  EXPECT_FALSE(s.has_parallelism());
  EXPECT_EQ(s.seed(), 3u);
}

TEST(YamlToProtoTest, OptionalBoolPresence) {
  EXPECT_FALSE(ParseOrDie("parallelism:\n  tp: 1\n").parallelism().has_overlap_grad_reduce());
  EXPECT_FALSE(
      ParseOrDie("parallelism:\n  overlap_grad_reduce:\n").parallelism().has_overlap_grad_reduce());

  const Scenario off = ParseOrDie("parallelism:\n  overlap_grad_reduce: off\n");
  EXPECT_TRUE(off.parallelism().has_overlap_grad_reduce());
  EXPECT_FALSE(off.parallelism().overlap_grad_reduce());
  const Scenario on = ParseOrDie("parallelism:\n  overlap_grad_reduce: True\n");
  EXPECT_TRUE(on.parallelism().has_overlap_grad_reduce());
  EXPECT_TRUE(on.parallelism().overlap_grad_reduce());

  // A set false survives the round trip with its presence.
  const Scenario back = ParseOrDie(ProtoToYaml(off));
  EXPECT_TRUE(back.parallelism().has_overlap_grad_reduce());
  EXPECT_FALSE(back.parallelism().overlap_grad_reduce());

  // Unset optional fields are left out, so that they stay unset when read back (printing the
  // proto default would switch overlap_grad_reduce, default on, off).
  const std::string yaml = ProtoToYaml(Scenario());
  EXPECT_FALSE(Contains(yaml, "overlap_grad_reduce"));
  EXPECT_TRUE(Contains(yaml, "\noutput: {}\n")) << yaml;
  EXPECT_FALSE(ParseOrDie(yaml).parallelism().has_overlap_grad_reduce());
}

TEST(YamlToProtoTest, ReadsJson) {
  const Scenario compact =
      ParseOrDie(R"({"name": "j", "cluster": {"gpus": 8, "network": {"nic_gbps": 400.5}},)"
                 R"( "parallelism": {"overlap_grad_reduce": false, "tp": 2}})");
  EXPECT_EQ(compact.name(), "j");
  EXPECT_EQ(compact.cluster().gpus(), 8u);
  EXPECT_EQ(compact.cluster().network().nic_gbps(), 400.5);
  EXPECT_TRUE(compact.parallelism().has_overlap_grad_reduce());
  EXPECT_EQ(compact.parallelism().tp(), 2u);

  const Scenario pretty = ParseOrDie(R"({
  "name": "j",
  "cluster": {
    "gpus": 8,
    "network": {"nic_gbps": 400.5}
  },
  "parallelism": {"overlap_grad_reduce": false, "tp": 2}
}
)");
  EXPECT_TRUE(MessageDifferencer::Equals(compact, pretty));

  EXPECT_EQ(ParseError("{\n  \"cluster\": {\"gpus\": \"x\"}\n}\n"),
            "scen.yaml:2:23: cluster.gpus: expected an unsigned integer, got 'x'");
}

TEST(ApplyOverrideTest, SetsScalarsOfEveryType) {
  Scenario s = ParseOrDie(kFullScenario);
  ASSERT_TRUE(ApplyOverride("parallelism.tp=8", &s).ok());
  ASSERT_TRUE(ApplyOverride("workload.training.model=llama3-70b", &s).ok());
  ASSERT_TRUE(ApplyOverride("parallelism.overlap_grad_reduce=true", &s).ok());
  ASSERT_TRUE(ApplyOverride("cluster.network.nic_gbps=800.25", &s).ok());
  ASSERT_TRUE(ApplyOverride("simulation.full=yes", &s).ok());
  ASSERT_TRUE(ApplyOverride("name=\"with spaces\"", &s).ok());
  EXPECT_EQ(s.parallelism().tp(), 8u);
  EXPECT_EQ(s.workload().training().model(), "llama3-70b");
  EXPECT_TRUE(s.parallelism().overlap_grad_reduce());
  EXPECT_EQ(s.cluster().network().nic_gbps(), 800.25);
  EXPECT_TRUE(s.simulation().full());
  EXPECT_EQ(s.name(), "with spaces");
  EXPECT_EQ(s.cluster().gpus(), 64u);  // untouched

  // Creates messages along the path.
  Scenario empty;
  ASSERT_TRUE(ApplyOverride("workload.training.shape.layers=80", &empty).ok());
  EXPECT_EQ(empty.workload().training().shape().layers(), 80u);
  // A flow map merges into a message; an empty value clears the field.
  ASSERT_TRUE(ApplyOverride("cluster={gpus: 16, gpu: a100}", &s).ok());
  EXPECT_EQ(s.cluster().gpus(), 16u);
  EXPECT_EQ(s.cluster().gpus_per_node(), 8u);
  ASSERT_TRUE(ApplyOverride("parallelism.overlap_grad_reduce=", &s).ok());
  EXPECT_FALSE(s.parallelism().has_overlap_grad_reduce());
  // A string starting with '*' (a hybrid layer pattern) is the string, not a YAML alias; a
  // number field still rejects it.
  ASSERT_TRUE(ApplyOverride("workload.training.shape.layer_pattern=*EM-", &s).ok());
  EXPECT_EQ(s.workload().training().shape().layer_pattern(), "*EM-");
  EXPECT_FALSE(ApplyOverride("parallelism.tp=*x", &s).ok());
  EXPECT_EQ(s.parallelism().tp(), 8u);
}

TEST(ApplyOverrideTest, ErrorsNameTheKeyAndLeaveMessageUnchanged) {
  const Scenario original = ParseOrDie(kFullScenario);
  Scenario s = original;
  EXPECT_EQ(ApplyOverride("parallelism.tpp=4", &s).message(),
            "--set parallelism.tpp=4: unknown field 'tpp'; valid fields of parallelism: tp, pp, "
            "vpp, cp, ep, dp, zero, sequence_parallel, recompute, pipeline_schedule, "
            "grad_bucket_mparams, overlap_grad_reduce, overlap_param_gather, tp_comm_overlap, "
            "account_for_embedding_in_pipeline_split, account_for_loss_in_pipeline_split, "
            "ep_comm_overlap, expert_tp, recompute_modules, grad_reduce_in_fp32, "
            "fp8_param_gather, cpu_offload_layers, pipeline_layout, moe_dispatcher, "
            "moe_grouped_gemm, flex_dispatcher_sms, moe_fused_mlp, cuda_graph_scope");
  EXPECT_EQ(ApplyOverride("clusterr.gpus=4", &s).message(),
            "--set clusterr.gpus=4: unknown field 'clusterr'; valid fields of Scenario: name, "
            "seed, cluster, workload, parallelism, output, simulation");
  EXPECT_EQ(ApplyOverride("parallelism.tp", &s).message(),
            "--set parallelism.tp: expected dotted.path=value (missing '=')");
  EXPECT_EQ(ApplyOverride("parallelism.tp=abc", &s).message(),
            "--set parallelism.tp=abc: parallelism.tp: expected an unsigned integer, got 'abc'");
  EXPECT_EQ(ApplyOverride("parallelism.tp=-2", &s).message(),
            "--set parallelism.tp=-2: parallelism.tp: expected an unsigned integer, got negative "
            "value '-2'");
  EXPECT_EQ(ApplyOverride("cluster=4", &s).message(),
            "--set cluster=4: cluster is a message; set one of its fields instead "
            "(cluster.<field>=...); valid fields of cluster: gpu, gpus, gpus_per_node, network");
  EXPECT_EQ(ApplyOverride("parallelism.tp.x=1", &s).message(),
            "--set parallelism.tp.x=1: parallelism.tp is not a message; it has no field 'x'");
  EXPECT_TRUE(Contains(ApplyOverride("name=[a", &s).message(), "--set name=[a: malformed value: "));
  EXPECT_EQ(ApplyOverride("=3", &s).message(), "--set =3: missing field path before '='");
  EXPECT_EQ(ApplyOverride("a..b=1", &s).message(), "--set a..b=1: empty field name in 'a..b'");
  EXPECT_EQ(ApplyOverride("cluster={gpus: 2, gpuz: 1}", &s).message(),
            "--set cluster={gpus: 2, gpuz: 1}: cluster.gpuz: unknown field; valid fields of "
            "cluster: gpu, gpus, gpus_per_node, network");
  EXPECT_TRUE(MessageDifferencer::Equals(s, original));
}

// google.protobuf.Value / Struct exercise what Scenario has not: recursion, maps,
// oneofs, enums and repeated messages.
TEST(YamlToProtoGenericTest, StructRoundTripWithMapsOneofsAndEnums) {
  google::protobuf::Struct parsed;
  const std::string input =
      "fields:\n"
      "  - {key: b, value: {number_value: 1.5}}\n"
      "  - {key: a, value: {list_value: {values: [{string_value: x}, {bool_value: true}]}}}\n"
      "  - {key: c, value: {null_value: NULL_VALUE}}\n";
  ASSERT_TRUE(YamlToProto(input, "s.yaml", &parsed).ok());
  const std::string yaml = ProtoToYaml(parsed);
  // Map entries sorted by key; only the oneof member that is set is printed.
  EXPECT_EQ(yaml,
            "fields:\n"
            "  - key: a\n"
            "    value:\n"
            "      list_value:\n"
            "        values:\n"
            "          - string_value: x\n"
            "          - bool_value: true\n"
            "  - key: b\n"
            "    value:\n"
            "      number_value: 1.5\n"
            "  - key: c\n"
            "    value:\n"
            "      null_value: NULL_VALUE\n");
  google::protobuf::Struct reparsed;
  ASSERT_TRUE(YamlToProto(yaml, "s.yaml", &reparsed).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, reparsed));

  google::protobuf::Value value;
  EXPECT_EQ(YamlToProto("null_value: NOPE\n", "v.yaml", &value).message(),
            "v.yaml:1:13: null_value: unknown value 'NOPE'; valid values of NullValue: NULL_VALUE");
  EXPECT_EQ(YamlToProto("number_value: 1\nstring_value: x\n", "v.yaml", &value).message(),
            "v.yaml:2:1: string_value: only one field of oneof 'kind' may be set; 'number_value' "
            "was given at line 1");
  EXPECT_EQ(ProtoToYaml(google::protobuf::Value()), "{}\n");
}

TEST(YamlToProtoGenericTest, NestingDepthIsBounded) {
  // Each level is a Value holding a ListValue holding a Value: two messages deep.
  std::string deep = "{string_value: leaf}";
  for (int i = 0; i < 40; ++i) deep = "{list_value: {values: [" + deep + "]}}";
  google::protobuf::Value value;
  EXPECT_TRUE(Contains(YamlToProto(deep, "v.yaml", &value).message(),
                       "messages nested deeper than 64 levels"));
  // An alias that refers to its own anchor would nest forever.
  EXPECT_TRUE(Contains(YamlToProto("&a {list_value: {values: [*a]}}", "v.yaml", &value).message(),
                       "messages nested deeper than 64 levels"));

  std::string shallow = "{string_value: leaf}";
  for (int i = 0; i < 20; ++i) shallow = "{list_value: {values: [" + shallow + "]}}";
  ASSERT_TRUE(YamlToProto(shallow, "v.yaml", &value).ok());
  google::protobuf::Value reparsed;
  ASSERT_TRUE(YamlToProto(ProtoToYaml(value), "v.yaml", &reparsed).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(value, reparsed));
}

}  // namespace
}  // namespace echosim
