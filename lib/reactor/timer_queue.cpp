#include "reactor/timer_queue.hpp"

namespace socketd {

TimerId TimerQueue::add(Clock::time_point deadline, std::function<void()> callback) {
  const TimerId id = next_id_++;
  callbacks_.emplace(id, std::move(callback));
  heap_.push({deadline, id});
  return id;
}

void TimerQueue::drop_cancelled() {
  while (!heap_.empty() && !callbacks_.contains(heap_.top().id)) heap_.pop();
}

std::optional<Clock::time_point> TimerQueue::next_deadline() {
  drop_cancelled();
  if (heap_.empty()) return std::nullopt;
  return heap_.top().deadline;
}

void TimerQueue::run_due(Clock::time_point now) {
  for (;;) {
    drop_cancelled();
    if (heap_.empty() || heap_.top().deadline > now) return;
    const TimerId id = heap_.top().id;
    heap_.pop();
    auto node = callbacks_.extract(id);
    node.mapped()();  // may add or cancel timers: the heap is consistent here
  }
}

}  // namespace socketd
