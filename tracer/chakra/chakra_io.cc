#include "tracer/chakra/chakra_io.h"

#include <google/protobuf/unknown_field_set.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "chakra_et.pb.h"
#include "simulator/core/strings.h"
#include "tracer/byte_stream.h"

namespace echosim {
namespace {

constexpr uint64_t kMaxMessageBytes = 256ull << 20;
constexpr const char* kChakraVersion = "0.0.4";
constexpr const char* kProducer = "echosim";
constexpr const char* kCommAttrPrefix = "comm:";

const char* WireTypeName(google::protobuf::UnknownField::Type t) {
  switch (t) {
    case google::protobuf::UnknownField::TYPE_VARINT: return "varint";
    case google::protobuf::UnknownField::TYPE_FIXED32: return "fixed32";
    case google::protobuf::UnknownField::TYPE_FIXED64: return "fixed64";
    case google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED: return "length-delimited";
    case google::protobuf::UnknownField::TYPE_GROUP: return "group";
  }
  return "?";
}

const char* ExpectedWire(const google::protobuf::FieldDescriptor* fd) {
  using FD = google::protobuf::FieldDescriptor;
  if (fd->is_packable() && fd->is_repeated()) return "varint/fixed or packed (length-delimited)";
  switch (fd->type()) {
    case FD::TYPE_DOUBLE:
    case FD::TYPE_FIXED64:
    case FD::TYPE_SFIXED64: return "fixed64";
    case FD::TYPE_FLOAT:
    case FD::TYPE_FIXED32:
    case FD::TYPE_SFIXED32: return "fixed32";
    case FD::TYPE_STRING:
    case FD::TYPE_BYTES:
    case FD::TYPE_MESSAGE: return "length-delimited";
    case FD::TYPE_GROUP: return "group";
    default: return "varint";
  }
}

// Protobuf keeps a known field with an unexpected wire type as an unknown field; a
// trace with such a field is corrupt, so say which field it is.
// `reflection` may be given (cached) for the hot path: looking it up per message costs
// a descriptor check on every call.
template <typename Where>
Status CheckWireTypes(const google::protobuf::Message& m, const Where& where,
                      const google::protobuf::Reflection* reflection = nullptr) {
  const google::protobuf::UnknownFieldSet& unknown =
      (reflection != nullptr ? reflection : m.GetReflection())->GetUnknownFields(m);
  if (unknown.empty()) return Status::Ok();
  for (int i = 0; i < unknown.field_count(); ++i) {
    const google::protobuf::UnknownField& f = unknown.field(i);
    const google::protobuf::FieldDescriptor* fd = m.GetDescriptor()->FindFieldByNumber(f.number());
    if (fd != nullptr) {
      return InvalidArgument(StrCat(where(), ": field '", m.GetDescriptor()->name(), ".", fd->name(),
                                    "' (number ", f.number(), ") has wire type ",
                                    WireTypeName(f.type()), ", expected ", ExpectedWire(fd)));
    }
  }
  return Status::Ok();
}

template <typename Where>
Status CheckAttr(const chakra::AttributeProto& a, const Where& where) {
  static const google::protobuf::Reflection* const kReflection = chakra::AttributeProto::GetReflection();
  ECHOSIM_RETURN_IF_ERROR(CheckWireTypes(a, where, kReflection));
  using A = chakra::AttributeProto;
  const google::protobuf::Message* list = nullptr;
  switch (a.value_case()) {
    case A::kDoubleList: list = &a.double_list(); break;
    case A::kFloatList: list = &a.float_list(); break;
    case A::kInt32List: list = &a.int32_list(); break;
    case A::kInt64List: list = &a.int64_list(); break;
    case A::kUint32List: list = &a.uint32_list(); break;
    case A::kUint64List: list = &a.uint64_list(); break;
    case A::kSint32List: list = &a.sint32_list(); break;
    case A::kSint64List: list = &a.sint64_list(); break;
    case A::kFixed32List: list = &a.fixed32_list(); break;
    case A::kFixed64List: list = &a.fixed64_list(); break;
    case A::kSfixed32List: list = &a.sfixed32_list(); break;
    case A::kSfixed64List: list = &a.sfixed64_list(); break;
    case A::kBoolList: list = &a.bool_list(); break;
    case A::kStringList: list = &a.string_list(); break;
    case A::kBytesList: list = &a.bytes_list(); break;
    default: break;
  }
  if (list != nullptr) ECHOSIM_RETURN_IF_ERROR(CheckWireTypes(*list, where));
  return Status::Ok();
}

template <typename Where>
Status CheckNode(const chakra::Node& n, const Where& where) {
  static const google::protobuf::Reflection* const kReflection = chakra::Node::GetReflection();
  ECHOSIM_RETURN_IF_ERROR(CheckWireTypes(n, where, kReflection));
  if (n.has_inputs()) ECHOSIM_RETURN_IF_ERROR(CheckWireTypes(n.inputs(), where));
  if (n.has_outputs()) ECHOSIM_RETURN_IF_ERROR(CheckWireTypes(n.outputs(), where));
  for (const chakra::AttributeProto& a : n.attr()) ECHOSIM_RETURN_IF_ERROR(CheckAttr(a, where));
  return Status::Ok();
}

const char* AttrValueName(const chakra::AttributeProto& a) {
  const google::protobuf::OneofDescriptor* o = a.GetDescriptor()->FindOneofByName("value");
  const google::protobuf::FieldDescriptor* f = a.GetReflection()->GetOneofFieldDescriptor(a, o);
  return f == nullptr ? "no value" : f->name().c_str();
}

// Integer value of an attribute of any integer (or bool) type.
template <typename Where>
StatusOr<int64_t> AttrInt(const chakra::AttributeProto& a, const Where& where) {
  using A = chakra::AttributeProto;
  switch (a.value_case()) {
    case A::kInt32Val: return int64_t{a.int32_val()};
    case A::kInt64Val: return a.int64_val();
    case A::kUint32Val: return int64_t{a.uint32_val()};
    case A::kUint64Val: return static_cast<int64_t>(a.uint64_val());
    case A::kSint32Val: return int64_t{a.sint32_val()};
    case A::kSint64Val: return a.sint64_val();
    case A::kFixed32Val: return int64_t{a.fixed32_val()};
    case A::kFixed64Val: return static_cast<int64_t>(a.fixed64_val());
    case A::kSfixed32Val: return int64_t{a.sfixed32_val()};
    case A::kSfixed64Val: return a.sfixed64_val();
    case A::kBoolVal: return int64_t{a.bool_val() ? 1 : 0};
    default: break;
  }
  return InvalidArgument(StrCat(where(), ": attribute '", a.name(), "' must be an integer, found ",
                                AttrValueName(a)));
}

template <typename Where>
StatusOr<std::string> AttrString(const chakra::AttributeProto& a, const Where& where) {
  if (a.value_case() == chakra::AttributeProto::kStringVal) return a.string_val();
  if (a.value_case() == chakra::AttributeProto::kBytesVal) return a.bytes_val();
  return InvalidArgument(StrCat(where(), ": attribute '", a.name(), "' must be a string, found ",
                                AttrValueName(a)));
}

// Converts one Chakra node (see the header for the mapping).
Status ConvertNode(const chakra::Node& n, const ChakraReader& r, RankTrace* t) {
  // Built in place (on an error the whole trace is discarded).
  TraceNode& out = t->nodes.emplace_back();
  out.id = n.id();
  out.name = n.name();
  const auto where = [&]() { return StrCat(r.Where(), " node id ", n.id(), " '", n.name(), "'"); };
  bool has_comm_type = false, has_peer = false, memory_op = false;
  int64_t tid = -1;
  int64_t duration_ps = -1;
  for (const chakra::AttributeProto& a : n.attr()) {
    const std::string_view k = a.name();
    if (k == "is_cpu_op") {
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t v, AttrInt(a, where));
      out.on_cpu = v != 0;
    } else if (k == "comm_type") {
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t v, AttrInt(a, where));
      out.comm_type = static_cast<int32_t>(v);
      has_comm_type = true;
    } else if (k == "comm_size") {
      ECHOSIM_ASSIGN_OR_RETURN(out.comm_bytes, AttrInt(a, where));
      if (out.comm_bytes < 0) {
        return InvalidArgument(StrCat(where(), ": comm_size ", out.comm_bytes, " is negative"));
      }
    } else if (k == "comm_src" && n.type() == chakra::COMM_RECV_NODE) {
      ECHOSIM_ASSIGN_OR_RETURN(out.peer, AttrInt(a, where));
      has_peer = true;
    } else if (k == "comm_dst" && n.type() == chakra::COMM_SEND_NODE) {
      ECHOSIM_ASSIGN_OR_RETURN(out.peer, AttrInt(a, where));
      has_peer = true;
    } else if (k == "comm_tag") {
      ECHOSIM_ASSIGN_OR_RETURN(out.tag, AttrInt(a, where));
    } else if (k == "pg_name") {
      ECHOSIM_ASSIGN_OR_RETURN(const std::string pg, AttrString(a, where));
      out.communicator = t->InternCommunicator(pg);
    } else if (k == "tid") {
      ECHOSIM_ASSIGN_OR_RETURN(tid, AttrInt(a, where));
    } else if (k == "stream") {
      ECHOSIM_ASSIGN_OR_RETURN(out.stream, AttrString(a, where));
    } else if (k == "duration_ps") {
      ECHOSIM_ASSIGN_OR_RETURN(duration_ps, AttrInt(a, where));
      if (duration_ps < 0) {
        return InvalidArgument(StrCat(where(), ": duration_ps ", duration_ps, " is negative"));
      }
    } else if (k == "launch_order") {
      ECHOSIM_ASSIGN_OR_RETURN(out.launch_order, AttrInt(a, where));
    } else if (k == "op_class") {
      ECHOSIM_ASSIGN_OR_RETURN(out.op_class, AttrString(a, where));
    } else if (k == "memory_op") {
      ECHOSIM_ASSIGN_OR_RETURN(const int64_t v, AttrInt(a, where));
      memory_op = v != 0;
    }
  }
  if (duration_ps >= 0) {
    out.duration = duration_ps;
  } else {
    // duration_micros is unsigned; anything beyond ~106 days of picoseconds is corrupt.
    if (n.duration_micros() > static_cast<uint64_t>(kTimeInfinity / kMicrosecond)) {
      return InvalidArgument(StrCat(where(), ": duration_micros ", n.duration_micros(),
                                    " is out of range"));
    }
    out.duration = static_cast<Duration>(n.duration_micros()) * kMicrosecond;
  }
  switch (n.type()) {
    case chakra::COMP_NODE:
      out.kind = memory_op ? TraceNodeKind::kMemory : TraceNodeKind::kCompute;
      break;
    case chakra::MEM_LOAD_NODE:
    case chakra::MEM_STORE_NODE: out.kind = TraceNodeKind::kMemory; break;
    case chakra::METADATA_NODE:
    case chakra::STORAGE_NODE:
    case chakra::BATCH_NODE:
    case chakra::CHECKPOINT_NODE: out.kind = TraceNodeKind::kCompute; break;
    case chakra::COMM_SEND_NODE:
    case chakra::COMM_RECV_NODE: {
      const bool send = n.type() == chakra::COMM_SEND_NODE;
      out.kind = send ? TraceNodeKind::kSend : TraceNodeKind::kRecv;
      if (!has_peer) {
        return InvalidArgument(StrCat(where(), ": ", send ? "COMM_SEND_NODE" : "COMM_RECV_NODE",
                                      " has no ", send ? "comm_dst" : "comm_src", " attribute"));
      }
      if (out.peer < 0) {
        return InvalidArgument(StrCat(where(), ": peer rank ", out.peer, " is negative"));
      }
      out.comm_type = 0;  // ASTRA-sim examples put the node type here; it carries nothing
      break;
    }
    case chakra::COMM_COLL_NODE:
      if (!has_comm_type) {
        if (!out.on_cpu) {
          return InvalidArgument(StrCat(where(), ": COMM_COLL_NODE has no comm_type attribute"));
        }
        out.kind = TraceNodeKind::kCompute;  // host-side wrapper of a collective
        break;
      }
      ECHOSIM_RETURN_IF_ERROR(CollectiveForChakra(out.comm_type).status().WithContext(where()));
      out.kind = TraceNodeKind::kCollective;
      break;
    default:
      return InvalidArgument(StrCat(
          where(), ": node type ", static_cast<int>(n.type()),
          " is not valid; valid: 1 METADATA_NODE, 2 MEM_LOAD_NODE, 3 MEM_STORE_NODE, 4 COMP_NODE, "
          "5 COMM_SEND_NODE, 6 COMM_RECV_NODE, 7 COMM_COLL_NODE, 8 STORAGE_NODE, 9 BATCH_NODE, 10 "
          "CHECKPOINT_NODE"));
  }
  if (out.stream.empty() && tid >= 0) {
    out.stream = out.on_cpu ? StrCat("thread ", tid) : StrCat("stream ", tid);
  }
  out.ctrl_deps.assign(n.ctrl_deps().begin(), n.ctrl_deps().end());
  out.data_deps.assign(n.data_deps().begin(), n.data_deps().end());
  return Status::Ok();
}

