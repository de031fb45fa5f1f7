#include "tracer/chakra/chakra_io.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chakra_et.pb.h"

namespace echosim {
namespace {

// A trace with every node kind, both dependency lists, communicators and our attributes.
RankTrace SampleTrace() {
  RankTrace t;
  t.rank = 3;
  t.world_size = 8;
  t.communicators = {{"comm0", {0, 1, 2, 3, 4, 5, 6, 7}}, {"comm1", {2, 3}}, {"unknown", {}}};
  TraceNode a;
  a.id = 10;
  a.name = "launch gap";
  a.on_cpu = true;
  a.stream = "host 4242";
  a.duration = 1234567;  // ps: not a whole microsecond, kept exactly by duration_ps
  a.launch_order = 0;
  TraceNode k;
  k.id = 11;
  k.name = "void gemm<128, 64>(float*, float const*)";
  k.stream = "stream 7";
  k.duration = 42 * kMicrosecond;
  k.launch_order = 1;
  k.data_deps = {10};
  TraceNode m;
  m.id = 12;
  m.name = "Memcpy DtoD";
  m.kind = TraceNodeKind::kMemory;
  m.stream = "stream 7";
  m.duration = 3 * kMicrosecond;
  m.launch_order = 2;
  m.data_deps = {11};
  m.ctrl_deps = {10};
  TraceNode c;
  c.id = 13;
  c.name = "nccl:all_gather";
  c.kind = TraceNodeKind::kCollective;
  c.comm_type = static_cast<int32_t>(ChakraCommType::kAllGather);
  c.comm_bytes = 1 << 20;
  c.communicator = 1;
  c.stream = "stream 7";
  c.launch_order = 3;
  c.data_deps = {12};
  TraceNode s;
  s.id = 14;
  s.name = "nccl:send";
  s.kind = TraceNodeKind::kSend;
  s.comm_bytes = 4096;
  s.peer = 7;
  s.tag = 5;
  s.communicator = 0;
  s.data_deps = {13};
  TraceNode r;
  r.id = 15;
  r.name = "nccl:recv";
  r.kind = TraceNodeKind::kRecv;
  r.comm_bytes = 4096;
  r.peer = 2;
  r.data_deps = {13};
  TraceNode w;
  w.id = 16;
  w.name = "world all-reduce";
  w.kind = TraceNodeKind::kCollective;
  w.comm_type = static_cast<int32_t>(ChakraCommType::kAllReduce);
  w.comm_bytes = 8;
  w.data_deps = {14, 15};
  t.nodes = {a, k, m, c, s, r, w};
  return t;
}

std::string Delimited(const google::protobuf::Message& m) {
  std::string body = m.SerializeAsString();
  std::string out;
  uint64_t len = body.size();
  do {
    uint8_t b = len & 0x7f;
    len >>= 7;
    if (len) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (len);
  return out + body;
}

std::string Metadata() {
  chakra::GlobalMetadata m;
  m.set_version("0.0.4");
  return Delimited(m);
}

TEST(ChakraIoTest, RoundTripKeepsEveryField) {
  const RankTrace t = SampleTrace();
  std::ostringstream os;
  ASSERT_TRUE(WriteChakraTrace(t, os).ok());
  auto back = ParseChakraBytes(os.str(), "mem.3.et", -1);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  RankTrace expected = t;
  expected.source = "mem.3.et";
  expected.schema = "0.0.4";
  expected.blocking_sends = true;  // written by echosim: NCCL send semantics
  EXPECT_EQ(*back, expected);
}

TEST(ChakraIoTest, GzipFileRoundTrip) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "echosim_chakra_io_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "t.3.et.gz").string();
  const RankTrace t = SampleTrace();
  ASSERT_TRUE(WriteChakraFile(t, path).ok());
  // It is really compressed.
  std::ifstream in(path, std::ios::binary);
  char magic[2] = {0, 0};
  in.read(magic, 2);
  EXPECT_EQ(static_cast<unsigned char>(magic[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(magic[1]), 0x8b);
  auto back = ReadChakraFile(path, RankFromChakraFileName(path));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->nodes, t.nodes);
  EXPECT_EQ(back->communicators, t.communicators);
  EXPECT_EQ(back->rank, 3);
  std::filesystem::remove_all(dir);
}

TEST(ChakraIoTest, RankFromFileName) {
  EXPECT_EQ(RankFromChakraFileName("/a/b/trace.12.et"), 12);
  EXPECT_EQ(RankFromChakraFileName("x.y.0.et.gz"), 0);
  EXPECT_EQ(RankFromChakraFileName("trace.et"), -1);
  EXPECT_EQ(RankFromChakraFileName("trace.1a.et"), -1);
  EXPECT_EQ(RankFromChakraFileName("trace.3.json"), -1);
}

void ExpectError(const std::string& bytes, const std::string& want) {
  auto r = ParseChakraBytes(bytes, "bad.0.et", 0);
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << want;
  EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message();
}

TEST(ChakraIoTest, TruncatedVarintNamesOffset) {
  const std::string meta = Metadata();
  // A length prefix whose continuation bit promises more bytes than there are.
  ExpectError(meta + std::string("\x85", 1),
              "offset " + std::to_string(meta.size()) + " (message #1): truncated length prefix");
}

TEST(ChakraIoTest, TruncatedMessageNamesOffset) {
  const std::string meta = Metadata();
  ExpectError(meta + std::string("\x0a\x08\x01", 3),
              "offset " + std::to_string(meta.size()) +
                  " (message #1): message truncated: length prefix says 10 bytes, stream has 2");
}

TEST(ChakraIoTest, OverlongVarintIsAnError) {
  ExpectError(Metadata() + std::string(11, '\xff'), "length prefix overflows 64 bits");
}

TEST(ChakraIoTest, EmptyFileIsAnError) { ExpectError("", "empty file"); }

TEST(ChakraIoTest, WrongWireTypeNamesField) {
  // Node { id: 7, type: <length-delimited "x"> }: field 3 must be a varint.
  const std::string body = std::string("\x08\x07", 2) + std::string("\x1a\x01x", 3);
  const std::string bytes = Metadata() + static_cast<char>(body.size()) + body;
  ExpectError(bytes, "field 'Node.type' (number 3) has wire type length-delimited, expected varint");
}

TEST(ChakraIoTest, WrongAttributeTypeNamesNode) {
  chakra::Node n;
  n.set_id(42);
  n.set_name("bad");
  n.set_type(chakra::COMM_COLL_NODE);
  auto* a = n.add_attr();
  a->set_name("comm_size");
  a->set_string_val("big");
  ExpectError(Metadata() + Delimited(n),
              "node id 42 'bad': attribute 'comm_size' must be an integer, found string_val");
}

TEST(ChakraIoTest, UnknownNodeTypeListsValidOnes) {
  chakra::Node n;
  n.set_id(5);
  n.set_type(static_cast<chakra::NodeType>(42));
  ExpectError(Metadata() + Delimited(n), "node type 42 is not valid; valid: 1 METADATA_NODE");
}

TEST(ChakraIoTest, SendWithoutDestination) {
  chakra::Node n;
  n.set_id(9);
  n.set_name("s");
  n.set_type(chakra::COMM_SEND_NODE);
  ExpectError(Metadata() + Delimited(n), "node id 9 's': COMM_SEND_NODE has no comm_dst attribute");
}

TEST(ChakraIoTest, CollectiveWithoutTypeOnGpu) {
  chakra::Node n;
  n.set_id(4);
  n.set_name("c");
  n.set_type(chakra::COMM_COLL_NODE);
  ExpectError(Metadata() + Delimited(n), "COMM_COLL_NODE has no comm_type attribute");
  // On the host it is the wrapper op PyTorch converters emit: a host compute node.
  auto* a = n.add_attr();
  a->set_name("is_cpu_op");
  a->set_bool_val(true);
  auto t = ParseChakraBytes(Metadata() + Delimited(n), "ok.0.et", 0);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->nodes[0].kind, TraceNodeKind::kCompute);
  EXPECT_TRUE(t->nodes[0].on_cpu);
}

TEST(ChakraIoTest, NotAProtobufMessage) {
  // Field 1 with wire type 7 does not exist in protobuf.
  ExpectError(Metadata() + std::string("\x02\x0f\x00", 3), "not a valid Node message");
}

std::string Gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(compressBound(data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(ChakraIoTest, GzipInMemoryAndTruncatedGzip) {
  std::ostringstream os;
  ASSERT_TRUE(WriteChakraTrace(SampleTrace(), os).ok());
  const std::string gz = Gzip(os.str());
  auto ok = ParseChakraBytes(gz, "mem.et.gz", 3);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->nodes.size(), 7u);
  ExpectError(gz.substr(0, gz.size() / 2), "gzip stream truncated");
  std::string corrupt = gz;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x55);
  corrupt[13] = static_cast<char>(corrupt[13] ^ 0x55);
  auto bad = ParseChakraBytes(corrupt, "bad.et.gz", 0);
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace echosim
