// GPU correctness test: every CUDA kernel (and cuBLASLt GEMM form) against its CPU
// reference (kernels/reference) within the tolerance of its storage dtype. Exits 77 with
// "skipped: no CUDA device" when no GPU is usable (ctest SKIP_RETURN_CODE 77).
//
// Inputs are rounded to the kernel's storage dtype on the host first, so the reference
// sees exactly what the GPU reads; remaining differences come from the output rounding
// (bf16: relative 2^-8) and fp32 summation order.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemm_lt.h"
#include "kernels/cuda/kernels.h"
#include "kernels/reference/reference.h"

namespace echosim::kernels {
namespace {

namespace ref = ::echosim::kernels::ref;
using cuda::bf16;

int g_failures = 0;

std::vector<float> Random(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// Device buffer freed at scope exit.
struct Dev {
  void* p = nullptr;
  explicit Dev(size_t bytes) { ECHOSIM_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(bytes, 16))); }
  ~Dev() { cudaFree(p); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

// Rounds `v` to bf16 in place and uploads it.
void PutBf16(std::vector<float>* v, const Dev& d) {
  std::vector<uint16_t> bits(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    bits[i] = ref::FloatToBf16Bits((*v)[i]);
    (*v)[i] = ref::Bf16BitsToFloat(bits[i]);
  }
  ECHOSIM_CUDA_CHECK(cudaMemcpy(d.p, bits.data(), bits.size() * 2, cudaMemcpyHostToDevice));
}
std::vector<float> GetBf16(const Dev& d, size_t n) {
  std::vector<uint16_t> bits(n);
  ECHOSIM_CUDA_CHECK(cudaMemcpy(bits.data(), d.p, n * 2, cudaMemcpyDeviceToHost));
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = ref::Bf16BitsToFloat(bits[i]);
  return v;
}
void PutF32(const std::vector<float>& v, const Dev& d) {
  ECHOSIM_CUDA_CHECK(cudaMemcpy(d.p, v.data(), v.size() * 4, cudaMemcpyHostToDevice));
}
std::vector<float> GetF32(const Dev& d, size_t n) {
  std::vector<float> v(n);
  ECHOSIM_CUDA_CHECK(cudaMemcpy(v.data(), d.p, n * 4, cudaMemcpyDeviceToHost));
  return v;
}

// [b, n1, n2, d] -> [b, n2, n1, d]: from the token-major fused layouts [b, s, h, d] to the
// reference's [b, h, s, d] (n1 = s, n2 = h), or back (n1 = h, n2 = s).
std::vector<float> SwapMiddleDims(const std::vector<float>& x, int64_t b, int64_t n1, int64_t n2, int64_t d) {
  std::vector<float> y(x.size());
  for (int64_t bb = 0; bb < b; ++bb)
    for (int64_t i = 0; i < n1; ++i)
      for (int64_t j = 0; j < n2; ++j)
        for (int64_t c = 0; c < d; ++c) y[((bb * n2 + j) * n1 + i) * d + c] = x[((bb * n1 + i) * n2 + j) * d + c];
  return y;
}

// The device attention parameters of the reference shape s (no tensors, default layouts).
cuda::AttentionParams ParamsFor(const ref::AttentionShape& s) {
  cuda::AttentionParams p;
  p.batch = s.batch;
  p.heads = s.heads;
  p.kv_heads = s.kv_heads;
  p.sq = s.sq;
  p.sk = s.sk;
  p.d = s.d;
  p.causal = s.causal;
  return p;
}

// |got - want| <= atol + rtol |want| everywhere; reports the worst element.
void Expect(const std::string& what, const std::vector<float>& got, const std::vector<float>& want, double atol,
            double rtol) {
  if (got.size() != want.size()) {
    std::printf("FAIL %s: size %zu, expected %zu\n", what.c_str(), got.size(), want.size());
    ++g_failures;
    return;
  }
  double worst = -1;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double excess = std::fabs(static_cast<double>(got[i]) - want[i]) - (atol + rtol * std::fabs(want[i]));
    if (!(excess <= worst) || std::isnan(got[i])) {
      worst = std::isnan(got[i]) ? 1e30 : excess;
      at = i;
    }
  }
  if (worst > 0) {
    std::printf("FAIL %s: element %zu is %.6g, expected %.6g (atol %g, rtol %g)\n", what.c_str(), at, got[at],
                want[at], atol, rtol);
    ++g_failures;
  } else {
    std::printf("ok   %s (%zu values)\n", what.c_str(), got.size());
  }
}

void TestGemm(int cc) {
  cuda::GemmLt lt;
  const int64_t m = 64, n = 96, k = 128;
  struct Case {
    const char* name;
    cuda::GemmType in;
    bool x_km, w_kn, f32;
    int64_t batch;
  };
  std::vector<Case> cases = {{"gemm bf16 TN", cuda::GemmType::kBf16, false, false, false, 1},
                             {"gemm bf16 TN batched", cuda::GemmType::kBf16, false, false, false, 3},
                             {"gemm fp16 TN", cuda::GemmType::kFp16, false, false, false, 1},
                             {"gemm bf16 NN (input gradient)", cuda::GemmType::kBf16, false, true, false, 1},
                             {"gemm bf16 x^T (weight gradient, fp32 accumulate)", cuda::GemmType::kBf16, true, true,
                              true, 1}};
  if (cc >= 89) cases.push_back({"gemm fp8 e4m3 TN", cuda::GemmType::kFp8, false, false, false, 1});
  for (const Case& c : cases) {
    auto x = Random(static_cast<size_t>(c.batch * m * k), 1), w = Random(static_cast<size_t>(c.batch * n * k), 2);
    // Host values in the storage dtype, and the device copies.
    Dev dx(x.size() * 2), dw(w.size() * 2), dc(static_cast<size_t>(c.batch * m * n) * 4);
    auto put = [&](std::vector<float>* v, const Dev& d) {
      if (c.in == cuda::GemmType::kBf16) {
        PutBf16(v, d);
      } else if (c.in == cuda::GemmType::kFp16) {
        std::vector<uint16_t> bits(v->size());
        for (size_t i = 0; i < v->size(); ++i) {
          bits[i] = ref::FloatToFp16Bits((*v)[i]);
          (*v)[i] = ref::Fp16BitsToFloat(bits[i]);
        }
        ECHOSIM_CUDA_CHECK(cudaMemcpy(d.p, bits.data(), bits.size() * 2, cudaMemcpyHostToDevice));
      } else {
        std::vector<uint8_t> bits(v->size());
        for (size_t i = 0; i < v->size(); ++i) {
          bits[i] = ref::FloatToE4m3Bits((*v)[i]);
          (*v)[i] = ref::E4m3BitsToFloat(bits[i]);
        }
        ECHOSIM_CUDA_CHECK(cudaMemcpy(d.p, bits.data(), bits.size(), cudaMemcpyHostToDevice));
      }
    };
    put(&x, dx);
    put(&w, dw);
    // The reference takes x [m,k] and w [n,k]; transpose what is stored otherwise.
    auto transpose = [](const std::vector<float>& v, int64_t batch, int64_t rows, int64_t cols) {
      std::vector<float> t(v.size());
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t col = 0; col < cols; ++col) t[(b * cols + col) * rows + r] = v[(b * rows + r) * cols + col];
      return t;
    };
    const std::vector<float> xr = c.x_km ? transpose(x, c.batch, k, m) : x;  // stored [k,m]
    const std::vector<float> wr = c.w_kn ? transpose(w, c.batch, k, n) : w;  // stored [k,n]
    std::vector<float> want;
    ref::Gemm(xr, wr, m, n, k, c.batch, &want);
    cuda::GemmShape g;
    g.in = c.in;
    g.out = c.f32 ? cuda::GemmType::kF32 : (c.in == cuda::GemmType::kFp16 ? cuda::GemmType::kFp16 : cuda::GemmType::kBf16);
    g.m = m;
    g.n = n;
    g.k = k;
    g.batch = c.batch;
    g.x_km = c.x_km;
    g.w_kn = c.w_kn;
    std::vector<float> got;
    if (c.f32) {
      // beta = 1 accumulates: start from 1.0 everywhere and add the product twice.
      PutF32(std::vector<float>(want.size(), 1.0f), dc);
      lt.Run(g, dx.p, dw.p, dc.p, 1.f, nullptr);
      lt.Run(g, dx.p, dw.p, dc.p, 1.f, nullptr);
      ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
      got = GetF32(dc, want.size());
      for (float& v : want) v = 1.0f + 2.0f * v;
      Expect(c.name, got, want, 1e-3, 1e-4);
      continue;
    }
    lt.Run(g, dx.p, dw.p, dc.p, 0.f, nullptr);
    ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
    if (c.in == cuda::GemmType::kFp16) {
      std::vector<uint16_t> bits(want.size());
      ECHOSIM_CUDA_CHECK(cudaMemcpy(bits.data(), dc.p, bits.size() * 2, cudaMemcpyDeviceToHost));
      got.resize(bits.size());
      for (size_t i = 0; i < bits.size(); ++i) got[i] = ref::Fp16BitsToFloat(bits[i]);
      Expect(c.name, got, want, 1e-2, 2e-3);
    } else {
      got = GetBf16(dc, want.size());
      Expect(c.name, got, want, 2e-2, 8e-3);
    }
  }
}

void TestAttention() {
  // {batch, heads, kv_heads, sq, sk, d, causal}
  const ref::AttentionShape cases[] = {{2, 4, 2, 100, 100, 64, true}, {1, 2, 1, 37, 150, 128, true},
                                       {1, 3, 3, 70, 70, 128, false}, {2, 2, 2, 1, 77, 64, true},
                                       {1, 8, 2, 200, 200, 128, true}};
  for (const ref::AttentionShape& s : cases) {
    const size_t nq = static_cast<size_t>(s.batch * s.heads * s.sq * s.d);
    const size_t nk = static_cast<size_t>(s.batch * s.kv_heads * s.sk * s.d);
    auto q = Random(nq, 3), k = Random(nk, 4), v = Random(nk, 5), d_o = Random(nq, 6);
    Dev dq_in(nq * 2), dk_in(nk * 2), dv_in(nk * 2), ddo(nq * 2), dout(nq * 2), dlse(nq / s.d * 4);
    PutBf16(&q, dq_in);
    PutBf16(&k, dk_in);
    PutBf16(&v, dv_in);
    PutBf16(&d_o, ddo);
    cuda::AttentionParams p = ParamsFor(s);
    p.q = dq_in.as<bf16>();
    p.k = dk_in.as<bf16>();
    p.v = dv_in.as<bf16>();
    cuda::FlashAttentionForward(p, dout.as<bf16>(), dlse.as<float>(), nullptr);
    ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float> o, lse;
    ref::AttentionForward(s, q, k, v, &o, &lse);
    const std::string tag = "attention b" + std::to_string(s.batch) + " h" + std::to_string(s.heads) + "/" +
                            std::to_string(s.kv_heads) + " sq" + std::to_string(s.sq) + " sk" + std::to_string(s.sk) +
                            " d" + std::to_string(s.d) + (s.causal ? " causal" : "");
    Expect(tag + " fwd o", GetBf16(dout, nq), o, 1e-2, 1e-2);
    Expect(tag + " fwd lse", GetF32(dlse, nq / s.d), lse, 1e-3, 1e-4);
    {  // the tensor-core forward (P rounded to bf16 before P V, as FlashAttention does)
      Dev tco(nq * 2), tcl(nq / s.d * 4);
      cuda::AttentionParams pt = p;
      pt.tensor_cores = true;
      cuda::FlashAttentionForward(pt, tco.as<bf16>(), tcl.as<float>(), nullptr);
      ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
      Expect(tag + " fwd tensor cores o", GetBf16(tco, nq), o, 1.5e-2, 1.5e-2);
      Expect(tag + " fwd tensor cores lse", GetF32(tcl, nq / s.d), lse, 2e-3, 1e-3);
    }

    Dev ddq(nq * 2), ddk(nk * 2), ddv(nk * 2), ws(static_cast<size_t>(cuda::FlashAttentionBackwardWorkspace(p)) * 4);
    cuda::FlashAttentionBackward(p, dout.as<bf16>(), ddo.as<bf16>(), dlse.as<float>(), ddq.as<bf16>(), ddk.as<bf16>(),
                                 ddv.as<bf16>(), ws.as<float>(), nullptr);
    ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float> rdq, rdk, rdv;
    ref::AttentionBackward(s, q, k, v, d_o, &rdq, &rdk, &rdv);
    Expect(tag + " bwd dq", GetBf16(ddq, nq), rdq, 2e-2, 2e-2);
    Expect(tag + " bwd dk", GetBf16(ddk, nk), rdk, 2e-2, 2e-2);
    Expect(tag + " bwd dv", GetBf16(ddv, nk), rdv, 2e-2, 2e-2);
    {  // the tensor-core backward (P and dS rounded to bf16 before their GEMMs)
      cuda::AttentionParams pt = p;
      pt.tensor_cores = true;
      cuda::FlashAttentionBackward(pt, dout.as<bf16>(), ddo.as<bf16>(), dlse.as<float>(), ddq.as<bf16>(),
                                   ddk.as<bf16>(), ddv.as<bf16>(), ws.as<float>(), nullptr);
      ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
      Expect(tag + " bwd tensor cores dq", GetBf16(ddq, nq), rdq, 3e-2, 3e-2);
      Expect(tag + " bwd tensor cores dk", GetBf16(ddk, nk), rdk, 3e-2, 3e-2);
      Expect(tag + " bwd tensor cores dv", GetBf16(ddv, nk), rdv, 3e-2, 3e-2);
    }
  }
}

// The fused-QKV layout [b, s, (h + 2 hkv) d] and a KV cache with spare capacity give the
// same results as the contiguous layout.
void TestAttentionLayouts() {
  const int64_t b = 2, h = 4, hkv = 2, s = 65, d = 64, width = (h + 2 * hkv) * d;
  auto qkv = Random(static_cast<size_t>(b * s * width), 7);
  Dev dqkv(qkv.size() * 2);
  PutBf16(&qkv, dqkv);
  // Contiguous copies of q, k, v.
  std::vector<float> q(static_cast<size_t>(b * h * s * d)), k(static_cast<size_t>(b * hkv * s * d)), v(k.size());
  for (int64_t bb = 0; bb < b; ++bb)
    for (int64_t t = 0; t < s; ++t)
      for (int64_t c = 0; c < d; ++c) {
        for (int64_t hh = 0; hh < h; ++hh) q[((bb * h + hh) * s + t) * d + c] = qkv[(bb * s + t) * width + hh * d + c];
        for (int64_t hh = 0; hh < hkv; ++hh) {
          k[((bb * hkv + hh) * s + t) * d + c] = qkv[(bb * s + t) * width + (h + hh) * d + c];
          v[((bb * hkv + hh) * s + t) * d + c] = qkv[(bb * s + t) * width + (h + hkv + hh) * d + c];
        }
      }
  ref::AttentionShape rs;
  rs.batch = b;
  rs.heads = h;
  rs.kv_heads = hkv;
  rs.sq = rs.sk = s;
  rs.d = d;
  std::vector<float> o, lse;
  ref::AttentionForward(rs, q, k, v, &o, &lse);
  cuda::AttentionParams p = ParamsFor(rs);
  p.q = dqkv.as<bf16>();
  p.k = p.q + h * d;
  p.v = p.k + hkv * d;
  p.q_layout = p.kv_layout = cuda::TensorLayout{s * width, d, width};
  p.o_layout = cuda::TensorLayout{s * h * d, d, h * d};  // o as [b, s, h d]
  Dev dout(o.size() * 2), dlse(lse.size() * 4);
  cuda::FlashAttentionForward(p, dout.as<bf16>(), dlse.as<float>(), nullptr);
  ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
  Expect("attention fused-QKV layout fwd", SwapMiddleDims(GetBf16(dout, o.size()), b, s, h, d), o, 1e-2, 1e-2);
  {
    cuda::AttentionParams pt = p;
    pt.tensor_cores = true;
    Dev tco(o.size() * 2), tcl(lse.size() * 4);
    cuda::FlashAttentionForward(pt, tco.as<bf16>(), tcl.as<float>(), nullptr);
    ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
    Expect("attention fused-QKV layout fwd tensor cores", SwapMiddleDims(GetBf16(tco, o.size()), b, s, h, d), o, 1.5e-2,
           1.5e-2);
  }

  // Backward in the fused layout: dqkv against the reference gradients.
  auto d_o = Random(o.size(), 8);
  std::vector<float> d_o_bshd = SwapMiddleDims(d_o, b, h, s, d);
  Dev ddo(o.size() * 2), dgrad(qkv.size() * 2), ws(static_cast<size_t>(cuda::FlashAttentionBackwardWorkspace(p)) * 4);
  PutBf16(&d_o_bshd, ddo);
  d_o = SwapMiddleDims(d_o_bshd, b, s, h, d);  // the reference sees the same rounded values
  bf16* g = dgrad.as<bf16>();
  cuda::FlashAttentionBackward(p, dout.as<bf16>(), ddo.as<bf16>(), dlse.as<float>(), g, g + h * d, g + (h + hkv) * d,
                               ws.as<float>(), nullptr);
  ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<float> rdq, rdk, rdv;
  ref::AttentionBackward(rs, q, k, v, d_o, &rdq, &rdk, &rdv);
  auto grad = GetBf16(dgrad, qkv.size());
  std::vector<float> want(qkv.size());
  for (int64_t bb = 0; bb < b; ++bb)
    for (int64_t t = 0; t < s; ++t)
      for (int64_t c = 0; c < d; ++c) {
        for (int64_t hh = 0; hh < h; ++hh) want[(bb * s + t) * width + hh * d + c] = rdq[((bb * h + hh) * s + t) * d + c];
        for (int64_t hh = 0; hh < hkv; ++hh) {
          want[(bb * s + t) * width + (h + hh) * d + c] = rdk[((bb * hkv + hh) * s + t) * d + c];
          want[(bb * s + t) * width + (h + hkv + hh) * d + c] = rdv[((bb * hkv + hh) * s + t) * d + c];
        }
      }
  Expect("attention fused-QKV layout bwd dq/dk/dv", grad, want, 2e-2, 2e-2);
  {
    cuda::AttentionParams pt = p;
    pt.tensor_cores = true;
    ECHOSIM_CUDA_CHECK(cudaMemset(dgrad.p, 0, qkv.size() * 2));
    cuda::FlashAttentionBackward(pt, dout.as<bf16>(), ddo.as<bf16>(), dlse.as<float>(), g, g + h * d,
                                 g + (h + hkv) * d, ws.as<float>(), nullptr);
    ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
    Expect("attention fused-QKV layout bwd tensor cores", GetBf16(dgrad, qkv.size()), want, 3e-2, 3e-2);
  }

  // Decode over a cache with capacity 96 of which 40 rows are used.
  const int64_t cap = 96, ctx = 40;
  auto kc = Random(static_cast<size_t>(b * hkv * cap * d), 9), vc = Random(kc.size(), 10);
  auto q1 = Random(static_cast<size_t>(b * h * d), 11);
  Dev dkc(kc.size() * 2), dvc(vc.size() * 2), dq1(q1.size() * 2), do1(q1.size() * 2), dl1(static_cast<size_t>(b * h) * 4);
  PutBf16(&kc, dkc);
  PutBf16(&vc, dvc);
  PutBf16(&q1, dq1);
  std::vector<float> k1(static_cast<size_t>(b * hkv * ctx * d)), v1(k1.size());
  for (int64_t r = 0; r < b * hkv; ++r)
    for (int64_t t = 0; t < ctx; ++t)
      for (int64_t c = 0; c < d; ++c) {
        k1[(r * ctx + t) * d + c] = kc[(r * cap + t) * d + c];
        v1[(r * ctx + t) * d + c] = vc[(r * cap + t) * d + c];
      }
  ref::AttentionShape ds = rs;
  ds.sq = 1;
  ds.sk = ctx;
  std::vector<float> o1, l1;
  ref::AttentionForward(ds, q1, k1, v1, &o1, &l1);
  cuda::AttentionParams pd = ParamsFor(ds);
  pd.q = dq1.as<bf16>();
  pd.k = dkc.as<bf16>();
  pd.v = dvc.as<bf16>();
  pd.kv_capacity = cap;
  cuda::FlashAttentionForward(pd, do1.as<bf16>(), dl1.as<float>(), nullptr);
  ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
  Expect("attention decode over a KV cache", GetBf16(do1, o1.size()), o1, 1e-2, 1e-2);
  pd.tensor_cores = true;
  cuda::FlashAttentionForward(pd, do1.as<bf16>(), dl1.as<float>(), nullptr);
  ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
  Expect("attention decode over a KV cache, tensor cores", GetBf16(do1, o1.size()), o1, 1.5e-2, 1.5e-2);
}

void TestNormsAndSoftmax() {
  const int64_t rows = 7, cols = 1024;
  auto x = Random(static_cast<size_t>(rows * cols), 12, -2.f, 2.f), w = Random(static_cast<size_t>(cols), 13, 0.5f, 1.5f),
       b = Random(static_cast<size_t>(cols), 14), dy = Random(static_cast<size_t>(rows * cols), 15);
  Dev dx(x.size() * 2), dw(w.size() * 2), db(b.size() * 2), ddy(dy.size() * 2), dout(x.size() * 2), dgx(x.size() * 2),
      dgw(static_cast<size_t>(cols) * 4), dgb(static_cast<size_t>(cols) * 4);
  PutBf16(&x, dx);
  PutBf16(&w, dw);
  PutBf16(&b, db);
  PutBf16(&dy, ddy);
  std::vector<float> y, gx, gw, gb;
  cuda::RmsNormForward(dx.as<bf16>(), dw.as<bf16>(), dout.as<bf16>(), rows, cols, 1e-5f, nullptr);
  ref::RmsNormForward(x, w, rows, cols, 1e-5f, &y);
  Expect("rmsnorm fwd", GetBf16(dout, y.size()), y, 1e-2, 1e-2);
  ECHOSIM_CUDA_CHECK(cudaMemset(dgw.p, 0, static_cast<size_t>(cols) * 4));
  cuda::RmsNormBackward(dx.as<bf16>(), dw.as<bf16>(), ddy.as<bf16>(), dgx.as<bf16>(), dgw.as<float>(), rows, cols,
                        1e-5f, nullptr);
  ref::RmsNormBackward(x, w, dy, rows, cols, 1e-5f, &gx, &gw);
  Expect("rmsnorm bwd dx", GetBf16(dgx, gx.size()), gx, 1e-2, 1e-2);
  Expect("rmsnorm bwd dw", GetF32(dgw, gw.size()), gw, 1e-3, 1e-3);
  cuda::LayerNormForward(dx.as<bf16>(), dw.as<bf16>(), db.as<bf16>(), dout.as<bf16>(), rows, cols, 1e-5f, nullptr);
  ref::LayerNormForward(x, w, b, rows, cols, 1e-5f, &y);
  Expect("layernorm fwd", GetBf16(dout, y.size()), y, 1e-2, 1e-2);
  ECHOSIM_CUDA_CHECK(cudaMemset(dgw.p, 0, static_cast<size_t>(cols) * 4));
  ECHOSIM_CUDA_CHECK(cudaMemset(dgb.p, 0, static_cast<size_t>(cols) * 4));
  cuda::LayerNormBackward(dx.as<bf16>(), dw.as<bf16>(), ddy.as<bf16>(), dgx.as<bf16>(), dgw.as<float>(),
                          dgb.as<float>(), rows, cols, 1e-5f, nullptr);
  ref::LayerNormBackward(x, w, dy, rows, cols, 1e-5f, &gx, &gw, &gb);
  Expect("layernorm bwd dx", GetBf16(dgx, gx.size()), gx, 1e-2, 1e-2);
  Expect("layernorm bwd dw", GetF32(dgw, gw.size()), gw, 1e-3, 1e-3);
  Expect("layernorm bwd db", GetF32(dgb, gb.size()), gb, 1e-3, 1e-3);

  const int64_t srows = 5, scols = 1000;
  auto sx = Random(static_cast<size_t>(srows * scols), 16, -4.f, 4.f), sdy = Random(sx.size(), 17);
  Dev dsx(sx.size() * 2), dsy(sx.size() * 2), dsdy(sx.size() * 2), dsdx(sx.size() * 2);
  PutBf16(&sx, dsx);
  PutBf16(&sdy, dsdy);
  std::vector<float> sy, sdx;
  cuda::SoftmaxForward(dsx.as<bf16>(), dsy.as<bf16>(), srows, scols, nullptr);
  ref::SoftmaxForward(sx, srows, scols, &sy);
  auto got_y = GetBf16(dsy, sy.size());
  Expect("softmax fwd", got_y, sy, 1e-4, 1e-2);
  cuda::SoftmaxBackward(dsy.as<bf16>(), dsdy.as<bf16>(), dsdx.as<bf16>(), srows, scols, nullptr);
  ref::SoftmaxBackward(got_y, sdy, srows, scols, &sdx);  // from the y the GPU stored
  Expect("softmax bwd", GetBf16(dsdx, sdx.size()), sdx, 1e-4, 1e-2);
}

void TestElementwise() {
  const int64_t rows = 3, f = 256;
  auto in = Random(static_cast<size_t>(rows * 2 * f), 18, -3.f, 3.f), dy = Random(static_cast<size_t>(rows * f), 19);
  Dev din(in.size() * 2), ddy(dy.size() * 2), dout(dy.size() * 2), dgin(in.size() * 2);
  PutBf16(&in, din);
  PutBf16(&dy, ddy);
  std::vector<float> out, gin;
  cuda::SwigluForward(din.as<bf16>(), dout.as<bf16>(), rows, f, nullptr);
  ref::SwigluForward(in, rows, f, &out);
  Expect("swiglu fwd", GetBf16(dout, out.size()), out, 1e-2, 1e-2);
  cuda::SwigluBackward(din.as<bf16>(), ddy.as<bf16>(), dgin.as<bf16>(), rows, f, nullptr);
  ref::SwigluBackward(in, dy, rows, f, &gin);
  Expect("swiglu bwd", GetBf16(dgin, gin.size()), gin, 1e-2, 1e-2);

  const int64_t n = 4096;
  auto x = Random(static_cast<size_t>(n), 20, -5.f, 5.f), gy = Random(static_cast<size_t>(n), 21);
  Dev dxx(x.size() * 2), dgy(gy.size() * 2), dy2(x.size() * 2);
  PutBf16(&x, dxx);
  PutBf16(&gy, dgy);
  std::vector<float> y, gx;
  cuda::GeluForward(dxx.as<bf16>(), dy2.as<bf16>(), n, nullptr);
  ref::GeluForward(x, &y);
  Expect("gelu fwd", GetBf16(dy2, y.size()), y, 1e-2, 1e-2);
  cuda::GeluBackward(dxx.as<bf16>(), dgy.as<bf16>(), dy2.as<bf16>(), n, nullptr);
  ref::GeluBackward(x, gy, &gx);
  Expect("gelu bwd", GetBf16(dy2, gx.size()), gx, 1e-2, 1e-2);

  auto a = Random(static_cast<size_t>(n), 22), bb = Random(static_cast<size_t>(n), 23);
  Dev da(a.size() * 2), db(bb.size() * 2), dsum(a.size() * 2), dcopy(a.size() * 2);
  PutBf16(&a, da);
  PutBf16(&bb, db);
  cuda::Add(da.as<bf16>(), db.as<bf16>(), dsum.as<bf16>(), n, nullptr);
  std::vector<float> sum;
  ref::CommCopyReduce(a, &bb, &sum);
  Expect("add", GetBf16(dsum, sum.size()), sum, 1e-6, 4e-3);
  cuda::Copy(da.p, dcopy.p, n * 2, nullptr);
  Expect("copy", GetBf16(dcopy, a.size()), a, 0, 0);
}

void TestRopeEmbeddingCache() {
  const int64_t tokens = 6, heads = 4, d = 128;
  std::vector<int32_t> pos = {0, 1, 5, 100, 1000, 4095};
  auto x = Random(static_cast<size_t>(tokens * heads * d), 24);
  Dev dxr(x.size() * 2), dyr(x.size() * 2), dpos(pos.size() * 4);
  PutBf16(&x, dxr);
  ECHOSIM_CUDA_CHECK(cudaMemcpy(dpos.p, pos.data(), pos.size() * 4, cudaMemcpyHostToDevice));
  for (bool inverse : {false, true}) {
    std::vector<float> y;
    cuda::Rope(dxr.as<bf16>(), dyr.as<bf16>(), dpos.as<int32_t>(), tokens, heads, d, 10000.f, inverse, nullptr);
    ref::Rope(x, pos, tokens, heads, d, 10000.f, inverse, &y);
    Expect(inverse ? "rope inverse" : "rope fwd", GetBf16(dyr, y.size()), y, 1e-2, 1e-2);
  }
  // Strided rows (the first 3 of 4 heads of each token, in place): the 4th head untouched.
  std::vector<float> part(static_cast<size_t>(tokens * 3 * d)), y;
  for (int64_t t = 0; t < tokens; ++t)
    std::copy_n(x.begin() + t * heads * d, 3 * d, part.begin() + t * 3 * d);
  ref::Rope(part, pos, tokens, 3, d, 10000.f, false, &y);
  cuda::Rope(dxr.as<bf16>(), dxr.as<bf16>(), dpos.as<int32_t>(), tokens, 3, d, 10000.f, false, nullptr, heads * d);
  auto got = GetBf16(dxr, x.size());
  std::vector<float> want = x;
  for (int64_t t = 0; t < tokens; ++t) std::copy_n(y.begin() + t * 3 * d, 3 * d, want.begin() + t * heads * d);
  Expect("rope strided in place", got, want, 1e-2, 1e-2);

  const int64_t vocab = 50, hidden = 64;
  auto table = Random(static_cast<size_t>(vocab * hidden), 25);
  std::vector<int32_t> ids = {3, 0, 49, 3, 17};
  Dev dt(table.size() * 2), dids(ids.size() * 4), demb(ids.size() * hidden * 2);
  PutBf16(&table, dt);
  ECHOSIM_CUDA_CHECK(cudaMemcpy(dids.p, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice));
  cuda::EmbeddingForward(dt.as<bf16>(), dids.as<int32_t>(), demb.as<bf16>(), static_cast<int64_t>(ids.size()), hidden,
                         nullptr);
  std::vector<float> emb;
  ref::EmbeddingForward(table, ids, hidden, &emb);
  Expect("embedding fwd", GetBf16(demb, emb.size()), emb, 0, 0);

  // KV-cache append: row `pos` of each sequence's k/v cache receives its new K and V.
  const int64_t seqs = 3, h = 4, hkv = 2, cap = 10, at = 7, width = (h + 2 * hkv) * 64;
  auto qkv = Random(static_cast<size_t>(seqs * width), 26);
  Dev dqkv(qkv.size() * 2), dk(static_cast<size_t>(seqs * hkv * cap * 64) * 2), dv(static_cast<size_t>(seqs * hkv * cap * 64) * 2);
  PutBf16(&qkv, dqkv);
  ECHOSIM_CUDA_CHECK(cudaMemset(dk.p, 0, static_cast<size_t>(seqs * hkv * cap * 64) * 2));
  ECHOSIM_CUDA_CHECK(cudaMemset(dv.p, 0, static_cast<size_t>(seqs * hkv * cap * 64) * 2));
  cuda::KvCacheWrite(dqkv.as<bf16>(), dk.as<bf16>(), dv.as<bf16>(), seqs, h, hkv, 64, cap, at, nullptr);
  std::vector<float> wk(static_cast<size_t>(seqs * hkv * cap * 64), 0.f), wv(wk.size(), 0.f);
  ref::KvCacheWrite(qkv, seqs, h, hkv, 64, cap, at, &wk, &wv);
  Expect("kv cache write k", GetBf16(dk, wk.size()), wk, 0, 0);
  Expect("kv cache write v", GetBf16(dv, wv.size()), wv, 0, 0);
}

void TestAdam() {
  const int64_t n = 1000;
  auto p = Random(static_cast<size_t>(n), 27), g = Random(static_cast<size_t>(n), 28);
  std::vector<float> m(static_cast<size_t>(n), 0.f), v(static_cast<size_t>(n), 0.f), lp;
  Dev dp(n * 4), dm(n * 4), dv(n * 4), dg(n * 4), dlp(n * 2);
  PutF32(p, dp);
  PutF32(m, dm);
  PutF32(v, dv);
  PutF32(g, dg);
  for (int step = 1; step <= 2; ++step) {
    cuda::AdamHyper h;
    h.step = step;
    cuda::AdamStep(h, dp.as<float>(), dm.as<float>(), dv.as<float>(), dg.as<float>(), dlp.as<bf16>(), n, nullptr);
    ref::AdamConfig c;
    c.lr = h.lr;
    c.beta1 = h.beta1;
    c.beta2 = h.beta2;
    c.eps = h.eps;
    c.weight_decay = h.weight_decay;
    c.step = step;
    ref::AdamStep(c, &p, &m, &v, g, &lp);
  }
  Expect("adam param", GetF32(dp, p.size()), p, 1e-6, 1e-5);
  Expect("adam m", GetF32(dm, m.size()), m, 1e-7, 1e-5);
  Expect("adam v", GetF32(dv, v.size()), v, 1e-8, 1e-5);
  Expect("adam bf16 weights", GetBf16(dlp, lp.size()), lp, 1e-6, 8e-3);
}

void TestComm() {
  const int64_t n = 4096 * 5 + 12;
  auto a = Random(static_cast<size_t>(n), 29), b = Random(static_cast<size_t>(n), 30);
  Dev da(n * 4), db(n * 4), dd(n * 4), lines(n * 8);
  PutF32(a, da);
  PutF32(b, db);
  for (auto proto : {cuda::CommProtocol::kSimple, cuda::CommProtocol::kLl}) {
    for (int blocks : {1, 7}) {
      for (bool reduce : {false, true}) {
        ECHOSIM_CUDA_CHECK(cudaMemset(dd.p, 0, n * 4));
        cuda::CommCopyReduce(proto, blocks, da.as<float>(), reduce ? db.as<float>() : nullptr, dd.as<float>(),
                             lines.as<uint64_t>(), n, 3, nullptr);
        ECHOSIM_CUDA_CHECK(cudaDeviceSynchronize());
        std::vector<float> want;
        ref::CommCopyReduce(a, reduce ? &b : nullptr, &want);
        Expect(std::string("comm ") + (proto == cuda::CommProtocol::kLl ? "LL" : "Simple") + " blocks " +
                   std::to_string(blocks) + (reduce ? " reduce" : " copy"),
               GetF32(dd, want.size()), want, 0, 0);
      }
    }
  }
  // The looping variant runs until told to stop and has copied the buffer by then.
  Dev stop(sizeof(int));
  int* started = nullptr;
  ECHOSIM_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&started), sizeof(int), cudaHostAllocMapped));
  int* started_dev = nullptr;
  ECHOSIM_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&started_dev), started, 0));
  for (auto proto : {cuda::CommProtocol::kSimple, cuda::CommProtocol::kLl}) {
    *reinterpret_cast<volatile int*>(started) = 0;
    ECHOSIM_CUDA_CHECK(cudaMemset(stop.p, 0, sizeof(int)));
    ECHOSIM_CUDA_CHECK(cudaMemset(dd.p, 0, n * 4));
    cudaStream_t s1, s2;
    ECHOSIM_CUDA_CHECK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
    ECHOSIM_CUDA_CHECK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
    cuda::CommCopyLoop(proto, 4, da.as<float>(), dd.as<float>(), lines.as<uint64_t>(), n, stop.as<int>(), started_dev, s1);
    const auto t0 = std::chrono::steady_clock::now();
    while (*reinterpret_cast<volatile int*>(started) == 0 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
      std::this_thread::yield();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // several passes over the buffer
    ECHOSIM_CUDA_CHECK(cudaMemsetAsync(stop.p, 1, sizeof(int), s2));
    ECHOSIM_CUDA_CHECK(cudaStreamSynchronize(s2));
    ECHOSIM_CUDA_CHECK(cudaStreamSynchronize(s1));
    const bool ran = *reinterpret_cast<volatile int*>(started) == 1;
    std::printf("%s comm loop %s started and stopped\n", ran ? "ok  " : "FAIL",
                proto == cuda::CommProtocol::kLl ? "LL" : "Simple");
    if (!ran) ++g_failures;
    Expect(std::string("comm loop copy ") + (proto == cuda::CommProtocol::kLl ? "LL" : "Simple"), GetF32(dd, a.size()),
           a, 0, 0);
    cudaStreamDestroy(s1);
    cudaStreamDestroy(s2);
  }
  cudaFreeHost(started);
}

void TestFill() {
  const int64_t n = 10000;
  Dev d(n * 4);
  cuda::FillUniform(d.p, cuda::Storage::kF32, n, 3, -2.f, 5.f, nullptr);
  auto v = GetF32(d, n);
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const bool ok = *lo >= -2.f && *hi < 5.f && *hi - *lo > 6.f;
  std::printf("%s fill uniform in [-2, 5): min %g max %g\n", ok ? "ok  " : "FAIL", *lo, *hi);
  if (!ok) ++g_failures;
}

}  // namespace
}  // namespace echosim::kernels

int main() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::printf("skipped: no CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "none found");
    return 77;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s (compute capability %d.%d)\n", prop.name, prop.major, prop.minor);
  using namespace echosim::kernels;
  try {
    TestGemm(prop.major * 10 + prop.minor);
    TestAttention();
    TestAttentionLayouts();
    TestNormsAndSoftmax();
    TestElementwise();
    TestRopeEmbeddingCache();
    TestAdam();
    TestComm();
    TestFill();
  } catch (const cuda::CudaError& err) {
    std::printf("FAIL: CUDA error: %s\n", err.what());
    return 1;
  }
  std::printf("%d failure(s)\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
