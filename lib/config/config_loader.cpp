// toml++ is used header-only and without exceptions, in this file only: the
// shared libtomlplusplus is built with exceptions, and nothing may throw here.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
// toml++ 3.3 asserts, and under clang with NDEBUG assumes, that a table header
// starts with a key: a file containing "[#" or "[[[" aborts a debug build or
// is undefined behaviour (fixed upstream in marzer/tomlplusplus#301). With
// both turned off the parser reports it as an ordinary syntax error.
#define TOML_ASSERT(expr) static_assert(true)
#include <toml++/impl/preprocessor.h>
#undef TOML_ASSUME
#define TOML_ASSUME(...) static_assert(true)
#include <toml++/toml.h>

#include "config/config_loader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <span>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

namespace socketd {

std::string ConfigError::to_string() const {
  if (line == 0) return file + ": error: " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": error: " + message;
}

namespace {

using std::chrono::milliseconds;

// Durations above this are refused: 24 days still fits in an int of
// milliseconds, so no timer arithmetic downstream can overflow.
constexpr milliseconds kMaxDuration = std::chrono::hours(24 * 24);
constexpr const char* kMaxDurationText = "576h (24 days)";
constexpr off_t kMaxConfigBytes = 16 * 1024 * 1024;

// UTF-8 helpers for TextMask. decode_utf8() is as strict as toml++'s reader, so
// that invalid UTF-8 is left in place for toml++ to report.
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

// toml++ 3.3 has undefined behaviour whenever it asks whether a character in
// U+00A1..U+0499 or U+FB26..U+FEFE is whitespace (marzer/tomlplusplus#190,
// #295: "é" or Cyrillic after a line-ending backslash, or anywhere outside a
// string). So toml++ is given a copy in which each distinct character of
// U+0080..U+FEFE is replaced by its own private-use character from planes
// 15-16, which toml++ handles correctly; columns are unchanged (both are one
// code point). Strings read from the result and messages are mapped back.
class TextMask {
 public:
  explicit TextMask(std::string_view original) {
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

  const std::string& masked() const { return masked_; }

  // A string value as the file wrote it.
  std::string unmask(std::string_view text) const { return restore(text, false); }
  // Also maps toml++'s "\U000F0000" escapes in its error messages back.
  std::string unmask_message(std::string_view text) const { return restore(text, true); }

 private:
  static constexpr char32_t kFirstMask = 0xF0000;

  // A mask must not be a character the file already has, written or escaped.
  void reserve_used_masks(std::string_view original) {
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

  char32_t mask_of(char32_t cp) {
    if (const auto it = to_mask_.find(cp); it != to_mask_.end()) return it->second;
    while (taken_.contains(next_) || (next_ & 0xFFFE) == 0xFFFE) ++next_;
    // 131068 masks for fewer than 65536 distinct characters: never runs out.
    to_mask_.emplace(cp, next_);
    to_original_.emplace(next_, cp);
    return next_++;
  }

  std::optional<char32_t> original_of(char32_t mask) const {
    const auto it = to_original_.find(mask);
    if (it == to_original_.end()) return std::nullopt;
    return it->second;
  }

  std::string restore(std::string_view text, bool escapes) const {
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
  bool restore_escape(std::string_view text, size_t pos, std::string& out) const {
    if (text.substr(pos, 2) != "\\U" || pos + 10 > text.size()) return false;
    uint32_t value = 0;
    const char* digits = text.data() + pos + 2;
    const auto [end, ec] = std::from_chars(digits, digits + 8, value, 16);
    const auto original =
        ec == std::errc{} && end == digits + 8 ? original_of(value) : std::nullopt;
    if (!original) return false;
    char escape[8];
    std::snprintf(escape, sizeof escape, "\\u%04X", static_cast<unsigned>(*original));
    out += escape;
    return true;
  }

  std::string masked_;
  std::unordered_map<char32_t, char32_t> to_mask_;
  std::unordered_map<char32_t, char32_t> to_original_;
  std::unordered_set<char32_t> taken_;
  char32_t next_ = kFirstMask;
};

// Collects every error with its place in the file; loading goes on after each.
// Messages and strings show the file's own characters (see TextMask).
class Diagnostics {
 public:
  Diagnostics(std::string_view file, const TextMask& mask) : file_(file), mask_(mask) {}

  void error(const toml::source_position& at, std::string_view message) {
    errors_.push_back(ConfigError{file_, at.line, at.column, mask_.unmask_message(message)});
  }
  void error(const toml::source_region& at, std::string_view message) { error(at.begin, message); }
  std::string unmask(std::string_view text) const { return mask_.unmask(text); }
  size_t count() const { return errors_.size(); }

  // In file order, whatever order the checks ran in.
  std::vector<ConfigError> take_sorted() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    return std::move(errors_);
  }

 private:
  std::string file_;
  const TextMask& mask_;
  std::vector<ConfigError> errors_;
};

// One key = value of the file, with the key's name for messages.
struct Field {
  std::string_view key;
  const toml::node& node;
};

template <typename T>
struct Choice {
  std::string_view name;
  T value;
};

constexpr Choice<Mode> kModes[] = {{"banner", Mode::kBanner},
                                   {"chat", Mode::kChat},
                                   {"echo", Mode::kEcho},
                                   {"udp-log", Mode::kUdpLog},
                                   {"upload", Mode::kUpload},
                                   {"stream-upload", Mode::kStreamUpload}};
constexpr Choice<Framing> kFramings[] = {{"chunk", Framing::kChunk}, {"line", Framing::kLine}};
constexpr Choice<LogLevel> kLogLevels[] = {{"error", LogLevel::kError},
                                           {"warning", LogLevel::kWarning},
                                           {"notice", LogLevel::kNotice},
                                           {"info", LogLevel::kInfo},
                                           {"debug", LogLevel::kDebug}};

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

const char* type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string type_error(const Field& field, std::string_view wanted) {
  return quoted(field.key) + " must be " + std::string(wanted) + ", not " +
         type_name(field.node.type());
}

// Edits (insert, delete, substitute, swap two neighbours) between a and b,
// ignoring case: "backlg", "Backlog" and "bakclog" are all one from "backlog".
size_t edit_distance(std::string_view a, std::string_view b) {
  const auto same = [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  };
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (same(a[i - 1], b[j - 1]) ? 0 : 1)});
      if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1])) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    before.swap(previous);
    previous.swap(current);
  }
  return previous[b.size()];
}

