// CPU references of every kernel in kernels/cuda, in plain C++ (no CUDA needed).
//
// Each function computes in fp32 (fp64 where a sum could lose accuracy) over row-major
// buffers, with the same layouts and conventions as the CUDA kernels, so the GPU
// correctness test (kernels/tests/gpu_correctness.cc) compares the two within the
// tolerance of the kernel's storage dtype. bf16/fp16/fp8 rounding functions let the test
// quantise inputs exactly as the GPU sees them.
//
// Layouts (all row-major):
//   GEMM        x[m,k], w[n,k] -> c[m,n] = x w^T  (the "TN" form cuBLASLt needs for fp8;
//               it is the same work as C[m,n] = A[m,k] B[k,n] with B = w^T)
//   attention   q[b*h, sq, d], k/v[b*hkv, sk, d], o like q, lse[b*h, sq] (natural log);
//               causal: query i sees keys j <= i + (sk - sq) (queries are the last sq
//               positions of the sequence), grouped-query: head hh reads kv head hh/(h/hkv)
//   norms       x[rows, cols], weight[cols] (and bias[cols] for LayerNorm)
//   SwiGLU      in[rows, 2f] = [gate | up], out[rows, f] = silu(gate) * up
//   RoPE        x[tokens, heads, d], rotate-half pairs (i, i + d/2) by pos * base^(-2i/d)
//   Adam        AdamW with bias correction (Loshchilov & Hutter, "Decoupled Weight Decay
//               Regularization", Algorithm 2), fp32 master weights, step t >= 1
#ifndef ECHOSIM_KERNELS_REFERENCE_REFERENCE_H_
#define ECHOSIM_KERNELS_REFERENCE_REFERENCE_H_

#include <cstdint>
#include <vector>

namespace echosim::kernels::ref {

// Round-to-nearest-even conversions of the storage dtypes (NaN kept NaN).
uint16_t FloatToBf16Bits(float f);
float Bf16BitsToFloat(uint16_t b);
float RoundBf16(float f);
uint16_t FloatToFp16Bits(float f);
float Fp16BitsToFloat(uint16_t h);
float RoundFp16(float f);
// fp8 e4m3 (OCP FP8 "E4M3FN": bias 7, max 448, no infinities), saturating.
uint8_t FloatToE4m3Bits(float f);
float E4m3BitsToFloat(uint8_t b);
float RoundE4m3(float f);

// c[m,n] = sum_k x[m,k] * w[n,k] (fp64 accumulation), `batch` independent problems
// stored back to back.
void Gemm(const std::vector<float>& x, const std::vector<float>& w, int64_t m, int64_t n,
          int64_t k, int64_t batch, std::vector<float>* c);

struct AttentionShape {
  int64_t batch = 1;     // sequences
  int64_t heads = 1;     // query heads
  int64_t kv_heads = 1;  // key/value heads (heads % kv_heads == 0)
  int64_t sq = 1, sk = 1, d = 64;
  bool causal = true;
  float scale() const;  // 1/sqrt(d)
};
// Online-softmax-free reference: for each query row, scores, max, exp, sum, then P V.
void AttentionForward(const AttentionShape& s, const std::vector<float>& q,
                      const std::vector<float>& k, const std::vector<float>& v,
                      std::vector<float>* o, std::vector<float>* lse);
// Gradients of sum(o * d_o) with respect to q, k, v (dk/dv summed over the query heads
// that share a kv head).
void AttentionBackward(const AttentionShape& s, const std::vector<float>& q,
                       const std::vector<float>& k, const std::vector<float>& v,
                       const std::vector<float>& d_o, std::vector<float>* dq,
                       std::vector<float>* dk, std::vector<float>* dv);

void RmsNormForward(const std::vector<float>& x, const std::vector<float>& w, int64_t rows,
                    int64_t cols, float eps, std::vector<float>* y);
// dx and dw (dw summed over rows) of y = x / rms(x) * w.
void RmsNormBackward(const std::vector<float>& x, const std::vector<float>& w,
                     const std::vector<float>& dy, int64_t rows, int64_t cols, float eps,
                     std::vector<float>* dx, std::vector<float>* dw);
void LayerNormForward(const std::vector<float>& x, const std::vector<float>& w,
                      const std::vector<float>& b, int64_t rows, int64_t cols, float eps,
                      std::vector<float>* y);
void LayerNormBackward(const std::vector<float>& x, const std::vector<float>& w,
                       const std::vector<float>& dy, int64_t rows, int64_t cols, float eps,
                       std::vector<float>* dx, std::vector<float>* dw, std::vector<float>* db);

// Row softmax over `cols`, and its backward dx = y * (dy - sum(dy * y)).
void SoftmaxForward(const std::vector<float>& x, int64_t rows, int64_t cols,
                    std::vector<float>* y);
void SoftmaxBackward(const std::vector<float>& y, const std::vector<float>& dy, int64_t rows,
                     int64_t cols, std::vector<float>* dx);

float Silu(float x);
void SwigluForward(const std::vector<float>& in, int64_t rows, int64_t f, std::vector<float>* out);
// d_in[rows, 2f] = [d_gate | d_up] from dy[rows, f].
void SwigluBackward(const std::vector<float>& in, const std::vector<float>& dy, int64_t rows,
                    int64_t f, std::vector<float>* d_in);
// GeLU, tanh approximation (Hendrycks & Gimpel, "Gaussian Error Linear Units", eq. 2).
float Gelu(float x);
float GeluGrad(float x);
void GeluForward(const std::vector<float>& x, std::vector<float>* y);
void GeluBackward(const std::vector<float>& x, const std::vector<float>& dy, std::vector<float>* dx);

// Rotary position embedding (Su et al., "RoFormer", eq. 34), rotate-half pairing.
// `inverse` rotates by -angle (the backward pass). positions[t] is token t's position.
void Rope(const std::vector<float>& x, const std::vector<int32_t>& positions, int64_t tokens,
          int64_t heads, int64_t d, float base, bool inverse, std::vector<float>* y);

// out[t, :] = table[ids[t], :]
void EmbeddingForward(const std::vector<float>& table, const std::vector<int32_t>& ids,
                      int64_t hidden, std::vector<float>* out);

struct AdamConfig {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0.1f;
  int step = 1;  // 1-based
};
// Updates param/m/v in place from grad; param_lp receives the updated weight as the
// 16-bit copy the next forward uses (bf16-rounded).
void AdamStep(const AdamConfig& c, std::vector<float>* param, std::vector<float>* m,
              std::vector<float>* v, const std::vector<float>& grad, std::vector<float>* param_lp);

// Serving KV-cache append: row `pos` of each sequence's caches [seqs, kv_heads, capacity, d]
// receives the K and V parts of its fused QKV row qkv[seqs, (heads + 2 kv_heads) d].
void KvCacheWrite(const std::vector<float>& qkv, int64_t seqs, int64_t heads, int64_t kv_heads, int64_t d,
                  int64_t capacity, int64_t pos, std::vector<float>* k_cache, std::vector<float>* v_cache);

// The communication-like kernel's effect: dst = a (copy) or dst = a + b (reduce); also
// the residual add.
void CommCopyReduce(const std::vector<float>& a, const std::vector<float>* b, std::vector<float>* dst);

}  // namespace echosim::kernels::ref

#endif  // ECHOSIM_KERNELS_REFERENCE_REFERENCE_H_