Status ReadMetadata(const chakra::GlobalMetadata& m, const std::string& where_text, RankTrace* t) {
  const auto where = [&]() { return where_text; };
  t->schema = m.version();
  for (const chakra::AttributeProto& a : m.attr()) {
    ECHOSIM_RETURN_IF_ERROR(CheckAttr(a, where));
    const std::string& k = a.name();
    if (k == "schema" && a.value_case() == chakra::AttributeProto::kStringVal) {
      if (t->schema.empty()) t->schema = a.string_val();
    } else if (k == "producer") {
      ECHOSIM_ASSIGN_OR_RETURN(const std::string p, AttrString(a, where));
      if (p == kProducer) t->blocking_sends = true;
    } else if (k == "gpu") {
      ECHOSIM_ASSIGN_OR_RETURN(t->gpu, AttrString(a, where));
    } else if (k == "rank") {
      ECHOSIM_ASSIGN_OR_RETURN(t->rank, AttrInt(a, where));
    } else if (k == "world_size") {
      ECHOSIM_ASSIGN_OR_RETURN(t->world_size, AttrInt(a, where));
    } else if (k.rfind(kCommAttrPrefix, 0) == 0) {
      if (a.value_case() != chakra::AttributeProto::kInt64List) {
        return InvalidArgument(StrCat(where(), ": attribute '", k, "' must be an int64 list, found ",
                                      AttrValueName(a)));
      }
      Communicator c;
      c.name = k.substr(std::strlen(kCommAttrPrefix));
      c.ranks.assign(a.int64_list().values().begin(), a.int64_list().values().end());
      const int32_t idx = t->InternCommunicator(c.name);
      t->communicators[idx].ranks = std::move(c.ranks);
    }
  }
  if (t->rank < 0) return InvalidArgument(StrCat(where(), ": rank ", t->rank, " is negative"));
  return Status::Ok();
}