// The candidate `word` is most likely a typo of, if any.
std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates) {
  std::string_view best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const auto candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  const size_t tolerated = best.size() >= 5 ? 2 : 1;
  if (best.empty() || best_distance > tolerated) return std::nullopt;
  return best;
}

// "; did you mean 'backlog'?" when `key` is a likely typo of a known key, else "".
std::string suggestion(std::string_view key, std::span<const std::string_view> known) {
  const auto best = closest(key, known);
  return best ? "; did you mean " + quoted(*best) + "?" : "";
}

std::string join(std::span<const std::string_view> words, std::string_view separator) {
  std::string out;
  for (const auto word : words) {
    if (!out.empty()) out += separator;
    out += word;
  }
  return out;
}

std::optional<int64_t> read_integer(Diagnostics& diag, const Field& field, int64_t min,
                                    int64_t max) {
  const auto* value = field.node.as_integer();
  if (value == nullptr) {
    diag.error(field.node.source(), type_error(field, "an integer"));
    return std::nullopt;
  }
  const int64_t n = value->get();
  if (n < min || n > max) {
    diag.error(field.node.source(), quoted(field.key) + " must be between " + std::to_string(min) +
                                        " and " + std::to_string(max) + ", not " +
                                        std::to_string(n));
    return std::nullopt;
  }
  return n;
}

