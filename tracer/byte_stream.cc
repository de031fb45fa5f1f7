#include "tracer/byte_stream.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "simulator/core/strings.h"

namespace echosim {

// The uncompressed bytes as stored: a FILE* or a memory view.
class ByteStream::Raw {
 public:
  explicit Raw(std::FILE* f) : file_(f) {}
  explicit Raw(std::string_view m) : mem_(m) {}
  ~Raw() {
    if (file_ != nullptr) std::fclose(file_);
  }
  // Returns bytes read, 0 at end, -1 on an I/O error.
  int64_t Read(char* out, size_t n) {
    if (file_ == nullptr) {
      const size_t k = std::min(n, mem_.size() - mem_pos_);
      std::memcpy(out, mem_.data() + mem_pos_, k);
      mem_pos_ += k;
      return static_cast<int64_t>(k);
    }
    const size_t k = std::fread(out, 1, n, file_);
    if (k == 0 && std::ferror(file_)) return -1;
    return static_cast<int64_t>(k);
  }

 private:
  std::FILE* file_ = nullptr;
  std::string_view mem_;
  size_t mem_pos_ = 0;
};

struct ByteStream::Zlib {
  z_stream s{};
  bool initialised = false;
  ~Zlib() {
    if (initialised) inflateEnd(&s);
  }
};

namespace {
constexpr size_t kInputChunkBytes = 1 << 16;
}  // namespace

ByteStream::ByteStream(std::unique_ptr<Raw> raw, std::string source)
    : raw_(std::move(raw)), source_(std::move(source)) {}
ByteStream::~ByteStream() = default;

StatusOr<std::unique_ptr<ByteStream>> ByteStream::OpenFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return NotFound(StrCat("cannot open '", path, "': ", std::strerror(errno)));
  }
  std::unique_ptr<ByteStream> s(new ByteStream(std::make_unique<Raw>(f), path));
  ECHOSIM_RETURN_IF_ERROR(s->Start());
  return s;
}

std::unique_ptr<ByteStream> ByteStream::FromMemory(std::string_view bytes, std::string source) {
  std::unique_ptr<ByteStream> s(new ByteStream(std::make_unique<Raw>(bytes), std::move(source)));
  // Memory reads cannot fail, so neither can Start().
  ECHOSIM_CHECK(s->Start().ok());
  return s;
}

Status ByteStream::Start() {
  in_buf_.resize(kInputChunkBytes);
  // Read the first bytes to detect gzip; keep them for the first Read().
  size_t have = 0;
  while (have < 2) {
    const int64_t k = raw_->Read(in_buf_.data() + have, 2 - have);
    if (k < 0) return Internal(StrCat(source_, ": read error: ", std::strerror(errno)));
    if (k == 0) {
      raw_eof_ = true;
      break;
    }
    have += static_cast<size_t>(k);
  }
  in_pos_ = 0;
  in_len_ = have;
  gzip_ = have == 2 && static_cast<unsigned char>(in_buf_[0]) == 0x1f &&
          static_cast<unsigned char>(in_buf_[1]) == 0x8b;
  if (gzip_) {
    z_ = std::make_unique<Zlib>();
    // 16 + MAX_WBITS: gzip wrapper only.
    if (inflateInit2(&z_->s, 16 + MAX_WBITS) != Z_OK) {
      return Internal(StrCat(source_, ": cannot initialise zlib"));
    }
    z_->initialised = true;
  }
  started_ = true;
  return Status::Ok();
}

StatusOr<size_t> ByteStream::ReadRaw(char* out, size_t n) {
  size_t done = 0;
  if (in_pos_ < in_len_) {
    done = std::min(n, in_len_ - in_pos_);
    std::memcpy(out, in_buf_.data() + in_pos_, done);
    in_pos_ += done;
  }
  while (done < n && !raw_eof_) {
    const int64_t k = raw_->Read(out + done, n - done);
    if (k < 0) return Internal(StrCat(source_, ": read error: ", std::strerror(errno)));
    if (k == 0) raw_eof_ = true;
    done += static_cast<size_t>(k);
  }
  return done;
}

StatusOr<size_t> ByteStream::Inflate(char* out, size_t n) {
  z_stream& z = z_->s;
  z.next_out = reinterpret_cast<Bytef*>(out);
  z.avail_out = static_cast<uInt>(n);
  while (z.avail_out > 0) {
    if (in_pos_ == in_len_ && !raw_eof_) {
      const int64_t k = raw_->Read(in_buf_.data(), kInputChunkBytes);
      if (k < 0) return Internal(StrCat(source_, ": read error: ", std::strerror(errno)));
      if (k == 0) raw_eof_ = true;
      in_pos_ = 0;
      in_len_ = static_cast<size_t>(k);
    }
    const bool no_input = in_pos_ == in_len_;
    if (member_done_) {
      if (no_input && raw_eof_) break;  // clean end after the last member
      inflateReset(&z);               // another concatenated member follows
      member_done_ = false;
    }
    z.next_in = reinterpret_cast<Bytef*>(in_buf_.data() + in_pos_);
    z.avail_in = static_cast<uInt>(in_len_ - in_pos_);
    const uInt before = z.avail_in;
    const int ret = inflate(&z, Z_NO_FLUSH);
    const size_t used = before - z.avail_in;
    in_pos_ += used;
    raw_consumed_ += used;
    if (ret == Z_STREAM_END) {
      member_done_ = true;
      continue;
    }
    if (ret == Z_BUF_ERROR || (ret == Z_OK && used == 0 && no_input)) {
      if (raw_eof_ && in_pos_ == in_len_) {
        return InvalidArgument(StrCat(source_, ": gzip stream truncated after ", raw_consumed_,
                                      " compressed bytes"));
      }
      continue;
    }
    if (ret != Z_OK) {
      return InvalidArgument(StrCat(source_, ": corrupt gzip data near compressed offset ",
                                    raw_consumed_, ": ", z.msg != nullptr ? z.msg : "zlib error"));
    }
  }
  return n - z.avail_out;
}

StatusOr<size_t> ByteStream::Read(char* out, size_t n) {
  ECHOSIM_CHECK(started_);
  if (n == 0) return size_t{0};
  return gzip_ ? Inflate(out, n) : ReadRaw(out, n);
}

StatusOr<std::string> ByteStream::ReadAll(size_t max_bytes) {
  std::string all;
  std::string chunk(kInputChunkBytes, '\0');
  while (true) {
    ECHOSIM_ASSIGN_OR_RETURN(const size_t k, Read(chunk.data(), chunk.size()));
    if (k == 0) break;
    if (all.size() + k > max_bytes) {
      return InvalidArgument(StrCat(source_, ": larger than the limit of ", max_bytes, " bytes"));
    }
    all.append(chunk.data(), k);
  }
  return all;
}

}  // namespace echosim
