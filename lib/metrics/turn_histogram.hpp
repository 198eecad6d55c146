// TurnHistogram: how long the reactor's turns take (socketd_loop_iteration_seconds),
// in fixed buckets. record() is a few compares and three integer increments on
// the reactor thread; readers on the same thread see it consistent.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace socketd {

class TurnHistogram {
 public:
  // Upper bounds in nanoseconds (Prometheus `le`, inclusive). A quiet turn
  // takes a few microseconds; the top buckets are stalls.
  static constexpr std::array<uint64_t, 15> kBoundsNs = {
      10'000,     25'000,     50'000,      100'000,     250'000,
      500'000,    1'000'000,  2'500'000,   5'000'000,   10'000'000,
      25'000'000, 50'000'000, 100'000'000, 250'000'000, 1'000'000'000};
  // The same bounds as the exposition writes them (seconds).
  static constexpr std::array<const char*, 15> kBoundsText = {
      "1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
      "0.005", "0.01",    "0.025", "0.05",   "0.1",     "0.25",   "1"};

  void record(uint64_t ns) noexcept {
    size_t i = 0;
    while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;  // most turns stop at i == 0
    ++counts_[i];
    sum_ns_ += ns;
  }

  // Per bucket (not cumulative); the last one is over the largest bound (+Inf).
  const std::array<uint64_t, kBoundsNs.size() + 1>& counts() const { return counts_; }
  uint64_t count() const {
    uint64_t n = 0;
    for (uint64_t c : counts_) n += c;
    return n;
  }
  uint64_t sum_ns() const { return sum_ns_; }

 private:
  std::array<uint64_t, kBoundsNs.size() + 1> counts_{};
  uint64_t sum_ns_ = 0;
};

}  // namespace socketd
