#include "payload.hpp"

namespace socketd::bench {

Payload::Payload(size_t max_size) {
  pattern_.resize(max_size + kLetters);
  for (size_t i = 0; i < pattern_.size(); ++i) {
    pattern_[i] = static_cast<char>('A' + i % kLetters);
  }
}

}  // namespace socketd::bench
