// CPU references of the CUDA kernels (see reference.h for layouts and sources).
#include "kernels/reference/reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace echosim::kernels::ref {
namespace {

uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// Magnitude rounded to nearest-even on a grid of `step` (a power of two, so exact).
double RoundToGrid(double a, double step) { return std::nearbyint(a / step) * step; }

}  // namespace

uint16_t FloatToBf16Bits(float f) {
  uint32_t u = FloatBits(f);
  if (std::isnan(f)) return 0x7fc0;
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
float Bf16BitsToFloat(uint16_t b) { return BitsFloat(static_cast<uint32_t>(b) << 16); }
float RoundBf16(float f) { return Bf16BitsToFloat(FloatToBf16Bits(f)); }

uint16_t FloatToFp16Bits(float f) {
  const uint16_t sign = (FloatBits(f) >> 16) & 0x8000u;
  if (std::isnan(f)) return 0x7e00;
  double a = std::fabs(static_cast<double>(f));
  if (a >= 65520.0) return sign | 0x7c00;  // rounds to infinity
  if (a < std::ldexp(1.0, -14)) {          // subnormal: steps of 2^-24
    const double q = RoundToGrid(a, std::ldexp(1.0, -24));
    return sign | static_cast<uint16_t>(q / std::ldexp(1.0, -24));  // 1024 becomes the min normal
  }
  int e = static_cast<int>(std::floor(std::log2(a)));
  double q = RoundToGrid(a, std::ldexp(1.0, e - 10));
  if (q >= std::ldexp(1.0, e + 1)) ++e;  // rounded up into the next binade
  const int mant = static_cast<int>(std::lround((q / std::ldexp(1.0, e) - 1.0) * 1024.0));
  return sign | static_cast<uint16_t>(((e + 15) << 10) | mant);
}
float Fp16BitsToFloat(uint16_t h) {
  const float sign = (h & 0x8000u) ? -1.0f : 1.0f;
  const int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0x1f) return mant ? std::numeric_limits<float>::quiet_NaN() : sign * INFINITY;
  if (exp == 0) return sign * static_cast<float>(std::ldexp(static_cast<double>(mant), -24));
  return sign * static_cast<float>(std::ldexp(1.0 + mant / 1024.0, exp - 15));
}
float RoundFp16(float f) { return Fp16BitsToFloat(FloatToFp16Bits(f)); }

uint8_t FloatToE4m3Bits(float f) {
  const uint8_t sign = (FloatBits(f) >> 24) & 0x80u;
  if (std::isnan(f)) return 0x7f;
  double a = std::min(std::fabs(static_cast<double>(f)), 448.0);  // saturate
  if (a < std::ldexp(1.0, -6)) {  // subnormal: steps of 2^-9
    const double q = RoundToGrid(a, std::ldexp(1.0, -9));
    return sign | static_cast<uint8_t>(q / std::ldexp(1.0, -9));
  }
  int e = static_cast<int>(std::floor(std::log2(a)));
  double q = std::min(RoundToGrid(a, std::ldexp(1.0, e - 3)), 448.0);
  if (q >= std::ldexp(1.0, e + 1)) ++e;
  const int mant = static_cast<int>(std::lround((q / std::ldexp(1.0, e) - 1.0) * 8.0));
  return sign | static_cast<uint8_t>(((e + 7) << 3) | mant);
}
float E4m3BitsToFloat(uint8_t b) {
  const float sign = (b & 0x80u) ? -1.0f : 1.0f;
  const int exp = (b >> 3) & 0xf, mant = b & 0x7;
  if (exp == 0xf && mant == 0x7) return std::numeric_limits<float>::quiet_NaN();
  if (exp == 0) return sign * static_cast<float>(std::ldexp(static_cast<double>(mant), -9));
  return sign * static_cast<float>(std::ldexp(1.0 + mant / 8.0, exp - 7));
}
float RoundE4m3(float f) { return E4m3BitsToFloat(FloatToE4m3Bits(f)); }

