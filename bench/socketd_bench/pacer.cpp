#include "pacer.hpp"

#include <algorithm>
#include <cmath>

#include "clock.hpp"

namespace socketd::bench {

Pacer::Pacer(std::optional<double> rate, std::optional<uint64_t> count, uint32_t slots)
    : rate_(rate), count_(count), queued_(slots, false) {}

uint64_t Pacer::due_by(int64_t now) const noexcept {
  if (!rate_) return count_.value_or(UINT64_MAX);
  if (now < start_ns_) return 0;
  // Operation 0 is due at the start, operation k at start + k / rate.
  const double elapsed = ns_to_seconds(now - start_ns_);
  const auto due = static_cast<uint64_t>(std::floor(elapsed * *rate_)) + 1;
  return count_ ? std::min(due, *count_) : due;
}

int64_t Pacer::due_time(uint64_t k) const noexcept {
  return start_ns_ + seconds_to_ns(static_cast<double>(k) / *rate_);
}

uint64_t Pacer::available(int64_t now) const noexcept {
  const uint64_t due = due_by(now);
  return due > granted_ ? due - granted_ : 0;
}

int64_t Pacer::next_due() const noexcept {
  if (exhausted()) return kNever;
  return rate_ ? due_time(granted_) : 0;
}

std::optional<int64_t> Pacer::grant(uint32_t slot, int64_t now) noexcept {
  if (exhausted()) return std::nullopt;
  if (!rate_) {
    ++granted_;
    return now;
  }
  if (available(now) > 0) return due_time(granted_++);
  if (!queued_[slot]) {
    queued_[slot] = true;
    waiting_.push_back(slot);
  }
  return std::nullopt;
}

std::optional<uint32_t> Pacer::next_waiting(int64_t now) noexcept {
  if (waiting_.empty() || available(now) == 0) return std::nullopt;
  const uint32_t slot = waiting_.front();
  waiting_.pop_front();
  queued_[slot] = false;
  return slot;
}

int64_t Pacer::next_wakeup() const noexcept {
  return waiting_.empty() ? kNever : next_due();
}

uint64_t Pacer::backlog(int64_t until) const noexcept {
  if (!rate_ || until <= start_ns_) return 0;
  const auto due_before =
      static_cast<uint64_t>(std::ceil(ns_to_seconds(until - start_ns_) * *rate_));
  const uint64_t due = count_ ? std::min(due_before, *count_) : due_before;
  return due > granted_ ? due - granted_ : 0;
}

}  // namespace socketd::bench
