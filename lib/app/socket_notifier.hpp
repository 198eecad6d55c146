// SocketNotifier: the sd_notify(3) protocol over a non-blocking datagram
// socket, driven by the reactor. Owns one AF_UNIX SOCK_DGRAM socket, the
// supervisor's address (NOTIFY_SOCKET) and the messages not sent yet. It never
// blocks: sd_notify's sendmsg waits as long as the supervisor's queue is full
// (a stalled systemd, a receiver that never reads), and on the reactor thread
// that froze every client and SIGTERM with it.
//
// What must arrive (READY=1, RELOADING=1, STOPPING=1, messages with
// descriptors such as FDSTORE=1) is kept in order and retried from a reactor
// timer (10 ms, doubling to 1 s) for up to kGiveUpAfter; STATUS= and
// WATCHDOG=1 are only ever the latest: a new one replaces the one not sent yet.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>
#include <sys/un.h>

#include "app/notifier.hpp"
#include "net/fd.hpp"
#include "net/result.hpp"
#include "reactor/reactor.hpp"

namespace socketd {

class SocketNotifier final : public Notifier {
 public:
  // A message that must arrive and still cannot is dropped after this long
  // (longer than systemd's default TimeoutStartSec= of 90 s).
  static constexpr std::chrono::seconds kGiveUpAfter{120};
  // Must-arrive messages kept at most; the oldest is dropped beyond it.
  static constexpr size_t kMaxQueued = 64;

  // `notify_socket` as in NOTIFY_SOCKET: an absolute path, or "@name" for an
  // abstract socket. Other forms (vsock:...) are EAFNOSUPPORT; an empty value
  // EINVAL.
  static Result<std::unique_ptr<SocketNotifier>> create(Reactor& reactor,
                                                        std::string_view notify_socket);
  // One last non-blocking attempt at what is still queued (STOPPING=1 at exit).
  ~SocketNotifier() override;
  SocketNotifier(const SocketNotifier&) = delete;
  SocketNotifier& operator=(const SocketNotifier&) = delete;

  void ready() override;
  // RELOADING=1 with MONOTONIC_USEC= of this call (systemd 252 compares it to
  // the time it asked for the reload; a retry later keeps the first value).
  void reloading() override;
  void stopping() override;
  void status(std::string_view text) override;
  void watchdog() override;
  // A message that must arrive, with descriptors (SCM_RIGHTS), e.g.
  // "FDSTORE=1\nFDNAME=x". The fds are duplicated: the caller keeps its own.
  void send_with_fds(std::string message, std::span<const int> fds);

  struct Stats {
    uint64_t sent = 0;       // datagrams the supervisor's socket took
    uint64_t deferred = 0;   // sends refused with EAGAIN (queue full) and kept
    uint64_t coalesced = 0;  // STATUS=/WATCHDOG=1 replaced before they were sent
    uint64_t dropped = 0;    // given up: too old, too many, or a hard error
  };
  const Stats& stats() const { return stats_; }
  // Messages not sent yet (must-arrive ones plus a pending STATUS= and WATCHDOG=1).
  size_t pending() const;

 private:
  struct Message {
    std::string text;
    std::vector<Fd> fds;
    Clock::time_point since;
  };
  enum class Sent { kYes, kWouldBlock, kFailed };

  SocketNotifier(Reactor& reactor, Fd fd, const sockaddr_un& address, socklen_t length);
  void must_arrive(std::string text, std::vector<Fd> fds = {});
  // Sends what is queued, in order, until the socket refuses; then arms the retry.
  void flush() noexcept;
  Sent send_one(const std::string& text, const std::vector<Fd>& fds) noexcept;
  void arm_retry();

  Reactor& reactor_;
  Fd fd_;
  sockaddr_un address_{};
  socklen_t address_length_ = 0;
  std::deque<Message> queue_;
  std::optional<std::string> status_;
  bool watchdog_ = false;
  TimerId retry_ = 0;
  std::chrono::milliseconds backoff_{0};
  Stats stats_;
};

}  // namespace socketd
