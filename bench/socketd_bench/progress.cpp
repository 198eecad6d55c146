#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "clock.hpp"
#include "format.hpp"

namespace socketd::bench {

Progress::Progress(bool enabled, int64_t start_ns) noexcept
    : enabled_(enabled),
      terminal_(::isatty(STDERR_FILENO) == 1),
      start_ns_(start_ns),
      last_tick_(start_ns),
      next_tick_(start_ns + kNsPerSec) {}

void Progress::tick(int64_t now, Stats& stats, uint64_t open) noexcept {
  if (enabled_) {
    const double interval_s = ns_to_seconds(now - last_tick_);
    const double rate = static_cast<double>(stats.interval_ops()) / interval_s;
    const Histogram& latency = stats.interval_latency();
    const bool has_latency = latency.count() > 0;
    std::fprintf(stderr, "%s[%6.1fs] %8s ops/s  p50 %8s  p99 %8s  errors %llu  open %llu%s",
                 terminal_ ? "\r" : "", ns_to_seconds(now - start_ns_), format_count(rate).c_str(),
                 has_latency ? format_latency(latency.percentile(50)).c_str() : "-",
                 has_latency ? format_latency(latency.percentile(99)).c_str() : "-",
                 static_cast<unsigned long long>(stats.errors()),
                 static_cast<unsigned long long>(open), terminal_ ? "\033[K" : "\n");
    std::fflush(stderr);
    line_open_ = terminal_;
  }
  stats.reset_interval();
  last_tick_ = now;
  // Skip ticks missed while the loop was busy rather than printing a burst.
  while (next_tick_ <= now) next_tick_ += kNsPerSec;
}

void Progress::finish() noexcept {
  if (line_open_) std::fputc('\n', stderr);
  line_open_ = false;
}

}  // namespace socketd::bench
