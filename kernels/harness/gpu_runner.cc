// ComputeOps on the GPU: buffers, launches, timing, interference (see gpu_runner.h).
#include "kernels/harness/gpu_runner.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/kernels.h"
#include "simulator/core/strings.h"

namespace echosim::kernels {
namespace {

using cuda::Storage;
using cuda::bf16;

template <typename T>
T* P(const DeviceBuffer& b) {
  return static_cast<T*>(b.get());
}

std::string GiB(double bytes) { return StrCat(FormatNumber(bytes / (1024.0 * 1024.0 * 1024.0)), " GiB"); }

// A grouped GEMM issued one GEMM per group round-robin over `streams` CUDA streams, each with
// its own cuBLASLt workspace, forked from and joined back into the caller's stream (as
// Transformer Engine's multi-stream grouped GEMM does).
class StreamedGemms {
 public:
  explicit StreamedGemms(int64_t streams) {
    for (int64_t i = 0; i < streams; ++i) {
      gemms_.push_back(std::make_unique<cuda::GemmLt>());
      cudaStream_t s = nullptr;
      ECHOSIM_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
      streams_.push_back(s);
      cudaEvent_t e = nullptr;
      ECHOSIM_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
      done_.push_back(e);
    }
    ECHOSIM_CUDA_CHECK(cudaEventCreateWithFlags(&fork_, cudaEventDisableTiming));
  }
  ~StreamedGemms() {
    for (cudaStream_t s : streams_) cudaStreamSynchronize(s);
    for (cudaEvent_t e : done_) cudaEventDestroy(e);
    cudaEventDestroy(fork_);
    for (cudaStream_t s : streams_) cudaStreamDestroy(s);
  }
  StreamedGemms(const StreamedGemms&) = delete;
  StreamedGemms& operator=(const StreamedGemms&) = delete;

  // `one`: a single group's shape (batch 1); x, w, c hold `groups` of them back to back.
  void Run(const cuda::GemmShape& one, int64_t groups, const char* x, const char* w, char* c,
           cudaStream_t caller) {
    const size_t in_b = cuda::GemmLt::ElementBytes(one.in);
    const size_t x_step = static_cast<size_t>(one.m * one.k) * in_b;
    const size_t w_step = static_cast<size_t>(one.n * one.k) * in_b;
    const size_t c_step = static_cast<size_t>(one.m * one.n) * 2;
    ECHOSIM_CUDA_CHECK(cudaEventRecord(fork_, caller));
    for (cudaStream_t s : streams_) ECHOSIM_CUDA_CHECK(cudaStreamWaitEvent(s, fork_, 0));
    const size_t n = streams_.size();
    for (int64_t g = 0; g < groups; ++g) {
      const size_t i = static_cast<size_t>(g) % n;
      gemms_[i]->Run(one, x + g * x_step, w + g * w_step, c + g * c_step, 0.f, streams_[i]);
    }
    for (size_t i = 0; i < n; ++i) {
      ECHOSIM_CUDA_CHECK(cudaEventRecord(done_[i], streams_[i]));
      ECHOSIM_CUDA_CHECK(cudaStreamWaitEvent(caller, done_[i], 0));
    }
  }

