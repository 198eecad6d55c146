// Thin, EINTR-safe wrappers around the socket calls socketd makes. Every fd is
// created non-blocking and close-on-exec; "would block" is reported as an
// error_code equal to std::errc::resource_unavailable_try_again.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "net/address.hpp"
#include "net/fd.hpp"
#include "net/result.hpp"

namespace socketd {

struct ListenOptions {
  int backlog = 5;
  bool reuse_port = false;
};

Result<Fd> listen_tcp(const SocketAddress& addr, const ListenOptions& options);
Result<Fd> bind_udp(const SocketAddress& addr, bool reuse_port = false);
// Accepts one connection; peer is filled in. EAGAIN when the queue is empty.
Result<Fd> accept_nonblocking(int listen_fd, SocketAddress& peer);
Result<SocketAddress> local_address(int fd);
// Connection attempts the kernel dropped at a listening socket since it was
// created (SO_MEMINFO's drop count; for a listener almost always because its
// accept queue, the backlog, was full). nullopt if the kernel does not say.
std::optional<uint32_t> listen_drops(int fd);
std::error_code set_nonblocking(int fd);
// For a socket handed to another program as its stdin/stdout (exec mode).
std::error_code set_blocking(int fd);

// Bytes moved, or an error. 0 from recv means the peer closed its side.
Result<size_t> recv_some(int fd, std::span<char> buf);
Result<size_t> send_some(int fd, std::span<const char> buf);

inline bool would_block(std::error_code ec) {
  return ec == std::errc::resource_unavailable_try_again ||
         ec == std::errc::operation_would_block;
}

}  // namespace socketd
