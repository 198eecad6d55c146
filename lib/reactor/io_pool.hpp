// IoPool: a few threads for work that may block on something other than a
// socket (file writes, fsync, rename, statvfs, directory scans, hashing).
// The reactor thread submits self-contained IoJobs; an I/O thread runs one
// job's run(), and its done() then runs back on the reactor thread, woken
// through one eventfd in the reactor's epoll set. The model is nginx's
// `aio threads` pool and libuv's uv_queue_work: the threads share nothing but
// the two queues, so sockets, sessions, timers and counters stay single-threaded.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "net/fd.hpp"
#include "net/result.hpp"
#include "reactor/io_handler.hpp"

namespace socketd {

class Reactor;

// One piece of blocking work. run() touches only what the job owns (an fd, a
// buffer, a path); done() may touch anything, since it runs on the reactor
// thread. Neither may throw.
class IoJob {
 public:
  virtual ~IoJob() = default;
  virtual void run() noexcept = 0;
  virtual void done() noexcept = 0;
};

class IoPool final : public IoHandler {
 public:
  // Four threads: enough for a few uploads to fsync at once while another
  // writes, few enough that their stacks (8 MiB reserved, little touched) and
  // switches stay negligible. Disk work mostly waits, so more threads than
  // CPUs is the point.
  static constexpr unsigned kDefaultThreads = 4;
  // The I/O threads' nice value above the loop's.
  static constexpr int kNiceBelowLoop = 10;

  static Result<std::unique_ptr<IoPool>> create(Reactor& reactor,
                                                unsigned threads = kDefaultThreads);
  // Finishes every job (drain()), then stops the threads.
  ~IoPool() override;
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  // Reactor thread only. Jobs start in submission order; several run at once,
  // so jobs that must not overlap (one file's writes) are chained by their owner.
  void submit(std::unique_ptr<IoJob> job);
  // Reactor thread only, with the reactor no longer running (shutdown): runs
  // until every submitted job, and any job their done() submits, has finished.
  void drain();
  // Jobs submitted whose done() has not run yet.
  size_t outstanding() const { return outstanding_; }

  void on_io(uint32_t events) noexcept override;

 private:
  IoPool(Reactor& reactor, Fd event);
  void work() noexcept;
  // Runs done() of every finished job; true if there was any.
  bool complete_finished() noexcept;

  Reactor& reactor_;
  Fd event_;  // an I/O thread writes it when the finished list becomes non-empty
  std::vector<std::thread> threads_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<IoJob>> queue_;
  bool stopping_ = false;

  std::mutex finished_mutex_;
  std::condition_variable finished_cv_;  // for drain(), which cannot use epoll
  std::vector<std::unique_ptr<IoJob>> finished_;
  std::vector<std::unique_ptr<IoJob>> completing_;  // reactor thread only

  size_t outstanding_ = 0;  // reactor thread only
};

}  // namespace socketd
