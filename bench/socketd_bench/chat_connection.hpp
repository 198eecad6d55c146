// ChatConnection: chat mode. Reads the greeting (--greeting, unless
// --no-greeting) before sending anything, then sends message k and expects it
// echoed followed by a decimal number in [--random-min, --random-max].
//
// --framing line: sends "msg\n", expects "msg\n" then "digits\n"; up to
// --pipeline messages in flight, replies matched in order.
//
// --framing chunk: the reply is "msg" then digits with no delimiter, so its
// end must be inferred. A reply is complete when the message is matched and
// the digits form a number in range that either cannot take another digit
// (value * 10 > max; e.g. any 4-digit number with the default max 1000, or
// 101..1000) or is followed by an empty socket (a short read / EAGAIN after
// the digits). The server writes the reply in one send(), so on loopback it
// arrives in one segment; a number split across segments whose first part
// is already a valid number would be taken as complete and the straggling
// digits reported as a wrong reply to the next message, never silently
// accepted.
#pragma once

#include <deque>
#include <string>

#include "tcp_connection.hpp"

namespace socketd::bench {

class ChatConnection final : public TcpConnection {
 public:
  using TcpConnection::TcpConnection;

 protected:
  void on_begin(int64_t now) noexcept override { open_socket(now); }
  bool has_capacity() const noexcept override {
    return is_open() && !is_connecting() && greeted_ && pending_.size() < ctx_.options.pipeline;
  }
  void start_operation(int64_t scheduled, int64_t now) noexcept override;
  void on_connected(int64_t now) noexcept override;
  void on_bytes(std::string_view bytes, int64_t now) noexcept override;
  void on_read_drained(int64_t now) noexcept override;
  bool awaiting_reply() const noexcept override { return !greeted_ || !pending_.empty(); }
  uint64_t unanswered() const noexcept override { return pending_.size(); }

 private:
  struct NumberCheck {
    bool valid = false;  // a number in range as it stands
    bool final = false;  // no further digit could keep it valid
    bool bad = false;    // not a number in range, whatever follows
  };
  NumberCheck check_number(std::string_view digits) const noexcept;
  std::string_view consume_greeting(std::string_view bytes) noexcept;
  void parse_chunk_reply(bool drained, int64_t now) noexcept;
  void parse_line_replies(int64_t now) noexcept;
  void finish_reply(int64_t now) noexcept;
  std::string_view expected_message() const noexcept;

  bool greeted_ = false;
  size_t greeting_offset_ = 0;
  std::deque<int64_t> pending_;  // scheduled start of each message in flight
  uint64_t next_send_ = 0;
  uint64_t next_reply_ = 0;
  bool echo_line_seen_ = false;  // line framing: the echo of the oldest message arrived
  std::string received_;         // reply bytes not yet matched
};

}  // namespace socketd::bench