StatusOr<RankTrace> ReadAll(ChakraReader* r, int64_t rank) {
  RankTrace t;
  t.rank = rank < 0 ? 0 : rank;
  t.source = r->source();
  ECHOSIM_RETURN_IF_ERROR(ReadMetadata(r->metadata(), StrCat(r->source(), ": metadata"), &t));
  chakra::Node node;
  while (true) {
    ECHOSIM_ASSIGN_OR_RETURN(const bool more, r->Next(&node));
    if (!more) break;
    ECHOSIM_RETURN_IF_ERROR(ConvertNode(node, *r, &t));
  }
  return t;
}

void AddIntAttr(chakra::Node* n, const char* name, int64_t v) {
  chakra::AttributeProto* a = n->add_attr();
  a->set_name(name);
  a->set_int64_val(v);
}
void AddInt32Attr(chakra::Node* n, const char* name, int64_t v) {
  chakra::AttributeProto* a = n->add_attr();
  a->set_name(name);
  a->set_int32_val(static_cast<int32_t>(v));
}

void WriteDelimited(const google::protobuf::Message& m, std::string* scratch, std::ostream& out) {
  scratch->clear();
  m.SerializeToString(scratch);
  uint64_t len = scratch->size();
  char prefix[10];
  int k = 0;
  do {
    uint8_t byte = len & 0x7f;
    len >>= 7;
    if (len != 0) byte |= 0x80;
    prefix[k++] = static_cast<char>(byte);
  } while (len != 0);
  out.write(prefix, k);
  out.write(scratch->data(), static_cast<std::streamsize>(scratch->size()));
}

}  // namespace

