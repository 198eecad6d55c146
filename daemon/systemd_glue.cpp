#include "systemd_glue.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
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

namespace {

// Read by the crash handler: plain loads of lock-free atomics are
// async-signal-safe. -1 marks a free slot.
constexpr size_t kCrashSlots = 1024;
std::atomic<int> crash_fds[kCrashSlots];

void set_crash_fd(int old_fd, int new_fd) {
  for (auto& slot : crash_fds) {
    int expected = old_fd;
    if (slot.compare_exchange_strong(expected, new_fd)) return;
  }
}

extern "C" void on_crash(int signo) {
  for (auto& slot : crash_fds) {
    const int fd = slot.load(std::memory_order_relaxed);
    if (fd >= 0) ::listen(fd, SOMAXCONN);  // fails harmlessly on a non-listener
  }
  ::raise(signo);  // SA_RESETHAND: the default action now, a core dump
}

}  // namespace

void install_crash_handoff() {
  for (auto& slot : crash_fds) slot.store(-1);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return;  // the sanitizer's own SEGV report is worth more in those builds
#endif
  struct sigaction sa {};
  sa.sa_handler = on_crash;
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int signo : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::sigaction(signo, &sa, nullptr);
}

void SdNotifier::store_fd(std::string_view name, int fd) {
  std::string message = "FDSTORE=1\nFDNAME=" + std::string(name);
  if (socket_) {
    // Never blocks: queued and retried while the supervisor does not read.
    socket_->send_with_fds(std::move(message), std::span<const int>(&fd, 1));
  } else if (sd_pid_notify_with_fds(0, 0, message.c_str(), &fd, 1) <= 0) {
    return;
  }
  stored_[std::string(name)].push_back(fd);
  set_crash_fd(-1, fd);
}

void SdNotifier::remove_stored_fds(std::string_view name) {
  std::string message = "FDSTOREREMOVE=1\nFDNAME=" + std::string(name);
  if (socket_) {
    socket_->send_with_fds(std::move(message), {});
  } else {
    sd_pid_notify(0, 0, message.c_str());
  }
  if (auto it = stored_.find(name); it != stored_.end()) {
    for (int fd : it->second) set_crash_fd(fd, -1);
    stored_.erase(it);
  }
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
    if (name == kFdStoreManifestName) {
      sockets.push_back({name, Fd(fd)});
    } else if (sd_is_socket_inet(fd, 0, 0, -1, 0) <= 0) {
      problems.push_back("inherited fd " + std::to_string(fd) + " (" + name +
                         ") is not an inet socket; ignored");
      ::close(fd);
    } else if (name.empty() || name == "unknown" || name == "stored") {
      problems.push_back("inherited socket fd " + std::to_string(fd) +
                         " has no usable FileDescriptorName= (set it to the service name)");
      ::close(fd);
    } else {
      sockets.push_back({name, Fd(fd)});
    }
  }
  if (names != nullptr) {
    for (int i = 0; i < n; ++i) std::free(names[i]);
    std::free(names);
  }
  sort_out_inherited(sockets, problems);
  return sockets;
}

}  // namespace socketd
