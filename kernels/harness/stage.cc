// `stage` and `decode`: transformer layers from our kernels and cuBLASLt (see stage.h).
#include "kernels/harness/stage.h"

#include <cstdio>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/kernels.h"
#include "kernels/harness/device_info.h"
#include "kernels/harness/transformer_ops.h"
#include "simulator/core/strings.h"

namespace echosim::kernels {
namespace {

using cuda::bf16;
using cuda::Storage;
using Json = nlohmann::ordered_json;

constexpr float kEps = 1e-5f;
constexpr float kRopeBase = 10000.f;

// Offsets (elements) of one layer's parameters in the stacked parameter buffers; every
// offset is a multiple of 8 (hidden is), so 128-bit accesses and cuBLASLt stay aligned.
struct ParamLayout {
  int64_t norm1, qkv, wo, norm2, w1, w2, total;
  explicit ParamLayout(const LayerShape& s) {
    const int64_t h = s.hidden, d = s.head_dim();
    const int64_t width = (s.heads + 2 * s.kv_heads) * d;
    const int64_t up = s.mlp == MlpType::kSwiglu ? 2 * s.ffn : s.ffn;
    norm1 = 0;
    qkv = h;
    wo = qkv + width * h;
    norm2 = wo + h * s.heads * d;
    w1 = norm2 + h;
    w2 = w1 + up * h;
    total = w2 + h * s.ffn;
  }
};

template <typename T>
T* P(const DeviceBuffer& b) {
  return static_cast<T*>(b.get());
}

// Times groups of launches with CUDA events when `on`; otherwise only launches them.
class OpTimer {
 public:
  OpTimer(cudaStream_t s, size_t ops) : s_(s), samples_(ops) {}
  ~OpTimer() {
    for (cudaEvent_t e : pool_) cudaEventDestroy(e);
  }
  bool on = false;
  template <typename F>
  void Op(int idx, F&& f) {
    if (!on) {
      f();
      return;
    }
    cudaEvent_t a = Get(), b = Get();
    ECHOSIM_CUDA_CHECK(cudaEventRecord(a, s_));
    f();
    ECHOSIM_CUDA_CHECK(cudaEventRecord(b, s_));
    pending_.push_back({idx, a, b});
  }
  void Collect() {
    ECHOSIM_CUDA_CHECK(cudaStreamSynchronize(s_));
    for (const Pending& p : pending_) {
      float ms = 0;
      ECHOSIM_CUDA_CHECK(cudaEventElapsedTime(&ms, p.a, p.b));
      samples_[static_cast<size_t>(p.idx)].push_back(static_cast<double>(ms) * 1000.0);
    }
    pending_.clear();
    used_ = 0;
  }
  const std::vector<std::vector<double>>& samples() const { return samples_; }

