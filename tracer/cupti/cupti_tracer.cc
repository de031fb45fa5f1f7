// libechosim_cupti.so: a CUPTI injection library that records what a CUDA program does
// on its GPU (README.md in tracer/).
//
// Loading: CUDA_INJECTION64_PATH=/path/libechosim_cupti.so (CUDA calls
// InitializeInjection() when the driver initialises), or LD_PRELOAD (a constructor
// initialises it). Collection uses CUPTI's activity API with buffers CUPTI fills
// asynchronously (8 MiB each): kernels (concurrent kernel records), memcpys, memsets,
// synchronisation (event / stream / context synchronise, stream-wait-event), CUDA
// event records, and runtime and driver API calls (launch order by correlation id,
// host gaps). Timestamps come from CLOCK_MONOTONIC_RAW (registered as CUPTI's clock),
// thread ids from gettid(), so they line up with the NCCL shim's records.
//
// Output: $ECHOSIM_TRACE_DIR/activity.<rank>.tsv (format in tracer/capture_format.h),
// written at exit (CUPTI's buffers are flushed then).
// Capture window: ECHOSIM_TRACE_ITERS=START:END records from the START-th to just
// before the END-th call of cudaProfilerStart (0-based; torch.cuda.profiler.start()),
// each window ending at the matching cudaProfilerStop; unset, everything from CUDA
// initialisation to exit is recorded. Rank and world size come from ECHOSIM_RANK /
// ECHOSIM_WORLD_SIZE, else RANK / WORLD_SIZE.
//
// The NCCL shim calls echosim_cupti_nccl_call(seq, stream) for each NCCL call; the
// library then records the CUPTI id of the call's stream ("N" lines) so the call lands
// on the right stream.
#include <cuda.h>
#include <cupti.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "tracer/capture_format.h"

#if CUPTI_API_VERSION < 130000
#error "libechosim_cupti needs CUPTI from CUDA 13 or later (activity record versions Kernel10, Memcpy6, Memset4, Synchronization2, CudaEvent2)"
#endif

#define ECHOSIM_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

constexpr size_t kBufferBytes = size_t{8} << 20;
constexpr size_t kAlign = 8;

const CUpti_ActivityKind kKinds[] = {
    CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_MEMCPY,
    CUPTI_ACTIVITY_KIND_MEMSET,            CUPTI_ACTIVITY_KIND_SYNCHRONIZATION,
    CUPTI_ACTIVITY_KIND_CUDA_EVENT,        CUPTI_ACTIVITY_KIND_RUNTIME,
    CUPTI_ACTIVITY_KIND_DRIVER,
};

uint64_t CUPTIAPI MonotonicRawNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

int64_t EnvInt(const char* a, const char* b, int64_t fallback) {
  for (const char* name : {a, b}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') {
      char* end = nullptr;
      const long long x = std::strtoll(v, &end, 10);
      if (end != nullptr && *end == '\0' && x >= 0) return x;
    }
  }
  return fallback;
}

class Tracer {
 public:
  static Tracer& Get() {
    static Tracer* t = new Tracer();  // used until the very end of the process
    return *t;
  }

