// Simulated time: signed 64-bit integer picoseconds.
//
// Integers keep event order exact and identical on every platform; 2^63 ps is
// about 106 days of simulated time, far beyond any training step or serving run.
#ifndef ECHOSIM_SIMULATOR_CORE_TIME_H_
#define ECHOSIM_SIMULATOR_CORE_TIME_H_

#include <cmath>
#include <cstdint>
#include <limits>

namespace echosim {

using Time = int64_t;      // absolute simulated time, picoseconds since the run started
using Duration = int64_t;  // simulated interval, picoseconds

inline constexpr Duration kPicosecond = 1;
inline constexpr Duration kNanosecond = 1000;
inline constexpr Duration kMicrosecond = 1000 * kNanosecond;
inline constexpr Duration kMillisecond = 1000 * kMicrosecond;
inline constexpr Duration kSecond = 1000 * kMillisecond;
inline constexpr Time kTimeInfinity = std::numeric_limits<Time>::max();

// Converts seconds (double) to a Duration, rounding to the nearest picosecond.
// Negative or non-finite inputs are clamped to 0 / kTimeInfinity by the caller's contract:
// cost models never produce them (they are CHECKed where produced).
inline Duration SecondsToDuration(double seconds) {
  return static_cast<Duration>(std::llround(seconds * 1e12));
}
inline double DurationToSeconds(Duration d) { return static_cast<double>(d) * 1e-12; }
inline double DurationToMicros(Duration d) { return static_cast<double>(d) * 1e-6; }

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_CORE_TIME_H_
