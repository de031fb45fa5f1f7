// Rng: the serving simulator's random numbers, identical on every platform for a seed.
//
// xoshiro256** (Blackman & Vigna 2018) seeded through SplitMix64; the samplers are written
// out here rather than taken from <random>, whose distributions differ between standard
// libraries: uniform doubles from the top 53 bits, exponential by inversion, normal by
// Box-Muller, Gamma(k >= 1) by Marsaglia & Tsang (2000) and Gamma(k < 1) by their boost
// Gamma(k) = Gamma(k + 1) * U^(1/k).
#ifndef ECHOSIM_SIMULATOR_SERVING_RANDOM_H_
#define ECHOSIM_SIMULATOR_SERVING_RANDOM_H_

#include <cmath>
#include <cstdint>

namespace echosim {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& s : s_) s = SplitMix(&x);
  }
  uint64_t NextU64() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n) (n > 0), by multiply-shift (Lemire 2019, without rejection:
  // bias below 2^-32 for n < 2^32).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(NextU64()) * n) >> 64);
  }
  double Exponential(double mean) { return -mean * std::log1p(-Uniform()); }
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Gamma with shape k > 0 and scale theta.
  double Gamma(double k, double theta) {
    if (k < 1.0) {
      const double u = 1.0 - Uniform();
      return Gamma(k + 1.0, theta) * std::pow(u, 1.0 / k);
    }
    const double d = k - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = Normal();
        v = 1.0 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const double u = 1.0 - Uniform();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v * theta;
    }
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t SplitMix(uint64_t* x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t s_[4];
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SERVING_RANDOM_H_
