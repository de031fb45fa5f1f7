// CPU tests of the kernel references (kernels/reference): each against an independent
// computation (naive materialised attention, finite differences, hand-derived values).
#include "kernels/reference/reference.h"

#include <cmath>
#include <functional>
#include <random>

#include <gtest/gtest.h>

namespace echosim::kernels::ref {
namespace {

std::vector<float> Random(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(Rounding, Bf16NearestEven) {
  EXPECT_EQ(RoundBf16(1.0f), 1.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(RoundBf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6.
  EXPECT_EQ(RoundBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_EQ(FloatToBf16Bits(-2.0f), 0xc000);
}

TEST(Rounding, Fp16EveryCodeRoundTrips) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = Fp16BitsToFloat(static_cast<uint16_t>(b));
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToFp16Bits(f), b) << "code " << b;
  }
  EXPECT_EQ(RoundFp16(65504.0f), 65504.0f);
  EXPECT_TRUE(std::isinf(RoundFp16(65520.0f)));
  EXPECT_EQ(RoundFp16(std::ldexp(1.0f, -24)), std::ldexp(1.0f, -24));  // smallest subnormal
}

TEST(Rounding, E4m3EveryCodeRoundTripsAndSaturates) {
  for (uint32_t b = 0; b < 0x100; ++b) {
    const float f = E4m3BitsToFloat(static_cast<uint8_t>(b));
    if (std::isnan(f)) continue;
    if (b == 0x80) continue;  // -0 encodes back as -0 (0x80): checked below
    ASSERT_EQ(FloatToE4m3Bits(f), b) << "code " << b;
  }
  EXPECT_EQ(FloatToE4m3Bits(-0.0f), 0x80);
  EXPECT_EQ(RoundE4m3(1000.0f), 448.0f);   // saturating
  // 0.3 = 9.6 steps of 2^-5 in [0.25, 0.5): rounds to 10 steps = 0.3125 (code 0x2a).
  EXPECT_EQ(RoundE4m3(0.3f), 0.3125f);
  EXPECT_EQ(FloatToE4m3Bits(0.3f), 0x2a);
}

TEST(Gemm, HandComputed) {
  // x = [[1,2],[3,4]], w = [[5,6],[7,8]] (rows of w are output columns): c = x w^T.
  std::vector<float> c;
  Gemm({1, 2, 3, 4}, {5, 6, 7, 8}, 2, 2, 2, 1, &c);
  EXPECT_EQ(c, (std::vector<float>{17, 23, 39, 53}));
  // Two batches, the second scaled by 2 in x: results scale by 2.
  Gemm({1, 2, 3, 4, 2, 4, 6, 8}, {5, 6, 7, 8, 5, 6, 7, 8}, 2, 2, 2, 2, &c);
  EXPECT_EQ(c[4], 34);
  EXPECT_EQ(c[7], 106);
}

// softmax(Q K^T * scale + mask) V with the score matrix materialised.
void NaiveAttention(const AttentionShape& s, const std::vector<float>& q, const std::vector<float>& k,
                    const std::vector<float>& v, std::vector<float>* o) {
  o->assign(q.size(), 0.0f);
  const int64_t group = s.heads / s.kv_heads;
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t h = 0; h < s.heads; ++h) {
      const int64_t bh = b * s.heads + h, bkv = b * s.kv_heads + h / group;
      std::vector<double> scores(s.sq * s.sk);
      for (int64_t i = 0; i < s.sq; ++i) {
        for (int64_t j = 0; j < s.sk; ++j) {
          double dot = 0;
          for (int64_t p = 0; p < s.d; ++p) dot += q[(bh * s.sq + i) * s.d + p] * k[(bkv * s.sk + j) * s.d + p];
          const bool masked = s.causal && j > i + (s.sk - s.sq);
          scores[i * s.sk + j] = masked ? -1e30 : dot / std::sqrt(static_cast<double>(s.d));
        }
        double mx = -1e30, sum = 0;
        for (int64_t j = 0; j < s.sk; ++j) mx = std::max(mx, scores[i * s.sk + j]);
        for (int64_t j = 0; j < s.sk; ++j) sum += std::exp(scores[i * s.sk + j] - mx);
        for (int64_t p = 0; p < s.d; ++p) {
          double acc = 0;
          for (int64_t j = 0; j < s.sk; ++j) {
            acc += std::exp(scores[i * s.sk + j] - mx) / sum * v[(bkv * s.sk + j) * s.d + p];
          }
          (*o)[(bh * s.sq + i) * s.d + p] = static_cast<float>(acc);
        }
      }
    }
  }
}

TEST(Attention, ForwardMatchesNaiveSoftmax) {
  for (bool causal : {true, false}) {
    AttentionShape s;
    s.batch = 2;
    s.heads = 4;
    s.kv_heads = 2;  // grouped-query
    s.sq = 5;
    s.sk = 9;  // queries are the last 5 of 9 positions
    s.d = 8;
    s.causal = causal;
    auto q = Random(s.batch * s.heads * s.sq * s.d, 1), k = Random(s.batch * s.kv_heads * s.sk * s.d, 2),
         v = Random(s.batch * s.kv_heads * s.sk * s.d, 3);
    std::vector<float> o, lse, naive;
    AttentionForward(s, q, k, v, &o, &lse);
    NaiveAttention(s, q, k, v, &naive);
    ASSERT_EQ(o.size(), naive.size());
    for (size_t i = 0; i < o.size(); ++i) EXPECT_NEAR(o[i], naive[i], 1e-5) << i;
  }
}

TEST(Attention, CausalFirstQueryCopiesFirstValue) {
  // sq == sk: query 0 sees only key 0, so its output is v[0] exactly and lse = its score.
  AttentionShape s;
  s.sq = s.sk = 4;
  s.d = 4;
  auto q = Random(16, 4), k = Random(16, 5), v = Random(16, 6);
  std::vector<float> o, lse;
  AttentionForward(s, q, k, v, &o, &lse);
  for (int p = 0; p < 4; ++p) EXPECT_FLOAT_EQ(o[p], v[p]);
  double dot = 0;
  for (int p = 0; p < 4; ++p) dot += q[p] * k[p];
  EXPECT_NEAR(lse[0], dot / 2.0, 1e-6);
}

// Central finite difference of f along each coordinate of x, compared with `grad`.
void ExpectGradient(std::vector<float>* x, const std::vector<float>& grad,
                    const std::function<double()>& f, double tol) {
  const float h = 1e-2f;
  for (size_t i = 0; i < x->size(); ++i) {
    const float keep = (*x)[i];
    (*x)[i] = keep + h;
    const double up = f();
    (*x)[i] = keep - h;
    const double down = f();
    (*x)[i] = keep;
    EXPECT_NEAR(grad[i], (up - down) / (2.0 * h), tol) << "coordinate " << i;
  }
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

TEST(Attention, BackwardMatchesFiniteDifferences) {
  AttentionShape s;
  s.batch = 1;
  s.heads = 2;
  s.kv_heads = 1;
  s.sq = 3;
  s.sk = 4;
  s.d = 4;
  auto q = Random(s.heads * s.sq * s.d, 7), k = Random(s.kv_heads * s.sk * s.d, 8),
       v = Random(s.kv_heads * s.sk * s.d, 9), d_o = Random(s.heads * s.sq * s.d, 10);
  std::vector<float> dq, dk, dv;
  AttentionBackward(s, q, k, v, d_o, &dq, &dk, &dv);
  auto loss = [&] {  // L = sum(o * dO), so dL/do = dO
    std::vector<float> o, lse;
    AttentionForward(s, q, k, v, &o, &lse);
    return Dot(o, d_o);
  };
  ExpectGradient(&q, dq, loss, 2e-3);
  ExpectGradient(&k, dk, loss, 2e-3);
  ExpectGradient(&v, dv, loss, 2e-3);
}

TEST(Norms, RmsNormForwardAndBackward) {
  const int64_t rows = 3, cols = 6;
  auto x = Random(rows * cols, 11), w = Random(cols, 12), dy = Random(rows * cols, 13);
  std::vector<float> y;
  RmsNormForward(x, w, rows, cols, 1e-5f, &y);
  // Row 0 by hand: y = x / sqrt(mean(x^2) + eps) * w.
  double ms = 0;
  for (int c = 0; c < cols; ++c) ms += x[c] * x[c] / cols;
  EXPECT_NEAR(y[2], x[2] / std::sqrt(ms + 1e-5) * w[2], 1e-5);
  std::vector<float> dx, dw;
  RmsNormBackward(x, w, dy, rows, cols, 1e-5f, &dx, &dw);
  auto loss = [&] {
    std::vector<float> out;
    RmsNormForward(x, w, rows, cols, 1e-5f, &out);
    return Dot(out, dy);
  };
  ExpectGradient(&x, dx, loss, 3e-3);
  ExpectGradient(&w, dw, loss, 3e-3);
}

TEST(Norms, LayerNormForwardAndBackward) {
  const int64_t rows = 3, cols = 5;
  auto x = Random(rows * cols, 14), w = Random(cols, 15), b = Random(cols, 16), dy = Random(rows * cols, 17);
  std::vector<float> y;
  LayerNormForward(x, w, b, rows, cols, 1e-5f, &y);
  // Each normalised row (before w, b) has mean 0: with w = 1, b = 0 the output row sums to 0.
  std::vector<float> ones(cols, 1.0f), zeros(cols, 0.0f), y1;
  LayerNormForward(x, ones, zeros, rows, cols, 1e-5f, &y1);
  double sum = 0;
  for (int c = 0; c < cols; ++c) sum += y1[c];
  EXPECT_NEAR(sum, 0.0, 1e-5);
  std::vector<float> dx, dw, db;
  LayerNormBackward(x, w, dy, rows, cols, 1e-5f, &dx, &dw, &db);
  auto loss = [&] {
    std::vector<float> out;
    LayerNormForward(x, w, b, rows, cols, 1e-5f, &out);
    return Dot(out, dy);
  };
  ExpectGradient(&x, dx, loss, 3e-3);
  ExpectGradient(&w, dw, loss, 3e-3);
  ExpectGradient(&b, db, loss, 3e-3);
}

TEST(Softmax, RowsSumToOneAndBackward) {
  const int64_t rows = 2, cols = 7;
  auto x = Random(rows * cols, 18, 3.0f), dy = Random(rows * cols, 19);
  std::vector<float> y;
  SoftmaxForward(x, rows, cols, &y);
  for (int r = 0; r < rows; ++r) {
    double s = 0;
    for (int c = 0; c < cols; ++c) s += y[r * cols + c];
    EXPECT_NEAR(s, 1.0, 1e-6);
  }
  std::vector<float> dx;
  SoftmaxBackward(y, dy, rows, cols, &dx);
  auto loss = [&] {
    std::vector<float> out;
    SoftmaxForward(x, rows, cols, &out);
    return Dot(out, dy);
  };
  ExpectGradient(&x, dx, loss, 2e-3);
}

TEST(Activations, SwigluAndGelu) {
  const int64_t rows = 2, f = 3;
  auto in = Random(rows * 2 * f, 20), dy = Random(rows * f, 21);
  std::vector<float> out;
  SwigluForward(in, rows, f, &out);
  EXPECT_NEAR(out[4], in[2 * f + 1] / (1 + std::exp(-in[2 * f + 1])) * in[2 * f + f + 1], 1e-6);
  std::vector<float> d_in;
  SwigluBackward(in, dy, rows, f, &d_in);
  auto loss = [&] {
    std::vector<float> o;
    SwigluForward(in, rows, f, &o);
    return Dot(o, dy);
  };
  ExpectGradient(&in, d_in, loss, 2e-3);

  EXPECT_EQ(Gelu(0.0f), 0.0f);
  EXPECT_NEAR(Gelu(10.0f), 10.0f, 1e-6);  // GeLU(x) -> x for large x
  EXPECT_NEAR(Gelu(-10.0f), 0.0f, 1e-6);
  auto x = Random(8, 22, 2.0f), gy = Random(8, 23);
  std::vector<float> gx;
  GeluBackward(x, gy, &gx);
  ExpectGradient(&x, gx, [&] {
    std::vector<float> o;
    GeluForward(x, &o);
    return Dot(o, gy);
  }, 2e-3);
}

TEST(Rope, PreservesPairNormsAndInverts) {
  const int64_t tokens = 5, heads = 3, d = 8;
  auto x = Random(tokens * heads * d, 24);
  std::vector<int32_t> pos = {0, 1, 7, 100, 4095};
  std::vector<float> y, back;
  Rope(x, pos, tokens, heads, d, 10000.0f, false, &y);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < d / 2; ++i) {
        const int64_t a = (t * heads + h) * d + i, b = a + d / 2;
        EXPECT_NEAR(x[a] * x[a] + x[b] * x[b], y[a] * y[a] + y[b] * y[b], 1e-5);
      }
    }
  }
  // Position 0 is the identity; the inverse rotation undoes the forward one.
  for (int64_t i = 0; i < heads * d; ++i) EXPECT_FLOAT_EQ(y[i], x[i]);
  Rope(y, pos, tokens, heads, d, 10000.0f, true, &back);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(back[i], x[i], 1e-5);
}