  void Initialize() {
    if (initialized_.exchange(true)) return;
    const char* iters = std::getenv("ECHOSIM_TRACE_ITERS");
    if (iters != nullptr && *iters != '\0') {
      long long a = -1, b = -1;
      if (std::sscanf(iters, "%lld:%lld", &a, &b) != 2 || a < 0 || b <= a) {
        std::fprintf(stderr,
                     "echosim CUPTI tracer: ECHOSIM_TRACE_ITERS='%s' is not START:END with 0 <= "
                     "START < END; recording everything\n", iters);
      } else {
        window_start_ = a;
        window_end_ = b;
      }
    }
    if (!Ok(cuptiSetThreadIdType(CUPTI_ACTIVITY_THREAD_ID_TYPE_SYSTEM), "cuptiSetThreadIdType") ||
        !Ok(cuptiActivityRegisterTimestampCallback(MonotonicRawNs),
            "cuptiActivityRegisterTimestampCallback") ||
        !Ok(cuptiActivityRegisterCallbacks(BufferRequested, BufferCompleted),
            "cuptiActivityRegisterCallbacks")) {
      return;
    }
    if (window_start_ >= 0) {
      CUpti_SubscriberHandle sub;
      if (!Ok(cuptiSubscribe(&sub, reinterpret_cast<CUpti_CallbackFunc>(ApiCallback), nullptr),
              "cuptiSubscribe") ||
          !Ok(cuptiEnableCallback(1, sub, CUPTI_CB_DOMAIN_RUNTIME_API,
                                  CUPTI_RUNTIME_TRACE_CBID_cudaProfilerStart_v4000),
              "cuptiEnableCallback") ||
          !Ok(cuptiEnableCallback(1, sub, CUPTI_CB_DOMAIN_RUNTIME_API,
                                  CUPTI_RUNTIME_TRACE_CBID_cudaProfilerStop_v4000),
              "cuptiEnableCallback")) {
        return;
      }
    } else {
      Enable(true);
    }
    std::atexit([] { Tracer::Get().Finish(); });
  }

  // NCCL shim announcement: remember the CUPTI id of the call's stream.
  void NcclCall(uint64_t seq, void* stream) {
    if (!capturing_.load()) return;
    CUstream s = static_cast<CUstream>(stream);
    uint8_t per_thread = 0;
    // cudaStreamPerThread is the handle value 2; cudaStreamLegacy 1.
    if (reinterpret_cast<uintptr_t>(stream) == 2) {
      per_thread = 1;
      s = nullptr;
    } else if (reinterpret_cast<uintptr_t>(stream) == 1) {
      s = nullptr;
    }
    CUcontext ctx = nullptr;
    if (s == nullptr ? cuCtxGetCurrent(&ctx) != CUDA_SUCCESS : cuStreamGetCtx(s, &ctx) != CUDA_SUCCESS) {
      return;
    }
    uint32_t id = 0;
    if (cuptiGetStreamIdEx(ctx, s, per_thread, &id) != CUPTI_SUCCESS) return;
    std::string line = "N\t";
    echosim::AppendUint(&line, seq);
    line += '\t';
    echosim::AppendUint(&line, id);
    line += '\n';
    std::lock_guard<std::mutex> lock(mu_);
    out_ += line;
  }

  // At exit: stops recording, flushes CUPTI's buffers and writes the file (once).
  void Finish() {
    if (finished_.exchange(true)) return;
    if (capturing_.load()) Enable(false);
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    Write();
  }

 private:
  Tracer() = default;

  bool Ok(CUptiResult r, const char* what) {
    if (r == CUPTI_SUCCESS) return true;
    const char* msg = nullptr;
    cuptiGetResultString(r, &msg);
    std::fprintf(stderr, "echosim CUPTI tracer: %s failed: %s; not recording\n", what,
                 msg != nullptr ? msg : "?");
    return false;
  }

  void Enable(bool on) {
    for (CUpti_ActivityKind k : kKinds) {
      const CUptiResult r = on ? cuptiActivityEnable(k) : cuptiActivityDisable(k);
      // CUDA event records need a recent driver; the rest of the trace is still useful.
      if (r != CUPTI_SUCCESS && k != CUPTI_ACTIVITY_KIND_CUDA_EVENT) {
        Ok(r, on ? "cuptiActivityEnable" : "cuptiActivityDisable");
      }
    }
    capturing_.store(on);
  }