// 0 (the kernel's default), or 4 KiB .. 512 MiB: the kernel doubles the
// value into an int, and below 4 KiB hardly one datagram fits.
std::optional<int64_t> read_receive_buffer(Diagnostics& diag, const Field& field) {
  constexpr int64_t kMin = 4096, kMax = 512 << 20;
  const auto* value = field.node.as_integer();
  if (value == nullptr) {
    diag.error(field.node.source(), type_error(field, "an integer (bytes)"));
    return std::nullopt;
  }
  const int64_t n = value->get();
  if (n != 0 && (n < kMin || n > kMax)) {
    diag.error(field.node.source(),
               quoted(field.key) + " must be 0 (the kernel's default) or between " +
                   std::to_string(kMin) + " and " + std::to_string(kMax) + " bytes, not " +
                   std::to_string(n));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> read_bool(Diagnostics& diag, const Field& field) {
  const auto* value = field.node.as_boolean();
  if (value == nullptr) {
    diag.error(field.node.source(), type_error(field, "true or false"));
    return std::nullopt;
  }
  return value->get();
}

std::optional<std::string> read_string(Diagnostics& diag, const Field& field) {
  const auto* value = field.node.as_string();
  if (value == nullptr) {
    diag.error(field.node.source(), type_error(field, "a string"));
    return std::nullopt;
  }
  return diag.unmask(value->get());
}

// A word the peer must send or receive: never empty.
std::optional<std::string> read_word(Diagnostics& diag, const Field& field) {
  auto word = read_string(diag, field);
  if (word && word->empty()) {
    diag.error(field.node.source(), quoted(field.key) + " must not be empty");
    return std::nullopt;
  }
  return word;
}

template <typename T, size_t N>
std::optional<T> read_choice(Diagnostics& diag, const Field& field, const Choice<T> (&choices)[N]) {
  const auto text = read_string(diag, field);
  if (!text) return std::nullopt;
  std::vector<std::string_view> names;
  for (const auto& choice : choices) {
    if (choice.name == *text) return choice.value;
    names.push_back(choice.name);
  }
  const auto best = closest(*text, names);
  diag.error(field.node.source(),
             quoted(field.key) + " must be one of \"" + join(names, "\", \"") + "\", not \"" +
                 *text + "\"" + (best ? "; did you mean \"" + std::string(*best) + "\"?" : ""));
  return std::nullopt;
}

// "250ms", "10s", "5m", "1h" in milliseconds; saturates instead of overflowing.
std::optional<uint64_t> parse_duration_text(std::string_view text) {
  uint64_t count = 0;
  const char* end = text.data() + text.size();
  const auto [unit_begin, ec] = std::from_chars(text.data(), end, count);
  if (unit_begin == text.data()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<uint64_t>::max();
  const std::string_view unit(unit_begin, static_cast<size_t>(end - unit_begin));
  uint64_t scale = 0;
  if (unit == "ms") scale = 1;
  if (unit == "s") scale = 1000;
  if (unit == "m") scale = 60'000;
  if (unit == "h") scale = 3'600'000;
  if (scale == 0) return std::nullopt;
  if (count > std::numeric_limits<uint64_t>::max() / scale) {
    return std::numeric_limits<uint64_t>::max();
  }
  return count * scale;
}

std::optional<uint64_t> read_duration_ms(Diagnostics& diag, const Field& field) {
  if (const auto* seconds = field.node.as_integer()) {
    if (seconds->get() < 0) {
      diag.error(field.node.source(), quoted(field.key) + " must not be negative");
      return std::nullopt;
    }
    const auto n = static_cast<uint64_t>(seconds->get());
    return n > std::numeric_limits<uint64_t>::max() / 1000 ? std::numeric_limits<uint64_t>::max()
                                                           : n * 1000;
  }
  if (const auto* text = field.node.as_string()) {
    const auto ms = parse_duration_text(text->get());
    if (!ms) {
      diag.error(field.node.source(), quoted(field.key) + " has an invalid duration \"" +
                                          text->get() +
                                          "\": write a whole number followed by ms, s, m or h, "
                                          "such as \"250ms\", \"10s\", \"5m\" or \"1h\"");
    }
    return ms;
  }
  diag.error(field.node.source(),
             type_error(field,
                        "a duration: whole seconds as an integer, or a string such as "
                        "\"250ms\", \"10s\", \"5m\" or \"1h\""));
  return std::nullopt;
}

enum class ZeroDuration { kAllowed, kRefused };

std::optional<milliseconds> read_duration(Diagnostics& diag, const Field& field,
                                          ZeroDuration zero) {
  const auto ms = read_duration_ms(diag, field);
  if (!ms) return std::nullopt;
  if (*ms > static_cast<uint64_t>(kMaxDuration.count())) {
    diag.error(field.node.source(), quoted(field.key) + " must be at most " + kMaxDurationText);
    return std::nullopt;
  }
  if (*ms == 0 && zero == ZeroDuration::kRefused) {
    diag.error(field.node.source(), quoted(field.key) + " must be greater than 0");
    return std::nullopt;
  }
  return milliseconds(static_cast<milliseconds::rep>(*ms));
}

// Why a listen string is not an address, so the message says what to fix.
std::string listen_problem(std::string_view text) {
  const auto colon = text.rfind(':');
  const auto bracket = text.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && colon < bracket)) {
    return "has no port: write \"host:port\" or \"[v6-host]:port\"";
  }
  const auto port = text.substr(colon + 1);
  const bool digits = !port.empty() && std::all_of(port.begin(), port.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) return "has an invalid port \"" + std::string(port) + "\": use 0..65535";
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec != std::errc{} || end != port.data() + port.size() || number > 65535) {
    return "has port " + std::string(port) + ", out of range 0..65535";
  }
  if (text.front() != '[' && text.substr(0, colon).find(':') != std::string_view::npos) {
    return "needs brackets around an IPv6 host, as in \"[::1]:8888\"";
  }
  return "is not a numeric address: write \"127.0.0.1:8888\" or \"[::1]:8888\" (host names are "
         "not resolved)";
}

