// The state one socketd hands to its successor across execve (issue 11): its
// listeners, every connection with its session, and the counters, as a
// versioned, length-checked byte format. Encoding is plain; the decoder
// trusts nothing (every length, count, enum and address is checked against
// the input and fixed limits) and reports the first problem with its offset.
// Descriptors are carried as numbers only: whoever adopts them checks each.
//
// Layout (little-endian): "SDHO", u16 version, u16 0, u64 body length,
// u64 FNV-1a of the body, then the body: records of u8 tag, u32 length and
// that many bytes. Fields appended to a record, and records of unknown tags,
// are skipped by an older reader of the same version; anything else needs a
// new version, which an older socketd refuses as a whole.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "net/address.hpp"

namespace socketd::handover {

inline constexpr uint16_t kVersion = 1;

// Limits of the decoder (the encoder never produces more).
inline constexpr size_t kMaxName = 255;                 // service names, file names
inline constexpr size_t kMaxPendingOutput = 16u << 20;  // queued output per connection
inline constexpr size_t kMaxSessionState = 1u << 20;    // a chat line, a PROXY header so far
inline constexpr size_t kMaxRecords = 1u << 20;

enum class SessionKind : uint8_t {
  kChat = 1,
  kEcho = 2,
  kProxyPending = 3,  // PROXY header not complete yet; no session
  kUpload = 4,
  kStreamUpload = 5,
};

struct ListenerRecord {
  std::string service;
  int32_t fd = -1;
  bool tcp = true;
  bool activated = false;  // a socket unit's (adopted by name, never address-checked)
};

// An upload in progress: the open ".part" file and what is needed to finish
// it. The SHA-256 state is not carried (OpenSSL's context has no portable
// form); the successor re-hashes the first `bytes` of the file off the loop.
struct UploadRecord {
  int32_t file_fd = -1;
  std::string part_name;
  uint64_t bytes = 0;
  uint64_t declared_size = 0;  // stream-upload; 0 for classic uploads
};

struct ConnectionRecord {
  std::string service;
  int32_t fd = -1;
  SessionKind kind = SessionKind::kEcho;
  SocketAddress peer;
  std::optional<SocketAddress> proxy;  // the load balancer, with a PROXY header
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t age_ms = 0;         // since accept (upload_timeout)
  uint64_t idle_ms = 0;        // since the last activity (idle_timeout)
  std::string pending_output;  // accepted from the session, not yet sent
  std::string session_state;   // chat: the unterminated line; PROXY: the header so far
  bool session_done = false;   // chat: exit word seen
  std::optional<UploadRecord> upload;
};

struct CounterRecord {
  std::string service;
  std::vector<uint64_t> values;  // ServiceStats in declaration order; more are ignored
};

struct State {
  std::vector<ListenerRecord> listeners;
  std::vector<ConnectionRecord> connections;
  std::vector<CounterRecord> counters;
};

struct DecodeError {
  std::string message;
  size_t offset = 0;
};

std::string encode(const State& state);
// The header for `body` (version, length, checksum) followed by it: how
// tests and the fuzzer reach the record decoder with bytes of their own.
std::string seal(std::span<const char> body);
std::variant<State, DecodeError> decode(std::span<const char> bytes);

}  // namespace socketd::handover
