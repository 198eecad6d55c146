// TextMask: the copy of a config file that toml++ 3.3 can parse without
// undefined behaviour, and the way back to the file's own characters.
//
// toml++ 3.3 has undefined behaviour whenever it asks whether a character in
// U+00A1..U+0499 or U+FB26..U+FEFE is whitespace (marzer/tomlplusplus#190,
// #295: "é" or Cyrillic after a line-ending backslash, or anywhere outside a
// string): is_non_ascii_horizontal_whitespace() falls through to
// TOML_UNREACHABLE. So toml++ is given a copy in which each distinct character
// of U+0080..U+FEFE is replaced by its own private-use character from planes
// 15-16, which toml++ handles correctly; columns are unchanged (both are one
// code point). Strings read from the result and messages are mapped back.
//
// Delete this file (and its use in Diagnostics and parse_config) once the
// toml++ we build against has marzer/tomlplusplus#305 ("Return false for
// non-whitespace Unicode code points", which fixes #295; merged in July 2026,
// after the 3.4.0 release; Debian 12 ships 3.3.0).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace socketd::config_internal {

class TextMask {
 public:
  explicit TextMask(std::string_view original);

  const std::string& masked() const { return masked_; }

  // A string value as the file wrote it.
  std::string unmask(std::string_view text) const { return restore(text, false); }
  // Also maps toml++'s "\U000F0000" escapes in its error messages back.
  std::string unmask_message(std::string_view text) const { return restore(text, true); }

 private:
  static constexpr char32_t kFirstMask = 0xF0000;

  void reserve_used_masks(std::string_view original);
  char32_t mask_of(char32_t cp);
  std::optional<char32_t> original_of(char32_t mask) const;
  std::string restore(std::string_view text, bool escapes) const;
  bool restore_escape(std::string_view text, size_t pos, std::string& out) const;

  std::string masked_;
  std::unordered_map<char32_t, char32_t> to_mask_;
  std::unordered_map<char32_t, char32_t> to_original_;
  std::unordered_set<char32_t> taken_;
  char32_t next_ = kFirstMask;
};

}  // namespace socketd::config_internal