// The decompressed byte stream under the reader.
// Buffered in blocks of 256 KiB: messages are small (tens of bytes), so reading each
// length prefix and body straight from the stream would cost calls per byte.
class ChakraReader::Input {
 public:
  explicit Input(std::unique_ptr<ByteStream> s) : s_(std::move(s)) {}
  // Reads exactly n bytes unless the stream ends; returns the count read.
  StatusOr<size_t> ReadFull(char* out, size_t n) {
    size_t done = 0;
    while (done < n) {
      if (pos_ == end_) {
        if (n - done >= kBlock) {  // large reads bypass the buffer
          ECHOSIM_ASSIGN_OR_RETURN(const size_t k, s_->Read(out + done, n - done));
          if (k == 0) break;
          done += k;
          continue;
        }
        ECHOSIM_ASSIGN_OR_RETURN(const size_t k, s_->Read(buf_, kBlock));
        if (k == 0) break;
        pos_ = 0;
        end_ = k;
      }
      const size_t k = std::min(n - done, end_ - pos_);
      std::memcpy(out + done, buf_ + pos_, k);
      pos_ += k;
      done += k;
    }
    return done;
  }
  // One byte; false at the end of the stream.
  StatusOr<bool> ReadByte(char* c) {
    if (pos_ < end_) {
      *c = buf_[pos_++];
      return true;
    }
    ECHOSIM_ASSIGN_OR_RETURN(const size_t k, ReadFull(c, 1));
    return k == 1;
  }

