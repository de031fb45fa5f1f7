// Chakra ET reading and writing (schema 0.0.4, length-delimited protobuf).
//
// A .et file is one GlobalMetadata message then Node messages, each prefixed by its
// length as a base-128 varint. Files may be gzip-compressed (detected from the
// content, not the name). Reading streams: one message is in memory at a time
// besides the RankTrace being built, and no message may exceed 256 MiB.
//
// Errors name the file, the byte offset of the message (in the uncompressed stream),
// its ordinal and, once parsed, the node id and name: a truncated length prefix or
// message, bytes that are not a Node, a known field sent with the wrong wire type
// (protobuf would silently keep it as an unknown field), an attribute of the wrong
// type, an unknown node type, a send without a destination.
//
// Mapping to RankTrace (rank_trace.h): COMP_NODE -> kCompute (on_cpu from is_cpu_op),
// MEM_LOAD/MEM_STORE_NODE and COMP_NODE with memory_op -> kMemory, COMM_SEND/RECV ->
// kSend/kRecv (peer from comm_dst/comm_src), COMM_COLL_NODE -> kCollective, except a
// host-side COMM_COLL_NODE without comm_type (the c10d:: wrapper op PyTorch
// converters emit beside the NCCL kernel), which is a host compute op. METADATA,
// STORAGE, BATCH and CHECKPOINT nodes are compute nodes with their duration.
// The stream is the `stream` attribute, else `tid` ("thread N" for host ops, "stream
// N" for GPU ops), else left empty.
#ifndef ECHOSIM_TRACER_CHAKRA_CHAKRA_IO_H_
#define ECHOSIM_TRACER_CHAKRA_CHAKRA_IO_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "simulator/core/status.h"
#include "tracer/rank_trace.h"

namespace echosim {

namespace chakra {
class GlobalMetadata;
class Node;
}  // namespace chakra

// Streaming reader of length-delimited Chakra messages.
class ChakraReader {
 public:
  // Opens a file (plain or gzip). The metadata message is read at once.
  static StatusOr<std::unique_ptr<ChakraReader>> Open(const std::string& path);
  // Reads from memory (plain or gzip); `source` names it in messages.
  static StatusOr<std::unique_ptr<ChakraReader>> FromBytes(std::string_view bytes,
                                                           const std::string& source);
  ~ChakraReader();

  const chakra::GlobalMetadata& metadata() const;
  // Reads the next node into *node. Returns false at a clean end of the stream.
  StatusOr<bool> Next(chakra::Node* node);
  // Byte offset of the last message read (its length prefix) and its ordinal (0 is
  // the metadata).
  uint64_t message_offset() const { return message_offset_; }
  uint64_t message_index() const { return message_index_; }
  const std::string& source() const { return source_; }
  // "file: offset N (message #k)" for error messages.
  std::string Where() const;

  class Input;

 private:
  ChakraReader(std::unique_ptr<Input> in, std::string source);
  // Reads one length-delimited message into buffer_. Returns false at a clean end.
  StatusOr<bool> ReadMessage();
  Status Init();

  std::unique_ptr<Input> in_;
  std::string source_;
  std::unique_ptr<chakra::GlobalMetadata> metadata_;
  std::string buffer_;
  uint64_t offset_ = 0;
  uint64_t message_offset_ = 0;
  uint64_t message_index_ = 0;
  bool started_ = false;
};

// Reads a whole .et file into a RankTrace. `rank` is the rank the file belongs to
// (from its name `prefix.<rank>.et`); a rank recorded in echosim's metadata wins.
StatusOr<RankTrace> ReadChakraFile(const std::string& path, int64_t rank);
// Only the metadata of a .et file (rank, world size, producer, GPU, communicators listed
// there): what a trace set needs before the file's nodes are read (trace_set.h).
StatusOr<RankTrace> ReadChakraHeader(const std::string& path, int64_t rank);
StatusOr<RankTrace> ParseChakraBytes(std::string_view bytes, const std::string& source,
                                     int64_t rank);

// Writes `trace` as Chakra ET: metadata (version 0.0.4, producer echosim, rank,
// world size, communicators as `comm:<name>` int64 lists) then one Node per node.
Status WriteChakraTrace(const RankTrace& trace, std::ostream& out);
// Writes to `path`, gzip-compressed when the name ends in ".gz".
Status WriteChakraFile(const RankTrace& trace, const std::string& path);

// The rank in a file name `anything.<rank>.et` or `anything.<rank>.et.gz`; -1 if none.
int64_t RankFromChakraFileName(const std::string& path);

}  // namespace echosim

#endif  // ECHOSIM_TRACER_CHAKRA_CHAKRA_IO_H_
