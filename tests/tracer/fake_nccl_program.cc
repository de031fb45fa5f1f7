// A stand-in for a distributed training program, for `echosim trace` tests on machines
// without a GPU: it finds NCCL through the process's symbol table (the shim arrives
// through LD_PRELOAD, as for a real program) and makes the calls of one pipeline-
// parallel step with in-place operations, which need no GPU memory.
//
// Layout from the environment as torch.distributed sets it: WORLD_SIZE, RANK; PP
// stages of WORLD_SIZE / PP ranks each (PP from ECHOSIM_FAKE_PP, default 2), ranks
// ordered tp fastest. Each rank: a world all-reduce, its tensor-parallel all-reduce,
// activations to the next stage (send) or from the previous one (recv), and a final
// all-reduce; exits 0, or 3 if NCCL is missing or fails.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace {

struct UniqueId {
  char internal[128];
};
using Comm = void*;

template <typename F>
F Find(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

}  // namespace

int main() {
  using GetUniqueId = int (*)(UniqueId*);
  using InitRank = int (*)(Comm*, int, UniqueId, int);
  using AllReduce = int (*)(const void*, void*, size_t, int, int, Comm, void*);
  using SendRecv = int (*)(const void*, size_t, int, int, Comm, void*);
  using NoArg = int (*)();
  auto get_id = Find<GetUniqueId>("ncclGetUniqueId");
  auto init = Find<InitRank>("ncclCommInitRank");
  auto all_reduce = Find<AllReduce>("ncclAllReduce");
  auto send = Find<SendRecv>("ncclSend");
  auto recv = Find<SendRecv>("ncclRecv");
  auto group_start = Find<NoArg>("ncclGroupStart");
  auto group_end = Find<NoArg>("ncclGroupEnd");
  if (!get_id || !init || !all_reduce || !send || !recv || !group_start || !group_end) {
    std::fprintf(stderr, "fake_nccl_program: NCCL symbols not found (is the shim preloaded?)\n");
    return 3;
  }
  const int world = EnvInt("WORLD_SIZE", 1);
  const int rank = EnvInt("RANK", 0);
  const int pp = EnvInt("ECHOSIM_FAKE_PP", 2);
  const int per_stage = world / pp;
  const int stage = rank / per_stage;
  UniqueId id;
  Comm world_comm = nullptr, tp_comm = nullptr, pp_comm = nullptr;
  bool ok = get_id(&id) == 0 && init(&world_comm, world, id, rank) == 0 &&
            init(&tp_comm, per_stage, id, rank % per_stage) == 0 &&
            init(&pp_comm, pp, id, stage) == 0;
  static float buf[1 << 16];
  void* stream = nullptr;
  ok = ok && all_reduce(buf, buf, 1024, /*float32*/ 7, /*sum*/ 0, world_comm, stream) == 0;
  ok = ok && all_reduce(buf, buf, 1 << 16, 7, 0, tp_comm, stream) == 0;
  if (stage + 1 < pp) ok = ok && send(buf, 1 << 14, /*bf16*/ 9, stage + 1, pp_comm, stream) == 0;
  if (stage > 0) ok = ok && recv(buf, 1 << 14, 9, stage - 1, pp_comm, stream) == 0;
  ok = ok && group_start() == 0 && all_reduce(buf, buf, 8, 7, 0, world_comm, stream) == 0 &&
       group_end() == 0;
  if (!ok) {
    std::fprintf(stderr, "fake_nccl_program: an NCCL call failed\n");
    return 3;
  }
  std::printf("fake_nccl_program: rank %d of %d done\n", rank, world);
  return 0;
}