std::optional<SocketAddress> read_listen(Diagnostics& diag, const Field& field) {
  const auto text = read_string(diag, field);
  if (!text) return std::nullopt;
  auto address = SocketAddress::parse(*text);
  if (!address) {
    diag.error(field.node.source(),
               quoted(field.key) + " \"" + *text + "\" " + listen_problem(*text));
  }
  return address;
}

// Stores a checked value, converting to the field's type: the reader has
// already checked that it fits. Returns whether the value was accepted.
template <typename Field_, typename T>
bool assign(Field_& target, const std::optional<T>& value) {
  if (value) target = static_cast<Field_>(*value);
  return value.has_value();
}

constexpr unsigned bit(Mode mode) {
  return 1u << static_cast<unsigned>(mode);
}
constexpr unsigned kTcpModes =
    bit(Mode::kBanner) | bit(Mode::kChat) | bit(Mode::kEcho) | bit(Mode::kUpload) |
    bit(Mode::kStreamUpload);
constexpr unsigned kUploadModes = bit(Mode::kUpload) | bit(Mode::kStreamUpload);
constexpr unsigned kAllModes = kTcpModes | bit(Mode::kUdpLog);
constexpr int64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMaxI64 = std::numeric_limits<int64_t>::max();

// A key of a [services.NAME] table: which modes it applies to and how it is
// read. Setters return false when they rejected the value (error reported).
struct ServiceKey {
  std::string_view name;
  unsigned modes;
  bool (*set)(Diagnostics&, const Field&, ServiceConfig&);
};

bool set_exit_word(Diagnostics& diag, const Field& field, ServiceConfig& service) {
  const auto word = read_word(diag, field);
  if (word && word->find_first_of("\r\n") != std::string::npos) {
    diag.error(field.node.source(), quoted(field.key) +
                                        " must not contain a line break (a trailing \\n or "
                                        "\\r\\n is already ignored when matching it)");
    return false;
  }
  return assign(service.exit_word, word);
}

// allow/deny: an array of "address" or "address/prefix" strings; each bad
// entry is reported at its own position.
std::optional<std::vector<Cidr>> read_cidr_list(Diagnostics& diag, const Field& field) {
  const auto* array = field.node.as_array();
  if (array == nullptr) {
    diag.error(field.node.source(),
               type_error(field, "an array of addresses or CIDR ranges, such as "
                                 "[\"10.0.0.0/8\", \"::1\"]"));
    return std::nullopt;
  }
  std::vector<Cidr> list;
  bool ok = true;
  for (const auto& element : *array) {
    const auto* text = element.as_string();
    const auto cidr = text != nullptr ? Cidr::parse(text->get()) : std::nullopt;
    if (!cidr) {
      diag.error(element.source(),
                 quoted(field.key) + " entries must be strings such as \"192.168.0.0/16\", "
                                     "\"127.0.0.1\" or \"fd00::/8\" (numeric, prefix within "
                                     "0..32 or 0..128)");
      ok = false;
      continue;
    }
    list.push_back(*cidr);
  }
  if (!ok) return std::nullopt;
  return list;
}

using D = Diagnostics;
using F = Field;
using S = ServiceConfig;

