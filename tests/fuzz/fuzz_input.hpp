// FuzzInput: reads a fuzzer's bytes front to back as option bytes, fixed-size
// integers and length-prefixed chunks. Reading past the end yields zeros and
// empty spans, never an error, so every input is a valid test case.
// fuzz_check(): an invariant; on failure prints why and aborts, which
// libFuzzer reports as a crash and saves as crash-<sha1>.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

namespace socketd::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size)
      : data_(reinterpret_cast<const char*>(data)), size_(size) {}

  bool empty() const { return pos_ == size_; }
  size_t remaining() const { return size_ - pos_; }

  uint8_t byte() {
    if (pos_ == size_) return 0;
    return static_cast<uint8_t>(data_[pos_++]);
  }

  // Little-endian, zero-padded when the input runs out.
  uint64_t u64() {
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value |= uint64_t{byte()} << (8 * i);
    return value;
  }

  // Up to `n` bytes (fewer at the end of the input).
  std::string_view take(size_t n) {
    n = std::min(n, remaining());
    const std::string_view out(data_ + pos_, n);
    pos_ += n;
    return out;
  }

  std::string_view rest() { return take(remaining()); }

  // One length byte L, then L bytes. L == 0 is returned as an empty view:
  // the harnesses read it as "the peer closed" (a read of 0 bytes), which is
  // why a real chunk is never empty.
  std::string_view chunk() { return take(byte()); }

 private:
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
};

inline std::span<const char> as_span(std::string_view s) {
  return {s.data(), s.size()};
}

// Printable form of bytes for failure messages: C escapes, at most 200 bytes.
inline std::string printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size() && i < 200; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '"') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  if (s.size() > 200) out += "...";
  return out;
}

[[noreturn]] inline void fuzz_fail(const char* file, int line, const char* what,
                                   const std::string& detail) {
  std::fprintf(stderr, "\n%s:%d: invariant violated: %s\n  %s\n", file, line, what, detail.c_str());
  std::abort();
}

}  // namespace socketd::fuzz

// `detail` is only evaluated on failure.
#define fuzz_check(cond, detail)                                                  \
  do {                                                                            \
    if (!(cond)) ::socketd::fuzz::fuzz_fail(__FILE__, __LINE__, #cond, (detail)); \
  } while (false)
