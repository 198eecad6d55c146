#include "config/value_reader.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <system_error>

#include "config/suggestions.hpp"

namespace socketd::config_internal {

namespace {

using std::chrono::milliseconds;

// Durations above this are refused: 24 days still fits in an int of
// milliseconds, so no timer arithmetic downstream can overflow.
constexpr milliseconds kMaxDuration = std::chrono::hours(24 * 24);
constexpr const char* kMaxDurationText = "576h (24 days)";

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

}  // namespace

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

// The kernel doubles the value into an int, and below 4 KiB hardly one
// datagram fits.
std::optional<int64_t> read_receive_buffer(Diagnostics& diag, const Field& field) {
  constexpr int64_t kMin = 4096, kMax = 512 << 20;
  const auto* value = field.node.as_integer();
  if (value == nullptr) {
    diag.error(field.node.source(), type_error(field, "an integer (bytes)"));
    return std::nullopt;
  }
  const int64_t n = value->get();
  if (n != 0 && (n < kMin || n > kMax)) {
    diag.error(field.node.source(), quoted(field.key) +
                                        " must be 0 (the kernel's default) or between " +
                                        std::to_string(kMin) + " and " + std::to_string(kMax) +
                                        " bytes, not " + std::to_string(n));
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

std::optional<std::string> read_word(Diagnostics& diag, const Field& field) {
  auto word = read_string(diag, field);
  if (word && word->empty()) {
    diag.error(field.node.source(), quoted(field.key) + " must not be empty");
    return std::nullopt;
  }
  return word;
}

std::optional<size_t> read_choice_index(Diagnostics& diag, const Field& field,
                                        std::span<const std::string_view> names) {
  const auto text = read_string(diag, field);
  if (!text) return std::nullopt;
  const auto match = std::find(names.begin(), names.end(), *text);
  if (match != names.end()) return static_cast<size_t>(match - names.begin());
  const auto best = closest(*text, names);
  diag.error(field.node.source(),
             quoted(field.key) + " must be one of \"" + join(names, "\", \"") + "\", not \"" +
                 *text + "\"" + (best ? "; did you mean \"" + std::string(*best) + "\"?" : ""));
  return std::nullopt;
}

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

namespace {
std::optional<SocketAddress> read_one_address(Diagnostics& diag, std::string_view key,
                                              const toml::node& node) {
  const auto* value = node.as_string();
  if (value == nullptr) {
    diag.error(node.source(), quoted(key) +
                                  " entries must be strings such as \"127.0.0.1:7\" or "
                                  "\"[::1]:7\", not " +
                                  type_name(node.type()));
    return std::nullopt;
  }
  const std::string text = diag.unmask(value->get());
  auto address = SocketAddress::parse(text);
  if (!address) {
    diag.error(node.source(), quoted(key) + " \"" + text + "\" " + listen_problem(text));
  }
  return address;
}
}  // namespace

std::optional<std::vector<SocketAddress>> read_listen(Diagnostics& diag, const Field& field) {
  if (field.node.is_string()) {
    auto address = read_one_address(diag, field.key, field.node);
    if (!address) return std::nullopt;
    return std::vector<SocketAddress>{*address};
  }
  const auto* array = field.node.as_array();
  if (array == nullptr) {
    diag.error(field.node.source(),
               type_error(field,
                          "an address such as \"127.0.0.1:7\", or an array of them such "
                          "as [\"127.0.0.1:7\", \"[::1]:7\"]"));
    return std::nullopt;
  }
  if (array->empty()) {
    diag.error(field.node.source(), quoted(field.key) + " must name at least one address");
    return std::nullopt;
  }
  std::vector<SocketAddress> addresses;
  bool ok = true;
  for (const auto& element : *array) {
    auto address = read_one_address(diag, field.key, element);
    if (!address) {
      ok = false;
      continue;
    }
    if (std::find(addresses.begin(), addresses.end(), *address) != addresses.end()) {
      diag.error(element.source(),
                 quoted(field.key) + " lists " + address->to_string() + " twice: remove one");
      ok = false;
      continue;
    }
    addresses.push_back(*address);
  }
  if (!ok) return std::nullopt;
  return addresses;
}

std::optional<std::vector<Cidr>> read_cidr_list(Diagnostics& diag, const Field& field) {
  const auto* array = field.node.as_array();
  if (array == nullptr) {
    diag.error(field.node.source(), type_error(field,
                                               "an array of addresses or CIDR ranges, such as "
                                               "[\"10.0.0.0/8\", \"::1\"]"));
    return std::nullopt;
  }
  std::vector<Cidr> list;
  bool ok = true;
  for (const auto& element : *array) {
    const auto* text = element.as_string();
    const auto cidr = text != nullptr ? Cidr::parse(text->get()) : std::nullopt;
    if (!cidr) {
      diag.error(element.source(), quoted(field.key) +
                                       " entries must be strings such as \"192.168.0.0/16\", "
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

}  // namespace socketd::config_internal