// "mode" is read before the others (it decides which keys apply), so it has no setter.
const ServiceKey kServiceKeys[] = {
    {"mode", kAllModes, nullptr},
    {"listen", kAllModes,
     [](D& d, const F& f, S& s) { return assign(s.listen, read_listen(d, f)); }},
    {"backlog", kTcpModes,
     [](D& d, const F& f, S& s) { return assign(s.backlog, read_integer(d, f, 1, 65535)); }},
    {"max_connections", kTcpModes,
     [](D& d, const F& f, S& s) {
       return assign(s.max_connections, read_integer(d, f, 0, kMaxU32));
     }},
    {"idle_timeout", kTcpModes,
     [](D& d, const F& f, S& s) {
       return assign(s.idle_timeout, read_duration(d, f, ZeroDuration::kAllowed));
     }},
    {"reuse_port", kAllModes,
     [](D& d, const F& f, S& s) { return assign(s.reuse_port, read_bool(d, f)); }},
    {"max_per_source", kTcpModes,
     [](D& d, const F& f, S& s) {
       return assign(s.max_per_source, read_integer(d, f, 0, kMaxU32));
     }},
    {"max_connection_rate", kTcpModes,
     [](D& d, const F& f, S& s) {
       return assign(s.max_connection_rate, read_integer(d, f, 0, kMaxU32));
     }},
    {"rate_pause", kTcpModes,
     [](D& d, const F& f, S& s) {
       return assign(s.rate_pause, read_duration(d, f, ZeroDuration::kRefused));
     }},
    {"allow", kTcpModes,
     [](D& d, const F& f, S& s) { return assign(s.allow, read_cidr_list(d, f)); }},
    {"deny", kTcpModes,
     [](D& d, const F& f, S& s) { return assign(s.deny, read_cidr_list(d, f)); }},
    {"proxy_protocol", kTcpModes,
     [](D& d, const F& f, S& s) { return assign(s.proxy_protocol, read_bool(d, f)); }},
    {"proxy_header_timeout", kTcpModes,
     [](D& d, const F& f, S& s) {
       return assign(s.proxy_header_timeout, read_duration(d, f, ZeroDuration::kRefused));
     }},
    {"proxy_sources", kTcpModes,
     [](D& d, const F& f, S& s) { return assign(s.proxy_sources, read_cidr_list(d, f)); }},
    {"message", bit(Mode::kBanner),
     [](D& d, const F& f, S& s) { return assign(s.message, read_string(d, f)); }},
    {"greeting", bit(Mode::kChat),
     [](D& d, const F& f, S& s) { return assign(s.greeting, read_string(d, f)); }},
    {"exit_word", bit(Mode::kChat), set_exit_word},
    {"random_min", bit(Mode::kChat),
     [](D& d, const F& f, S& s) { return assign(s.random_min, read_integer(d, f, 0, kMaxI64)); }},
    {"random_max", bit(Mode::kChat),
     [](D& d, const F& f, S& s) { return assign(s.random_max, read_integer(d, f, 0, kMaxI64)); }},
    {"framing", bit(Mode::kChat),
     [](D& d, const F& f, S& s) { return assign(s.framing, read_choice(d, f, kFramings)); }},
    {"max_line_bytes", bit(Mode::kChat),
     [](D& d, const F& f, S& s) {
       return assign(s.max_line_bytes, read_integer(d, f, 1, kMaxU32));
     }},
    {"ack_word", bit(Mode::kUpload),
     [](D& d, const F& f, S& s) { return assign(s.ack_word, read_word(d, f)); }},
    {"end_word", bit(Mode::kUpload),
     [](D& d, const F& f, S& s) { return assign(s.end_word, read_word(d, f)); }},
    {"max_upload_bytes", kUploadModes,
     [](D& d, const F& f, S& s) {
       return assign(s.max_upload_bytes, read_integer(d, f, 0, kMaxI64));
     }},
    {"upload_timeout", kUploadModes,
     [](D& d, const F& f, S& s) {
       return assign(s.upload_timeout, read_duration(d, f, ZeroDuration::kAllowed));
     }},
    {"min_free_bytes", kUploadModes,
     [](D& d, const F& f, S& s) {
       return assign(s.min_free_bytes, read_integer(d, f, 0, kMaxI64));
     }},
    {"receive_buffer", bit(Mode::kUdpLog),
     [](D& d, const F& f, S& s) {
       return assign(s.receive_buffer, read_receive_buffer(d, f));
     }},
};

// A key of the [daemon] table.
struct DaemonKey {
  std::string_view name;
  bool (*set)(Diagnostics&, const Field&, DaemonConfig&);
};

bool set_upload_dir(Diagnostics& diag, const Field& field, DaemonConfig& daemon) {
  const auto dir = read_string(diag, field);
  if (dir && dir->find('\0') != std::string::npos) {
    diag.error(field.node.source(), quoted(field.key) + " must not contain a NUL character");
    return false;
  }
  return assign(daemon.upload_dir, dir);
}