void Gemm(const std::vector<float>& x, const std::vector<float>& w, int64_t m, int64_t n,
          int64_t k, int64_t batch, std::vector<float>* c) {
  c->assign(static_cast<size_t>(batch * m * n), 0.0f);
  for (int64_t b = 0; b < batch; ++b) {
    const float* xb = x.data() + b * m * k;
    const float* wb = w.data() + b * n * k;
    float* cb = c->data() + b * m * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += static_cast<double>(xb[i * k + p]) * wb[j * k + p];
        cb[i * n + j] = static_cast<float>(acc);
      }
    }
  }
}

float AttentionShape::scale() const { return 1.0f / std::sqrt(static_cast<float>(d)); }

namespace {

// Scores of one query row (scaled), with -inf where the causal mask hides the key.
void ScoreRow(const AttentionShape& s, const float* qrow, const float* kbase, int64_t i,
              std::vector<double>* scores) {
  scores->assign(static_cast<size_t>(s.sk), -INFINITY);
  const int64_t last = s.causal ? std::min<int64_t>(s.sk - 1, i + (s.sk - s.sq)) : s.sk - 1;
  for (int64_t j = 0; j <= last; ++j) {
    double dot = 0;
    for (int64_t p = 0; p < s.d; ++p) dot += static_cast<double>(qrow[p]) * kbase[j * s.d + p];
    (*scores)[j] = dot * s.scale();
  }
}

// Calls fn(bh, bkv, i, kb, vb) for every query row i of every (batch, head) bh, with kb and
// vb the keys and values ([sk, d]) of its kv head bkv (heads / kv_heads query heads share one).
template <typename Fn>
void ForEachQueryRow(const AttentionShape& s, const std::vector<float>& k, const std::vector<float>& v, Fn fn) {
  const int64_t group = s.heads / s.kv_heads;
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t h = 0; h < s.heads; ++h) {
      const int64_t bh = b * s.heads + h, bkv = b * s.kv_heads + h / group;
      const float* kb = k.data() + bkv * s.sk * s.d;
      const float* vb = v.data() + bkv * s.sk * s.d;
      for (int64_t i = 0; i < s.sq; ++i) fn(bh, bkv, i, kb, vb);
    }
  }
}

}  // namespace

void AttentionForward(const AttentionShape& s, const std::vector<float>& q,
                      const std::vector<float>& k, const std::vector<float>& v,
                      std::vector<float>* o, std::vector<float>* lse) {
  o->assign(static_cast<size_t>(s.batch * s.heads * s.sq * s.d), 0.0f);
  lse->assign(static_cast<size_t>(s.batch * s.heads * s.sq), 0.0f);
  std::vector<double> sc;
  ForEachQueryRow(s, k, v, [&](int64_t bh, int64_t /*bkv*/, int64_t i, const float* kb, const float* vb) {
    ScoreRow(s, q.data() + (bh * s.sq + i) * s.d, kb, i, &sc);
    double mx = -INFINITY;
    for (double x : sc) mx = std::max(mx, x);
    double sum = 0;
    for (double& x : sc) {
      x = std::isinf(x) ? 0.0 : std::exp(x - mx);
      sum += x;
    }
    float* orow = o->data() + (bh * s.sq + i) * s.d;
    for (int64_t p = 0; p < s.d; ++p) {
      double acc = 0;
      for (int64_t j = 0; j < s.sk; ++j) acc += sc[j] * vb[j * s.d + p];
      orow[p] = static_cast<float>(acc / sum);
    }
    (*lse)[bh * s.sq + i] = static_cast<float>(mx + std::log(sum));
  });
}