  static void CUPTIAPI ApiCallback(void*, CUpti_CallbackDomain domain, CUpti_CallbackId cbid,
                                   const CUpti_CallbackData* data) {
    if (domain != CUPTI_CB_DOMAIN_RUNTIME_API || data->callbackSite != CUPTI_API_EXIT) return;
    Tracer& t = Get();
    if (cbid == CUPTI_RUNTIME_TRACE_CBID_cudaProfilerStart_v4000) {
      const int64_t window = t.starts_++;
      if (window == t.window_start_) t.Enable(true);
    } else if (cbid == CUPTI_RUNTIME_TRACE_CBID_cudaProfilerStop_v4000) {
      // The window closes: stop collecting. Buffers are flushed and written at exit, not
      // from inside this callback.
      if (t.starts_ == t.window_end_ && t.capturing_.load()) t.Enable(false);
    }
  }

  static void CUPTIAPI BufferRequested(uint8_t** buffer, size_t* size, size_t* max_records) {
    void* p = nullptr;
    if (posix_memalign(&p, kAlign, kBufferBytes) != 0) p = nullptr;
    *buffer = static_cast<uint8_t*>(p);
    *size = p != nullptr ? kBufferBytes : 0;
    *max_records = 0;
  }

  static void CUPTIAPI BufferCompleted(CUcontext ctx, uint32_t stream, uint8_t* buffer, size_t,
                                       size_t valid) {
    Tracer& t = Get();
    std::string lines;
    CUpti_Activity* record = nullptr;
    while (cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
      t.Append(record, &lines);
    }
    size_t dropped = 0;
    if (cuptiActivityGetNumDroppedRecords(ctx, stream, &dropped) == CUPTI_SUCCESS && dropped > 0) {
      lines += "D\t";
      echosim::AppendUint(&lines, dropped);
      lines += '\n';
    }
    std::free(buffer);
    std::lock_guard<std::mutex> lock(t.mu_);
    t.out_ += lines;
  }

  static void Common(std::string* s, const char* tag, uint32_t corr, uint32_t stream,
                     uint64_t start, uint64_t end) {
    *s += tag;
    *s += '\t';
    echosim::AppendUint(s, corr);
    *s += '\t';
    echosim::AppendUint(s, stream);
    *s += '\t';
    echosim::AppendUint(s, start);
    *s += '\t';
    echosim::AppendUint(s, end);
  }

