// UploadConnection: upload mode (the ack protocol). One operation = one
// upload on its own connection: send --chunk bytes, wait for "success",
// repeat until --file-size bytes are sent, send "quit", wait for the final
// durable "success", close. Latency runs from the scheduled start to that
// final ack.
//
// The server acks every read, so a chunk must arrive in one read: keep
// --chunk within the server's read size (the default 1024 matches the classic
// line-by-line sender). "quit" is only sent once the last chunk is acked,
// so it always arrives as a read of its own.
//
// An upload counts only once the durable "success" is followed by the
// server's FIN. A chunk the server received in two reads (TCP may split a
// 64 KiB send: the loopback MSS is 65483) is acked twice, and from then on an
// ack can no longer be matched to a chunk: the stale extra "success" would
// pass for the durable one while the server never finished the file. Waiting
// for EOF turns that into an error (a further "success", or a timeout)
// instead of a false "durably stored".
#pragma once

#include "tcp_connection.hpp"

namespace socketd::bench {

class UploadConnection final : public TcpConnection {
 public:
  using TcpConnection::TcpConnection;

 protected:
  void on_begin(int64_t /*now*/) noexcept override {}
  bool has_capacity() const noexcept override { return !is_open(); }
  void start_operation(int64_t scheduled, int64_t now) noexcept override;
  void on_connected(int64_t /*now*/) noexcept override { send_next(); }
  void on_bytes(std::string_view bytes, int64_t now) noexcept override;
  void on_eof(int64_t now) noexcept override;
  bool awaiting_reply() const noexcept override { return is_open() && state_ != State::kHolding; }
  bool holding_abort() const noexcept override { return is_open() && state_ == State::kHolding; }
  void release_abort(int64_t now) noexcept override;
  uint64_t unanswered() const noexcept override { return is_open() ? 1 : 0; }

 private:
  enum class State { kIdle, kAwaitAck, kHolding, kAwaitDurable, kAwaitEof };

  void send_next() noexcept;
  void on_ack(int64_t now) noexcept;

  State state_ = State::kIdle;
  int64_t scheduled_ = 0;
  uint64_t sent_ = 0;       // file bytes sent in this upload
  uint64_t chunk_seq_ = 0;  // varies chunk contents across the run
  size_t ack_matched_ = 0;  // bytes of "success" matched so far
};

}  // namespace socketd::bench
