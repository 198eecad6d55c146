// The inverse of escape_payload()'s escapes (lib/service/escape.hpp): \\ \n \r
// \t and \xHH (lowercase hex), written independently of the library so that
// tests and fuzzers can check its output is reversible. Without gtest: the
// fuzzers use it too.
#pragma once

#include <string>
#include <string_view>

namespace socketd::test {

// `s` with its escapes undone, in `out`; false on a malformed escape.
inline bool unescape(std::string_view s, std::string& out) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i == s.size()) return false;
    switch (s[i]) {
      case '\\':
        out.push_back('\\');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'x': {
        if (i + 2 >= s.size()) return false;
        const int hi = hex(s[i + 1]);
        const int lo = hex(s[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

}  // namespace socketd::test