const DaemonKey kDaemonKeys[] = {
    {"log_level",
     [](D& d, const F& f, DaemonConfig& c) {
       return assign(c.log_level, read_choice(d, f, kLogLevels));
     }},
    {"max_connections",
     [](D& d, const F& f, DaemonConfig& c) {
       return assign(c.max_connections, read_integer(d, f, 1, kMaxU32));
     }},
    {"upload_dir", set_upload_dir},
    {"drain_timeout",
     [](D& d, const F& f, DaemonConfig& c) {
       return assign(c.drain_timeout, read_duration(d, f, ZeroDuration::kRefused));
     }},
    {"log_rate_limit",
     [](D& d, const F& f, DaemonConfig& c) {
       return assign(c.log_rate_limit, read_integer(d, f, 0, kMaxU32));
     }},
};

template <typename Key, size_t N>
std::vector<std::string_view> names_of(const Key (&keys)[N]) {
  std::vector<std::string_view> names;
  for (const auto& key : keys) names.push_back(key.name);
  return names;
}

template <typename Key, size_t N>
const Key* find_key(const Key (&keys)[N], std::string_view name) {
  for (const auto& key : keys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

// "mode 'chat'", "modes 'banner', 'upload'" or "TCP services (every mode but 'udp-log')".
std::string modes_text(unsigned modes) {
  if (modes == kTcpModes) return "TCP services (every mode but 'udp-log')";
  std::string names;
  for (const auto& mode : kModes) {
    if (!(modes & bit(mode.value))) continue;
    if (!names.empty()) names += ", ";
    names += quoted(mode.name);
  }
  return (names.find(',') == std::string::npos ? "mode " : "modes ") + names;
}

// A service as read, with where it was written (for ordering and messages).
struct LoadedService {
  ServiceConfig config;
  toml::source_position table_at;
  // Set only when both mode and listen are valid: only then can it conflict.
  std::optional<toml::source_position> listen_at;
};

bool valid_service_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::optional<Mode> read_mode(Diagnostics& diag, const toml::table& table,
                              const std::string& service) {
  const auto* node = table.get("mode");
  if (node == nullptr) {
    diag.error(table.source(), "service " + quoted(service) +
                                   " has no 'mode': add mode = \"banner\", \"chat\", \"echo\", "
                                   "\"udp-log\", \"upload\" or \"stream-upload\"");
    return std::nullopt;
  }
  return read_choice(diag, Field{"mode", *node}, kModes);
}

void report_unknown_service_key(Diagnostics& diag, const toml::key& key, const std::string& service,
                                std::optional<Mode> mode) {
  const auto all = names_of(kServiceKeys);
  auto hint = suggestion(key.str(), all);
  if (hint.empty()) {
    std::vector<std::string_view> valid;
    for (const auto& spec : kServiceKeys) {
      if (!mode || (spec.modes & bit(*mode))) valid.push_back(spec.name);
    }
    hint = "; valid keys" + (mode ? " for mode " + quoted(to_string(*mode)) : std::string()) +
           ": " + join(valid, ", ");
  }
  diag.error(key.source(),
             "unknown key " + quoted(key.str()) + " in service " + quoted(service) + hint);
}

// Reads every key but "mode"; returns the names of the keys whose value was rejected.
std::vector<std::string_view> apply_service_keys(Diagnostics& diag, const toml::table& table,
                                                 std::optional<Mode> mode, ServiceConfig& service) {
  std::vector<std::string_view> rejected;
  for (const auto& [key, node] : table) {
    const auto* spec = find_key(kServiceKeys, key.str());
    if (spec == nullptr) {
      report_unknown_service_key(diag, key, service.name, mode);
    } else if (spec->set == nullptr) {
      continue;
    } else if (mode && !(spec->modes & bit(*mode))) {
      diag.error(key.source(), "key " + quoted(key.str()) + " does not apply to mode " +
                                   quoted(to_string(*mode)) + "; it is only for " +
                                   modes_text(spec->modes) + ": remove it or change the mode");
    } else if (!spec->set(diag, Field{key.str(), node}, service)) {
      rejected.push_back(spec->name);
    }
  }
  return rejected;
}

// Checks between keys of one service, skipped when a key involved was rejected.
void check_service_consistency(Diagnostics& diag, const toml::table& table,
                               std::optional<Mode> mode, const ServiceConfig& service,
                               const std::vector<std::string_view>& rejected) {
  const auto was_rejected = [&](std::string_view name) {
    return std::find(rejected.begin(), rejected.end(), name) != rejected.end();
  };
  if (!service.proxy_protocol && !was_rejected("proxy_protocol")) {
    for (const char* key : {"proxy_header_timeout", "proxy_sources"}) {
      const auto it = table.find(key);
      if (it == table.end() || !mode || transport_of(*mode) != Transport::kTcp) continue;
      diag.error(it->first.source(), "key " + quoted(key) +
                                         " only applies with proxy_protocol = true: remove it "
                                         "or add proxy_protocol = true");
    }
  }
  if (mode != Mode::kChat) return;
  if (service.random_min > service.random_max && !was_rejected("random_min") &&
      !was_rejected("random_max")) {
    const auto* at = table.get("random_max") ? table.get("random_max") : table.get("random_min");
    diag.error(at->source(), "'random_min' (" + std::to_string(service.random_min) +
                                 ") must not be greater than 'random_max' (" +
                                 std::to_string(service.random_max) + ")");
  }
  const auto max_line = table.find("max_line_bytes");
  if (service.framing == Framing::kChunk && max_line != table.end() && !was_rejected("framing")) {
    diag.error(max_line->first.source(),
               "key 'max_line_bytes' only applies with framing = \"line\" (this service uses "
               "\"chunk\"): remove it or set framing = \"line\"");
  }
}

std::optional<LoadedService> load_service(Diagnostics& diag, const toml::key& name,
                                          const toml::node& node) {
  if (!valid_service_name(name.str())) {
    diag.error(name.source(), "service name " + quoted(name.str()) +
                                  " may only contain letters, digits, '_' and '-'");
  }
  const auto* table = node.as_table();
  if (table == nullptr) {
    diag.error(node.source(), "service " + quoted(name.str()) +
                                  " must be a table: write [services." + std::string(name.str()) +
                                  "] followed by its keys");
    return std::nullopt;
  }
  LoadedService loaded{ServiceConfig{}, table->source().begin, std::nullopt};
  ServiceConfig& service = loaded.config;
  service.name = name.str();
  const auto mode = read_mode(diag, *table, service.name);
  if (mode) service.mode = *mode;
  const auto rejected = apply_service_keys(diag, *table, mode, service);
  check_service_consistency(diag, *table, mode, service, rejected);

  const auto* listen = table->get("listen");
  if (listen == nullptr) {
    diag.error(table->source(), "service " + quoted(service.name) +
                                    " has no 'listen': add listen = \"127.0.0.1:PORT\"");
  } else if (mode && std::find(rejected.begin(), rejected.end(), "listen") == rejected.end()) {
    loaded.listen_at = listen->source().begin;
  }
  return loaded;
}

bool is_wildcard(const SocketAddress& address) {
  const auto host = address.host();
  return host == "0.0.0.0" || host == "::";
}

const char* transport_name(Transport transport) {
  return transport == Transport::kTcp ? "TCP" : "UDP";
}

enum class Conflict { kNone, kSameAddress, kWildcardOverlap };

// Whether two listeners could not both bind. Port 0 never conflicts (the
// kernel picks a free port); TCP and UDP have separate port spaces.
Conflict conflict_between(const ServiceConfig& a, const ServiceConfig& b) {
  if (a.transport() != b.transport() || a.listen.family() != b.listen.family()) {
    return Conflict::kNone;
  }
  if (a.listen.port() == 0 || a.listen.port() != b.listen.port()) return Conflict::kNone;
  if (a.listen == b.listen) return Conflict::kSameAddress;
  if (is_wildcard(a.listen) || is_wildcard(b.listen)) return Conflict::kWildcardOverlap;
  return Conflict::kNone;
}

std::string conflict_message(Conflict conflict, const ServiceConfig& later,
                             const ServiceConfig& earlier, uint32_t earlier_line) {
  const std::string other = "service " + quoted(earlier.name) + " (" + earlier.listen.to_string() +
                            ", line " + std::to_string(earlier_line) + ")";
  const std::string subject =
      std::string(transport_name(later.transport())) + " address " + later.listen.to_string();
  if (conflict == Conflict::kSameAddress) {
    return subject + " is already used by " + other + ": give each service its own port";
  }
  return subject + " overlaps " + other +
         ": a wildcard address takes its port on every address; use another port";
}

void check_listen_conflicts(Diagnostics& diag, const std::vector<LoadedService>& services) {
  for (size_t i = 0; i < services.size(); ++i) {
    if (!services[i].listen_at) continue;
    for (size_t j = 0; j < i; ++j) {
      if (!services[j].listen_at) continue;
      const auto conflict = conflict_between(services[i].config, services[j].config);
      if (conflict == Conflict::kNone) continue;
      diag.error(*services[i].listen_at,
                 conflict_message(conflict, services[i].config, services[j].config,
                                  services[j].listen_at->line));
      break;
    }
  }
}

void load_services(Diagnostics& diag, const toml::node& node, Config& config) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    diag.error(node.source(),
               "'services' must be a table: write one [services.NAME] table per service");
    return;
  }
  std::vector<LoadedService> services;
  for (const auto& [name, service_node] : *table) {
    if (auto loaded = load_service(diag, name, service_node)) {
      services.push_back(std::move(*loaded));
    }
  }
  // toml++ keeps keys sorted; the daemon and the messages follow the file's order.
  std::stable_sort(services.begin(), services.end(), [](const auto& a, const auto& b) {
    return a.table_at.line != b.table_at.line ? a.table_at.line < b.table_at.line
                                              : a.table_at.column < b.table_at.column;
  });
  check_listen_conflicts(diag, services);
  for (auto& loaded : services) config.services.push_back(std::move(loaded.config));
}

