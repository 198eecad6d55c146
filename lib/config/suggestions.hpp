// The wording shared by the loader's messages: quoting, lists, and the
// "did you mean" suggestion for a likely typo. Pure text, no toml++.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace socketd::config_internal {

// 'text'
std::string quoted(std::string_view text);

std::string join(std::span<const std::string_view> words, std::string_view separator);

// The candidate `word` is most likely a typo of, if any: case is ignored, and
// one edit (two for candidates of five or more characters) is tolerated.
std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates);

// "; did you mean 'backlog'?" when `key` is a likely typo of a known key, else "".
std::string suggestion(std::string_view key, std::span<const std::string_view> known);

}  // namespace socketd::config_internal