 private:
  std::vector<std::unique_ptr<cuda::GemmLt>> gemms_;
  std::vector<cudaStream_t> streams_;
  std::vector<cudaEvent_t> done_;
  cudaEvent_t fork_ = nullptr;
};

}  // namespace

GpuRunner::GpuRunner(const DeviceInfo& device) : device_(device) {
  ECHOSIM_CUDA_CHECK(cudaSetDevice(0));
  ECHOSIM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  ECHOSIM_CUDA_CHECK(cudaEventCreate(&start_));
  ECHOSIM_CUDA_CHECK(cudaEventCreate(&stop_));
  gemm_ = std::make_unique<cuda::GemmLt>();
  int l2 = 0;
  ECHOSIM_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
  flush_bytes_ = std::max<int64_t>(2 * static_cast<int64_t>(l2), 1 << 20);
  void* p = nullptr;
  ECHOSIM_CUDA_CHECK(cudaMalloc(&p, static_cast<size_t>(flush_bytes_)));
  flush_ = DeviceBuffer(p, [](void* q) { cudaFree(q); });
}

GpuRunner::~GpuRunner() {
  cudaStreamSynchronize(stream_);
  flush_.reset();
  gemm_.reset();
  cudaEventDestroy(start_);
  cudaEventDestroy(stop_);
  cudaStreamDestroy(stream_);
}

StatusOr<DeviceBuffer> GpuRunner::Alloc(int64_t bytes, const std::string& what) {
  bytes = std::max<int64_t>(bytes, 16);
  size_t free_b = 0, total_b = 0;
  ECHOSIM_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  // Leave headroom for cuBLASLt and the CUDA context.
  if (static_cast<double>(bytes) > static_cast<double>(free_b) - 256.0 * (1 << 20)) {
    return FailedPrecondition(StrCat(what, " needs ", GiB(static_cast<double>(bytes)), " of device memory; ",
                                     GiB(static_cast<double>(free_b)), " free"));
  }
  void* p = nullptr;
  ECHOSIM_CUDA_CHECK(cudaMalloc(&p, static_cast<size_t>(bytes)));
  return DeviceBuffer(p, [](void* q) { cudaFree(q); });
}

TimingStats GpuRunner::Time(const std::function<void(cudaStream_t)>& fn, const RunOptions& o, cudaStream_t s) {
  for (int i = 0; i < o.warmup; ++i) fn(s);
  std::vector<double> us;
  us.reserve(static_cast<size_t>(o.repeats));
  for (int i = 0; i < o.repeats; ++i) {
    if (o.flush_l2) ECHOSIM_CUDA_CHECK(cudaMemsetAsync(flush_.get(), i & 0xff, static_cast<size_t>(flush_bytes_), s));
    ECHOSIM_CUDA_CHECK(cudaEventRecord(start_, s));
    fn(s);
    ECHOSIM_CUDA_CHECK(cudaEventRecord(stop_, s));
    ECHOSIM_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0;
    ECHOSIM_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    us.push_back(static_cast<double>(ms) * 1000.0);
  }
  return ComputeStats(us);
}

StatusOr<GpuRunner::Prepared> GpuRunner::Prepare(const OpSpec& op) {
  cudaStream_t s = stream_;
  Prepared out;
  uint64_t seed = 1;
  auto fill = [&](const DeviceBuffer& b, Storage t, int64_t n, float lo = -1.f, float hi = 1.f) {
    cuda::FillUniform(b.get(), t, n, seed++, lo, hi, s);
  };
  switch (op.kind) {
    case OpKind::kGemm: {
      if (op.dtype == DataType::kFp8 && device_.cc_major * 10 + device_.cc_minor < 89) {
        return FailedPrecondition(StrCat("dtype fp8 needs compute capability >= 8.9 (this device: ", device_.cc_major,
                                         ".", device_.cc_minor, ")"));
      }
      cuda::GemmShape g;
      g.in = op.dtype == DataType::kFp8 ? cuda::GemmType::kFp8
             : op.dtype == DataType::kFp16 ? cuda::GemmType::kFp16
                                            : cuda::GemmType::kBf16;
      g.out = op.dtype == DataType::kFp16 ? cuda::GemmType::kFp16 : cuda::GemmType::kBf16;
      g.m = op.m;
      g.n = op.n;
      g.k = op.k;
      g.batch = op.batch;
      const int64_t in_b = static_cast<int64_t>(cuda::GemmLt::ElementBytes(g.in));
      const Storage st = g.in == cuda::GemmType::kFp8 ? Storage::kFp8
                         : g.in == cuda::GemmType::kFp16 ? Storage::kFp16
                                                          : Storage::kBf16;
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer x, Alloc(op.batch * op.m * op.k * in_b, op.name));
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer w, Alloc(op.batch * op.n * op.k * in_b, op.name));
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer c, Alloc(op.batch * op.m * op.n * 2, op.name));
      fill(x, st, op.batch * op.m * op.k);
      fill(w, st, op.batch * op.n * op.k);
      if (op.concurrency > 0 && op.batch > 1) {
        cuda::GemmShape one = g;
        one.batch = 1;
        const int64_t streams = std::min(op.concurrency, op.batch);
        auto grouped = std::make_shared<StreamedGemms>(streams);
        out.kernel = StrCat(cuda::GemmLt::Describe(one), " x", op.batch, " over ", streams, " streams");
        out.run = [grouped, one, batch = op.batch, x, w, c](cudaStream_t st2) {
          grouped->Run(one, batch, static_cast<const char*>(x.get()), static_cast<const char*>(w.get()),
                       static_cast<char*>(c.get()), st2);
        };
        out.run(s);  // plan every stream's algorithm outside the timing
        break;
      }
      cuda::GemmLt* gemm = gemm_.get();
      out.kernel = cuda::GemmLt::Describe(g);
      out.run = [gemm, g, x, w, c](cudaStream_t st2) { gemm->Run(g, x.get(), w.get(), c.get(), 0.f, st2); };
      gemm->Run(g, x.get(), w.get(), c.get(), 0.f, s);  // plan the algorithm outside the timing
      break;
    }
    case OpKind::kAttention: {
      ECHOSIM_ASSIGN_OR_RETURN(AttentionPlan plan, PlanAttention(op));
      cuda::AttentionParams p;
      p.batch = plan.batch_heads;
      p.heads = p.kv_heads = 1;
      p.sq = plan.sq;
      p.sk = plan.sk;
      p.d = plan.d;
      p.causal = true;
      p.tensor_cores = tc_attention_;
      const int64_t nq = p.batch * p.sq * p.d, nk = p.batch * p.sk * p.d;
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer q, Alloc(nq * 2, op.name));
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer k, Alloc(nk * 2, op.name));
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer v, Alloc(nk * 2, op.name));
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer o, Alloc(nq * 2, op.name));
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer lse, Alloc(p.batch * p.sq * 4, op.name));
      fill(q, Storage::kBf16, nq);
      fill(k, Storage::kBf16, nk);
      fill(v, Storage::kBf16, nk);
      p.q = P<bf16>(q);
      p.k = P<bf16>(k);
      p.v = P<bf16>(v);
      const std::string shape = StrCat(" bh=", p.batch, " sq=", p.sq, " sk=", p.sk, " d=", p.d,
                                       op.dtype != DataType::kBf16 ? " (bf16; the kernel is bf16-only)" : "");
      if (plan.mode == AttentionMode::kBackward) {
        ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer d_o, Alloc(nq * 2, op.name));
        ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer dq, Alloc(nq * 2, op.name));
        ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer dk, Alloc(nk * 2, op.name));
        ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer dv, Alloc(nk * 2, op.name));
        ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer ws, Alloc(cuda::FlashAttentionBackwardWorkspace(p) * 4, op.name));
        fill(d_o, Storage::kBf16, nq);
        cuda::FlashAttentionForward(p, P<bf16>(o), P<float>(lse), s);
        out.kernel = StrCat(p.tensor_cores ? "flash_attention_bwd_tensor_cores" : "flash_attention_bwd", " causal", shape);
        out.run = [p, q, k, v, o, lse, d_o, dq, dk, dv, ws](cudaStream_t st) {
          cuda::FlashAttentionBackward(p, P<bf16>(o), P<bf16>(d_o), P<float>(lse), P<bf16>(dq), P<bf16>(dk),
                                       P<bf16>(dv), P<float>(ws), st);
        };
      } else {
        out.kernel = StrCat(p.tensor_cores ? "flash_attention_fwd_tensor_cores" : "flash_attention_fwd",
                            plan.mode == AttentionMode::kDecode ? " decode" : " causal", shape);
        out.run = [p, q, k, v, o, lse](cudaStream_t st) {
          cuda::FlashAttentionForward(p, P<bf16>(o), P<float>(lse), st);
        };
      }
      break;
    }
    case OpKind::kMemoryBound: {
      const MemPlan mp = PlanMemoryBound(op);
      const int64_t rows = mp.rows, cols = mp.cols, n = rows * cols;
      out.kernel = StrCat(MemKernelName(mp.kernel), " rows=", rows, " cols=", cols);
      auto buf = [&](int64_t elems, int64_t bytes_per) { return Alloc(elems * bytes_per, op.name); };
      // SwiGLU reads (forward) or writes (backward) [rows, 2 cols].
      const int64_t wide = mp.kernel == MemKernel::kSwigluFwd || mp.kernel == MemKernel::kSwigluBwd ? 2 * n : n;
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer a, buf(wide, 2));
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer b, buf(n, 2));
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer c, buf(wide, 2));
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer w, buf(cols, 2));
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer bias, buf(cols, 2));
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer dw, buf(2 * cols, 4));
      fill(a, Storage::kBf16, wide);
      fill(b, Storage::kBf16, n);
      fill(w, Storage::kBf16, cols, 0.5f, 1.5f);
      fill(bias, Storage::kBf16, cols);
      ECHOSIM_CUDA_CHECK(cudaMemsetAsync(dw.get(), 0, sizeof(float) * 2 * cols, s));
      constexpr float kEps = 1e-5f;
      switch (mp.kernel) {
        case MemKernel::kRmsNormFwd:
          out.run = [=](cudaStream_t st) { cuda::RmsNormForward(P<bf16>(a), P<bf16>(w), P<bf16>(c), rows, cols, kEps, st); };
          break;
        case MemKernel::kRmsNormBwd:
          out.run = [=](cudaStream_t st) {
            cuda::RmsNormBackward(P<bf16>(a), P<bf16>(w), P<bf16>(b), P<bf16>(c), P<float>(dw), rows, cols, kEps, st);
          };
          break;
        case MemKernel::kLayerNormFwd:
          out.run = [=](cudaStream_t st) {
            cuda::LayerNormForward(P<bf16>(a), P<bf16>(w), P<bf16>(bias), P<bf16>(c), rows, cols, kEps, st);
          };
          break;
        case MemKernel::kLayerNormBwd:
          out.run = [=](cudaStream_t st) {
            cuda::LayerNormBackward(P<bf16>(a), P<bf16>(w), P<bf16>(b), P<bf16>(c), P<float>(dw), P<float>(dw) + cols,
                                    rows, cols, kEps, st);
          };
          break;
        case MemKernel::kSoftmaxFwd:
          out.run = [=](cudaStream_t st) { cuda::SoftmaxForward(P<bf16>(a), P<bf16>(c), rows, cols, st); };
          break;
        case MemKernel::kSoftmaxBwd:
          out.run = [=](cudaStream_t st) { cuda::SoftmaxBackward(P<bf16>(a), P<bf16>(b), P<bf16>(c), rows, cols, st); };
          break;
        case MemKernel::kSwigluFwd:
          out.run = [=](cudaStream_t st) { cuda::SwigluForward(P<bf16>(a), P<bf16>(c), rows, cols, st); };
          break;
        case MemKernel::kSwigluBwd:
          out.run = [=](cudaStream_t st) { cuda::SwigluBackward(P<bf16>(a), P<bf16>(b), P<bf16>(c), rows, cols, st); };
          break;
        case MemKernel::kGeluFwd:
          out.run = [=](cudaStream_t st) { cuda::GeluForward(P<bf16>(a), P<bf16>(c), n, st); };
          break;
        case MemKernel::kGeluBwd:
          out.run = [=](cudaStream_t st) { cuda::GeluBackward(P<bf16>(a), P<bf16>(b), P<bf16>(c), n, st); };
          break;
        case MemKernel::kRopeFwd:
        case MemKernel::kRopeBwd: {
          // Rows are tokens, each of cols / 128 heads of head_dim 128.
          ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer pos, buf(rows, 4));
          fill(pos, Storage::kI32, rows, 0.f, 8192.f);
          const bool inverse = mp.kernel == MemKernel::kRopeBwd;
          out.run = [=](cudaStream_t st) {
            cuda::Rope(P<bf16>(a), P<bf16>(c), P<int32_t>(pos), rows, cols / 128, 128, 10000.f, inverse, st);
          };
          break;
        }
        case MemKernel::kEmbeddingFwd: {
          constexpr int64_t kVocab = 32768;
          ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer table, buf(kVocab * cols, 2));
          ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer ids, buf(rows, 4));
          fill(table, Storage::kBf16, kVocab * cols);
          fill(ids, Storage::kI32, rows, 0.f, static_cast<float>(kVocab));
          out.kernel += StrCat(" vocab=", kVocab);
          out.run = [=](cudaStream_t st) { cuda::EmbeddingForward(P<bf16>(table), P<int32_t>(ids), P<bf16>(c), rows, cols, st); };
          break;
        }
        case MemKernel::kCopy:
          out.run = [=](cudaStream_t st) { cuda::Copy(a.get(), c.get(), n * 2, st); };
          break;
      }
      break;
    }
    case OpKind::kOptimizer: {
      const int64_t n = AdamParams(op);
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer state, Alloc(n * 16, op.name));  // param, m, v, grad
      ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer lp, Alloc(n * 2, op.name));
      fill(state, Storage::kF32, 4 * n, -0.01f, 0.01f);
      ECHOSIM_CUDA_CHECK(cudaMemsetAsync(P<float>(state) + 2 * n, 0, sizeof(float) * n, s));  // v >= 0
      out.kernel = StrCat("fused_adamw params=", n);
      out.run = [=](cudaStream_t st) {
        float* base = P<float>(state);
        cuda::AdamStep(cuda::AdamHyper{}, base, base + n, base + 2 * n, base + 3 * n, P<bf16>(lp), n, st);
      };
      break;
    }
  }
  ECHOSIM_CUDA_CHECK(cudaStreamSynchronize(s));
  return out;
}