void AttentionBackward(const AttentionShape& s, const std::vector<float>& q,
                       const std::vector<float>& k, const std::vector<float>& v,
                       const std::vector<float>& d_o, std::vector<float>* dq,
                       std::vector<float>* dk, std::vector<float>* dv) {
  std::vector<float> o, lse;
  AttentionForward(s, q, k, v, &o, &lse);
  dq->assign(q.size(), 0.0f);
  std::vector<double> dk_acc(k.size(), 0.0), dv_acc(v.size(), 0.0);
  std::vector<double> sc, dp;
  ForEachQueryRow(s, k, v, [&](int64_t bh, int64_t bkv, int64_t i, const float* kb, const float* vb) {
    const float* qrow = q.data() + (bh * s.sq + i) * s.d;
    const float* dorow = d_o.data() + (bh * s.sq + i) * s.d;
    const float* orow = o.data() + (bh * s.sq + i) * s.d;
    ScoreRow(s, qrow, kb, i, &sc);
    double dsum = 0;  // D_i = dO_i . O_i = sum_j P_ij dP_ij
    for (int64_t p = 0; p < s.d; ++p) dsum += static_cast<double>(dorow[p]) * orow[p];
    for (int64_t j = 0; j < s.sk; ++j) {
      if (std::isinf(sc[j])) continue;
      const double pij = std::exp(sc[j] - lse[bh * s.sq + i]);
      double dpij = 0;
      for (int64_t p = 0; p < s.d; ++p) dpij += static_cast<double>(dorow[p]) * vb[j * s.d + p];
      const double ds = pij * (dpij - dsum) * s.scale();
      for (int64_t p = 0; p < s.d; ++p) {
        dv_acc[(bkv * s.sk + j) * s.d + p] += pij * dorow[p];
        dk_acc[(bkv * s.sk + j) * s.d + p] += ds * qrow[p];
        (*dq)[(bh * s.sq + i) * s.d + p] += static_cast<float>(ds * kb[j * s.d + p]);
      }
    }
  });
  dk->assign(dk_acc.begin(), dk_acc.end());
  dv->assign(dv_acc.begin(), dv_acc.end());
}

void RmsNormForward(const std::vector<float>& x, const std::vector<float>& w, int64_t rows,
                    int64_t cols, float eps, std::vector<float>* y) {
  y->resize(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t c = 0; c < cols; ++c) ss += static_cast<double>(x[r * cols + c]) * x[r * cols + c];
    const double rstd = 1.0 / std::sqrt(ss / cols + eps);
    for (int64_t c = 0; c < cols; ++c) (*y)[r * cols + c] = static_cast<float>(x[r * cols + c] * rstd * w[c]);
  }
}

