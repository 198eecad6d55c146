// libFuzzer target for the hand-over state decoder (lib/handover/state.hpp).
// Byte 0 even: the rest is decoded as it is (header, checksum and all). Odd:
// the rest is a body, sealed with a valid header first, so the fuzzer reaches
// the record decoder instead of stopping at the checksum.
// Invariants: no crash or sanitizer report; an error names a message and an
// offset inside the input; accepted state encodes to bytes that decode to
// the same records (encode(decode(x)) is a fixed point).
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <variant>

#include "handover/state.hpp"

using namespace socketd::handover;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const char> rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string input = (data[0] & 1) != 0 ? seal(rest) : std::string(rest.data(), rest.size());
  auto out = decode(input);
  if (auto* error = std::get_if<DecodeError>(&out)) {
    if (error->message.empty() || error->offset > input.size()) std::abort();
    return 0;
  }
  const State& state = std::get<State>(out);
  const std::string again = encode(state);
  auto second = decode(again);
  if (!std::holds_alternative<State>(second)) std::abort();
  const State& s2 = std::get<State>(second);
  if (s2.listeners.size() != state.listeners.size() ||
      s2.connections.size() != state.connections.size() ||
      s2.counters.size() != state.counters.size()) {
    std::abort();
  }
  if (encode(s2) != again) std::abort();
  for (size_t i = 0; i < state.connections.size(); ++i) {
    const auto& a = state.connections[i];
    const auto& b = s2.connections[i];
    if (a.service != b.service || a.fd != b.fd || a.kind != b.kind || !(a.peer == b.peer) ||
        a.pending_output != b.pending_output || a.session_state != b.session_state ||
        a.upload.has_value() != b.upload.has_value()) {
      std::abort();
    }
  }
  return 0;
}
