// TcpConnection: one client connection slot of a TCP run. Owns the socket
// (re-opened for every connect in the modes that reconnect), the queue of
// bytes not yet accepted by the kernel, the no-progress deadline and the
// slot's own accounting (operations completed, starved or not). Subclasses
// implement one protocol each through the protected hooks; every hook runs
// inside the event loop and is noexcept.
//
// A slot that fails (error, timeout, wrong reply) counts the error once and is
// retired for the rest of the run: it never reconnects, so a dead server ends
// a run quickly instead of producing an error storm.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "error_kind.hpp"
#include "fd.hpp"
#include "run_context.hpp"

namespace socketd::bench {

class TcpConnection {
 public:
  TcpConnection(RunContext& ctx, uint32_t slot) noexcept : ctx_(ctx), slot_(slot) {}
  virtual ~TcpConnection() = default;
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // Called once, at the slot's ramp time.
  void begin(int64_t now) noexcept;
  // Starts operations while the pacer grants them and the protocol can take
  // them, then sends what they queued in one go.
  void pull_work(int64_t now) noexcept;
  // An epoll event for this slot. `generation` is the socket it was
  // registered for; events of a socket closed earlier in the same batch are
  // stale and ignored.
  void on_io(uint32_t generation, uint32_t events) noexcept;
  void check_deadline(int64_t now) noexcept;
  // End of run: closes the socket; returns the operations still unanswered.
  uint64_t shutdown() noexcept;

  uint64_t key() const noexcept { return uint64_t{slot_} << 32 | generation_; }
  int socket_fd() const noexcept { return fd_.get(); }  // -1 when closed
  bool retired() const noexcept { return retired_; }
  // Connecting, or expecting a greeting or a reply.
  bool waiting_on_server() const noexcept { return fd_ && (connecting_ || awaiting_reply()); }
  // --abort-after: this connection sent its share and waits for the others
  // (TcpRunner resets them all in one turn once none is still on its way).
  virtual bool holding_abort() const noexcept { return false; }
  // Resets the held connection (RST); it counts as aborted.
  virtual void release_abort(int64_t /*now*/) noexcept {}
  // Asked the server for something (an operation, or a connection it had to
  // accept and greet) and never got a single operation completed. A slot the
  // run never gave work to (-n below -c, a low --rate) is not starved.
  bool starved() const noexcept {
    return completed_ == 0 && (granted_ || (dialed_ && !established_));
  }

 protected:
  // Starts the connection's life: persistent modes connect here, the modes
  // that connect per operation wait for pull_work().
  virtual void on_begin(int64_t now) noexcept = 0;
  virtual bool has_capacity() const noexcept = 0;
  // Start one operation whose latency counts from `scheduled`; queue() what
  // it sends (pull_work flushes).
  virtual void start_operation(int64_t scheduled, int64_t now) noexcept = 0;
  virtual void on_connected(int64_t now) noexcept = 0;
  virtual void on_bytes(std::string_view bytes, int64_t now) noexcept = 0;
  // The socket took everything queued and may take more (streaming modes send
  // from here with send_direct() instead of queueing everything).
  virtual void on_writable(int64_t /*now*/) noexcept {}
  // A read found the socket empty: nothing more has arrived for now.
  virtual void on_read_drained(int64_t /*now*/) noexcept {}
  virtual void on_eof(int64_t /*now*/) noexcept { fail(ErrorKind::kUnexpectedEof); }
  // Waiting for the server beyond the TCP handshake (a greeting, a reply)?
  virtual bool awaiting_reply() const noexcept = 0;
  virtual uint64_t unanswered() const noexcept = 0;

  bool open_socket(int64_t now) noexcept;
  // Orderly close of our choice (the operation is over). Unread bytes would
  // make the kernel send RST, so call it only after reading to EOF or when
  // no reply is outstanding.
  void close_socket() noexcept;
  void fail(ErrorKind kind, int err = 0) noexcept;
  void queue(std::string_view bytes) noexcept { out_.append(bytes); }
  // Sends what the kernel takes of `bytes` now, without copying; 0 once the
  // socket is full (on_writable() follows) or the connection failed.
  size_t send_direct(std::string_view bytes, int64_t now) noexcept;
  void shutdown_write() noexcept;
  void flush() noexcept;
  void complete(int64_t scheduled, int64_t now) noexcept;
  // Closes with SO_LINGER 0, so the kernel sends RST and drops what is unsent;
  // the operation counts as aborted (done, for the starved check).
  void reset_connection() noexcept;
  void mark_established() noexcept { established_ = true; }

  bool is_open() const noexcept { return static_cast<bool>(fd_); }
  bool is_connecting() const noexcept { return connecting_; }

  RunContext& ctx_;

 private:
  bool finish_connect(uint32_t events, int64_t now) noexcept;
  void read_available(uint32_t events, int64_t now) noexcept;
  void update_deadline(int64_t now) noexcept;

  Fd fd_;
  uint32_t slot_;
  uint32_t generation_ = 0;
  bool connecting_ = false;
  bool connected_ = false;  // counted in Stats::open_connections
  bool writable_ = false;   // edge-triggered: remembered, not re-polled
  bool retired_ = false;
  bool dialed_ = false;       // a connect was attempted
  bool granted_ = false;      // the pacer handed this slot an operation
  bool established_ = false;  // connected (and greeted, where there is a greeting)
  std::string out_;
  size_t out_sent_ = 0;
  int64_t deadline_ = 0;  // 0: not waiting on the server
  int64_t connect_started_ = 0;
  uint64_t completed_ = 0;
};

}  // namespace socketd::bench
