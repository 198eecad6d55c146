#include "reactor/io_pool.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "reactor/reactor.hpp"

namespace socketd {

Result<std::unique_ptr<IoPool>> IoPool::create(Reactor& reactor, unsigned threads) {
  Fd event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!event) return errno_code();
  std::unique_ptr<IoPool> pool(new IoPool(reactor, std::move(event)));
  if (auto ec = reactor.add(pool->event_.get(), pool.get(), EPOLLIN | EPOLLET)) return ec;
  // I/O threads never take signals: they arrive through the reactor's signalfd,
  // which only works while every thread blocks them.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  std::error_code failed;
  for (unsigned i = 0; i < threads && !failed; ++i) {
    try {
      pool->threads_.emplace_back([p = pool.get()] { p->work(); });
    } catch (const std::system_error& e) {
      failed = e.code();
    }
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (failed) return failed;  // the destructor stops the threads already started
  return pool;
}

IoPool::IoPool(Reactor& reactor, Fd event) : reactor_(reactor), event_(std::move(event)) {}

IoPool::~IoPool() {
  drain();
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  for (auto& thread : threads_) thread.join();
  reactor_.remove(event_.get());
}

void IoPool::submit(std::unique_ptr<IoJob> job) {
  ++outstanding_;
  {
    std::lock_guard lock(queue_mutex_);
    queue_.push_back(std::move(job));
  }
  queue_cv_.notify_one();
}

void IoPool::work() noexcept {
  // Below the loop thread: on a busy CPU the scheduler then runs the reactor
  // (every client's latency) before hashing and copying for the disk (the
  // uploads', which wait on the disk anyway). Per-thread on Linux; refused
  // (EPERM) under a seccomp filter without setpriority, which only costs
  // that preference.
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, 0);
  if (errno == 0) ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), std::min(nice + kNiceBelowLoop, 19));
  for (;;) {
    std::unique_ptr<IoJob> job;
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to do
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job->run();
    bool first;
    {
      std::lock_guard lock(finished_mutex_);
      first = finished_.empty();
      finished_.push_back(std::move(job));
    }
    finished_cv_.notify_one();
    // One wake-up per batch: while the list is non-empty the reactor has been
    // told already and will take every job in it.
    if (first) {
      const uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(event_.get(), &one, sizeof one);
    }
  }
}

void IoPool::on_io(uint32_t) noexcept {
  // Reset the counter before taking the list (see work()): a job finished
  // after the swap finds the list empty and writes the eventfd again.
  uint64_t count;
  [[maybe_unused]] auto n = ::read(event_.get(), &count, sizeof count);
  complete_finished();
}

bool IoPool::complete_finished() noexcept {
  {
    std::lock_guard lock(finished_mutex_);
    completing_.swap(finished_);
  }
  if (completing_.empty()) return false;
  // done() may submit the next job of a chain; it cannot reach completing_.
  for (auto& job : completing_) {
    --outstanding_;
    job->done();
    job.reset();
  }
  completing_.clear();
  return true;
}

void IoPool::drain() {
  while (outstanding_ > 0) {
    {
      std::unique_lock lock(finished_mutex_);
      finished_cv_.wait(lock, [this] { return !finished_.empty(); });
    }
    complete_finished();
  }
}

}  // namespace socketd