bool GpuRunner::ContextHealthy() {
  const cudaError_t e = cudaDeviceSynchronize();
  if (e == cudaSuccess) return true;
  cudaGetLastError();  // clears only non-sticky errors; a fault stays
  return cudaDeviceSynchronize() == cudaSuccess;
}

StatusOr<MeasuredOp> GpuRunner::Measure(const OpSpec& op, const RunOptions& o) {
  // A shape cuBLASLt has no algorithm for (or a launch the kernels reject) fails this op
  // only; the caller decides whether that ends the run.
  try {
    ECHOSIM_ASSIGN_OR_RETURN(Prepared p, Prepare(op));
    MeasuredOp m;
    m.op = op;
    m.kernel = p.kernel;
    m.stats = Time(p.run, o, stream_);
    return m;
  } catch (const cuda::CudaError& e) {
    return FailedPrecondition(e.what());
  }
}

Status GpuRunner::Interference(const std::vector<int>& blocks, bool ll, const RunOptions& o, std::ostream& csv) {
  // Victims: one of each class, large enough to run for hundreds of microseconds.
  OpSpec gemm;
  gemm.name = "interference.gemm";
  gemm.kind = OpKind::kGemm;
  gemm.m = gemm.n = gemm.k = 8192;
  OpSpec attn;
  attn.name = "attn.fwd";
  attn.kind = OpKind::kAttention;
  attn.m = attn.n = 4096;
  attn.k = 128;
  attn.batch = 32;
  OpSpec mem;
  mem.name = "interference.copy";
  mem.kind = OpKind::kMemoryBound;
  mem.bytes = 1 << 30;
  // The communication kernel's buffers: 64 Mi floats (256 MiB) in and out, and for LL a
  // line buffer of as many 8-byte lines.
  const int64_t n = int64_t{64} << 20;
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer src, Alloc(n * 4, "communication kernel"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer dst, Alloc(n * 4, "communication kernel"));
  DeviceBuffer lines;
  if (ll) {
    ECHOSIM_ASSIGN_OR_RETURN(lines, Alloc(n * 8, "communication kernel LL lines"));
  }
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer stop, Alloc(sizeof(int), "stop flag"));
  cuda::FillUniform(src.get(), Storage::kF32, n, 7, -1.f, 1.f, stream_);
  int* started_host = nullptr;
  ECHOSIM_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&started_host), sizeof(int), cudaHostAllocMapped));
  std::unique_ptr<int, void (*)(int*)> started_owner(started_host, [](int* q) { cudaFreeHost(q); });
  int* started_dev = nullptr;
  ECHOSIM_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&started_dev), started_host, 0));
  cudaStream_t comm = nullptr;
  ECHOSIM_CUDA_CHECK(cudaStreamCreateWithFlags(&comm, cudaStreamNonBlocking));
  std::unique_ptr<CUstream_st, void (*)(cudaStream_t)> comm_owner(comm, [](cudaStream_t q) { cudaStreamDestroy(q); });

  RunOptions ro = o;
  ro.flush_l2 = false;  // a flush would itself compete with the communication kernel
  csv << "# Interference: each kernel timed alone and beside the communication-like kernel ("
      << (ll ? "LL" : "Simple") << " protocol) with `channels` blocks; slowdown = concurrent / alone\n"
      << "# median of " << o.repeats << " CUDA-event timings after " << o.warmup << " warm-up launches; device "
      << device_.name << "\n"
      << "class,channels,sm_count,slowdown\n";
  const std::pair<const char*, OpSpec*> victims[] = {{"gemm", &gemm}, {"attention", &attn}, {"memory_bound", &mem}};
  for (const auto& [cls, op] : victims) {
    ECHOSIM_ASSIGN_OR_RETURN(Prepared p, Prepare(*op));
    const TimingStats alone = Time(p.run, ro, stream_);
    for (int b : blocks) {
      ECHOSIM_CUDA_CHECK(cudaMemsetAsync(stop.get(), 0, sizeof(int), comm));
      ECHOSIM_CUDA_CHECK(cudaStreamSynchronize(comm));
      *reinterpret_cast<volatile int*>(started_host) = 0;
      cuda::CommCopyLoop(ll ? cuda::CommProtocol::kLl : cuda::CommProtocol::kSimple, b, P<float>(src), P<float>(dst),
                         P<uint64_t>(lines), n, P<int>(stop), started_dev, comm);
      const auto t0 = std::chrono::steady_clock::now();
      while (*reinterpret_cast<volatile int*>(started_host) == 0) {
        if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(10)) {
          return Internal("the communication kernel did not start within 10 s");
        }
        std::this_thread::yield();
      }
      const TimingStats together = Time(p.run, ro, stream_);
      ECHOSIM_CUDA_CHECK(cudaMemsetAsync(stop.get(), 1, sizeof(int), stream_));
      ECHOSIM_CUDA_CHECK(cudaStreamSynchronize(stream_));
      ECHOSIM_CUDA_CHECK(cudaStreamSynchronize(comm));
      const double slowdown = std::max(1.0, together.median_us / alone.median_us);
      csv << cls << "," << b << "," << device_.sm_count << "," << FormatNumber(slowdown) << "\n";
      std::fprintf(stderr, "interference: %s with %d blocks: alone %.1f us, concurrent %.1f us\n", cls, b,
                   alone.median_us, together.median_us);
    }
  }
  return Status::Ok();
}

}  // namespace echosim::kernels