void load_daemon(Diagnostics& diag, const toml::node& node, DaemonConfig& daemon) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    diag.error(node.source(), "'daemon' must be a table: write [daemon] followed by its keys");
    return;
  }
  const auto names = names_of(kDaemonKeys);
  for (const auto& [key, value] : *table) {
    const auto* spec = find_key(kDaemonKeys, key.str());
    if (spec == nullptr) {
      auto hint = suggestion(key.str(), names);
      if (hint.empty()) hint = "; valid keys: " + join(names, ", ");
      diag.error(key.source(), "unknown key " + quoted(key.str()) + " in [daemon]" + hint);
      continue;
    }
    spec->set(diag, Field{key.str(), value}, daemon);
  }
}

void load_root(Diagnostics& diag, const toml::table& root, Config& config) {
  constexpr std::string_view kSections[] = {"daemon", "services"};
  for (const auto& [key, node] : root) {
    if (key.str() == "daemon") {
      load_daemon(diag, node, config.daemon);
    } else if (key.str() == "services") {
      load_services(diag, node, config);
    } else {
      auto hint = suggestion(key.str(), kSections);
      if (hint.empty()) hint = "; the file has only [daemon] and [services.NAME] tables";
      diag.error(key.source(), std::string(node.is_table() ? "unknown table " : "unknown key ") +
                                   quoted(key.str()) + hint);
    }
  }
  const auto* services = root.get("services");
  const bool none = services == nullptr || (services->is_table() && services->as_table()->empty());
  if (none) {
    diag.error(services ? services->source() : root.source(),
               "no services configured: add at least one [services.NAME] table with 'mode' and "
               "'listen'");
  }
}

