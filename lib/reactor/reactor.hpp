// Reactor: one thread, one edge-triggered epoll set, one timerfd over a
// TimerQueue, a ready list for handlers that stopped on their budget, and
// deferred destruction so a handler closed mid-batch is never freed while
// events for it are still queued.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "metrics/turn_histogram.hpp"
#include "net/fd.hpp"
#include "net/result.hpp"
#include "reactor/io_handler.hpp"
#include "reactor/timer_queue.hpp"

namespace socketd {

class Reactor {
 public:
  // What client connections register with. Listeners, the signalfd and the I/O
  // pool's eventfd pass EPOLLIN | EPOLLET; the timerfd is level-triggered EPOLLIN.
  static constexpr uint32_t kDefaultEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

  // Creates the epoll set and timerfd; fails only if the kernel refuses them.
  static Result<std::unique_ptr<Reactor>> create();

  std::error_code add(int fd, IoHandler* handler, uint32_t events = kDefaultEvents);
  void remove(int fd);
  // Edge-triggering will not report data the handler left unread; queue it to
  // be run again (with kResume) on the next turn, which then does not block.
  void mark_ready(IoHandler* handler);
  // Takes a handler off the ready list (it is about to go away with its owner).
  void unready(IoHandler* handler);
  // Destroys the handler after the current batch of events (see header note).
  void retire(std::unique_ptr<IoHandler> handler);

  TimerId add_timer(std::chrono::milliseconds after, std::function<void()> callback);
  void cancel_timer(TimerId id) { timers_.cancel(id); }

  // Runs turns until stop() is called.
  void run();
  // One turn: wait at most `max_wait` (or not at all if work is ready).
  void run_once(std::chrono::milliseconds max_wait);
  void stop() { running_ = false; }
  // The time this turn started; cheap, and what idle accounting needs.
  Clock::time_point now() const { return now_; }
  bool running() const { return running_; }
  // Why run() returned on its own (epoll_wait or timerfd_settime failed);
  // empty after stop().
  std::error_code error() const { return error_; }
  // How long each turn took, from epoll_wait's return to the end of the turn
  // (the time nothing else is served): the stall meter of the metrics.
  const TurnHistogram& turn_histogram() const { return turns_; }

 private:
  Reactor(Fd epoll, Fd timer);
  void arm_timerfd();
  void dispatch_ready();
  void destroy_retired();

  Fd epoll_;
  Fd timerfd_;
  TimerQueue timers_;
  Clock::time_point armed_for_ = Clock::time_point::max();
  std::vector<IoHandler*> ready_;
  std::vector<IoHandler*> ready_running_;
  std::vector<std::unique_ptr<IoHandler>> retired_;
  std::vector<epoll_event> events_;
  Clock::time_point now_ = Clock::now();
  bool running_ = false;
  std::error_code error_;
  TurnHistogram turns_;
};

}  // namespace socketd
