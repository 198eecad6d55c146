#include "config/diagnostics.hpp"

#include <algorithm>

#include "config/toml_workaround.hpp"

namespace socketd::config_internal {

void Diagnostics::error(const toml::source_position& at, std::string_view message) {
  errors_.push_back(ConfigError{file_, at.line, at.column, mask_.unmask_message(message)});
}

std::string Diagnostics::unmask(std::string_view text) const {
  return mask_.unmask(text);
}

std::vector<ConfigError> Diagnostics::take_sorted() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  return std::move(errors_);
}

}  // namespace socketd::config_internal
