// Typed readers: each checks one value of the file against its type and
// range, reports what is wrong at the value's position, and returns the value
// only when it is acceptable.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.hpp"
#include "net/access_list.hpp"
#include "net/address.hpp"

namespace socketd::config_internal {

template <typename T>
struct Choice {
  std::string_view name;
  T value;
};

enum class ZeroDuration { kAllowed, kRefused };

std::optional<int64_t> read_integer(Diagnostics& diag, const Field& field, int64_t min,
                                    int64_t max);
// 0 (the kernel's default), or 4 KiB .. 512 MiB of socket receive buffer.
std::optional<int64_t> read_receive_buffer(Diagnostics& diag, const Field& field);
std::optional<bool> read_bool(Diagnostics& diag, const Field& field);
std::optional<std::string> read_string(Diagnostics& diag, const Field& field);
// A word the peer must send or receive: never empty.
std::optional<std::string> read_word(Diagnostics& diag, const Field& field);
// Whole seconds as an integer, or "250ms", "10s", "5m", "1h"; at most 24 days.
std::optional<std::chrono::milliseconds> read_duration(Diagnostics& diag, const Field& field,
                                                       ZeroDuration zero);
// A numeric "host:port" or "[v6-host]:port", or a non-empty array of them
// (each once): the addresses one service listens on.
std::optional<std::vector<SocketAddress>> read_listen(Diagnostics& diag, const Field& field);
// An array of "address" or "address/prefix" strings; each bad entry is
// reported at its own position.
std::optional<std::vector<Cidr>> read_cidr_list(Diagnostics& diag, const Field& field);

// The index in `names` of the string the field holds, or an error listing them.
std::optional<size_t> read_choice_index(Diagnostics& diag, const Field& field,
                                        std::span<const std::string_view> names);

template <typename T, size_t N>
std::optional<T> read_choice(Diagnostics& diag, const Field& field, const Choice<T> (&choices)[N]) {
  std::array<std::string_view, N> names;
  for (size_t i = 0; i < N; ++i) names[i] = choices[i].name;
  const auto index = read_choice_index(diag, field, names);
  if (!index) return std::nullopt;
  return choices[*index].value;
}

// Stores a checked value, converting to the field's type: the reader has
// already checked that it fits. Returns whether the value was accepted.
template <typename Field_, typename T>
bool assign(Field_& target, const std::optional<T>& value) {
  if (value) target = static_cast<Field_>(*value);
  return value.has_value();
}

}  // namespace socketd::config_internal