 private:
  static constexpr size_t kBlock = size_t{1} << 18;
  std::unique_ptr<ByteStream> s_;
  char buf_[kBlock];
  size_t pos_ = 0, end_ = 0;
};

ChakraReader::ChakraReader(std::unique_ptr<Input> in, std::string source)
    : in_(std::move(in)), source_(std::move(source)),
      metadata_(std::make_unique<chakra::GlobalMetadata>()) {}
ChakraReader::~ChakraReader() = default;

const chakra::GlobalMetadata& ChakraReader::metadata() const { return *metadata_; }

std::string ChakraReader::Where() const {
  return StrCat(source_, ": offset ", message_offset_, " (message #", message_index_, ")");
}

StatusOr<std::unique_ptr<ChakraReader>> ChakraReader::Open(const std::string& path) {
  ECHOSIM_ASSIGN_OR_RETURN(std::unique_ptr<ByteStream> s, ByteStream::OpenFile(path));
  std::unique_ptr<ChakraReader> r(new ChakraReader(std::make_unique<Input>(std::move(s)), path));
  ECHOSIM_RETURN_IF_ERROR(r->Init());
  return r;
}

StatusOr<std::unique_ptr<ChakraReader>> ChakraReader::FromBytes(std::string_view bytes,
                                                                const std::string& source) {
  std::unique_ptr<ChakraReader> r(new ChakraReader(
      std::make_unique<Input>(ByteStream::FromMemory(bytes, source)), source));
  ECHOSIM_RETURN_IF_ERROR(r->Init());
  return r;
}

StatusOr<bool> ChakraReader::ReadMessage() {
  // Base-128 varint length prefix, at most 10 bytes.
  message_offset_ = offset_;
  uint64_t len = 0;
  int shift = 0;
  for (int i = 0;; ++i) {
    char c;
    ECHOSIM_ASSIGN_OR_RETURN(const bool got_byte, in_->ReadByte(&c));
    if (!got_byte) {
      if (i == 0) return false;  // clean end between messages
      return InvalidArgument(StrCat(source_, ": offset ", message_offset_, " (message #",
                                    message_index_, "): truncated length prefix (stream ends after ",
                                    i, " byte", i == 1 ? "" : "s", " of a varint)"));
    }
    ++offset_;
    const uint8_t b = static_cast<uint8_t>(c);
    if (i == 9 && b > 1) {
      return InvalidArgument(StrCat(source_, ": offset ", message_offset_, " (message #",
                                    message_index_, "): length prefix overflows 64 bits"));
    }
    len |= static_cast<uint64_t>(b & 0x7f) << shift;
    shift += 7;
    if ((b & 0x80) == 0) break;
  }
  if (len > kMaxMessageBytes) {
    return InvalidArgument(StrCat(source_, ": offset ", message_offset_, " (message #",
                                  message_index_, "): message length ", len,
                                  " bytes exceeds the limit of ", kMaxMessageBytes));
  }
  // Grow the buffer as bytes arrive, so a corrupt length cannot make us allocate more
  // than the stream holds.
  constexpr size_t kChunk = size_t{1} << 20;
  buffer_.clear();
  size_t got = 0;
  while (got < len) {
    const size_t want = std::min<size_t>(kChunk, len - got);
    buffer_.resize(got + want);
    ECHOSIM_ASSIGN_OR_RETURN(const size_t k, in_->ReadFull(buffer_.data() + got, want));
    got += k;
    if (k < want) break;
  }
  buffer_.resize(got);
  offset_ += got;
  if (got != len) {
    return InvalidArgument(StrCat(source_, ": offset ", message_offset_, " (message #",
                                  message_index_, "): message truncated: length prefix says ", len,
                                  " bytes, stream has ", got));
  }
  return true;
}

