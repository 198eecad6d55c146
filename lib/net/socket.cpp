#include "net/socket.hpp"

#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace socketd {
namespace {

std::error_code set_int_option(int fd, int level, int name, int value) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) return errno_code();
  return {};
}

Result<Fd> bound_socket(const SocketAddress& addr, int type, bool reuse_port) {
  Fd fd(::socket(addr.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errno_code();
  // SO_REUSEADDR lets a restarted daemon rebind while old connections sit in
  // TIME_WAIT; it does not allow two live listeners on one TCP port. On UDP
  // (no TIME_WAIT) it would let a second daemon bind the same address and
  // silently take its datagrams: sharing is only with reuse_port.
  if (type == SOCK_STREAM) {
    if (auto ec = set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1)) return ec;
  }
  if (reuse_port) {
    if (auto ec = set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1)) return ec;
  }
  if (addr.family() == AF_INET6) {
    // "[::]:P" means IPv6 only; listen on 0.0.0.0:P as well for IPv4.
    if (auto ec = set_int_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1)) return ec;
  }
  if (::bind(fd.get(), addr.get(), addr.size()) != 0) return errno_code();
  return fd;
}

}  // namespace

Result<Fd> listen_tcp(const SocketAddress& addr, const ListenOptions& options) {
  auto fd = bound_socket(addr, SOCK_STREAM, options.reuse_port);
  if (!fd) return fd;
  if (::listen(fd->get(), options.backlog) != 0) return errno_code();
  return fd;
}

Result<Fd> bind_udp(const SocketAddress& addr, bool reuse_port) {
  return bound_socket(addr, SOCK_DGRAM, reuse_port);
}

Result<Fd> accept_nonblocking(int listen_fd, SocketAddress& peer) {
  for (;;) {
    *peer.size_mut() = sizeof(sockaddr_storage);
    const int fd = ::accept4(listen_fd, peer.get_mut(), peer.size_mut(),
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return Fd(fd);
    if (errno != EINTR) return errno_code();
  }
}

std::optional<uint32_t> listen_drops(int fd) {
  uint32_t meminfo[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof meminfo;
  if (::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, meminfo, &len) != 0 ||
      len < sizeof(uint32_t) * (SK_MEMINFO_DROPS + 1)) {
    return std::nullopt;
  }
  return meminfo[SK_MEMINFO_DROPS];
}

Result<SocketAddress> local_address(int fd) {
  SocketAddress addr;
  if (::getsockname(fd, addr.get_mut(), addr.size_mut()) != 0) return errno_code();
  return addr;
}

std::error_code set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return errno_code();
  return {};
}

std::error_code set_blocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) return errno_code();
  return {};
}

Result<size_t> recv_some(int fd, std::span<char> buf) {
  for (;;) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return errno_code();
  }
}

Result<size_t> send_some(int fd, std::span<const char> buf) {
  for (;;) {
    const ssize_t n = ::send(fd, buf.data(), buf.size(), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return errno_code();
  }
}

}  // namespace socketd
