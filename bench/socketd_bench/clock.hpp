// Monotonic time in nanoseconds: the one time base of the tool (send times,
// deadlines, progress ticks and latencies are all int64 ns on CLOCK_MONOTONIC).
#pragma once

#include <time.h>

#include <cstdint>
#include <limits>

namespace socketd::bench {

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

inline int64_t now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

inline int64_t seconds_to_ns(double seconds) noexcept {
  return static_cast<int64_t>(seconds * static_cast<double>(kNsPerSec));
}

inline double ns_to_seconds(int64_t ns) noexcept {
  return static_cast<double>(ns) / static_cast<double>(kNsPerSec);
}

}  // namespace socketd::bench