  void Append(const CUpti_Activity* r, std::string* s) {
    switch (r->kind) {
      case CUPTI_ACTIVITY_KIND_KERNEL:
      case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
        auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(r);
        Common(s, "K", k->correlationId, k->streamId, k->start, k->end);
        *s += '\t';
        echosim::AppendField(s, k->name != nullptr ? k->name : "kernel");
        *s += '\n';
        break;
      }
      case CUPTI_ACTIVITY_KIND_MEMCPY: {
        auto* m = reinterpret_cast<const CUpti_ActivityMemcpy6*>(r);
        Common(s, "C", m->correlationId, m->streamId, m->start, m->end);
        *s += '\t';
        echosim::AppendUint(s, m->bytes);
        *s += '\t';
        echosim::AppendUint(s, m->copyKind);
        *s += '\n';
        break;
      }
      case CUPTI_ACTIVITY_KIND_MEMSET: {
        auto* m = reinterpret_cast<const CUpti_ActivityMemset4*>(r);
        Common(s, "S", m->correlationId, m->streamId, m->start, m->end);
        *s += '\t';
        echosim::AppendUint(s, m->bytes);
        *s += '\n';
        break;
      }
      case CUPTI_ACTIVITY_KIND_CUDA_EVENT: {
        auto* e = reinterpret_cast<const CUpti_ActivityCudaEvent2*>(r);
        *s += "E\t";
        echosim::AppendUint(s, e->correlationId);
        *s += '\t';
        echosim::AppendUint(s, e->streamId);
        *s += '\t';
        echosim::AppendUint(s, e->eventId);
        *s += '\n';
        break;
      }
      case CUPTI_ACTIVITY_KIND_SYNCHRONIZATION: {
        auto* y = reinterpret_cast<const CUpti_ActivitySynchronization2*>(r);
        if (y->type == CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_UNKNOWN) break;
        *s += "Y\t";
        echosim::AppendUint(s, y->correlationId);
        *s += '\t';
        echosim::AppendInt(s, static_cast<int64_t>(y->type));
        *s += '\t';
        // streamId is CUPTI_SYNCHRONIZATION_INVALID_VALUE (all ones) for context syncs.
        echosim::AppendInt(s, y->streamId == 0xffffffffu ? -1 : static_cast<int64_t>(y->streamId));
        *s += '\t';
        echosim::AppendUint(s, y->cudaEventId == 0xffffffffu ? 0 : y->cudaEventId);
        *s += '\t';
        echosim::AppendUint(s, y->start);
        *s += '\t';
        echosim::AppendUint(s, y->end);
        *s += '\n';
        break;
      }
      case CUPTI_ACTIVITY_KIND_RUNTIME:
      case CUPTI_ACTIVITY_KIND_DRIVER: {
        auto* a = reinterpret_cast<const CUpti_ActivityAPI*>(r);
        const char* name = nullptr;
        cuptiGetCallbackName(r->kind == CUPTI_ACTIVITY_KIND_RUNTIME ? CUPTI_CB_DOMAIN_RUNTIME_API
                                                                   : CUPTI_CB_DOMAIN_DRIVER_API,
                             a->cbid, &name);
        *s += "A\t";
        echosim::AppendUint(s, a->correlationId);
        *s += '\t';
        echosim::AppendUint(s, a->threadId);
        *s += '\t';
        echosim::AppendUint(s, a->start);
        *s += '\t';
        echosim::AppendUint(s, a->end);
        *s += '\t';
        echosim::AppendField(s, name != nullptr ? name : "api");
        *s += '\n';
        break;
      }
      default:
        break;
    }
  }

  void Write() {
    const char* dir = std::getenv("ECHOSIM_TRACE_DIR");
    if (dir == nullptr || *dir == '\0') return;
    const int64_t rank = EnvInt("ECHOSIM_RANK", "RANK", 0);
    const int64_t world = EnvInt("ECHOSIM_WORLD_SIZE", "WORLD_SIZE", 1);
    std::string header = "echosim-activity\t";
    echosim::AppendInt(&header, echosim::kCaptureFormatVersion);
    header += '\t';
    echosim::AppendInt(&header, rank);
    header += '\t';
    echosim::AppendInt(&header, world < 1 ? 1 : world);
    header += '\n';
    char path[4096];
    std::snprintf(path, sizeof(path), "%s/activity.%lld.tsv", dir, static_cast<long long>(rank));
    std::FILE* f = std::fopen(path, "w");
    if (f == nullptr) {
      std::fprintf(stderr, "echosim CUPTI tracer: cannot write %s\n", path);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(header.data(), 1, header.size(), f);
    std::fwrite(out_.data(), 1, out_.size(), f);
    std::fclose(f);
  }

  std::atomic<bool> initialized_{false};
  std::atomic<bool> capturing_{false};
  std::atomic<bool> finished_{false};
  int64_t window_start_ = -1, window_end_ = -1;
  int64_t starts_ = 0;
  std::mutex mu_;
  std::string out_;
};

__attribute__((constructor)) void InitWhenPreloaded() {
  // Under CUDA_INJECTION64_PATH the driver calls InitializeInjection(); under LD_PRELOAD
  // nothing does, so initialise here when asked to record.
  if (std::getenv("ECHOSIM_TRACE_DIR") != nullptr && std::getenv("CUDA_INJECTION64_PATH") == nullptr) {
    Tracer::Get().Initialize();
  }
}

}  // namespace

ECHOSIM_EXPORT int InitializeInjection(void) {
  Tracer::Get().Initialize();
  return 1;
}

ECHOSIM_EXPORT void echosim_cupti_nccl_call(uint64_t seq, void* stream) {
  Tracer::Get().NcclCall(seq, stream);
}