void RmsNormBackward(const std::vector<float>& x, const std::vector<float>& w,
                     const std::vector<float>& dy, int64_t rows, int64_t cols, float eps,
                     std::vector<float>* dx, std::vector<float>* dw) {
  dx->resize(x.size());
  std::vector<double> dw_acc(static_cast<size_t>(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * cols;
    const float* dyr = dy.data() + r * cols;
    double ss = 0;
    for (int64_t c = 0; c < cols; ++c) ss += static_cast<double>(xr[c]) * xr[c];
    const double rstd = 1.0 / std::sqrt(ss / cols + eps);
    double dot = 0;  // mean(dxhat * xhat)
    for (int64_t c = 0; c < cols; ++c) dot += static_cast<double>(dyr[c]) * w[c] * xr[c] * rstd;
    dot /= cols;
    for (int64_t c = 0; c < cols; ++c) {
      const double xhat = xr[c] * rstd;
      (*dx)[r * cols + c] = static_cast<float>(rstd * (dyr[c] * w[c] - xhat * dot));
      dw_acc[c] += dyr[c] * xhat;
    }
  }
  dw->assign(dw_acc.begin(), dw_acc.end());
}

void LayerNormForward(const std::vector<float>& x, const std::vector<float>& w,
                      const std::vector<float>& b, int64_t rows, int64_t cols, float eps,
                      std::vector<float>* y) {
  y->resize(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * cols;
    double mean = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) mean += xr[c];
    mean /= cols;
    for (int64_t c = 0; c < cols; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    const double rstd = 1.0 / std::sqrt(var / cols + eps);
    for (int64_t c = 0; c < cols; ++c) {
      (*y)[r * cols + c] = static_cast<float>((xr[c] - mean) * rstd * w[c] + b[c]);
    }
  }
}

void LayerNormBackward(const std::vector<float>& x, const std::vector<float>& w,
                       const std::vector<float>& dy, int64_t rows, int64_t cols, float eps,
                       std::vector<float>* dx, std::vector<float>* dw, std::vector<float>* db) {
  dx->resize(x.size());
  std::vector<double> dw_acc(static_cast<size_t>(cols), 0.0), db_acc(static_cast<size_t>(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * cols;
    const float* dyr = dy.data() + r * cols;
    double mean = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) mean += xr[c];
    mean /= cols;
    for (int64_t c = 0; c < cols; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    const double rstd = 1.0 / std::sqrt(var / cols + eps);
    double mean_g = 0, mean_gx = 0;  // means of dxhat and dxhat * xhat
    for (int64_t c = 0; c < cols; ++c) {
      const double g = static_cast<double>(dyr[c]) * w[c];
      mean_g += g;
      mean_gx += g * (xr[c] - mean) * rstd;
    }
    mean_g /= cols;
    mean_gx /= cols;
    for (int64_t c = 0; c < cols; ++c) {
      const double xhat = (xr[c] - mean) * rstd;
      const double g = static_cast<double>(dyr[c]) * w[c];
      (*dx)[r * cols + c] = static_cast<float>(rstd * (g - mean_g - xhat * mean_gx));
      dw_acc[c] += dyr[c] * xhat;
      db_acc[c] += dyr[c];
    }
  }
  dw->assign(dw_acc.begin(), dw_acc.end());
  db->assign(db_acc.begin(), db_acc.end());
}

void SoftmaxForward(const std::vector<float>& x, int64_t rows, int64_t cols,
                    std::vector<float>* y) {
  y->resize(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * cols;
    double mx = -INFINITY, sum = 0;
    for (int64_t c = 0; c < cols; ++c) mx = std::max<double>(mx, xr[c]);
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(xr[c] - mx);
    for (int64_t c = 0; c < cols; ++c) (*y)[r * cols + c] = static_cast<float>(std::exp(xr[c] - mx) / sum);
  }
}

void SoftmaxBackward(const std::vector<float>& y, const std::vector<float>& dy, int64_t rows,
                     int64_t cols, std::vector<float>* dx) {
  dx->resize(y.size());
  for (int64_t r = 0; r < rows; ++r) {
    double dot = 0;
    for (int64_t c = 0; c < cols; ++c) dot += static_cast<double>(y[r * cols + c]) * dy[r * cols + c];
    for (int64_t c = 0; c < cols; ++c) {
      (*dx)[r * cols + c] = static_cast<float>(y[r * cols + c] * (dy[r * cols + c] - dot));
    }
  }
}

float Silu(float x) { return x / (1.0f + std::exp(-x)); }

void SwigluForward(const std::vector<float>& in, int64_t rows, int64_t f, std::vector<float>* out) {
  out->resize(static_cast<size_t>(rows * f));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < f; ++c) {
      (*out)[r * f + c] = Silu(in[r * 2 * f + c]) * in[r * 2 * f + f + c];
    }
  }
}

void SwigluBackward(const std::vector<float>& in, const std::vector<float>& dy, int64_t rows,
                    int64_t f, std::vector<float>* d_in) {
  d_in->resize(static_cast<size_t>(rows * 2 * f));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < f; ++c) {
      const double g = in[r * 2 * f + c], u = in[r * 2 * f + f + c], d = dy[r * f + c];
      const double sig = 1.0 / (1.0 + std::exp(-g));
      // d silu(g)/dg = sig * (1 + g * (1 - sig))
      (*d_in)[r * 2 * f + c] = static_cast<float>(d * u * sig * (1.0 + g * (1.0 - sig)));
      (*d_in)[r * 2 * f + f + c] = static_cast<float>(d * g * sig);
    }
  }
}

namespace {
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluCubic = 0.044715;
}  // namespace

