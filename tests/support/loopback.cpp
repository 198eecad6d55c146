#include "support/loopback.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace socketd::test {

SocketAddress loopback(uint16_t port) {
  auto addr = SocketAddress::parse("127.0.0.1:" + std::to_string(port));
  return *addr;
}

namespace {
void set_timeouts(int fd, std::chrono::milliseconds deadline) {
  timeval tv{};
  tv.tv_sec = deadline.count() / 1000;
  tv.tv_usec = (deadline.count() % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}
}  // namespace

Fd connect_tcp_blocking(const SocketAddress& to, std::chrono::milliseconds deadline) {
  Fd fd(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd.valid()) << std::strerror(errno);
  set_timeouts(fd.get(), deadline);
  if (::connect(fd.get(), to.get(), to.size()) != 0) {
    ADD_FAILURE() << "connect to " << to.to_string() << ": " << std::strerror(errno);
    return Fd();
  }
  return fd;
}

Fd udp_socket() { return Fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); }

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ADD_FAILURE() << "send: " << std::strerror(errno);
      return;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

std::string recv_once(int fd, size_t max) {
  std::string buf(max, '\0');
  ssize_t n;
  do {
    n = ::recv(fd, buf.data(), max, 0);
  } while (n < 0 && errno == EINTR);
  buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return buf;
}

std::string recv_exact(int fd, size_t n) {
  std::string out;
  while (out.size() < n) {
    std::string part = recv_once(fd, n - out.size());
    if (part.empty()) break;
    out += part;
  }
  return out;
}

std::string recv_until_eof(int fd) {
  std::string out;
  for (;;) {
    std::string part = recv_once(fd, 65536);
    if (part.empty()) return out;
    out += part;
  }
}

bool peer_closed(int fd) {
  char c;
  for (;;) {
    const ssize_t n = ::recv(fd, &c, 1, 0);
    if (n == 0) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;  // data, timeout or reset
  }
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= end) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace socketd::test
