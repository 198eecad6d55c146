#include "config/toml_workaround.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <system_error>

namespace socketd::config_internal {

namespace {

// decode_utf8() is as strict as toml++'s reader, so that invalid UTF-8 is left
// in place for toml++ to report.
struct Decoded {
  char32_t code_point;
  size_t length;
};

std::optional<Decoded> decode_utf8(std::string_view text, size_t pos) {
  const auto at = [&](size_t i) {
    return pos + i < text.size() ? static_cast<unsigned char>(text[pos + i]) : 0u;
  };
  const unsigned lead = at(0);
  if (lead < 0x80) return Decoded{lead, 1};
  const size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
  if (length == 0 || lead > 0xF4) return std::nullopt;
  char32_t value = lead & (0x7Fu >> length);
  for (size_t i = 1; i < length; ++i) {
    if ((at(i) & 0xC0) != 0x80) return std::nullopt;
    value = (value << 6) | (at(i) & 0x3F);
  }
  constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < kSmallest[length] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return std::nullopt;
  }
  return Decoded{value, length};
}

void append_utf8(std::string& out, char32_t cp) {
  const auto add = [&](unsigned bits) { out += static_cast<char>(bits); };
  if (cp < 0x80) {
    add(cp);
  } else if (cp < 0x800) {
    add(0xC0 | (cp >> 6));
    add(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    add(0xE0 | (cp >> 12));
    add(0x80 | ((cp >> 6) & 0x3F));
    add(0x80 | (cp & 0x3F));
  } else {
    add(0xF0 | (cp >> 18));
    add(0x80 | ((cp >> 12) & 0x3F));
    add(0x80 | ((cp >> 6) & 0x3F));
    add(0x80 | (cp & 0x3F));
  }
}

}  // namespace

TextMask::TextMask(std::string_view original) {
  if (std::all_of(original.begin(), original.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
    masked_ = original;
    return;
  }
  reserve_used_masks(original);
  for (size_t pos = 0; pos < original.size();) {
    const auto decoded = decode_utf8(original, pos);
    if (!decoded) {  // invalid UTF-8: keep the byte, toml++ reports it
      masked_ += original[pos++];
      continue;
    }
    const char32_t cp = decoded->code_point;
    append_utf8(masked_, cp >= 0x80 && cp < 0xFEFF ? mask_of(cp) : cp);
    pos += decoded->length;
  }
}

// A mask must not be a character the file already has, written or escaped.
void TextMask::reserve_used_masks(std::string_view original) {
  for (size_t pos = 0; pos < original.size();) {
    const auto decoded = decode_utf8(original, pos);
    if (decoded && decoded->code_point >= kFirstMask) taken_.insert(decoded->code_point);
    if (original.substr(pos, 2) == "\\U") {
      uint32_t value = 0;
      const auto digits = original.substr(pos + 2, 8);
      const auto [end, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
      if (ec == std::errc{}) taken_.insert(value);
    }
    pos += decoded ? decoded->length : 1;
  }
}

char32_t TextMask::mask_of(char32_t cp) {
  if (const auto it = to_mask_.find(cp); it != to_mask_.end()) return it->second;
  while (taken_.contains(next_) || (next_ & 0xFFFE) == 0xFFFE) ++next_;
  // 131068 masks for fewer than 65536 distinct characters: never runs out.
  to_mask_.emplace(cp, next_);
  to_original_.emplace(next_, cp);
  return next_++;
}

std::optional<char32_t> TextMask::original_of(char32_t mask) const {
  const auto it = to_original_.find(mask);
  if (it == to_original_.end()) return std::nullopt;
  return it->second;
}

std::string TextMask::restore(std::string_view text, bool escapes) const {
  if (to_original_.empty()) return std::string(text);
  std::string out;
  for (size_t pos = 0; pos < text.size();) {
    const auto decoded = decode_utf8(text, pos);
    const auto original = decoded ? original_of(decoded->code_point) : std::nullopt;
    if (original) {
      append_utf8(out, *original);
      pos += decoded->length;
    } else if (escapes && restore_escape(text, pos, out)) {
      pos += 10;
    } else {
      out += text[pos++];
    }
  }
  return out;
}

// "\U000F0000" at pos, if it is a mask, as toml++ would have written the original.
bool TextMask::restore_escape(std::string_view text, size_t pos, std::string& out) const {
  if (text.substr(pos, 2) != "\\U" || pos + 10 > text.size()) return false;
  uint32_t value = 0;
  const char* digits = text.data() + pos + 2;
  const auto [end, ec] = std::from_chars(digits, digits + 8, value, 16);
  const auto original = ec == std::errc{} && end == digits + 8 ? original_of(value) : std::nullopt;
  if (!original) return false;
  char escape[8];
  std::snprintf(escape, sizeof escape, "\\u%04X", static_cast<unsigned>(*original));
  out += escape;
  return true;
}

}  // namespace socketd::config_internal
