#include "config/suggestions.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <vector>

namespace socketd::config_internal {

namespace {

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

}  // namespace

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

std::string join(std::span<const std::string_view> words, std::string_view separator) {
  std::string out;
  for (const auto word : words) {
    if (!out.empty()) out += separator;
    out += word;
  }
  return out;
}

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

std::string suggestion(std::string_view key, std::span<const std::string_view> known) {
  const auto best = closest(key, known);
  return best ? "; did you mean " + quoted(*best) + "?" : "";
}

}  // namespace socketd::config_internal
