// BannerConnection: connect mode. One operation = connect, read to EOF, check
// the bytes equal --expect (when given), close; then the slot connects again.
// Latency runs from the scheduled start to EOF. The server closes first, so
// TIME_WAIT stays on its side and the tool does not run out of local ports.
#pragma once

#include "tcp_connection.hpp"

namespace socketd::bench {

class BannerConnection final : public TcpConnection {
 public:
  using TcpConnection::TcpConnection;

 protected:
  void on_begin(int64_t /*now*/) noexcept override {}
  bool has_capacity() const noexcept override { return !is_open(); }
  void start_operation(int64_t scheduled, int64_t now) noexcept override;
  void on_connected(int64_t /*now*/) noexcept override {}
  void on_bytes(std::string_view bytes, int64_t now) noexcept override;
  void on_eof(int64_t now) noexcept override;
  bool awaiting_reply() const noexcept override { return is_open(); }
  uint64_t unanswered() const noexcept override { return is_open() ? 1 : 0; }

 private:
  int64_t scheduled_ = 0;
  size_t received_ = 0;
};

}  // namespace socketd::bench
