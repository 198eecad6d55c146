#include "reactor/reactor.hpp"

#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace socketd {
namespace {
// A unique, never-dereferenced tag for the timerfd's epoll entry.
IoHandler* const kTimerTag = reinterpret_cast<IoHandler*>(uintptr_t{1});
constexpr size_t kMaxEvents = 256;

// CLOCK_MONOTONIC through the vDSO (~20 ns): nanosecond resolution, where
// CLOCK_MONOTONIC_COARSE only advances once a jiffy (1-4 ms), coarser than
// most turns.
uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

Result<std::unique_ptr<Reactor>> Reactor::create() {
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return errno_code();
  Fd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer) return errno_code();
  std::unique_ptr<Reactor> reactor(new Reactor(std::move(epoll), std::move(timer)));
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: we read it on every expiry anyway
  ev.data.ptr = kTimerTag;
  if (::epoll_ctl(reactor->epoll_.get(), EPOLL_CTL_ADD, reactor->timerfd_.get(), &ev) != 0) {
    return errno_code();
  }
  return reactor;
}

Reactor::Reactor(Fd epoll, Fd timer)
    : epoll_(std::move(epoll)), timerfd_(std::move(timer)), events_(kMaxEvents) {}

std::error_code Reactor::add(int fd, IoHandler* handler, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return errno_code();
  return {};
}

void Reactor::remove(int fd) { ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr); }

void Reactor::mark_ready(IoHandler* handler) {
  if (handler->ready_queued_) return;
  handler->ready_queued_ = true;
  ready_.push_back(handler);
}

void Reactor::unready(IoHandler* handler) {
  if (!handler->ready_queued_) return;
  handler->ready_queued_ = false;
  std::erase(ready_, handler);
}

void Reactor::retire(std::unique_ptr<IoHandler> handler) {
  // Pointers in this turn's epoll batch and ready_running_ stay valid: the
  // handler is only destroyed at the end of the turn. The next turn's ready
  // list must not keep it (rare: closed while queued).
  if (handler->ready_queued_) {
    handler->ready_queued_ = false;
    std::erase(ready_, handler.get());
  }
  retired_.push_back(std::move(handler));
}

TimerId Reactor::add_timer(std::chrono::milliseconds after, std::function<void()> callback) {
  const TimerId id = timers_.add(Clock::now() + after, std::move(callback));
  arm_timerfd();
  return id;
}

void Reactor::arm_timerfd() {
  const auto next = timers_.next_deadline();
  const auto deadline = next.value_or(Clock::time_point::max());
  if (deadline == armed_for_) return;
  armed_for_ = deadline;
  itimerspec spec{};
  if (next) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        deadline.time_since_epoch()).count();
    // CLOCK_MONOTONIC is steady_clock's clock on Linux; 0 would disarm.
    const auto abs = std::max<int64_t>(ns, 1);
    spec.it_value.tv_sec = abs / 1'000'000'000;
    spec.it_value.tv_nsec = abs % 1'000'000'000;
  }
  if (::timerfd_settime(timerfd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
    // Cannot happen with a valid fd and spec; if it did, no timer would ever
    // fire again (watchdog, sweeps, drain): stop rather than hang.
    error_ = errno_code();
    running_ = false;
  }
}

void Reactor::run() {
  running_ = true;
  while (running_) run_once(std::chrono::milliseconds(-1));
}

void Reactor::run_once(std::chrono::milliseconds max_wait) {
  const int timeout = ready_.empty() ? static_cast<int>(max_wait.count()) : 0;
  int n = ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()), timeout);
  if (n < 0) {
    // EINTR: a signal handler ran (a debugger, a profiler); just turn again.
    // Anything else means the epoll set itself is broken: stop, say why.
    if (errno != EINTR) {
      error_ = errno_code();
      running_ = false;
    }
    n = 0;
  }
  now_ = Clock::now();
  const uint64_t turn_start = monotonic_ns();
  bool timer_fired = false;
  for (int i = 0; i < n; ++i) {
    auto* handler = static_cast<IoHandler*>(events_[i].data.ptr);
    if (handler == kTimerTag) {
      timer_fired = true;
      continue;
    }
    handler->on_io(events_[i].events);
  }
  dispatch_ready();
  if (timer_fired) {
    uint64_t expirations = 0;
    [[maybe_unused]] auto r = ::read(timerfd_.get(), &expirations, sizeof expirations);
    armed_for_ = Clock::time_point::max();
    timers_.run_due(now_);
  }
  arm_timerfd();
  destroy_retired();
  turns_.record(monotonic_ns() - turn_start);
}

void Reactor::dispatch_ready() {
  if (ready_.empty()) return;
  // Swap first: handlers that stop on their budget again re-queue for the next
  // turn instead of running forever in this one.
  ready_running_.swap(ready_);
  for (auto* handler : ready_running_) handler->ready_queued_ = false;
  for (auto* handler : ready_running_) handler->on_io(kResume);
  ready_running_.clear();
}

void Reactor::destroy_retired() { retired_.clear(); }

}  // namespace socketd
