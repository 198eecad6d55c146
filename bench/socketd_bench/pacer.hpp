// Pacer: decides when operations may start, and owns the --count budget.
//
// Closed loop (default): an operation may start whenever a connection is free.
// Open loop (--rate R): operation k is due at start + k/R whatever the server
// does; its latency is measured from that due time, so time spent queued
// behind a slow server is part of the result (no coordinated omission).
// Free connections with nothing due wait in a FIFO until the runner hands them
// the next due operation; the FIFO also rotates work fairly across them.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace socketd::bench {

class Pacer {
 public:
  Pacer(std::optional<double> rate, std::optional<uint64_t> count, uint32_t slots);
  // Open loop: operation 0 is due at `start_ns`.
  void start(int64_t start_ns) noexcept { start_ns_ = start_ns; }

  // Grants one operation to connection `slot` and returns the time its latency
  // counts from, or nullopt. In open loop a refused slot is queued (once) and
  // the runner calls it back when next_waiting() says so.
  std::optional<int64_t> grant(uint32_t slot, int64_t now) noexcept;
  // A queued slot to call back, if an operation is due now.
  std::optional<uint32_t> next_waiting(int64_t now) noexcept;
  // When next_waiting() can next return a slot (kNever if nobody waits).
  int64_t next_wakeup() const noexcept;

  // Bulk form for UDP: how many may be sent now, then how many were.
  uint64_t available(int64_t now) const noexcept;
  void consume(uint64_t n) noexcept { granted_ += n; }
  // When available() becomes non-zero again (kNever when the count is used up).
  int64_t next_due() const noexcept;

  bool exhausted() const noexcept { return count_ && granted_ >= *count_; }
  // Open loop: operations due strictly before `until` (the end of the run)
  // that never started: the server, or the tool, fell behind the rate.
  uint64_t backlog(int64_t until) const noexcept;

 private:
  uint64_t due_by(int64_t now) const noexcept;
  int64_t due_time(uint64_t k) const noexcept;

  std::optional<double> rate_;
  std::optional<uint64_t> count_;
  int64_t start_ns_ = 0;
  uint64_t granted_ = 0;
  std::deque<uint32_t> waiting_;
  std::vector<bool> queued_;
};

}  // namespace socketd::bench
