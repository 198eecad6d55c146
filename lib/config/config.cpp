#include "config/config.hpp"

namespace socketd {

// These spellings are the config file's: the loader accepts exactly these.
const char* to_string(Mode mode) {
  switch (mode) {
    case Mode::kBanner:
      return "banner";
    case Mode::kChat:
      return "chat";
    case Mode::kEcho:
      return "echo";
    case Mode::kUdpLog:
      return "udp-log";
    case Mode::kUpload:
      return "upload";
    case Mode::kStreamUpload:
      return "stream-upload";
  }
  return "?";
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