float Gelu(float x) {
  const double xd = x;
  return static_cast<float>(0.5 * xd * (1.0 + std::tanh(kSqrt2OverPi * (xd + kGeluCubic * xd * xd * xd))));
}
float GeluGrad(float x) {
  const double xd = x;
  const double u = kSqrt2OverPi * (xd + kGeluCubic * xd * xd * xd);
  const double t = std::tanh(u);
  const double du = kSqrt2OverPi * (1.0 + 3.0 * kGeluCubic * xd * xd);
  return static_cast<float>(0.5 * (1.0 + t) + 0.5 * xd * (1.0 - t * t) * du);
}
void GeluForward(const std::vector<float>& x, std::vector<float>* y) {
  y->resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) (*y)[i] = Gelu(x[i]);
}
void GeluBackward(const std::vector<float>& x, const std::vector<float>& dy, std::vector<float>* dx) {
  dx->resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) (*dx)[i] = dy[i] * GeluGrad(x[i]);
}

void Rope(const std::vector<float>& x, const std::vector<int32_t>& positions, int64_t tokens,
          int64_t heads, int64_t d, float base, bool inverse, std::vector<float>* y) {
  y->resize(x.size());
  const int64_t half = d / 2;
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      const float* xr = x.data() + (t * heads + h) * d;
      float* yr = y->data() + (t * heads + h) * d;
      for (int64_t i = 0; i < half; ++i) {
        const double inv_freq = std::pow(static_cast<double>(base), -2.0 * i / d);
        double angle = positions[t] * inv_freq;
        if (inverse) angle = -angle;
        const double c = std::cos(angle), s = std::sin(angle);
        yr[i] = static_cast<float>(xr[i] * c - xr[i + half] * s);
        yr[i + half] = static_cast<float>(xr[i + half] * c + xr[i] * s);
      }
    }
  }
}

void EmbeddingForward(const std::vector<float>& table, const std::vector<int32_t>& ids,
                      int64_t hidden, std::vector<float>* out) {
  out->resize(ids.size() * static_cast<size_t>(hidden));
  for (size_t t = 0; t < ids.size(); ++t) {
    std::copy_n(table.begin() + ids[t] * hidden, hidden, out->begin() + t * hidden);
  }
}

void AdamStep(const AdamConfig& c, std::vector<float>* param, std::vector<float>* m,
              std::vector<float>* v, const std::vector<float>& grad, std::vector<float>* param_lp) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(c.beta1), c.step);
  const double bc2 = 1.0 - std::pow(static_cast<double>(c.beta2), c.step);
  param_lp->resize(param->size());
  for (size_t i = 0; i < param->size(); ++i) {
    const float g = grad[i];
    (*m)[i] = c.beta1 * (*m)[i] + (1.0f - c.beta1) * g;
    (*v)[i] = c.beta2 * (*v)[i] + (1.0f - c.beta2) * g * g;
    const double mhat = (*m)[i] / bc1, vhat = (*v)[i] / bc2;
    double p = (*param)[i];
    p -= c.lr * (mhat / (std::sqrt(vhat) + c.eps) + c.weight_decay * p);
    (*param)[i] = static_cast<float>(p);
    (*param_lp)[i] = RoundBf16((*param)[i]);
  }
}

void KvCacheWrite(const std::vector<float>& qkv, int64_t seqs, int64_t heads, int64_t kv_heads, int64_t d,
                  int64_t capacity, int64_t pos, std::vector<float>* k_cache, std::vector<float>* v_cache) {
  const int64_t width = (heads + 2 * kv_heads) * d;
  for (int64_t s = 0; s < seqs; ++s) {
    for (int64_t h = 0; h < kv_heads; ++h) {
      for (int64_t c = 0; c < d; ++c) {
        const int64_t at = ((s * kv_heads + h) * capacity + pos) * d + c;
        (*k_cache)[at] = qkv[s * width + (heads + h) * d + c];
        (*v_cache)[at] = qkv[s * width + (heads + kv_heads + h) * d + c];
      }
    }
  }
}

void CommCopyReduce(const std::vector<float>& a, const std::vector<float>* b, std::vector<float>* dst) {
  dst->resize(a.size());
  for (size_t i = 0; i < a.size(); ++i) (*dst)[i] = b ? a[i] + (*b)[i] : a[i];
}

}  // namespace echosim::kernels::ref
