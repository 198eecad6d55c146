// AsyncSink: hands records to one log thread through a bounded queue, so a
// log nobody reads (a full stderr pipe, a stopped journald) never blocks the
// reactor. It owns the wrapped sink, which from then on only the log thread
// touches. A full queue drops records; they are counted and, once the log
// thread has written what was queued, summarised in one kLogDropped record.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "log/logger.hpp"

namespace socketd {

class AsyncSink final : public LogSink {
 public:
  // A second of a busy daemon's records (several thousand a second with
  // log_rate_limit = 0) fits, so a reader that falls behind briefly loses
  // nothing; while a log is not read at all, memory stays bounded: 4 MiB is
  // small beside the daemon's buffers, and records are ~200-500 B, so the
  // record count is normally the bound that bites.
  static constexpr size_t kMaxRecords = 4096;
  static constexpr size_t kMaxBytes = 4u << 20;
  // How long the destructor lets the log thread write what is still queued.
  static constexpr std::chrono::milliseconds kStopDeadline{1000};

  struct Limits {
    size_t max_records = kMaxRecords;
    size_t max_bytes = kMaxBytes;
  };

  explicit AsyncSink(std::unique_ptr<LogSink> inner) : AsyncSink(std::move(inner), Limits{}) {}
  AsyncSink(std::unique_ptr<LogSink> inner, Limits limits);
  // Lets the log thread write what is queued for up to kStopDeadline, then
  // joins it; a thread still blocked in the wrapped sink after that is
  // detached (it owns what it uses, see State) and dies with the process.
  ~AsyncSink() override;
  AsyncSink(const AsyncSink&) = delete;
  AsyncSink& operator=(const AsyncSink&) = delete;

  // Copies the record into the queue, or counts it as dropped when the queue
  // is full. Never waits for the log thread beyond a short mutex.
  void write(const LogRecord& record) noexcept override;
  // Asks the log thread to call the wrapped sink's tick() (never called here:
  // this is the reactor thread).
  void tick() noexcept override;
  // Always true: a record that does not fit is counted as dropped by write()
  // and reported in the drop summary; refusing it here would have it
  // misreported by callers as over [daemon] log_rate_limit.
  bool admits(LogLevel /*level*/, std::string_view /*service*/) noexcept override { return true; }

  // Waits until everything queued (and a pending drop summary) has been
  // written, or `deadline` has passed. True if it was written.
  bool flush(std::chrono::milliseconds deadline) noexcept;
  // Records dropped because the queue was full, since the start.
  uint64_t dropped_total() const noexcept {
    return state_->dropped_total.load(std::memory_order_relaxed);
  }

  // Approximate memory a queued record holds, as counted against max_bytes.
  static size_t footprint(const LogRecord& record) noexcept;

 private:
  // Shared by this object and the log thread, so a detached thread never
  // touches freed memory. Everything but `inner` and the atomics is guarded
  // by `mutex`; `inner` belongs to the log thread alone.
  struct State {
    std::mutex mutex;
    std::condition_variable wake;     // the log thread: work, a tick or stop
    std::condition_variable drained;  // flush() and the destructor
    std::deque<LogRecord> queue;
    size_t records = 0;  // queued or being written, counted against the limits
    size_t bytes = 0;
    uint64_t dropped_unreported = 0;
    bool busy = false;  // the log thread is writing outside the mutex
    bool tick = false;
    bool stop = false;
    bool finished = false;  // the log thread has returned
    Limits limits;
    std::unique_ptr<LogSink> inner;
    std::atomic<uint64_t> dropped_total{0};
  };

  static void run(const std::shared_ptr<State>& state) noexcept;

  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace socketd
