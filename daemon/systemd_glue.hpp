// The daemon's only contact with libsystemd: sd_notify, the journal sink and
// the sockets inherited through socket activation and the fd store.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/notifier.hpp"
#include "app/socket_notifier.hpp"
#include "log/logger.hpp"
#include "server/server.hpp"

namespace socketd {

// sd_notify(3)'s messages; a no-op when NOTIFY_SOCKET is not set. They go
// through a SocketNotifier (non-blocking, retried from the reactor, see
// lib/app/socket_notifier.hpp); libsystemd's blocking sd_notify is left only
// for a NOTIFY_SOCKET that is no unix socket address (vsock:...).
class SdNotifier final : public Notifier {
 public:
  // Reads NOTIFY_SOCKET; `reactor` must outlive this notifier.
  explicit SdNotifier(Reactor& reactor);
  void ready() override;
  void reloading() override;
  void stopping() override;
  void status(std::string_view text) override;
  void watchdog() override;
  // FDSTORE=1 (with the descriptor) and FDSTOREREMOVE=1: through the
  // SocketNotifier as well (must arrive, in order, never blocking).
  void store_fd(std::string_view name, int fd) override;
  void remove_stored_fds(std::string_view name) override;

 private:
  std::unique_ptr<SocketNotifier> socket_;  // null: unset, or sd_notify's fallback
  std::map<std::string, std::vector<int>, std::less<>> stored_;  // for the crash hand-off
};

// On SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT: raise the backlog of every
// stored TCP listener before dying, so the clients that connect until
// systemd has restarted socketd (RestartSec=) queue instead of having their
// SYNs dropped. Call once, early in main.
void install_crash_handoff();

// Half of WatchdogSec= when systemd asked for pings, else 0.
std::chrono::milliseconds watchdog_interval();

// Structured records through sd_journal_send: MESSAGE, PRIORITY, MESSAGE_ID,
// SOCKETD_* fields.
class JournalSink final : public LogSink {
 public:
  void write(const LogRecord& record) noexcept override;
};

// True when stderr is connected to the journal (JOURNAL_STREAM matches it).
bool stderr_is_journal();

// Descriptors passed by systemd (LISTEN_FDS) with their names: socket-unit
// sockets (FileDescriptorName=) and our own fd store (FDNAME=), sorted out by
// sort_out_inherited. Problems (unnamed or non-inet fds) are appended to `problems`.
InheritedSockets inherited_sockets(std::vector<std::string>& problems);

}  // namespace socketd