TEST(Embedding, CopiesRows) {
  std::vector<float> table = {0, 1, 10, 11, 20, 21}, out;
  EmbeddingForward(table, {2, 0, 2}, 2, &out);
  EXPECT_EQ(out, (std::vector<float>{20, 21, 0, 1, 20, 21}));
}

TEST(Adam, HandComputedFirstStep) {
  // Step 1 with g = 0.5, p = 1: m = (1 - b1) g, v = (1 - b2) g^2; bias correction gives
  // m_hat = g, v_hat = g^2, so p' = p - lr (g / (|g| + eps) + wd p)
  //                              = 1 - 1e-3 (0.5 / (0.5 + 1e-8) + 0.1) = 0.99890000002.
  AdamConfig c;
  c.lr = 1e-3f;
  c.weight_decay = 0.1f;
  std::vector<float> p = {1.0f}, m = {0.0f}, v = {0.0f}, lp;
  AdamStep(c, &p, &m, &v, {0.5f}, &lp);
  EXPECT_NEAR(m[0], 0.05f, 1e-7);
  EXPECT_NEAR(v[0], 0.0125f, 1e-7);
  EXPECT_NEAR(p[0], 0.9989, 1e-6);
  EXPECT_EQ(lp[0], RoundBf16(p[0]));
  // Second step, same gradient: m = 0.095, v = 0.024375; bias corrections 0.19 and 0.0975
  // give m_hat = 0.5, v_hat = 0.25 again, so the update has the same size.
  c.step = 2;
  AdamStep(c, &p, &m, &v, {0.5f}, &lp);
  EXPECT_NEAR(p[0], 0.9989 - 1e-3 * (1.0 + 0.1 * 0.9989), 1e-6);
}

TEST(KvCache, AppendsTheKAndVPartsAtThePosition) {
  // One sequence, 1 query head and 1 kv head of d = 2: qkv = [q0 q1 | k0 k1 | v0 v1].
  std::vector<float> k(2 * 3, 0.f), v(2 * 3, 0.f);
  KvCacheWrite({1, 2, 3, 4, 5, 6}, 1, 1, 1, 2, 3, 1, &k, &v);
  EXPECT_EQ(k, (std::vector<float>{0, 0, 3, 4, 0, 0}));
  EXPECT_EQ(v, (std::vector<float>{0, 0, 5, 6, 0, 0}));
}

TEST(Comm, CopyAndReduce) {
  std::vector<float> a = {1, 2}, b = {10, 20}, d;
  CommCopyReduce(a, nullptr, &d);
  EXPECT_EQ(d, a);
  CommCopyReduce(a, &b, &d);
  EXPECT_EQ(d, (std::vector<float>{11, 22}));
}

}  // namespace
}  // namespace echosim::kernels::ref
