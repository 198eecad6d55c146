// Payload: the bytes the tool sends. Message k is a window into a repeating
// "ABC...Z" pattern that starts at letter k % 26, so every reply can be checked
// against what was sent without storing it, consecutive messages differ, and
// no message contains a digit, a newline, "exit" or "quit" (which would change
// the meaning of a chat reply or end a chat/upload session).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace socketd::bench {

class Payload {
 public:
  explicit Payload(size_t max_size);

  std::string_view message(uint64_t seq, size_t size) const noexcept {
    return std::string_view(pattern_).substr(static_cast<size_t>(seq % kLetters), size);
  }

 private:
  static constexpr uint64_t kLetters = 26;
  std::string pattern_;
};

}  // namespace socketd::bench
