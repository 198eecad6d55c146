// MetricsExporter: the daemon-wide metrics (reloads, dropped log records,
// start time, build) and the rendering of every series in the Prometheus text
// format from the counters the services keep. Owned by the Server; renders on
// the reactor thread from plain integers, allocating nothing but the output.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "metrics/turn_histogram.hpp"

namespace socketd {

struct ServiceStats;

class MetricsExporter {
 public:
  // One service as the exposition shows it.
  struct Service {
    std::string_view name;
    Mode mode;
    const ServiceStats* stats;
  };
  using Count = std::function<uint64_t()>;

  MetricsExporter();

  void count_reload(bool ok) { ++(ok ? reloads_ok_ : reloads_failed_); }
  // Where the dropped log records are counted: over [daemon] log_rate_limit
  // (RateLimitedSink, reactor thread) and for a log not being read (AsyncSink's
  // atomic). Unset: reported as 0.
  void set_log_drops(Count rate_limited, Count not_read) {
    log_rate_limited_ = std::move(rate_limited);
    log_not_read_ = std::move(not_read);
  }
  void set_version(std::string version) { version_ = std::move(version); }

  // Appends the whole exposition to `out`.
  void render(std::string& out, std::span<const Service> services,
              const TurnHistogram& turns) const;

 private:
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
  Count log_rate_limited_;
  Count log_not_read_;
  double start_time_;  // seconds since the epoch
  std::string version_;
};

}  // namespace socketd
