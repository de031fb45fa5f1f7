// libechosim_nccl.so: stands in for libnccl.so.2 so that one GPU runs as one rank of a
// large job (README.md in tracer/).
//
// Every NCCL call returns ncclSuccess at once; nothing is sent anywhere. Results stay
// valid as if every rank held the same data: an all-reduce leaves its (copied) input,
// an all-gather puts the local shard in every slot, a reduce-scatter keeps the local
// shard of its input, a broadcast/reduce root keeps its own data, an all-to-all keeps
// its input; copies are cuMemcpyAsync on the caller's stream (the CUDA driver is
// opened lazily, so the library also loads where there is none). Each call is
// recorded (communicator, op, dtype, count, peer or root, stream, NCCL group, host
// times, thread) and the records are written at exit to
// $ECHOSIM_TRACE_DIR/nccl.<rank>.tsv in the format of tracer/capture_format.h.
//
// Rank and world size: ECHOSIM_RANK / ECHOSIM_WORLD_SIZE, else RANK / WORLD_SIZE (as
// torch.distributed's launchers set them), else those of the first communicator made.
// When the CUPTI injection library is loaded too, each call is announced to it
// (echosim_cupti_nccl_call) so it is placed on the right CUDA stream in launch order.
#include <dlfcn.h>
#include <nccl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "tracer/capture_format.h"

#define ECHOSIM_EXPORT extern "C" __attribute__((visibility("default")))

// The opaque communicator NCCL hands out.
struct ncclComm {
  uint64_t id;
  int nranks;  // 0: not known (split)
  int rank;
  int device;
};

namespace {

using CuMemcpyAsyncFn = int (*)(uint64_t dst, uint64_t src, size_t bytes, void* stream);
using CuCtxGetDeviceFn = int (*)(int* device);
using CuptiHookFn = void (*)(uint64_t seq, void* stream);

struct Op {
  uint64_t seq;
  uint64_t comm;
  const char* op;
  int dtype;
  uint64_t count;
  int64_t peer_or_root;
  uint64_t stream;
  int64_t group;
  int64_t begin_ns, end_ns;
  int64_t thread;
};

struct CommRecord {
  uint64_t id;
  int nranks, rank;
  uint64_t parent;
  int color, key;
  const char* how;
  int device;
};

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t ThreadId() { return static_cast<int64_t>(syscall(SYS_gettid)); }

int64_t EnvInt(const char* a, const char* b) {
  for (const char* name : {a, b}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') {
      char* end = nullptr;
      const long long x = std::strtoll(v, &end, 10);
      if (end != nullptr && *end == '\0' && x >= 0) return x;
    }
  }
  return -1;
}

class Shim {
 public:
  static Shim& Get() {
    static Shim* shim = new Shim();  // never destroyed: used until the very end
    return *shim;
  }

  uint64_t NewComm(int nranks, int rank, uint64_t parent, int color, int key, const char* how,
                   ncclComm_t* out) {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t id = ++next_comm_;
    auto* c = new ncclComm{id, nranks, rank, Device()};
    *out = c;
    comms_.push_back(CommRecord{id, nranks, rank, parent, color, key, how, c->device});
    if (rank_ < 0 && nranks > 0) {
      rank_ = rank;
      world_ = nranks;
    }
    return id;
  }

  // Records an operation and announces it to the CUPTI library; returns the op's index
  // so the caller can set its end time.
  size_t Begin(const ncclComm* comm, const char* op, ncclDataType_t dtype, size_t count,
               int64_t peer_or_root, cudaStream_t stream) {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t seq = ++next_seq_;
    ops_.push_back(Op{seq, comm != nullptr ? comm->id : 0, op, static_cast<int>(dtype), count,
                      peer_or_root, reinterpret_cast<uint64_t>(stream), group_depth_ > 0 ? group_id_ : 0,
                      NowNs(), 0, ThreadId()});
    if (hook_ == nullptr && !hook_looked_up_) {
      hook_looked_up_ = true;
      hook_ = reinterpret_cast<CuptiHookFn>(dlsym(RTLD_DEFAULT, "echosim_cupti_nccl_call"));
    }
    if (hook_ != nullptr) hook_(seq, stream);
    return ops_.size() - 1;
  }
  void End(size_t index) {
    std::lock_guard<std::mutex> lock(mu_);
    ops_[index].end_ns = NowNs();
  }