 private:
  struct Pending {
    int idx;
    cudaEvent_t a, b;
  };
  cudaEvent_t Get() {
    if (used_ == pool_.size()) {
      cudaEvent_t e;
      ECHOSIM_CUDA_CHECK(cudaEventCreate(&e));
      pool_.push_back(e);
    }
    return pool_[used_++];
  }
  cudaStream_t s_;
  std::vector<cudaEvent_t> pool_;
  size_t used_ = 0;
  std::vector<Pending> pending_;
  std::vector<std::vector<double>> samples_;
};

void Gemm(GpuRunner& r, const void* x, const void* w, void* c, int64_t m, int64_t n, int64_t k, bool x_km = false,
          bool w_kn = false, bool accumulate_f32 = false) {
  cuda::GemmShape g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.x_km = x_km;
  g.w_kn = w_kn;
  g.out = accumulate_f32 ? cuda::GemmType::kF32 : cuda::GemmType::kBf16;
  r.gemm().Run(g, x, w, c, accumulate_f32 ? 1.f : 0.f, r.stream());
}

Json StatsJson(const TimingStats& t, double scale, const char* unit) {
  Json j;
  j[StrCat("median_", unit)] = t.median_us * scale;
  j[StrCat("p10_", unit)] = t.p10_us * scale;
  j[StrCat("p90_", unit)] = t.p90_us * scale;
  j["repeats"] = t.repeats;
  return j;
}

Json ShapeJson(const LayerShape& s, int64_t layers) {
  Json c;
  c["layers"] = layers;
  c["hidden"] = s.hidden;
  c["heads"] = s.heads;
  c["kv_heads"] = s.kv_heads;
  c["head_dim"] = s.head_dim();
  c["ffn"] = s.ffn;
  c["mlp"] = s.mlp == MlpType::kSwiglu ? "swiglu" : "gelu";
  c["norm"] = "rmsnorm";
  c["dtype"] = "bf16";
  return c;
}

}  // namespace

Status RunStage(GpuRunner& r, const CliArgs& args, std::string* json) {
  const LayerShape& s = args.layer;
  const int64_t L = args.layers, B = s.micro_batch, S = s.seq, T = B * S;
  const int64_t h = s.hidden, H = s.heads, Hkv = s.kv_heads, d = s.head_dim(), f = s.ffn;
  const int64_t W = (H + 2 * Hkv) * d, Hd = H * d;
  const bool swiglu = s.mlp == MlpType::kSwiglu;
  const int64_t up = swiglu ? 2 * f : f;
  const ParamLayout pl(s);
  const int64_t n_params = L * pl.total;
  cudaStream_t st = r.stream();

  // Parameters: bf16 weights, fp32 master weights, Adam moments, fp32 gradients.
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer wbf, r.Alloc(n_params * 2, "stage weights"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer state, r.Alloc(n_params * 16, "stage optimizer state"));
  float* master = P<float>(state);
  float* mom1 = master + n_params;
  float* mom2 = mom1 + n_params;
  float* grad = mom2 + n_params;
  for (int64_t l = 0; l < L; ++l) {
    const int64_t base = l * pl.total;
    for (auto [off, len] : {std::pair{pl.norm1, h}, std::pair{pl.norm2, h}}) {  // norm weights 1
      cuda::FillUniform(master + base + off, Storage::kF32, len, 0, 1.f, 1.f, st);
      cuda::FillUniform(P<bf16>(wbf) + base + off, Storage::kBf16, len, 0, 1.f, 1.f, st);
    }
    for (auto [off, len] : {std::pair{pl.qkv, pl.wo - pl.qkv}, std::pair{pl.wo, pl.norm2 - pl.wo},
                            std::pair{pl.w1, pl.w2 - pl.w1}, std::pair{pl.w2, pl.total - pl.w2}}) {
      const uint64_t seed = static_cast<uint64_t>(base + off + 1);
      cuda::FillUniform(master + base + off, Storage::kF32, len, seed, -0.02f, 0.02f, st);
      cuda::FillUniform(P<bf16>(wbf) + base + off, Storage::kBf16, len, seed, -0.02f, 0.02f, st);
    }
  }
  ECHOSIM_CUDA_CHECK(cudaMemsetAsync(mom1, 0, sizeof(float) * 2 * n_params, st));

  // Saved activations of each layer (one micro-batch in flight: 1F1B with one stage).
  struct Acts {
    DeviceBuffer x_in, n1, qkv, o, lse, x_mid, n2, u, a;
  };
  std::vector<Acts> acts(static_cast<size_t>(L));
  for (Acts& a : acts) {
    ECHOSIM_ASSIGN_OR_RETURN(a.x_in, r.Alloc(T * h * 2, "stage activations"));
    ECHOSIM_ASSIGN_OR_RETURN(a.n1, r.Alloc(T * h * 2, "stage activations"));
    ECHOSIM_ASSIGN_OR_RETURN(a.qkv, r.Alloc(T * W * 2, "stage activations"));
    ECHOSIM_ASSIGN_OR_RETURN(a.o, r.Alloc(T * Hd * 2, "stage activations"));
    ECHOSIM_ASSIGN_OR_RETURN(a.lse, r.Alloc(B * H * S * 4, "stage activations"));
    ECHOSIM_ASSIGN_OR_RETURN(a.x_mid, r.Alloc(T * h * 2, "stage activations"));
    ECHOSIM_ASSIGN_OR_RETURN(a.n2, r.Alloc(T * h * 2, "stage activations"));
    ECHOSIM_ASSIGN_OR_RETURN(a.u, r.Alloc(T * up * 2, "stage activations"));
    ECHOSIM_ASSIGN_OR_RETURN(a.a, r.Alloc(T * f * 2, "stage activations"));
  }
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer x_top, r.Alloc(T * h * 2, "stage output"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer dy_top, r.Alloc(T * h * 2, "stage gradients"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer g0, r.Alloc(T * h * 2, "stage gradients"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer g1, r.Alloc(T * h * 2, "stage gradients"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer tmp, r.Alloc(T * h * 2, "stage scratch"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer dxm, r.Alloc(T * h * 2, "stage scratch"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer g_mid, r.Alloc(T * h * 2, "stage scratch"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer da, r.Alloc(T * f * 2, "stage scratch"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer du, r.Alloc(T * up * 2, "stage scratch"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer d_o, r.Alloc(T * Hd * 2, "stage scratch"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer dqkv, r.Alloc(T * W * 2, "stage scratch"));
  cuda::AttentionParams proto;
  proto.batch = B;
  proto.heads = H;
  proto.kv_heads = Hkv;
  proto.sq = proto.sk = S;
  proto.d = d;
  proto.causal = true;
  proto.q_layout = proto.kv_layout = cuda::TensorLayout{S * W, d, W};
  proto.o_layout = cuda::TensorLayout{S * Hd, d, Hd};
  proto.tensor_cores = r.tensor_core_attention();
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer ws, r.Alloc(cuda::FlashAttentionBackwardWorkspace(proto) * 4, "attention"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer pos, r.Alloc(T * 4, "positions"));
  std::vector<int32_t> host_pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) host_pos[static_cast<size_t>(t)] = static_cast<int32_t>(t % S);
  ECHOSIM_CUDA_CHECK(cudaMemcpyAsync(pos.get(), host_pos.data(), host_pos.size() * 4, cudaMemcpyHostToDevice, st));
  cuda::FillUniform(acts[0].x_in.get(), Storage::kBf16, T * h, 11, -1.f, 1.f, st);
  cuda::FillUniform(dy_top.get(), Storage::kBf16, T * h, 12, -1e-3f, 1e-3f, st);

  const std::vector<OpSpec> fwd_ops = LayerForwardOps(s), bwd_ops = LayerBackwardOps(s);
  OpTimer timer(st, fwd_ops.size() + bwd_ops.size());
  const int fb = static_cast<int>(fwd_ops.size());

  auto forward = [&](int64_t l) {
    Acts& a = acts[static_cast<size_t>(l)];
    bf16* wl = P<bf16>(wbf) + l * pl.total;
    bf16* out = l + 1 < L ? P<bf16>(acts[static_cast<size_t>(l + 1)].x_in) : P<bf16>(x_top);
    cuda::AttentionParams p = proto;
    p.q = P<bf16>(a.qkv);
    p.k = p.q + Hd;
    p.v = p.k + Hkv * d;
    int i = 0;
    timer.Op(i++, [&] { cuda::RmsNormForward(P<bf16>(a.x_in), wl + pl.norm1, P<bf16>(a.n1), T, h, kEps, st); });
    timer.Op(i++, [&] { Gemm(r, a.n1.get(), wl + pl.qkv, a.qkv.get(), T, W, h); });
    timer.Op(i++, [&] {
      cuda::Rope(P<bf16>(a.qkv), P<bf16>(a.qkv), P<int32_t>(pos), T, H + Hkv, d, kRopeBase, false, st, W);
    });
    timer.Op(i++, [&] { cuda::FlashAttentionForward(p, P<bf16>(a.o), P<float>(a.lse), st); });
    timer.Op(i++, [&] { Gemm(r, a.o.get(), wl + pl.wo, tmp.get(), T, h, Hd); });
    timer.Op(i++, [&] { cuda::Add(P<bf16>(a.x_in), P<bf16>(tmp), P<bf16>(a.x_mid), T * h, st); });
    timer.Op(i++, [&] { cuda::RmsNormForward(P<bf16>(a.x_mid), wl + pl.norm2, P<bf16>(a.n2), T, h, kEps, st); });
    timer.Op(i++, [&] { Gemm(r, a.n2.get(), wl + pl.w1, a.u.get(), T, up, h); });
    timer.Op(i++, [&] {
      if (swiglu) {
        cuda::SwigluForward(P<bf16>(a.u), P<bf16>(a.a), T, f, st);
      } else {
        cuda::GeluForward(P<bf16>(a.u), P<bf16>(a.a), T * f, st);
      }
    });
    timer.Op(i++, [&] { Gemm(r, a.a.get(), wl + pl.w2, tmp.get(), T, h, f); });
    timer.Op(i++, [&] { cuda::Add(P<bf16>(a.x_mid), P<bf16>(tmp), out, T * h, st); });
  };
  // dy: gradient of this layer's output; dx receives the gradient of its input.
  auto backward = [&](int64_t l, bf16* dy, bf16* dx) {
    Acts& a = acts[static_cast<size_t>(l)];
    bf16* wl = P<bf16>(wbf) + l * pl.total;
    float* gl = grad + l * pl.total;
    cuda::AttentionParams p = proto;
    p.q = P<bf16>(a.qkv);
    p.k = p.q + Hd;
    p.v = p.k + Hkv * d;
    bf16* dq = P<bf16>(dqkv);
    int i = fb;
    timer.Op(i++, [&] { cuda::Copy(dy, g_mid.get(), T * h * 2, st); });             // residual2.bwd
    timer.Op(i++, [&] { Gemm(r, dy, wl + pl.w2, da.get(), T, f, h, false, true); });  // fc2.dgrad
    timer.Op(i++, [&] { Gemm(r, dy, a.a.get(), gl + pl.w2, h, f, T, true, true, true); });
    timer.Op(i++, [&] {
      if (swiglu) {
        cuda::SwigluBackward(P<bf16>(a.u), P<bf16>(da), P<bf16>(du), T, f, st);
      } else {
        cuda::GeluBackward(P<bf16>(a.u), P<bf16>(da), P<bf16>(du), T * f, st);
      }
    });
    timer.Op(i++, [&] { Gemm(r, du.get(), wl + pl.w1, tmp.get(), T, h, up, false, true); });  // fc1.dgrad
    timer.Op(i++, [&] { Gemm(r, du.get(), a.n2.get(), gl + pl.w1, up, h, T, true, true, true); });
    timer.Op(i++, [&] {  // norm2.bwd
      cuda::RmsNormBackward(P<bf16>(a.x_mid), wl + pl.norm2, P<bf16>(tmp), P<bf16>(dxm), gl + pl.norm2, T, h, kEps, st);
    });
    timer.Op(i++, [&] { cuda::Add(P<bf16>(g_mid), P<bf16>(dxm), P<bf16>(g_mid), T * h, st); });  // residual1.bwd
    timer.Op(i++, [&] { Gemm(r, g_mid.get(), wl + pl.wo, d_o.get(), T, Hd, h, false, true); });  // proj.dgrad
    timer.Op(i++, [&] { Gemm(r, g_mid.get(), a.o.get(), gl + pl.wo, h, Hd, T, true, true, true); });
    timer.Op(i++, [&] {
      cuda::FlashAttentionBackward(p, P<bf16>(a.o), P<bf16>(d_o), P<float>(a.lse), dq, dq + Hd, dq + Hd + Hkv * d,
                                   P<float>(ws), st);
    });
    timer.Op(i++, [&] { cuda::Rope(dq, dq, P<int32_t>(pos), T, H + Hkv, d, kRopeBase, true, st, W); });
    timer.Op(i++, [&] { Gemm(r, dq, wl + pl.qkv, tmp.get(), T, h, W, false, true); });  // qkv.dgrad
    timer.Op(i++, [&] { Gemm(r, dq, a.n1.get(), gl + pl.qkv, W, h, T, true, true, true); });
    timer.Op(i++, [&] {  // norm1.bwd, plus the residual branch's gradient
      cuda::RmsNormBackward(P<bf16>(a.x_in), wl + pl.norm1, P<bf16>(tmp), P<bf16>(dxm), gl + pl.norm1, T, h, kEps, st);
      cuda::Add(P<bf16>(g_mid), P<bf16>(dxm), dx, T * h, st);
    });
  };
  auto micro_batch = [&] {
    for (int64_t l = 0; l < L; ++l) forward(l);
    bf16* dy = P<bf16>(dy_top);
    for (int64_t l = L - 1; l >= 0; --l) {
      bf16* dx = dy == P<bf16>(g0) ? P<bf16>(g1) : P<bf16>(g0);
      backward(l, dy, dx);
      dy = dx;
    }
  };
  int step = 0;
  auto adam = [&] {
    cuda::AdamHyper hyper;
    hyper.step = ++step;
    cuda::AdamStep(hyper, master, mom1, mom2, grad, P<bf16>(wbf), n_params, st);
  };

  // Whole steps: 1F1B with one stage is F, B, F, B, ...; then the optimizer.
  cudaEvent_t e0, e1;
  ECHOSIM_CUDA_CHECK(cudaEventCreate(&e0));
  ECHOSIM_CUDA_CHECK(cudaEventCreate(&e1));
  std::vector<double> step_us, adam_us;
  for (int rep = 0; rep < args.warmup + args.repeats; ++rep) {
    ECHOSIM_CUDA_CHECK(cudaMemsetAsync(grad, 0, sizeof(float) * n_params, st));
    ECHOSIM_CUDA_CHECK(cudaEventRecord(e0, st));
    for (int64_t mb = 0; mb < args.micro_batches; ++mb) micro_batch();
    adam();
    ECHOSIM_CUDA_CHECK(cudaEventRecord(e1, st));
    ECHOSIM_CUDA_CHECK(cudaEventSynchronize(e1));
    float ms = 0;
    ECHOSIM_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    if (rep >= args.warmup) step_us.push_back(static_cast<double>(ms) * 1000.0);
    std::fprintf(stderr, "stage: step %d of %d: %.3f ms\n", rep + 1, args.warmup + args.repeats, ms);
  }
  // The optimizer alone, then each op of a micro-batch with events around it.
  for (int rep = 0; rep < args.repeats; ++rep) {
    ECHOSIM_CUDA_CHECK(cudaEventRecord(e0, st));
    adam();
    ECHOSIM_CUDA_CHECK(cudaEventRecord(e1, st));
    ECHOSIM_CUDA_CHECK(cudaEventSynchronize(e1));
    float ms = 0;
    ECHOSIM_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    adam_us.push_back(static_cast<double>(ms) * 1000.0);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  timer.on = true;
  for (int rep = 0; rep < args.repeats; ++rep) {
    micro_batch();
    timer.Collect();
  }

  Json out;
  Json cfg = ShapeJson(s, L);
  cfg["seq"] = S;
  cfg["micro_batch"] = B;
  cfg["micro_batches"] = args.micro_batches;
  cfg["pipeline_stages"] = 1;
  cfg["schedule"] = "1f1b";
  cfg["parameters"] = n_params;
  cfg["device"] = r.device().name;
  cfg["attention_forward"] = r.tensor_core_attention() ? "tensor_cores" : "scalar";
  cfg["warmup"] = args.warmup;
  cfg["command"] = args.command_line;
  out["config"] = cfg;
  const TimingStats st_step = ComputeStats(step_us);
  out["measured_step_ms"] = st_step.median_us / 1000.0;
  out["p10_step_ms"] = st_step.p10_us / 1000.0;
  out["p90_step_ms"] = st_step.p90_us / 1000.0;
  out["repeats"] = st_step.repeats;
  Json ops = Json::array();
  for (size_t i = 0; i < fwd_ops.size() + bwd_ops.size(); ++i) {
    const OpSpec& op = i < fwd_ops.size() ? fwd_ops[i] : bwd_ops[i - fwd_ops.size()];
    Json j = OpToJson(op);
    const TimingStats t = ComputeStats(timer.samples()[i]);  // layers x repeats samples
    j["median_us"] = t.median_us;
    j["p10_us"] = t.p10_us;
    j["p90_us"] = t.p90_us;
    j["samples"] = t.repeats;
    ops.push_back(j);
  }
  out["ops"] = ops;
  Json opt = OpToJson(OptimizerOp(n_params));
  const TimingStats ta = ComputeStats(adam_us);
  opt["median_us"] = ta.median_us;
  opt["p10_us"] = ta.p10_us;
  opt["p90_us"] = ta.p90_us;
  opt["kernel"] = StrCat("fused_adamw params=", n_params);
  out["optimizer"] = opt;
  *json = out.dump(2) + "\n";
  return Status::Ok();
}

Status RunDecode(GpuRunner& r, const CliArgs& args, std::string* json) {
  const LayerShape& s = args.layer;
  const int64_t L = args.layers, h = s.hidden, H = s.heads, Hkv = s.kv_heads, d = s.head_dim(), f = s.ffn;
  const int64_t W = (H + 2 * Hkv) * d, Hd = H * d;
  const bool swiglu = s.mlp == MlpType::kSwiglu;
  const int64_t up = swiglu ? 2 * f : f;
  int64_t bmax = 1;
  for (int64_t b : args.batch_sizes) bmax = std::max(bmax, b);
  const int64_t cap = args.ctx_end;
  const ParamLayout pl(s);
  cudaStream_t st = r.stream();

  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer wbf, r.Alloc(L * pl.total * 2, "decode weights"));
  for (int64_t l = 0; l < L; ++l) {
    bf16* wl = P<bf16>(wbf) + l * pl.total;
    cuda::FillUniform(wl, Storage::kBf16, pl.total, static_cast<uint64_t>(l + 1), -0.02f, 0.02f, st);
    cuda::FillUniform(wl + pl.norm1, Storage::kBf16, h, 0, 1.f, 1.f, st);
    cuda::FillUniform(wl + pl.norm2, Storage::kBf16, h, 0, 1.f, 1.f, st);
  }
  const int64_t cache_elems = bmax * Hkv * cap * d;
  std::vector<DeviceBuffer> kc, vc;
  for (int64_t l = 0; l < L; ++l) {
    ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer k, r.Alloc(cache_elems * 2, "KV cache (reduce --batch-sizes or --context END)"));
    ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer v, r.Alloc(cache_elems * 2, "KV cache (reduce --batch-sizes or --context END)"));
    cuda::FillUniform(k.get(), Storage::kBf16, cache_elems, static_cast<uint64_t>(100 + 2 * l), -1.f, 1.f, st);
    cuda::FillUniform(v.get(), Storage::kBf16, cache_elems, static_cast<uint64_t>(101 + 2 * l), -1.f, 1.f, st);
    kc.push_back(k);
    vc.push_back(v);
  }
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer x, r.Alloc(bmax * h * 2, "decode activations"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer xm, r.Alloc(bmax * h * 2, "decode activations"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer n, r.Alloc(bmax * h * 2, "decode activations"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer tmp, r.Alloc(bmax * h * 2, "decode activations"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer qkv, r.Alloc(bmax * W * 2, "decode activations"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer o, r.Alloc(bmax * Hd * 2, "decode activations"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer lse, r.Alloc(bmax * H * 4, "decode activations"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer u, r.Alloc(bmax * up * 2, "decode activations"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer a, r.Alloc(bmax * f * 2, "decode activations"));
  ECHOSIM_ASSIGN_OR_RETURN(DeviceBuffer pos, r.Alloc(bmax * 4, "positions"));
  cuda::FillUniform(x.get(), Storage::kBf16, bmax * h, 5, -1.f, 1.f, st);

  // One iteration: every one of `b` sequences gains its token number `ctx` (1-based).
  auto iteration = [&](int64_t b, int64_t ctx) {
    for (int64_t l = 0; l < L; ++l) {
      bf16* wl = P<bf16>(wbf) + l * pl.total;
      cuda::RmsNormForward(P<bf16>(x), wl + pl.norm1, P<bf16>(n), b, h, kEps, st);
      Gemm(r, n.get(), wl + pl.qkv, qkv.get(), b, W, h);
      cuda::Rope(P<bf16>(qkv), P<bf16>(qkv), P<int32_t>(pos), b, H + Hkv, d, kRopeBase, false, st, W);
      cuda::KvCacheWrite(P<bf16>(qkv), P<bf16>(kc[static_cast<size_t>(l)]), P<bf16>(vc[static_cast<size_t>(l)]), b, H,
                         Hkv, d, cap, ctx - 1, st);
      cuda::AttentionParams p;
      p.q = P<bf16>(qkv);
      p.k = P<bf16>(kc[static_cast<size_t>(l)]);
      p.v = P<bf16>(vc[static_cast<size_t>(l)]);
      p.batch = b;
      p.heads = H;
      p.kv_heads = Hkv;
      p.sq = 1;
      p.sk = ctx;
      p.d = d;
      p.kv_capacity = cap;
      p.q_layout = cuda::TensorLayout{W, d, W};
      p.tensor_cores = r.tensor_core_attention();
      cuda::FlashAttentionForward(p, P<bf16>(o), P<float>(lse), st);
      Gemm(r, o.get(), wl + pl.wo, tmp.get(), b, h, Hd);
      cuda::Add(P<bf16>(x), P<bf16>(tmp), P<bf16>(xm), b * h, st);
      cuda::RmsNormForward(P<bf16>(xm), wl + pl.norm2, P<bf16>(n), b, h, kEps, st);
      Gemm(r, n.get(), wl + pl.w1, u.get(), b, up, h);
      if (swiglu) {
        cuda::SwigluForward(P<bf16>(u), P<bf16>(a), b, f, st);
      } else {
        cuda::GeluForward(P<bf16>(u), P<bf16>(a), b * f, st);
      }
      Gemm(r, a.get(), wl + pl.w2, tmp.get(), b, h, f);
      cuda::Add(P<bf16>(xm), P<bf16>(tmp), P<bf16>(x), b * h, st);
    }
  };
  cudaEvent_t e0, e1;
  ECHOSIM_CUDA_CHECK(cudaEventCreate(&e0));
  ECHOSIM_CUDA_CHECK(cudaEventCreate(&e1));
  Json iters = Json::array();
  for (int64_t b : args.batch_sizes) {
    for (int64_t ctx = args.ctx_start; ctx <= args.ctx_end; ctx += args.ctx_step) {
      cuda::FillUniform(pos.get(), Storage::kI32, b, 0, static_cast<float>(ctx - 1), static_cast<float>(ctx), st);
      std::vector<double> us;
      for (int rep = 0; rep < args.warmup + args.repeats; ++rep) {
        ECHOSIM_CUDA_CHECK(cudaEventRecord(e0, st));
        iteration(b, ctx);
        ECHOSIM_CUDA_CHECK(cudaEventRecord(e1, st));
        ECHOSIM_CUDA_CHECK(cudaEventSynchronize(e1));
        float ms = 0;
        ECHOSIM_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        if (rep >= args.warmup) us.push_back(static_cast<double>(ms) * 1000.0);
      }
      const TimingStats t = ComputeStats(us);
      Json j;
      j["batch"] = b;
      j["context_tokens"] = ctx;
      j["measured_iter_ms"] = t.median_us / 1000.0;
      j["p10_iter_ms"] = t.p10_us / 1000.0;
      j["p90_iter_ms"] = t.p90_us / 1000.0;
      j["repeats"] = t.repeats;
      iters.push_back(j);
      std::fprintf(stderr, "decode: batch %lld context %lld: %.3f ms\n", static_cast<long long>(b),
                   static_cast<long long>(ctx), t.median_us / 1000.0);
    }
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  Json out;
  Json cfg = ShapeJson(s, L);
  cfg["batch_sizes"] = args.batch_sizes;
  cfg["context"] = {{"start", args.ctx_start}, {"end", args.ctx_end}, {"step", args.ctx_step}};
  cfg["kv_cache_capacity_tokens"] = cap;
  cfg["includes"] = "transformer layers only (no embedding, LM head or sampling)";
  cfg["device"] = r.device().name;
  cfg["attention_forward"] = r.tensor_core_attention() ? "tensor_cores" : "scalar";
  cfg["warmup"] = args.warmup;
  cfg["command"] = args.command_line;
  out["config"] = cfg;
  out["iterations"] = iters;
  *json = out.dump(2) + "\n";
  return Status::Ok();
}

}  // namespace echosim::kernels
