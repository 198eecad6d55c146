#include "app/socket_notifier.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace socketd {

namespace {

constexpr std::chrono::milliseconds kFirstRetry{10};
constexpr std::chrono::milliseconds kLastRetry{1000};

}  // namespace

Result<std::unique_ptr<SocketNotifier>> SocketNotifier::create(Reactor& reactor,
                                                               std::string_view notify_socket) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (notify_socket.size() < 2) return errno_code(EINVAL);
  if (notify_socket[0] != '/' && notify_socket[0] != '@') return errno_code(EAFNOSUPPORT);
  if (notify_socket.size() > sizeof(address.sun_path)) return errno_code(ENAMETOOLONG);
  std::memcpy(address.sun_path, notify_socket.data(), notify_socket.size());
  if (notify_socket[0] == '@') address.sun_path[0] = '\0';  // abstract namespace
  // A path gets its terminating NUL counted, as sd_notify does; an abstract
  // name is exactly its bytes.
  const size_t length =
      offsetof(sockaddr_un, sun_path) + notify_socket.size() +
      (notify_socket[0] == '/' && notify_socket.size() < sizeof(address.sun_path) ? 1 : 0);
  Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errno_code();
  return std::unique_ptr<SocketNotifier>(
      new SocketNotifier(reactor, std::move(fd), address, static_cast<socklen_t>(length)));
}

SocketNotifier::SocketNotifier(Reactor& reactor, Fd fd, const sockaddr_un& address,
                               socklen_t length)
    : reactor_(reactor), fd_(std::move(fd)), address_(address), address_length_(length) {}

SocketNotifier::~SocketNotifier() {
  if (retry_ != 0) reactor_.cancel_timer(retry_);
  retry_ = 0;
  // The loop is over: try once more, never wait. STOPPING=1 that cannot be
  // sent now is lost; systemd sees the exit anyway.
  backoff_ = std::chrono::milliseconds(-1);  // flush() must not arm a timer now
  flush();
}

void SocketNotifier::ready() {
  must_arrive("READY=1");
}

void SocketNotifier::reloading() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1'000'000ull +
                    static_cast<unsigned long long>(ts.tv_nsec) / 1000ull;
  must_arrive("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void SocketNotifier::stopping() {
  must_arrive("STOPPING=1");
}

void SocketNotifier::status(std::string_view text) {
  if (status_) ++stats_.coalesced;
  status_ = "STATUS=" + std::string(text);
  flush();
}

void SocketNotifier::watchdog() {
  if (watchdog_) ++stats_.coalesced;
  watchdog_ = true;
  flush();
}

void SocketNotifier::send_with_fds(std::string message, std::span<const int> fds) {
  std::vector<Fd> copies;
  copies.reserve(fds.size());
  for (int fd : fds) {
    Fd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
    if (!copy) {
      ++stats_.dropped;  // EMFILE: as good as a failed send
      return;
    }
    copies.push_back(std::move(copy));
  }
  must_arrive(std::move(message), std::move(copies));
}

size_t SocketNotifier::pending() const {
  return queue_.size() + (status_ ? 1 : 0) + (watchdog_ ? 1 : 0);
}

void SocketNotifier::must_arrive(std::string text, std::vector<Fd> fds) {
  if (queue_.size() >= kMaxQueued) {
    queue_.pop_front();
    ++stats_.dropped;
  }
  queue_.push_back({std::move(text), std::move(fds), Clock::now()});
  flush();
}

void SocketNotifier::flush() noexcept {
  // While a retry is armed the socket was full a moment ago: wait for it
  // rather than spend a syscall per message on a stalled supervisor.
  if (retry_ != 0) return;
  const auto now = Clock::now();
  bool blocked = false;
  while (!queue_.empty() && !blocked) {
    Message& m = queue_.front();
    switch (send_one(m.text, m.fds)) {
      case Sent::kYes:
        queue_.pop_front();
        break;
      case Sent::kFailed:
        queue_.pop_front();
        ++stats_.dropped;
        break;
      case Sent::kWouldBlock:
        if (now - m.since >= kGiveUpAfter) {
          queue_.pop_front();
          ++stats_.dropped;
        } else {
          blocked = true;
        }
        break;
    }
  }
  // The latest STATUS= and WATCHDOG=1 go after what must arrive, and only
  // when it has: they would meet the same full queue.
  if (!blocked && status_) {
    const Sent s = send_one(*status_, {});
    if (s == Sent::kWouldBlock) {
      blocked = true;
    } else {
      if (s == Sent::kFailed) ++stats_.dropped;
      status_.reset();
    }
  }
  if (!blocked && watchdog_) {
    const Sent s = send_one("WATCHDOG=1", {});
    if (s == Sent::kWouldBlock) {
      blocked = true;
    } else {
      if (s == Sent::kFailed) ++stats_.dropped;
      watchdog_ = false;
    }
  }
  if (!blocked) {
    backoff_ = std::chrono::milliseconds(0);
    return;
  }
  if (backoff_.count() >= 0) arm_retry();
}

SocketNotifier::Sent SocketNotifier::send_one(const std::string& text,
                                              const std::vector<Fd>& fds) noexcept {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_name = &address_;
  msg.msg_namelen = address_length_;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    for (size_t i = 0; i < fds.size(); ++i) {
      const int fd = fds[i].get();
      std::memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof fd);
    }
  }
  for (;;) {
    // MSG_DONTWAIT on an already non-blocking socket: the supervisor's full
    // receive queue (or our send buffer) gives EAGAIN instead of a wait.
    if (::sendmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
      ++stats_.sent;
      return Sent::kYes;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      ++stats_.deferred;
      return Sent::kWouldBlock;
    }
    return Sent::kFailed;  // ECONNREFUSED, ENOENT...: nobody listens, as sd_notify
  }
}

void SocketNotifier::arm_retry() {
  backoff_ = backoff_.count() == 0 ? kFirstRetry : std::min(backoff_ * 2, kLastRetry);
  retry_ = reactor_.add_timer(backoff_, [this] {
    retry_ = 0;
    flush();
  });
}

}  // namespace socketd