  void GroupStart() {
    std::lock_guard<std::mutex> lock(mu_);
    if (group_depth_++ == 0) ++group_id_;
  }
  void GroupEnd() {
    std::lock_guard<std::mutex> lock(mu_);
    if (group_depth_ > 0) --group_depth_;
  }

  // Copies `bytes` from src to dst on `stream` (no-op when equal or empty).
  ncclResult_t Copy(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
    if (bytes == 0 || dst == src || dst == nullptr || src == nullptr) return ncclSuccess;
    CuMemcpyAsyncFn fn = MemcpyFn();
    if (fn == nullptr) {
      SetError("echosim NCCL shim: libcuda.so.1 (cuMemcpyAsync) is not available");
      return ncclUnhandledCudaError;
    }
    if (fn(reinterpret_cast<uint64_t>(dst), reinterpret_cast<uint64_t>(src), bytes, stream) != 0) {
      SetError("echosim NCCL shim: cuMemcpyAsync failed");
      return ncclUnhandledCudaError;
    }
    return ncclSuccess;
  }

  void SetError(const char* msg) {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_ = msg;
  }
  const char* LastError() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_error_.c_str();
  }

  // Writes the records (once).
  void Flush() {
    std::lock_guard<std::mutex> lock(mu_);
    if (flushed_) return;
    flushed_ = true;
    const char* dir = std::getenv("ECHOSIM_TRACE_DIR");
    if (dir == nullptr || *dir == '\0') return;
    int64_t rank = EnvInt("ECHOSIM_RANK", "RANK");
    int64_t world = EnvInt("ECHOSIM_WORLD_SIZE", "WORLD_SIZE");
    if (rank < 0) rank = rank_ < 0 ? 0 : rank_;
    if (world < 1) world = world_ < 1 ? 1 : world_;
    std::string s = "echosim-nccl\t";
    echosim::AppendInt(&s, echosim::kCaptureFormatVersion);
    s += '\t';
    echosim::AppendInt(&s, rank);
    s += '\t';
    echosim::AppendInt(&s, world);
    s += '\n';
    for (const CommRecord& c : comms_) {
      s += "M\t";
      echosim::AppendUint(&s, c.id);
      s += '\t';
      echosim::AppendInt(&s, c.nranks);
      s += '\t';
      echosim::AppendInt(&s, c.rank);
      s += '\t';
      echosim::AppendUint(&s, c.parent);
      s += '\t';
      echosim::AppendInt(&s, c.color);
      s += '\t';
      echosim::AppendInt(&s, c.key);
      s += '\t';
      echosim::AppendField(&s, c.how);
      s += '\t';
      echosim::AppendInt(&s, c.device);
      s += '\n';
    }
    for (const Op& o : ops_) {
      s += "O\t";
      echosim::AppendUint(&s, o.seq);
      s += '\t';
      echosim::AppendUint(&s, o.comm);
      s += '\t';
      echosim::AppendField(&s, o.op);
      s += '\t';
      echosim::AppendInt(&s, o.dtype);
      s += '\t';
      echosim::AppendUint(&s, o.count);
      s += '\t';
      echosim::AppendInt(&s, o.peer_or_root);
      s += '\t';
      echosim::AppendUint(&s, o.stream);
      s += '\t';
      echosim::AppendInt(&s, o.group);
      s += '\t';
      echosim::AppendInt(&s, o.begin_ns);
      s += '\t';
      echosim::AppendInt(&s, o.end_ns == 0 ? o.begin_ns : o.end_ns);
      s += '\t';
      echosim::AppendInt(&s, o.thread);
      s += '\n';
    }
    char path[4096];
    std::snprintf(path, sizeof(path), "%s/nccl.%lld.tsv", dir, static_cast<long long>(rank));
    std::FILE* f = std::fopen(path, "w");
    if (f == nullptr) {
      std::fprintf(stderr, "echosim NCCL shim: cannot write %s\n", path);
      return;
    }
    std::fwrite(s.data(), 1, s.size(), f);
    std::fclose(f);
  }

 private:
  Shim() {
    rank_ = static_cast<int>(EnvInt("ECHOSIM_RANK", "RANK"));
    world_ = static_cast<int>(EnvInt("ECHOSIM_WORLD_SIZE", "WORLD_SIZE"));
  }
  void* Driver() {
    if (!driver_looked_up_) {
      driver_looked_up_ = true;
      driver_ = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
      if (driver_ == nullptr) driver_ = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
    }
    return driver_;
  }
  CuMemcpyAsyncFn MemcpyFn() {
    std::lock_guard<std::mutex> lock(driver_mu_);
    if (memcpy_ == nullptr && Driver() != nullptr) {
      memcpy_ = reinterpret_cast<CuMemcpyAsyncFn>(dlsym(driver_, "cuMemcpyAsync"));
    }
    return memcpy_;
  }
  int Device() {
    std::lock_guard<std::mutex> lock(driver_mu_);
    if (Driver() == nullptr) return 0;
    auto fn = reinterpret_cast<CuCtxGetDeviceFn>(dlsym(driver_, "cuCtxGetDevice"));
    int d = 0;
    if (fn == nullptr || fn(&d) != 0) return 0;
    return d;
  }

  std::mutex mu_, driver_mu_;
  std::vector<CommRecord> comms_;
  std::vector<Op> ops_;
  uint64_t next_comm_ = 0, next_seq_ = 0;
  int group_depth_ = 0;
  int64_t group_id_ = 0;
  int rank_ = -1, world_ = -1;
  bool flushed_ = false;
  bool hook_looked_up_ = false;
  CuptiHookFn hook_ = nullptr;
  bool driver_looked_up_ = false;
  void* driver_ = nullptr;
  CuMemcpyAsyncFn memcpy_ = nullptr;
  std::string last_error_;
};

