// Fd: owns one file descriptor and closes it when destroyed. Move-only, so a
// socket has exactly one owner and can never be closed twice.
#pragma once

#include <unistd.h>

#include <utility>

namespace socketd::bench {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

  // Closing also removes the fd from every epoll set it was registered with
  // (we never dup sockets), so no explicit EPOLL_CTL_DEL is needed.
  void reset() noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

}  // namespace socketd::bench
