// TcpListener: a listening socket that hands each accepted client to its
// service. Accepts until EAGAIN within a budget; survives EMFILE/ENFILE with
// the spare-fd trick (accept and close at once) so it never spins.
#pragma once

#include "net/address.hpp"
#include "net/fd.hpp"
#include "reactor/io_handler.hpp"
#include "server/listener.hpp"
#include "reactor/reactor.hpp"

namespace socketd {

class ServiceRuntime;

class TcpListener final : public Listener {
 public:
  static constexpr int kAcceptBudget = 64;

  // `fd` is bound and listening (or inherited from systemd, non-blocking).
  TcpListener(Reactor& reactor, Fd fd, SocketAddress configured);
  ~TcpListener() override;

  Transport transport() const override { return Transport::kTcp; }
  const SocketAddress& configured() const override { return configured_; }
  const SocketAddress& bound() const override { return bound_; }
  std::error_code attach(ServiceRuntime& service) override;
  void close() override;
  void on_io(uint32_t events) noexcept override;
  int fd() const override { return fd_.get(); }
  void prepare_handoff() override;
  void pause(std::chrono::milliseconds duration) override;
  // Counts the kernel's drops in the service's stats (listen_overflows) and
  // logs them, at most once per kOverflowLogInterval.
  void check_overflow() override;
  static constexpr std::chrono::seconds kOverflowLogInterval{10};

 private:
  void on_fd_exhaustion(std::error_code ec);

  Reactor& reactor_;
  Fd fd_;
  SocketAddress configured_;  // as written in the config (port may be 0)
  SocketAddress bound_;       // what the kernel gave us
  ServiceRuntime* service_ = nullptr;
  Fd spare_;                  // reserved fd, given up to shed clients on EMFILE
  bool exhaustion_logged_ = false;
  TimerId retry_timer_ = 0;
  TimerId resume_timer_ = 0;  // set while paused
  uint32_t drops_seen_ = 0;   // the kernel's drop count at the last look
  uint64_t drops_unlogged_ = 0;  // counted, not yet in a log record
  Clock::time_point last_overflow_log_{};
};

}  // namespace socketd
