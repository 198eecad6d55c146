#include "systemd_glue.hpp"

#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace socketd {

SdNotifier::SdNotifier(Reactor& reactor) {
  const char* where = std::getenv("NOTIFY_SOCKET");
  if (where == nullptr || *where == '\0') return;
  if (auto created = SocketNotifier::create(reactor, where)) socket_ = std::move(*created);
}

void SdNotifier::ready() {
  if (socket_) return socket_->ready();
  sd_notify(0, "READY=1");
}

void SdNotifier::reloading() {
  if (socket_) return socket_->reloading();
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1'000'000ull +
                    static_cast<unsigned long long>(ts.tv_nsec) / 1000ull;
  sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", usec);
}

void SdNotifier::stopping() {
  if (socket_) return socket_->stopping();
  sd_notify(0, "STOPPING=1");
}

void SdNotifier::status(std::string_view text) {
  if (socket_) return socket_->status(text);
  const std::string message = "STATUS=" + std::string(text);
  sd_notify(0, message.c_str());
}

void SdNotifier::watchdog() {
  if (socket_) return socket_->watchdog();
  sd_notify(0, "WATCHDOG=1");
}

std::chrono::milliseconds watchdog_interval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(usec / 2000);
}

namespace {

// One fixed id per event kind, so `journalctl MESSAGE_ID=...` finds them all.
const char* message_id(LogEvent event) {
  switch (event) {
    case LogEvent::kGeneric: return nullptr;
    case LogEvent::kStarted: return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c01";
    case LogEvent::kReloaded: return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c02";
    case LogEvent::kReloadFailed: return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c03";
    case LogEvent::kConnectionOpened: return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c04";
    case LogEvent::kConnectionClosed: return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c05";
    case LogEvent::kUploadFinished: return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c06";
    case LogEvent::kUploadIncomplete: return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c07";
    case LogEvent::kDatagram: return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c08";
    case LogEvent::kLimitHit: return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c09";
    case LogEvent::kStopping: return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c0a";
    case LogEvent::kDatagramSummary: return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c0b";
    case LogEvent::kLogDropped: return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c0c";
    case LogEvent::kUploadRefused:
      return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c0d";
    case LogEvent::kExecExited:
      return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c0e";
    case LogEvent::kExecStderr:
      return "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c0f";
  }
  return nullptr;
}

}  // namespace

void JournalSink::write(const LogRecord& record) noexcept {
  std::vector<std::string> fields;
  fields.reserve(record.fields.size() + 3);
  fields.push_back("MESSAGE=" + record.message);
  fields.push_back("PRIORITY=" + std::to_string(static_cast<int>(record.level)));
  if (const char* id = message_id(record.event)) fields.push_back(std::string("MESSAGE_ID=") + id);
  for (const auto& field : record.fields) {
    fields.push_back("SOCKETD_" + std::string(field.key) + "=" + field.value);
  }
  std::vector<iovec> iov;
  iov.reserve(fields.size());
  for (auto& f : fields) iov.push_back({f.data(), f.size()});
  sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  struct stat st{};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

InheritedSockets inherited_sockets(std::vector<std::string>& problems) {
  InheritedSockets sockets;
  char** names = nullptr;
  const int n = sd_listen_fds_with_names(1, &names);  // 1: unset LISTEN_* for children
  for (int i = 0; i < n; ++i) {
    const int fd = SD_LISTEN_FDS_START + i;
    const std::string name = names != nullptr && names[i] != nullptr ? names[i] : "";
    if (sd_is_socket_inet(fd, 0, 0, -1, 0) <= 0) {
      problems.push_back("inherited fd " + std::to_string(fd) + " (" + name +
                         ") is not an inet socket; ignored");
      ::close(fd);
    } else if (name.empty() || name == "unknown" || name == "stored" || sockets.count(name)) {
      problems.push_back("inherited socket fd " + std::to_string(fd) +
                         " has no usable FileDescriptorName= (set it to the service name)");
      ::close(fd);
    } else {
      sockets.emplace(name, Fd(fd));
    }
  }
  if (names != nullptr) {
    for (int i = 0; i < n; ++i) std::free(names[i]);
    std::free(names);
  }
  return sockets;
}

}  // namespace socketd
