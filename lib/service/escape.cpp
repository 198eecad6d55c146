#include "service/escape.hpp"

#include <cstdint>

namespace socketd {
namespace {

// Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one.
size_t utf8_sequence(const unsigned char* s, size_t n) {
  const unsigned char c = s[0];
  size_t len;
  uint32_t min;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, min = 0x80, cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, min = 0x800, cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
  // C1 controls (U+0080..U+009F: NEL, CSI...) and U+2028/2029 break lines or
  // start escape sequences in some viewers; escape them too.
  const bool control = (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
  if (cp < min || cp > 0x10FFFF || surrogate || control) return 0;
  return len;
}

}  // namespace

std::string escape_payload(std::span<const char> bytes, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = std::min(bytes.size(), max_bytes);
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\\') {
      out += "\\\\", ++i;
    } else if (c == '\n') {
      out += "\\n", ++i;
    } else if (c == '\r') {
      out += "\\r", ++i;
    } else if (c == '\t') {
      out += "\\t", ++i;
    } else if (const size_t len = c >= 0x80 ? utf8_sequence(s + i, n - i) : 0) {
      out.append(reinterpret_cast<const char*>(s + i), len);
      i += len;
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
      ++i;
    }
  }
  if (bytes.size() > max_bytes) out += "...";
  return out;
}

}  // namespace socketd
