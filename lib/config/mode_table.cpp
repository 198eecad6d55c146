#include "config/mode_table.hpp"

#include <algorithm>
#include <array>

namespace socketd {

bool mode_takes_key(Mode mode, std::string_view key) {
  const auto keys = mode_info(mode).keys;
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::span<const std::string_view> mode_names() {
  static constexpr auto kNames = [] {
    std::array<std::string_view, std::size(kModeTable)> names{};
    for (size_t i = 0; i < names.size(); ++i) names[i] = kModeTable[i].name;
    return names;
  }();
  return kNames;
}

}  // namespace socketd