Status ChakraReader::Init() {
  ECHOSIM_ASSIGN_OR_RETURN(const bool any, ReadMessage());
  if (!any) return InvalidArgument(StrCat(source_, ": empty file (no GlobalMetadata message)"));
  if (!metadata_->ParseFromArray(buffer_.data(), static_cast<int>(buffer_.size()))) {
    return InvalidArgument(StrCat(Where(), ": not a valid GlobalMetadata message"));
  }
  ECHOSIM_RETURN_IF_ERROR(CheckWireTypes(*metadata_, [&]() { return Where(); }));
  started_ = true;
  return Status::Ok();
}

StatusOr<bool> ChakraReader::Next(chakra::Node* node) {
  ECHOSIM_CHECK(started_);
  ++message_index_;
  ECHOSIM_ASSIGN_OR_RETURN(const bool any, ReadMessage());
  if (!any) return false;
  node->Clear();
  if (!node->ParseFromArray(buffer_.data(), static_cast<int>(buffer_.size()))) {
    return InvalidArgument(StrCat(Where(), ": not a valid Node message (", buffer_.size(),
                                  " bytes)"));
  }
  ECHOSIM_RETURN_IF_ERROR(CheckNode(*node, [&]() { return StrCat(Where(), " node id ", node->id()); }));
  return true;
}

StatusOr<RankTrace> ReadChakraFile(const std::string& path, int64_t rank) {
  ECHOSIM_ASSIGN_OR_RETURN(std::unique_ptr<ChakraReader> r, ChakraReader::Open(path));
  return ReadAll(r.get(), rank);
}

StatusOr<RankTrace> ReadChakraHeader(const std::string& path, int64_t rank) {
  ECHOSIM_ASSIGN_OR_RETURN(std::unique_ptr<ChakraReader> r, ChakraReader::Open(path));
  RankTrace t;
  t.rank = rank < 0 ? 0 : rank;
  t.source = r->source();
  ECHOSIM_RETURN_IF_ERROR(ReadMetadata(r->metadata(), StrCat(r->source(), ": metadata"), &t));
  return t;
}

StatusOr<RankTrace> ParseChakraBytes(std::string_view bytes, const std::string& source,
                                     int64_t rank) {
  ECHOSIM_ASSIGN_OR_RETURN(std::unique_ptr<ChakraReader> r, ChakraReader::FromBytes(bytes, source));
  return ReadAll(r.get(), rank);
}

