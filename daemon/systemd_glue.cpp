#include "systemd_glue.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "log/journal_entry.hpp"

namespace socketd {
namespace {

constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START

// A datagram socket's destination from a path, or "@name" (abstract
// namespace). False if the text cannot be one.
bool unix_address(std::string_view path, sockaddr_un& address, socklen_t& size) {
  if (path.empty() || (path[0] != '/' && path[0] != '@') ||
      path.size() >= sizeof(address.sun_path)) {
    return false;
  }
  address = {};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  if (path[0] == '@') address.sun_path[0] = '\0';
  // An abstract name is exactly its bytes; a path also takes its terminating NUL.
  size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                (path[0] == '@' ? 0 : 1));
  return true;
}

Fd datagram_socket() {
  Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd) {
    // As libsystemd does: room for a burst of records before send() blocks.
    const int size = 8 << 20;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  return fd;
}

bool send_datagram(int fd, const sockaddr_un& address, socklen_t size, std::string_view bytes) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_un*>(&address);
  msg.msg_namelen = size;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  for (;;) {
    if (::sendmsg(fd, &msg, MSG_NOSIGNAL) >= 0) return true;
    if (errno != EINTR) return false;
  }
}

template <typename T>
std::optional<T> env_number(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  T value{};
  const char* end = text + std::strlen(text);
  const auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

// $LISTEN_PID / $WATCHDOG_PID: set, and naming this process.
bool for_this_process(const char* name) {
  const auto pid = env_number<pid_t>(name);
  return pid && *pid == ::getpid();
}

}  // namespace

SdNotifier::SdNotifier() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || !unix_address(path, address_, address_size_)) return;
  fd_ = datagram_socket();
  if (!fd_) address_size_ = 0;
}

void SdNotifier::send(std::string_view message) noexcept {
  if (address_size_ == 0) return;
  send_datagram(fd_.get(), address_, address_size_, message);
}

void SdNotifier::ready() { send("READY=1"); }

void SdNotifier::reloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1'000'000ull +
                    static_cast<unsigned long long>(ts.tv_nsec) / 1000ull;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void SdNotifier::stopping() { send("STOPPING=1"); }

void SdNotifier::status(std::string_view text) {
  send("STATUS=" + std::string(text));
}

void SdNotifier::watchdog() { send("WATCHDOG=1"); }

std::chrono::milliseconds watchdog_interval() {
  // sd_watchdog_enabled(3): WATCHDOG_USEC, and WATCHDOG_PID if set must be us.
  const auto usec = env_number<uint64_t>("WATCHDOG_USEC");
  if (!usec || *usec == 0) return std::chrono::milliseconds(0);
  if (std::getenv("WATCHDOG_PID") != nullptr && !for_this_process("WATCHDOG_PID")) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::milliseconds(*usec / 2000);
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
  }
  return nullptr;
}

}  // namespace

JournalSink::JournalSink(std::string socket_path) {
  if (!unix_address(socket_path, address_, address_size_)) address_size_ = 0;
}

void JournalSink::write(const LogRecord& record) noexcept {
  // The socket is opened on first use: main() builds this sink even when it
  // then logs to stderr.
  if (!fd_ && address_size_ != 0) fd_ = datagram_socket();
  const std::string entry = journal_entry(record, message_id(record.event));
  if (fd_ && send_datagram(fd_.get(), address_, address_size_, entry)) return;
  // Refused (journald away, or a record beyond the datagram limit): the line
  // still reaches the journal through stderr, with its priority, without fields.
  const std::string line = StderrSink::format(record, true);
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
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

namespace {

// sd_is_socket_inet(fd, 0, 0, -1, 0): a socket of family AF_INET or AF_INET6.
bool is_inet_socket(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  sockaddr_storage address{};
  socklen_t len = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len) != 0) return false;
  return address.ss_family == AF_INET || address.ss_family == AF_INET6;
}

// sd_listen_fds_with_names(1, ...): LISTEN_PID must be us; LISTEN_FDS fds from
// 3, made close-on-exec; LISTEN_FDNAMES one ':'-separated name each ("unknown"
// without it). The variables are removed so children do not see them.
std::vector<std::pair<int, std::string>> listen_fds(std::vector<std::string>& problems) {
  std::vector<std::pair<int, std::string>> fds;
  const auto n = env_number<int>("LISTEN_FDS");
  if (for_this_process("LISTEN_PID") && n && *n > 0) {
    std::vector<std::string> names;
    if (const char* text = std::getenv("LISTEN_FDNAMES")) {
      std::string_view rest = text;
      for (;;) {
        const size_t colon = rest.find(':');
        names.emplace_back(rest.substr(0, colon));
        if (colon == std::string_view::npos) break;
        rest.remove_prefix(colon + 1);
      }
    } else {
      names.assign(static_cast<size_t>(*n), "unknown");
    }
    if (names.size() != static_cast<size_t>(*n)) {
      problems.push_back("LISTEN_FDNAMES names " + std::to_string(names.size()) +
                         " sockets but LISTEN_FDS says " + std::to_string(*n) +
                         "; inherited sockets ignored");
    } else {
      for (int i = 0; i < *n; ++i) {
        const int fd = kListenFdsStart + i;
        const int flags = ::fcntl(fd, F_GETFD);
        if (flags < 0) continue;  // not open: nothing to adopt or close
        ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        fds.emplace_back(fd, names[static_cast<size_t>(i)]);
      }
    }
  }
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  return fds;
}

}  // namespace

InheritedSockets inherited_sockets(std::vector<std::string>& problems) {
  InheritedSockets sockets;
  for (const auto& [fd, name] : listen_fds(problems)) {
    if (!is_inet_socket(fd)) {
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
  return sockets;
}

}  // namespace socketd
