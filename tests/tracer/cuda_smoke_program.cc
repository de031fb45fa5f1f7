// A small CUDA program for the GPU capture test (gpu_capture_test.cc): it needs no CUDA
// library at build time (the driver is opened with dlopen and the kernel is PTX) and
// exercises what the CUPTI library records: kernel launches on two streams, a
// cross-stream event wait, a memset, a device-to-device copy, synchronisation, and NCCL
// calls (served by the shim, found through the process's symbol table).
//
// Launches, in order: 3 x busy on stream A, event record on A, stream B waits for it,
// 1 x busy on B, memset and copy on A, an NCCL all-reduce (in place) and all-gather on
// A, 1 x busy on A, synchronise. Exits 0, 2 without a GPU, 3 on a CUDA/NCCL error.
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr const char* kPtx = R"ptx(
.version 7.0
.target sm_75
.address_size 64

.visible .entry busy(.param .u64 out, .param .u32 iters)
{
  .reg .pred %p<2>;
  .reg .b32 %r<4>;
  .reg .b64 %rd<3>;
  ld.param.u64 %rd1, [out];
  ld.param.u32 %r1, [iters];
  cvta.to.global.u64 %rd2, %rd1;
  mov.u32 %r2, 0;
LOOP:
  add.s32 %r2, %r2, 1;
  setp.lt.u32 %p1, %r2, %r1;
  @%p1 bra LOOP;
  st.global.u32 [%rd2], %r2;
  ret;
}
)ptx";

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using Handle = void*;

void* g_cuda = nullptr;

template <typename F>
F Sym(const char* name) {
  void* p = dlsym(g_cuda, name);
  if (p == nullptr) {
    std::fprintf(stderr, "cuda_smoke_program: %s not found in libcuda.so.1\n", name);
    std::exit(3);
  }
  return reinterpret_cast<F>(p);
}

void Check(CUresult r, const char* what) {
  if (r != 0) {
    std::fprintf(stderr, "cuda_smoke_program: %s failed with CUresult %d\n", what, r);
    std::exit(3);
  }
}

}  // namespace