// Reads the whole file, or says why not (errno value).
std::error_code read_file(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {errno, std::system_category()};
  std::error_code result;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    result = {errno, std::system_category()};
  } else if (S_ISDIR(st.st_mode)) {
    result = std::make_error_code(std::errc::is_a_directory);
  } else {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        result = {errno, std::system_category()};
        break;
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > static_cast<size_t>(kMaxConfigBytes)) {
        result = std::make_error_code(std::errc::file_too_large);
        break;
      }
    }
  }
  ::close(fd);
  return result;
}

}  // namespace

ConfigLoad parse_config(std::string_view text, std::string_view source_path) {
  const TextMask mask(text);
  Diagnostics diag(source_path, mask);
  auto parsed = toml::parse(mask.masked(), source_path);
  if (!parsed) {
    diag.error(parsed.error().source(), std::string(parsed.error().description()));
    return ConfigLoad{std::nullopt, diag.take_sorted()};
  }
  Config config;
  config.source = source_path;
  load_root(diag, parsed.table(), config);
  if (diag.count() != 0) return ConfigLoad{std::nullopt, diag.take_sorted()};
  return ConfigLoad{std::move(config), {}};
}

ConfigLoad load_config_file(const std::string& path) {
  std::string text;
  if (const auto ec = read_file(path, text)) {
    return ConfigLoad{std::nullopt,
                      {ConfigError{path, 0, 0, "cannot read config: " + ec.message()}}};
  }
  return parse_config(text, path);
}

}  // namespace socketd
