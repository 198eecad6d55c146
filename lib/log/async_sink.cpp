#include "log/async_sink.hpp"

#include <pthread.h>
#include <signal.h>

#include <utility>

namespace socketd {
namespace {

std::string size_text(size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

LogRecord drop_summary(uint64_t dropped, const AsyncSink::Limits& limits) {
  const std::string n = std::to_string(dropped);
  return {LogLevel::kWarning, LogEvent::kLogDropped,
          "socketd: " + n + " log record" + (dropped == 1 ? "" : "s") +
              " dropped: the log was not being read (queue of " +
              std::to_string(limits.max_records) + " records / " + size_text(limits.max_bytes) +
              " full); check that journald, or whatever reads socketd's stderr, keeps up",
          {{"DROPPED", n}}};
}

}  // namespace

size_t AsyncSink::footprint(const LogRecord& record) noexcept {
  size_t bytes = sizeof(LogRecord) + record.message.size() +
                 record.fields.size() * sizeof(LogField);
  for (const auto& field : record.fields) bytes += field.value.size();
  return bytes;
}

AsyncSink::AsyncSink(std::unique_ptr<LogSink> inner, Limits limits)
    : state_(std::make_shared<State>()) {
  state_->limits = limits;
  state_->inner = std::move(inner);
  thread_ = std::thread([state = state_] { run(state); });
}

AsyncSink::~AsyncSink() {
  std::unique_lock lock(state_->mutex);
  state_->stop = true;
  state_->wake.notify_one();
  const bool finished =
      state_->drained.wait_for(lock, kStopDeadline, [&] { return state_->finished; });
  lock.unlock();
  if (finished) {
    thread_.join();
  } else {
    // Blocked in the wrapped sink (a write(2) to a pipe nobody reads cannot
    // be interrupted): it cannot be joined. It holds its own reference to
    // State, so it may go on safely, and it ends with the process.
    thread_.detach();
  }
}

void AsyncSink::write(const LogRecord& record) noexcept {
  State& s = *state_;
  try {
    LogRecord copy = record;  // outside the mutex: the copy is the costly part
    const size_t bytes = footprint(copy);
    std::lock_guard lock(s.mutex);
    if (s.records >= s.limits.max_records || s.bytes + bytes > s.limits.max_bytes) {
      ++s.dropped_unreported;
      s.dropped_total.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const bool was_empty = s.queue.empty();
    if (s.dropped_unreported > 0) {
      // The queue has room again after drops: the summary goes where the
      // records went missing, before this one. It is allowed past the limits
      // (one small record per run of drops).
      LogRecord summary = drop_summary(s.dropped_unreported, s.limits);
      const size_t summary_bytes = footprint(summary);
      s.queue.push_back(std::move(summary));
      ++s.records;
      s.bytes += summary_bytes;
      s.dropped_unreported = 0;
    }
    s.queue.push_back(std::move(copy));
    ++s.records;
    s.bytes += bytes;
    // The log thread sleeps only on an empty queue; a notify without a waiter
    // costs no system call, but skipping it when the queue was not empty
    // saves the futex wake-up per record while the thread is busy.
    if (was_empty) s.wake.notify_one();
  } catch (...) {
    // Out of memory while copying: count it as dropped rather than throw
    // into the event loop.
    std::lock_guard lock(s.mutex);
    ++s.dropped_unreported;
    s.dropped_total.fetch_add(1, std::memory_order_relaxed);
  }
}

void AsyncSink::tick() noexcept {
  std::lock_guard lock(state_->mutex);
  state_->tick = true;
  state_->wake.notify_one();
}

bool AsyncSink::flush(std::chrono::milliseconds deadline) noexcept {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  return s.drained.wait_for(lock, deadline, [&] {
    return s.records == 0 && s.dropped_unreported == 0 && !s.busy;
  });
}

void AsyncSink::run(const std::shared_ptr<State>& state) noexcept {
  // Signals are for the reactor's signalfd; this thread must never take one
  // (main blocks them before it starts, this makes it hold everywhere).
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);

  State& s = *state;
  std::unique_lock lock(s.mutex);
  for (;;) {
    s.wake.wait(lock, [&] {
      return !s.queue.empty() || s.dropped_unreported > 0 || s.tick || s.stop;
    });
    if (!s.queue.empty()) {
      // The whole queue at once: one lock round per batch, not per record.
      // The records stay counted against the limits until written, so the
      // bound covers what this thread holds too.
      std::deque<LogRecord> batch;
      batch.swap(s.queue);
      s.busy = true;
      lock.unlock();
      size_t bytes = 0;
      for (const auto& record : batch) {
        bytes += footprint(record);
        s.inner->write(record);
      }
      const size_t n = batch.size();
      batch.clear();
      lock.lock();
      s.records -= n;
      s.bytes -= bytes;
      s.busy = false;
    } else if (s.dropped_unreported > 0) {
      // Everything queued is written and the drops are not followed by any
      // record yet: report them now.
      const LogRecord summary = drop_summary(s.dropped_unreported, s.limits);
      s.dropped_unreported = 0;
      s.busy = true;
      lock.unlock();
      s.inner->write(summary);
      lock.lock();
      s.busy = false;
    }
    if (s.tick) {
      s.tick = false;
      s.busy = true;
      lock.unlock();
      s.inner->tick();
      lock.lock();
      s.busy = false;
    }
    if (s.queue.empty() && s.dropped_unreported == 0) {
      s.drained.notify_all();
      if (s.stop) break;
    }
  }
  s.finished = true;
  s.drained.notify_all();
}

}  // namespace socketd
