// RandomSource: uniformly distributed integers from a generator seeded from
// the kernel (getrandom via std::random_device), so every start differs.
#pragma once

#include <cstdint>
#include <random>

namespace socketd {

class RandomSource {
 public:
  RandomSource() : engine_(seed()) {}
  explicit RandomSource(uint64_t fixed_seed) : engine_(fixed_seed) {}
  int64_t uniform(int64_t min, int64_t max) {
    return std::uniform_int_distribution<int64_t>(min, max)(engine_);
  }

 private:
  static uint64_t seed() {
    std::random_device device;
    return (uint64_t{device()} << 32) ^ device();
  }
  std::mt19937_64 engine_;
};

}  // namespace socketd
