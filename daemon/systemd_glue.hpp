// The daemon's contact with systemd: readiness notification, the journal
// sink and the sockets inherited through socket activation. It speaks the
// documented protocols itself (sd_notify(3), sd_listen_fds(3),
// systemd.io/JOURNAL_NATIVE_PROTOCOL) rather than linking libsystemd, whose
// loading (with libgcrypt, liblzma, libzstd, liblz4, libcap) was about half of
// socketd's start time (bench/PERF-udp-start-reload.md).
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "app/notifier.hpp"
#include "log/logger.hpp"
#include "net/fd.hpp"
#include "server/server.hpp"

namespace socketd {

// sd_notify(3): one datagram per message to $NOTIFY_SOCKET (a path, or
// "@name" for the abstract namespace); a no-op when it is not set.
class SdNotifier final : public Notifier {
 public:
  SdNotifier();
  void ready() override;
  void reloading() override;
  void stopping() override;
  void status(std::string_view text) override;
  void watchdog() override;

 private:
  void send(std::string_view message) noexcept;
  Fd fd_;
  sockaddr_un address_{};
  socklen_t address_size_ = 0;  // 0: no supervisor to tell
};

// Half of WatchdogSec= when systemd asked for pings, else 0.
std::chrono::milliseconds watchdog_interval();

// Structured records in the journal's native protocol: MESSAGE, PRIORITY,
// MESSAGE_ID, SOCKETD_* fields, one datagram each. A record the journal
// socket refuses (journald restarting, too large) goes to stderr instead,
// which is the journal too (used only when stderr_is_journal()).
class JournalSink final : public LogSink {
 public:
  explicit JournalSink(std::string socket_path = "/run/systemd/journal/socket");
  void write(const LogRecord& record) noexcept override;

 private:
  Fd fd_;
  sockaddr_un address_{};
  socklen_t address_size_ = 0;
};

// True when stderr is connected to the journal (JOURNAL_STREAM matches it).
bool stderr_is_journal();

// Sockets passed by systemd (LISTEN_FDS), keyed by FileDescriptorName=.
// Problems (unnamed or non-inet fds) are appended to `problems`.
InheritedSockets inherited_sockets(std::vector<std::string>& problems);

}  // namespace socketd
