#include "config/config.hpp"

#include <iterator>

namespace socketd {

// These spellings are the config file's: the loader accepts exactly these.
const char* to_string(Mode mode) {
  const auto index = static_cast<size_t>(mode);
  return index < std::size(kModeTable) ? kModeTable[index].name.data() : "?";
}

const char* to_string(Framing framing) {
  switch (framing) {
    case Framing::kChunk:
      return "chunk";
    case Framing::kLine:
      return "line";
  }
  return "?";
}

}  // namespace socketd
