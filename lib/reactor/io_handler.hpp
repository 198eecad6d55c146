// IoHandler: what an fd registered with the Reactor points at through
// epoll_event.data.ptr. One entry point, never throws.
#pragma once

#include <cstdint>

namespace socketd {

class IoHandler {
 public:
  virtual ~IoHandler() = default;
  // events: the epoll bits (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLHUP),
  // or kResume when the handler is run again from the ready list.
  virtual void on_io(uint32_t events) noexcept = 0;

 private:
  friend class Reactor;
  bool ready_queued_ = false;
};

// Not an epoll bit: "you stopped early on your budget last turn; continue".
inline constexpr uint32_t kResume = 1u << 30;

}  // namespace socketd
