// RateLimitedSink: passes at most `per_second` records per service, per
// severity, per second to the next sink; the rest are counted and summarised
// in one record ("N log records suppressed") when the second is over. Each
// severity has its own budget, so a flood of info records never hides a
// warning or an error of the same service. Records without a SERVICE field
// (daemon life cycle), one-time records (LogRecord::once) and datagram
// summaries always pass.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "log/logger.hpp"
#include "reactor/timer_queue.hpp"

namespace socketd {

class RateLimitedSink final : public LogSink {
 public:
  using Now = std::function<Clock::time_point()>;
  RateLimitedSink(LogSink& next, uint32_t per_second, Now now = Clock::now)
      : next_(next), per_second_(per_second), now_(std::move(now)) {}

  void set_limit(uint32_t per_second) { per_second_ = per_second; }
  void write(const LogRecord& record) noexcept override;
  // False while `service` has used up this second's records of `level`.
  bool admits(LogLevel level, std::string_view service) noexcept override;
  // Emits the summaries of windows that are over; call about once a second.
  void tick() noexcept override;
  // Records held back since the start (socketd_log_records_dropped_total).
  uint64_t suppressed_total() const noexcept { return suppressed_total_; }

 private:
  // One budget per LogLevel (kError = 3 .. kDebug = 7).
  static constexpr size_t kLevels = 5;
  struct Window {
    Clock::time_point start{};
    std::array<uint64_t, kLevels> passed{};
    std::array<uint64_t, kLevels> suppressed{};
  };
  void summarise(const std::string& service, Window& window);

  LogSink& next_;
  uint32_t per_second_;  // 0: unlimited
  Now now_;
  std::map<std::string, Window, std::less<>> windows_;
  uint64_t suppressed_total_ = 0;
};

}  // namespace socketd
