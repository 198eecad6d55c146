// Test data for uploads: reproducible bytes that are not all alike (a shifted
// or repeated block shows), and the SHA-256 a client expects back.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>

#include "service/sha256.hpp"

namespace socketd::test {

inline std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return out;
}

inline std::string sha256_of(std::string_view bytes) {
  Sha256 hash;
  hash.update(std::span<const char>(bytes.data(), bytes.size()));
  return hash.hex_digest();
}

}  // namespace socketd::test
