// TimerQueue: one-shot timers in a min-heap, fired in deadline order. Owns
// the callbacks; cancellation is O(1) (the heap entry is dropped lazily).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

namespace socketd {

using Clock = std::chrono::steady_clock;
using TimerId = uint64_t;

class TimerQueue {
 public:
  TimerId add(Clock::time_point deadline, std::function<void()> callback);
  void cancel(TimerId id) { callbacks_.erase(id); }
  // The earliest live deadline, if any.
  std::optional<Clock::time_point> next_deadline();
  // Runs every callback due at `now`; callbacks may add or cancel timers.
  void run_due(Clock::time_point now);
  size_t size() const { return callbacks_.size(); }

 private:
  struct Entry {
    Clock::time_point deadline;
    TimerId id;
    bool operator>(const Entry& other) const {
      return deadline != other.deadline ? deadline > other.deadline : id > other.id;
    }
  };
  void drop_cancelled();

  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  std::unordered_map<TimerId, std::function<void()>> callbacks_;
  TimerId next_id_ = 1;
};

}  // namespace socketd
