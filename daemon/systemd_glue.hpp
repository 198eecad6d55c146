// The daemon's only contact with libsystemd: sd_notify, the journal sink and
// the sockets inherited through socket activation.
#pragma once

#include <chrono>
#include <string>

#include "app/notifier.hpp"
#include "log/logger.hpp"
#include "server/server.hpp"

namespace socketd {

// sd_notify(3); a no-op when NOTIFY_SOCKET is not set.
class SdNotifier final : public Notifier {
 public:
  void ready() override;
  void reloading() override;
  void stopping() override;
  void status(std::string_view text) override;
  void watchdog() override;
};

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

// Sockets passed by systemd (LISTEN_FDS), keyed by FileDescriptorName=.
// Problems (unnamed or non-inet fds) are appended to `problems`.
InheritedSockets inherited_sockets(std::vector<std::string>& problems);

}  // namespace socketd
