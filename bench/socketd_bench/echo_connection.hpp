// EchoConnection: echo mode. Sends message k (--size bytes), expects exactly
// those bytes back, checks them as they arrive (no reassembly buffer), and
// keeps up to --pipeline messages in flight.
#pragma once

#include <deque>

#include "tcp_connection.hpp"

namespace socketd::bench {

class EchoConnection final : public TcpConnection {
 public:
  using TcpConnection::TcpConnection;

 protected:
  void on_begin(int64_t now) noexcept override { open_socket(now); }
  bool has_capacity() const noexcept override {
    return is_open() && !is_connecting() && pending_.size() < ctx_.options.pipeline;
  }
  void start_operation(int64_t scheduled, int64_t now) noexcept override;
  void on_connected(int64_t /*now*/) noexcept override { mark_established(); }
  void on_bytes(std::string_view bytes, int64_t now) noexcept override;
  bool awaiting_reply() const noexcept override { return !pending_.empty(); }
  uint64_t unanswered() const noexcept override { return pending_.size(); }

 private:
  std::deque<int64_t> pending_;  // scheduled start of each message in flight, oldest first
  uint64_t next_send_ = 0;       // sequence number of the next message sent
  uint64_t next_reply_ = 0;      // message the next reply bytes belong to
  size_t reply_offset_ = 0;      // bytes of that reply already checked
};

}  // namespace socketd::bench
