#include "stop_signal.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace socketd::bench {

StopSignal::StopSignal() noexcept {
  sigset_t set;
  ::sigemptyset(&set);
  ::sigaddset(&set, SIGINT);
  ::sigaddset(&set, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  fd_ = Fd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
}

bool StopSignal::consume() noexcept {
  signalfd_siginfo info{};
  bool stopped = false;
  while (::read(fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    stopped = true;
  }
  return stopped;
}

}  // namespace socketd::bench
