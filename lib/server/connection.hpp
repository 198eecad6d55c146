// Connection: one accepted TCP client. Owns the socket, the output queue and
// the protocol Session, and drives the session from edge-triggered events.
// Output is written at once; only what the kernel does not take is queued,
// and above kHighWater queued bytes the peer is not read (backpressure).
#pragma once

#include <memory>

#include "buffer/buffer.hpp"
#include "net/address.hpp"
#include "net/fd.hpp"
#include "reactor/io_handler.hpp"
#include "server/idle_list.hpp"
#include "server/service_settings.hpp"
#include "service/session.hpp"

namespace socketd {

class ServiceRuntime;

class Connection final : public IoHandler, private Reply {
 public:
  static constexpr size_t kHighWater = 256 * 1024;
  static constexpr int kReadBudget = 16;  // reads per event before yielding

  Connection(ServiceRuntime& service, std::shared_ptr<const ServiceSettings> settings, Fd fd,
             const SocketAddress& peer);
  ~Connection() override;

  // Registers with the reactor and runs the session's opening (greeting).
  void start();
  void on_io(uint32_t events) noexcept override;
  // Ends the connection now (idle timeout, shutdown); reason goes to the log.
  void abort(std::string_view reason);

  const SocketAddress& peer() const { return peer_; }
  IdleHook& idle_hook() { return idle_; }
  IdleHook& age_hook() { return age_; }
  size_t queued_output() const { return out_.size(); }
  size_t index = 0;  // position in the owning ServiceRuntime's table

 private:
  void send(std::string_view first, std::string_view second) override;
  void close() override { close_requested_ = true; }

  // Reads until the socket is drained (EAGAIN, or a short read while no FIN
  // or error is pending), the budget is spent, or the session stops.
  void read_some();
  void flush();
  // After the session ran: act on what it asked for (close, broken pipe).
  void settle();
  void finish(std::string_view reason, bool graceful);

  ServiceRuntime& service_;
  std::shared_ptr<const ServiceSettings> settings_;
  Fd fd_;
  SocketAddress peer_;
  std::unique_ptr<Session> session_;
  Buffer out_;
  IdleHook idle_;
  IdleHook age_;  // position by accept time, for upload_timeout
  Clock::time_point opened_;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  std::string_view close_reason_ = "closed by peer";
  bool close_requested_ = false;
  bool input_paused_ = false;
  bool input_done_ = false;
  // The peer's FIN or an error was reported: read until recv says so (0 or an
  // error), since edge-triggering will not report it again.
  bool hangup_seen_ = false;
  bool broken_ = false;
  bool closed_ = false;
};

}  // namespace socketd
