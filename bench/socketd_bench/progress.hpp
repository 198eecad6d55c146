// Progress: the live line on stderr, once per second: elapsed time, operations
// per second, p50/p99 of that second, errors so far, open connections. On a
// terminal the line rewrites itself; otherwise (logs, CI) one line per tick.
#pragma once

#include <cstdint>

#include "stats.hpp"

namespace socketd::bench {

class Progress {
 public:
  Progress(bool enabled, int64_t start_ns) noexcept;

  int64_t next_tick() const noexcept { return next_tick_; }
  // Prints the interval since the last tick, then starts a new interval.
  // `open`: connections (UDP: sockets) open now.
  void tick(int64_t now, Stats& stats, uint64_t open) noexcept;
  // Ends a rewritten terminal line so the summary starts on a fresh one.
  void finish() noexcept;

 private:
  bool enabled_;
  bool terminal_;
  bool line_open_ = false;
  int64_t start_ns_;
  int64_t last_tick_;
  int64_t next_tick_;
};

}  // namespace socketd::bench
