// HoldConnection: hold mode. Connects once and stays idle until the end of the
// run; the only operation is the connect itself (its latency is the connect
// time). Bytes the server volunteers (a greeting) are counted and ignored; the
// server closing the connection is an error: it was supposed to be held.
#pragma once

#include "tcp_connection.hpp"

namespace socketd::bench {

class HoldConnection final : public TcpConnection {
 public:
  using TcpConnection::TcpConnection;

 protected:
  void on_begin(int64_t now) noexcept override {
    started_ = now;
    open_socket(now);
  }
  bool has_capacity() const noexcept override { return false; }
  void start_operation(int64_t /*scheduled*/, int64_t /*now*/) noexcept override {}
  void on_connected(int64_t now) noexcept override {
    mark_established();
    complete(started_, now);
  }
  void on_bytes(std::string_view /*bytes*/, int64_t /*now*/) noexcept override {}
  bool awaiting_reply() const noexcept override { return false; }
  uint64_t unanswered() const noexcept override { return 0; }

 private:
  int64_t started_ = 0;
};

}  // namespace socketd::bench
