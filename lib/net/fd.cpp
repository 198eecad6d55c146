#include "net/fd.hpp"

#include <unistd.h>

namespace socketd {

void Fd::reset(int fd) noexcept {
  // close() is never retried on EINTR on Linux: the fd is gone either way.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace socketd