size_t TypeBytes(ncclDataType_t t) {
  switch (t) {
    case ncclInt8: case ncclUint8: case ncclFloat8e4m3: case ncclFloat8e5m2: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
    default: return 0;
  }
}

bool Valid(ncclComm_t comm, ncclDataType_t dtype) {
  if (comm == nullptr) {
    Shim::Get().SetError("echosim NCCL shim: null communicator");
    return false;
  }
  if (TypeBytes(dtype) == 0) {
    Shim::Get().SetError("echosim NCCL shim: invalid datatype");
    return false;
  }
  return true;
}

// Records an operation around `body` (which keeps the results valid).
template <typename Body>
ncclResult_t Record(ncclComm_t comm, const char* op, ncclDataType_t dtype, size_t count,
                    int64_t peer_or_root, cudaStream_t stream, Body body) {
  if (!Valid(comm, dtype)) return ncclInvalidArgument;
  Shim& s = Shim::Get();
  const size_t index = s.Begin(comm, op, dtype, count, peer_or_root, stream);
  const ncclResult_t r = body(TypeBytes(dtype));
  s.End(index);
  return r;
}

int Members(ncclComm_t comm) { return comm->nranks > 0 ? comm->nranks : 1; }

__attribute__((destructor)) void FlushAtExit() { Shim::Get().Flush(); }

}  // namespace

// ---- Version, errors, ids ----

ECHOSIM_EXPORT ncclResult_t ncclGetVersion(int* version) {
  if (version == nullptr) return ncclInvalidArgument;
  *version = NCCL_VERSION_CODE;
  return ncclSuccess;
}

ECHOSIM_EXPORT const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    default: return "unknown result code";
  }
}

ECHOSIM_EXPORT const char* ncclGetLastError(ncclComm_t) { return Shim::Get().LastError(); }

ECHOSIM_EXPORT void ncclResetDebugInit() {}

ECHOSIM_EXPORT ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  if (id == nullptr) return ncclInvalidArgument;
  std::memset(id->internal, 0, sizeof(id->internal));
  std::memcpy(id->internal, "echosim-nccl-shim", 17);
  return ncclSuccess;
}

// ---- Communicators ----

