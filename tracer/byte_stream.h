// ByteStream: sequential reading of a file or memory buffer that may be gzip-compressed.
//
// Compression is detected from the content (the gzip magic bytes 1f 8b), never from
// the file name, and inflated incrementally (zlib), so a large trace is read with a
// bounded buffer. Concatenated gzip members are read as one stream. A truncated or
// corrupt gzip stream is an error naming the source and the compressed offset.
#ifndef ECHOSIM_TRACER_BYTE_STREAM_H_
#define ECHOSIM_TRACER_BYTE_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "simulator/core/status.h"

namespace echosim {

class ByteStream {
 public:
  static StatusOr<std::unique_ptr<ByteStream>> OpenFile(const std::string& path);
  // `bytes` must outlive the stream.
  static std::unique_ptr<ByteStream> FromMemory(std::string_view bytes, std::string source);
  ~ByteStream();

  // Reads up to `n` bytes; returns 0 only at the end of the (uncompressed) stream.
  StatusOr<size_t> Read(char* out, size_t n);
  // Reads everything left; fails if it would exceed `max_bytes`.
  StatusOr<std::string> ReadAll(size_t max_bytes);
  bool compressed() const { return gzip_; }
  const std::string& source() const { return source_; }

 private:
  class Raw;
  ByteStream(std::unique_ptr<Raw> raw, std::string source);
  Status Start();
  StatusOr<size_t> ReadRaw(char* out, size_t n);
  StatusOr<size_t> Inflate(char* out, size_t n);

  std::unique_ptr<Raw> raw_;
  std::string source_;
  bool gzip_ = false;
  bool started_ = false;
  bool raw_eof_ = false;
  bool member_done_ = false;
  struct Zlib;
  std::unique_ptr<Zlib> z_;
  std::string in_buf_;
  size_t in_pos_ = 0, in_len_ = 0;
  uint64_t raw_consumed_ = 0;
};

}  // namespace echosim

#endif  // ECHOSIM_TRACER_BYTE_STREAM_H_
