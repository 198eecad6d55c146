#include "reactor/signal_source.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace socketd {
namespace {
sigset_t make_set(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  return set;
}
}  // namespace

std::error_code block_signals(std::initializer_list<int> signals) {
  const sigset_t set = make_set(signals);
  if (const int err = ::pthread_sigmask(SIG_BLOCK, &set, nullptr)) return errno_code(err);
  return {};
}

Result<std::unique_ptr<SignalSource>> SignalSource::create(Reactor& reactor,
                                                           std::initializer_list<int> signals,
                                                           Callback callback) {
  const sigset_t set = make_set(signals);
  Fd fd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd) return errno_code();
  std::unique_ptr<SignalSource> source(
      new SignalSource(reactor, std::move(fd), std::move(callback)));
  if (auto ec = reactor.add(source->fd_.get(), source.get(), EPOLLIN | EPOLLET)) return ec;
  return source;
}

SignalSource::SignalSource(Reactor& reactor, Fd fd, Callback callback)
    : reactor_(reactor), fd_(std::move(fd)), callback_(std::move(callback)) {}

SignalSource::~SignalSource() { reactor_.remove(fd_.get()); }

void SignalSource::on_io(uint32_t) noexcept {
  signalfd_siginfo info;
  // Edge-triggered: drain every pending signal.
  while (::read(fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    callback_(static_cast<int>(info.ssi_signo));
  }
}

}  // namespace socketd
