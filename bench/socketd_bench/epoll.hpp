// Epoll: owns one epoll instance. Registrations carry a 64-bit key chosen by
// the caller; waits take a nanosecond timeout (epoll_pwait2), which open-loop
// pacing needs: millisecond timeouts would batch sends and add up to 1 ms of
// the tool's own lateness to every measured latency.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <span>
#include <system_error>

#include "fd.hpp"

namespace socketd::bench {

class Epoll {
 public:
  // Check valid() before use; error() says why creation failed.
  Epoll() noexcept;

  bool valid() const noexcept { return static_cast<bool>(fd_); }
  std::error_code add(int fd, uint64_t key, uint32_t events) noexcept;
  // Waits until an event or `timeout_ns` (0: poll, kNever: forever). Returns
  // the events that fired; empty on timeout or EINTR.
  std::span<epoll_event> wait(std::span<epoll_event> events, int64_t timeout_ns) noexcept;

 private:
  Fd fd_;
};

}  // namespace socketd::bench
