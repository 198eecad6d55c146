// StreamConnection: stream mode (socketd's stream-upload). One operation = one
// upload on its own connection: send "UPLOAD <--file-size>\n", then the file
// bytes as fast as the socket takes them (no acks), half-close, and wait for
// the one reply "OK <size> sha256=<hex>\n", which must match the file sent
// (the expected line is computed once per run). Latency runs from the
// scheduled start to that reply.
#pragma once

#include <string>

#include "payload.hpp"
#include "tcp_connection.hpp"

namespace socketd::bench {

class StreamConnection final : public TcpConnection {
 public:
  // Bytes handed to one send(): big enough to fill the socket buffer in a few calls.
  static constexpr size_t kWindow = 1 << 20;

  using TcpConnection::TcpConnection;

  // The reply a correct server gives for a file of `size` bytes of the payload
  // pattern (what this mode sends).
  static std::string expected_reply(const Payload& payload, uint64_t size);

 protected:
  void on_begin(int64_t /*now*/) noexcept override {}
  bool has_capacity() const noexcept override { return !is_open(); }
  void start_operation(int64_t scheduled, int64_t now) noexcept override;
  void on_connected(int64_t now) noexcept override;
  void on_writable(int64_t now) noexcept override;
  void on_bytes(std::string_view bytes, int64_t now) noexcept override;
  bool awaiting_reply() const noexcept override { return is_open() && state_ != State::kHolding; }
  bool holding_abort() const noexcept override { return is_open() && state_ == State::kHolding; }
  void release_abort(int64_t now) noexcept override;
  uint64_t unanswered() const noexcept override { return is_open() ? 1 : 0; }

 private:
  enum class State { kIdle, kSending, kHolding, kAwaitReply };

  State state_ = State::kIdle;
  int64_t scheduled_ = 0;
  uint64_t sent_ = 0;  // file bytes sent in this upload
  std::string reply_;
};

}  // namespace socketd::bench