ECHOSIM_EXPORT ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId,
                                                   int rank, ncclConfig_t*) {
  if (comm == nullptr || nranks < 1 || rank < 0 || rank >= nranks) return ncclInvalidArgument;
  Shim::Get().NewComm(nranks, rank, 0, 0, 0, "init_rank_config", comm);
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId,
                                             int rank) {
  if (comm == nullptr || nranks < 1 || rank < 0 || rank >= nranks) return ncclInvalidArgument;
  Shim::Get().NewComm(nranks, rank, 0, 0, 0, "init_rank", comm);
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommInitRankScalable(ncclComm_t* comm, int nranks, int rank, int,
                                                     ncclUniqueId*, ncclConfig_t*) {
  if (comm == nullptr || nranks < 1 || rank < 0 || rank >= nranks) return ncclInvalidArgument;
  Shim::Get().NewComm(nranks, rank, 0, 0, 0, "init_rank_scalable", comm);
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int*) {
  if (comms == nullptr || ndev < 1) return ncclInvalidArgument;
  for (int i = 0; i < ndev; ++i) Shim::Get().NewComm(ndev, i, 0, 0, 0, "init_all", &comms[i]);
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t* newcomm,
                                          ncclConfig_t*) {
  if (comm == nullptr || newcomm == nullptr) return ncclInvalidArgument;
  if (color == NCCL_SPLIT_NOCOLOR) {
    *newcomm = nullptr;
    return ncclSuccess;
  }
  // The new size depends on every rank's colour, which one process cannot see: recorded
  // as unknown (0) and resolved from the layout afterwards. `key` orders the new ranks;
  // torch passes the rank in the new group.
  Shim::Get().NewComm(0, key < 0 ? 0 : key, comm->id, color, key, "split", newcomm);
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommShrink(ncclComm_t comm, int* exclude, int exclude_count,
                                           ncclComm_t* newcomm, ncclConfig_t*, int) {
  if (comm == nullptr || newcomm == nullptr || exclude_count < 0) return ncclInvalidArgument;
  int below = 0;
  for (int i = 0; i < exclude_count; ++i) {
    if (exclude != nullptr && exclude[i] == comm->rank) {
      *newcomm = nullptr;
      return ncclSuccess;
    }
    if (exclude != nullptr && exclude[i] < comm->rank) ++below;
  }
  const int n = comm->nranks > 0 ? comm->nranks - exclude_count : 0;
  Shim::Get().NewComm(n, comm->rank - below, comm->id, 0, 0, "shrink", newcomm);
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  return comm == nullptr ? ncclInvalidArgument : ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  delete comm;
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommAbort(ncclComm_t comm) {
  delete comm;
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommRevoke(ncclComm_t comm, int) {
  return comm == nullptr ? ncclInvalidArgument : ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* error) {
  if (comm == nullptr || error == nullptr) return ncclInvalidArgument;
  *error = ncclSuccess;
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  if (comm == nullptr || count == nullptr) return ncclInvalidArgument;
  *count = Members(comm);
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int* device) {
  if (comm == nullptr || device == nullptr) return ncclInvalidArgument;
  *device = comm->device;
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  if (comm == nullptr || rank == nullptr) return ncclInvalidArgument;
  *rank = comm->rank;
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommRegister(const ncclComm_t comm, void*, size_t, void** handle) {
  if (comm == nullptr || handle == nullptr) return ncclInvalidArgument;
  *handle = nullptr;
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommDeregister(const ncclComm_t comm, void*) {
  return comm == nullptr ? ncclInvalidArgument : ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommWindowRegister(ncclComm_t comm, void*, size_t, ncclWindow_t* win,
                                                   int) {
  if (comm == nullptr || win == nullptr) return ncclInvalidArgument;
  *win = nullptr;
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclCommWindowDeregister(ncclComm_t comm, ncclWindow_t) {
  return comm == nullptr ? ncclInvalidArgument : ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclMemAlloc(void**, size_t) {
  // Allocation would need the CUDA runtime; callers fall back to their own allocator.
  Shim::Get().SetError("echosim NCCL shim: ncclMemAlloc is not provided");
  return ncclInvalidUsage;
}

ECHOSIM_EXPORT ncclResult_t ncclMemFree(void*) {
  Shim::Get().SetError("echosim NCCL shim: ncclMemFree is not provided");
  return ncclInvalidUsage;
}

ECHOSIM_EXPORT ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t* op, void*, ncclDataType_t,
                                                     ncclScalarResidence_t, ncclComm_t comm) {
  if (op == nullptr || comm == nullptr) return ncclInvalidArgument;
  *op = static_cast<ncclRedOp_t>(ncclNumOps);
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclRedOpDestroy(ncclRedOp_t, ncclComm_t comm) {
  return comm == nullptr ? ncclInvalidArgument : ncclSuccess;
}

// ---- Collectives ----

ECHOSIM_EXPORT ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                          ncclDataType_t datatype, ncclRedOp_t, ncclComm_t comm,
                                          cudaStream_t stream) {
  return Record(comm, "all_reduce", datatype, count, -1, stream, [&](size_t es) {
    return Shim::Get().Copy(recvbuff, sendbuff, count * es, stream);
  });
}

ECHOSIM_EXPORT ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                                          ncclDataType_t datatype, ncclComm_t comm,
                                          cudaStream_t stream) {
  return Record(comm, "all_gather", datatype, sendcount, -1, stream, [&](size_t es) {
    const size_t bytes = sendcount * es;
    for (int slot = 0; slot < Members(comm); ++slot) {
      char* dst = static_cast<char*>(recvbuff) + static_cast<size_t>(slot) * bytes;
      const ncclResult_t r = Shim::Get().Copy(dst, sendbuff, bytes, stream);
      if (r != ncclSuccess) return r;
    }
    return ncclSuccess;
  });
}

ECHOSIM_EXPORT ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff,
                                              size_t recvcount, ncclDataType_t datatype,
                                              ncclRedOp_t, ncclComm_t comm, cudaStream_t stream) {
  return Record(comm, "reduce_scatter", datatype, recvcount, -1, stream, [&](size_t es) {
    const size_t bytes = recvcount * es;
    const char* shard = static_cast<const char*>(sendbuff) + static_cast<size_t>(comm->rank) * bytes;
    return Shim::Get().Copy(recvbuff, shard, bytes, stream);
  });
}

ECHOSIM_EXPORT ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                                          ncclDataType_t datatype, int root, ncclComm_t comm,
                                          cudaStream_t stream) {
  return Record(comm, "broadcast", datatype, count, root, stream, [&](size_t es) {
    if (comm->rank != root) return ncclSuccess;  // keeps its buffer: the data every rank holds
    return Shim::Get().Copy(recvbuff, sendbuff, count * es, stream);
  });
}

ECHOSIM_EXPORT ncclResult_t ncclBcast(void* /*buff*/, size_t count, ncclDataType_t datatype,
                                      int root, ncclComm_t comm, cudaStream_t stream) {
  // In place: every rank's buffer already holds the data.
  return Record(comm, "broadcast", datatype, count, root, stream,
                [&](size_t) { return ncclSuccess; });
}

ECHOSIM_EXPORT ncclResult_t ncclReduce(const void* sendbuff, void* recvbuff, size_t count,
                                       ncclDataType_t datatype, ncclRedOp_t, int root,
                                       ncclComm_t comm, cudaStream_t stream) {
  return Record(comm, "reduce", datatype, count, root, stream, [&](size_t es) {
    if (comm->rank != root) return ncclSuccess;
    return Shim::Get().Copy(recvbuff, sendbuff, count * es, stream);
  });
}

ECHOSIM_EXPORT ncclResult_t ncclAlltoAll(const void* sendbuff, void* recvbuff, size_t count,
                                         ncclDataType_t datatype, ncclComm_t comm,
                                         cudaStream_t stream) {
  return Record(comm, "all_to_all", datatype, count, -1, stream, [&](size_t es) {
    return Shim::Get().Copy(recvbuff, sendbuff, count * es * static_cast<size_t>(Members(comm)),
                            stream);
  });
}

ECHOSIM_EXPORT ncclResult_t ncclGather(const void* sendbuff, void* recvbuff, size_t count,
                                       ncclDataType_t datatype, int root, ncclComm_t comm,
                                       cudaStream_t stream) {
  return Record(comm, "gather", datatype, count, root, stream, [&](size_t es) {
    if (comm->rank != root) return ncclSuccess;
    const size_t bytes = count * es;
    for (int slot = 0; slot < Members(comm); ++slot) {
      char* dst = static_cast<char*>(recvbuff) + static_cast<size_t>(slot) * bytes;
      const ncclResult_t r = Shim::Get().Copy(dst, sendbuff, bytes, stream);
      if (r != ncclSuccess) return r;
    }
    return ncclSuccess;
  });
}

ECHOSIM_EXPORT ncclResult_t ncclScatter(const void* sendbuff, void* recvbuff, size_t count,
                                        ncclDataType_t datatype, int root, ncclComm_t comm,
                                        cudaStream_t stream) {
  return Record(comm, "scatter", datatype, count, root, stream, [&](size_t es) {
    if (comm->rank != root) return ncclSuccess;
    const size_t bytes = count * es;
    const char* shard = static_cast<const char*>(sendbuff) + static_cast<size_t>(comm->rank) * bytes;
    return Shim::Get().Copy(recvbuff, shard, bytes, stream);
  });
}

ECHOSIM_EXPORT ncclResult_t ncclSend(const void*, size_t count, ncclDataType_t datatype, int peer,
                                     ncclComm_t comm, cudaStream_t stream) {
  return Record(comm, "send", datatype, count, peer, stream, [&](size_t) { return ncclSuccess; });
}

ECHOSIM_EXPORT ncclResult_t ncclRecv(void*, size_t count, ncclDataType_t datatype, int peer,
                                     ncclComm_t comm, cudaStream_t stream) {
  return Record(comm, "recv", datatype, count, peer, stream, [&](size_t) { return ncclSuccess; });
}

ECHOSIM_EXPORT ncclResult_t ncclGroupStart() {
  Shim::Get().GroupStart();
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclGroupEnd() {
  Shim::Get().GroupEnd();
  return ncclSuccess;
}

ECHOSIM_EXPORT ncclResult_t ncclGroupSimulateEnd(ncclSimInfo_t* info) {
  Shim::Get().GroupEnd();
  if (info != nullptr) info->estimatedTime = 0.0f;
  return ncclSuccess;
}

// Writes the records now (tests and programs that leave with _exit).
ECHOSIM_EXPORT void echosim_nccl_shim_flush() { Shim::Get().Flush(); }

// ---- The profiling names NCCL also exports (pncclX == ncclX) ----

#define ECHOSIM_ALIAS(name) \
  ECHOSIM_EXPORT __typeof__(name) p##name __attribute__((alias(#name)));
ECHOSIM_ALIAS(ncclGetVersion)
ECHOSIM_ALIAS(ncclGetErrorString)
ECHOSIM_ALIAS(ncclGetLastError)
ECHOSIM_ALIAS(ncclResetDebugInit)
ECHOSIM_ALIAS(ncclGetUniqueId)
ECHOSIM_ALIAS(ncclCommInitRankConfig)
ECHOSIM_ALIAS(ncclCommInitRank)
ECHOSIM_ALIAS(ncclCommInitRankScalable)
ECHOSIM_ALIAS(ncclCommInitAll)
ECHOSIM_ALIAS(ncclCommSplit)
ECHOSIM_ALIAS(ncclCommShrink)
ECHOSIM_ALIAS(ncclCommFinalize)
ECHOSIM_ALIAS(ncclCommDestroy)
ECHOSIM_ALIAS(ncclCommAbort)
ECHOSIM_ALIAS(ncclCommRevoke)
ECHOSIM_ALIAS(ncclCommGetAsyncError)
ECHOSIM_ALIAS(ncclCommCount)
ECHOSIM_ALIAS(ncclCommCuDevice)
ECHOSIM_ALIAS(ncclCommUserRank)
ECHOSIM_ALIAS(ncclCommRegister)
ECHOSIM_ALIAS(ncclCommDeregister)
ECHOSIM_ALIAS(ncclCommWindowRegister)
ECHOSIM_ALIAS(ncclCommWindowDeregister)
ECHOSIM_ALIAS(ncclMemAlloc)
ECHOSIM_ALIAS(ncclMemFree)
ECHOSIM_ALIAS(ncclRedOpCreatePreMulSum)
ECHOSIM_ALIAS(ncclRedOpDestroy)
ECHOSIM_ALIAS(ncclAllReduce)
ECHOSIM_ALIAS(ncclAllGather)
ECHOSIM_ALIAS(ncclReduceScatter)
ECHOSIM_ALIAS(ncclBroadcast)
ECHOSIM_ALIAS(ncclBcast)
ECHOSIM_ALIAS(ncclReduce)
ECHOSIM_ALIAS(ncclAlltoAll)
ECHOSIM_ALIAS(ncclGather)
ECHOSIM_ALIAS(ncclScatter)
ECHOSIM_ALIAS(ncclSend)
ECHOSIM_ALIAS(ncclRecv)
ECHOSIM_ALIAS(ncclGroupStart)
ECHOSIM_ALIAS(ncclGroupEnd)
ECHOSIM_ALIAS(ncclGroupSimulateEnd)
