#include "epoll.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>

#include "clock.hpp"

namespace socketd::bench {

Epoll::Epoll() noexcept : fd_(::epoll_create1(EPOLL_CLOEXEC)) {}

std::error_code Epoll::add(int fd, uint64_t key, uint32_t events) noexcept {
  epoll_event event{};
  event.events = events;
  event.data.u64 = key;
  if (::epoll_ctl(fd_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    return {errno, std::system_category()};
  }
  return {};
}

std::span<epoll_event> Epoll::wait(std::span<epoll_event> events, int64_t timeout_ns) noexcept {
  timespec timeout{};
  timespec* timeout_ptr = nullptr;
  if (timeout_ns != kNever) {
    timeout_ns = timeout_ns < 0 ? 0 : timeout_ns;
    timeout.tv_sec = timeout_ns / kNsPerSec;
    timeout.tv_nsec = timeout_ns % kNsPerSec;
    timeout_ptr = &timeout;
  }
  const int max_events = static_cast<int>(std::min<size_t>(events.size(), INT_MAX));
  const int n = ::epoll_pwait2(fd_.get(), events.data(), max_events, timeout_ptr, nullptr);
  if (n <= 0) return {};  // timeout, or EINTR: the caller's loop re-checks its clocks
  return events.first(static_cast<size_t>(n));
}

}  // namespace socketd::bench
