// RunResult: everything a run measured, handed from a runner to the Report.
#pragma once

#include <cstdint>

#include "stats.hpp"

namespace socketd::bench {

struct RunResult {
  Stats stats;
  int64_t elapsed_ns = 0;
  uint64_t unanswered = 0;       // operations started but not answered when the run ended
  uint64_t unsent = 0;           // open loop: due but never started (no free connection)
  uint64_t starved = 0;          // connections that asked and never completed an operation
  uint64_t open_at_end = 0;      // connections (or UDP sockets) open when the run ended
  uint64_t not_started = 0;      // slots whose turn to connect never came (--ramp, connect() rate)
  int64_t connect_phase_ns = 0;  // hold: time until every connect had succeeded or failed
  bool interrupted = false;      // ended by SIGINT/SIGTERM
};

}  // namespace socketd::bench