Status WriteChakraTrace(const RankTrace& t, std::ostream& out) {
  std::string scratch;
  chakra::GlobalMetadata meta;
  meta.set_version(kChakraVersion);
  auto add_meta = [&](const char* name) {
    chakra::AttributeProto* a = meta.add_attr();
    a->set_name(name);
    return a;
  };
  add_meta("producer")->set_string_val(kProducer);
  add_meta("rank")->set_int64_val(t.rank);
  add_meta("world_size")->set_int64_val(t.world_size);
  if (!t.gpu.empty()) add_meta("gpu")->set_string_val(t.gpu);
  for (const Communicator& c : t.communicators) {
    chakra::AttributeProto* a = meta.add_attr();
    a->set_name(kCommAttrPrefix + c.name);
    for (int64_t r : c.ranks) a->mutable_int64_list()->add_values(r);
    // An empty list still marks the value as a list.
    if (c.ranks.empty()) a->mutable_int64_list();
  }
  WriteDelimited(meta, &scratch, out);

  chakra::Node n;
  for (const TraceNode& tn : t.nodes) {
    n.Clear();
    n.set_id(tn.id);
    n.set_name(tn.name);
    switch (tn.kind) {
      case TraceNodeKind::kCompute:
      case TraceNodeKind::kMemory: n.set_type(chakra::COMP_NODE); break;
      case TraceNodeKind::kCollective: n.set_type(chakra::COMM_COLL_NODE); break;
      case TraceNodeKind::kSend: n.set_type(chakra::COMM_SEND_NODE); break;
      case TraceNodeKind::kRecv: n.set_type(chakra::COMM_RECV_NODE); break;
    }
    for (uint64_t d : tn.ctrl_deps) n.add_ctrl_deps(d);
    for (uint64_t d : tn.data_deps) n.add_data_deps(d);
    if (tn.duration < 0) {
      return InvalidArgument(StrCat("node id ", tn.id, " '", tn.name, "': negative duration"));
    }
    n.set_duration_micros(static_cast<uint64_t>(std::llround(
        static_cast<double>(tn.duration) / static_cast<double>(kMicrosecond))));
    chakra::AttributeProto* cpu = n.add_attr();
    cpu->set_name("is_cpu_op");
    cpu->set_bool_val(tn.on_cpu);
    if (tn.kind == TraceNodeKind::kMemory) {
      chakra::AttributeProto* a = n.add_attr();
      a->set_name("memory_op");
      a->set_bool_val(true);
    }
    if (tn.kind == TraceNodeKind::kCollective) AddIntAttr(&n, "comm_type", tn.comm_type);
    if (tn.is_comm()) {
      AddIntAttr(&n, "comm_size", tn.comm_bytes);
      if (tn.kind == TraceNodeKind::kSend) AddInt32Attr(&n, "comm_dst", tn.peer);
      if (tn.kind == TraceNodeKind::kRecv) AddInt32Attr(&n, "comm_src", tn.peer);
      if (tn.kind != TraceNodeKind::kCollective) AddInt32Attr(&n, "comm_tag", tn.tag);
      if (tn.communicator >= 0) {
        if (static_cast<size_t>(tn.communicator) >= t.communicators.size()) {
          return InvalidArgument(StrCat("node id ", tn.id, " '", tn.name, "': communicator ",
                                        tn.communicator, " does not exist (trace has ",
                                        t.communicators.size(), ")"));
        }
        chakra::AttributeProto* a = n.add_attr();
        a->set_name("pg_name");
        a->set_string_val(t.communicators[tn.communicator].name);
      }
    }
    if (!tn.stream.empty()) {
      chakra::AttributeProto* a = n.add_attr();
      a->set_name("stream");
      a->set_string_val(tn.stream);
    }
    AddIntAttr(&n, "duration_ps", tn.duration);
    if (tn.launch_order >= 0) AddIntAttr(&n, "launch_order", tn.launch_order);
    if (!tn.op_class.empty()) {
      chakra::AttributeProto* a = n.add_attr();
      a->set_name("op_class");
      a->set_string_val(tn.op_class);
    }
    WriteDelimited(n, &scratch, out);
  }
  if (!out) return Internal("failed writing the Chakra trace");
  return Status::Ok();
}

Status WriteChakraFile(const RankTrace& trace, const std::string& path) {
  std::ostringstream os(std::ios::binary);
  ECHOSIM_RETURN_IF_ERROR(WriteChakraTrace(trace, os));
  const std::string data = os.str();
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (f == nullptr) return InvalidArgument(StrCat("cannot write '", path, "'"));
    const int wrote = data.empty() ? 0 : gzwrite(f, data.data(), static_cast<unsigned>(data.size()));
    const int closed = gzclose(f);
    if (wrote != static_cast<int>(data.size()) || closed != Z_OK) {
      return Internal(StrCat("failed writing '", path, "'"));
    }
    return Status::Ok();
  }
  std::ofstream out(path, std::ios::binary);
  if (!out) return InvalidArgument(StrCat("cannot write '", path, "'"));
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) return Internal(StrCat("failed writing '", path, "'"));
  return Status::Ok();
}

int64_t RankFromChakraFileName(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) {
    name.resize(name.size() - 3);
  }
  if (name.size() < 4 || name.compare(name.size() - 3, 3, ".et") != 0) return -1;
  name.resize(name.size() - 3);
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos || dot + 1 == name.size()) return -1;
  int64_t r = 0;
  for (size_t i = dot + 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || r > (int64_t{1} << 40)) return -1;
    r = r * 10 + (name[i] - '0');
  }
  return r;
}

}  // namespace echosim