int main() {
  g_cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (g_cuda == nullptr) {
    std::fprintf(stderr, "cuda_smoke_program: no CUDA driver\n");
    return 2;
  }
  auto cu_init = Sym<CUresult (*)(unsigned)>("cuInit");
  auto device_get = Sym<CUresult (*)(CUdevice*, int)>("cuDeviceGet");
  auto retain = Sym<CUresult (*)(Handle*, CUdevice)>("cuDevicePrimaryCtxRetain");
  auto set_current = Sym<CUresult (*)(Handle)>("cuCtxSetCurrent");
  auto load = Sym<CUresult (*)(Handle*, const void*)>("cuModuleLoadData");
  auto get_function = Sym<CUresult (*)(Handle*, Handle, const char*)>("cuModuleGetFunction");
  auto stream_create = Sym<CUresult (*)(Handle*, unsigned)>("cuStreamCreate");
  auto event_create = Sym<CUresult (*)(Handle*, unsigned)>("cuEventCreate");
  auto event_record = Sym<CUresult (*)(Handle, Handle)>("cuEventRecord");
  auto wait_event = Sym<CUresult (*)(Handle, Handle, unsigned)>("cuStreamWaitEvent");
  auto launch = Sym<CUresult (*)(Handle, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                 unsigned, Handle, void**, void**)>("cuLaunchKernel");
  auto mem_alloc = Sym<CUresult (*)(CUdeviceptr*, size_t)>("cuMemAlloc_v2");
  auto memset8 = Sym<CUresult (*)(CUdeviceptr, unsigned char, size_t, Handle)>("cuMemsetD8Async");
  auto copy = Sym<CUresult (*)(CUdeviceptr, CUdeviceptr, size_t, Handle)>("cuMemcpyDtoDAsync_v2");
  auto stream_sync = Sym<CUresult (*)(Handle)>("cuStreamSynchronize");
  auto ctx_sync = Sym<CUresult (*)()>("cuCtxSynchronize");

  if (cu_init(0) != 0) {
    std::fprintf(stderr, "cuda_smoke_program: cuInit failed (no GPU?)\n");
    return 2;
  }
  CUdevice dev = 0;
  Handle ctx = nullptr, module = nullptr, fn = nullptr, a = nullptr, b = nullptr, ev = nullptr;
  Check(device_get(&dev, 0), "cuDeviceGet");
  Check(retain(&ctx, dev), "cuDevicePrimaryCtxRetain");
  Check(set_current(ctx), "cuCtxSetCurrent");
  Check(load(&module, kPtx), "cuModuleLoadData");
  Check(get_function(&fn, module, "busy"), "cuModuleGetFunction");
  Check(stream_create(&a, 1), "cuStreamCreate");  // CU_STREAM_NON_BLOCKING
  Check(stream_create(&b, 1), "cuStreamCreate");
  Check(event_create(&ev, 2), "cuEventCreate");  // CU_EVENT_DISABLE_TIMING
  CUdeviceptr buf = 0;
  constexpr size_t kBytes = 1 << 20;
  Check(mem_alloc(&buf, 4 * kBytes), "cuMemAlloc");
  unsigned iters = 200000;
  void* args[] = {&buf, &iters};
  for (int i = 0; i < 3; ++i) Check(launch(fn, 1, 1, 1, 32, 1, 1, 0, a, args, nullptr), "cuLaunchKernel");
  Check(event_record(ev, a), "cuEventRecord");
  Check(wait_event(b, ev, 0), "cuStreamWaitEvent");
  Check(launch(fn, 1, 1, 1, 32, 1, 1, 0, b, args, nullptr), "cuLaunchKernel");
  Check(memset8(buf + kBytes, 0, kBytes, a), "cuMemsetD8Async");
  Check(copy(buf + 2 * kBytes, buf + kBytes, kBytes, a), "cuMemcpyDtoDAsync");

  using GetUniqueId = int (*)(void*);
  using AllReduce = int (*)(const void*, void*, size_t, int, int, Handle, Handle);
  using AllGather = int (*)(const void*, void*, size_t, int, Handle, Handle);
  auto get_id = reinterpret_cast<GetUniqueId>(dlsym(RTLD_DEFAULT, "ncclGetUniqueId"));
  struct Id {
    char internal[128];
  };
  auto init = reinterpret_cast<int (*)(Handle*, int, Id, int)>(dlsym(RTLD_DEFAULT, "ncclCommInitRank"));
  auto all_reduce = reinterpret_cast<AllReduce>(dlsym(RTLD_DEFAULT, "ncclAllReduce"));
  auto all_gather = reinterpret_cast<AllGather>(dlsym(RTLD_DEFAULT, "ncclAllGather"));
  if (get_id != nullptr && init != nullptr && all_reduce != nullptr && all_gather != nullptr) {
    const char* w = std::getenv("WORLD_SIZE");
    const char* r = std::getenv("RANK");
    const int world = w != nullptr ? std::atoi(w) : 1;
    const int rank = r != nullptr ? std::atoi(r) : 0;
    Id id;
    Handle comm = nullptr;
    if (get_id(&id) != 0 || init(&comm, world, id, rank) != 0) {
      std::fprintf(stderr, "cuda_smoke_program: NCCL init failed\n");
      return 3;
    }
    void* p = reinterpret_cast<void*>(buf);
    if (all_reduce(p, p, 1024, /*float32*/ 7, /*sum*/ 0, comm, a) != 0) return 3;
    // Gather 1024 floats per rank into buf + 3 MiB (world * 4 KiB must fit in 1 MiB).
    void* out = reinterpret_cast<void*>(buf + 3 * kBytes);
    if (world * 4096 <= static_cast<int>(kBytes) && all_gather(p, out, 1024, 7, comm, a) != 0) return 3;
  }
  Check(launch(fn, 1, 1, 1, 32, 1, 1, 0, a, args, nullptr), "cuLaunchKernel");
  Check(stream_sync(a), "cuStreamSynchronize");
  Check(ctx_sync(), "cuCtxSynchronize");
  std::printf("cuda_smoke_program: done\n");
  return 0;
}
