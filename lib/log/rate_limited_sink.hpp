// RateLimitedSink: passes at most `per_second` records per service per second
// to the next sink; the rest are counted and summarised in one record
// ("N records suppressed") when the second is over. Records without a
// SERVICE field (daemon life cycle, errors) and datagram summaries always pass.
#pragma once

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
  // False while `service` has used up this second's records.
  bool admits(std::string_view service) noexcept override;
  // Emits the summaries of windows that are over; call about once a second.
  void tick() noexcept override;
  // Records held back since the start (socketd_log_records_dropped_total).
  uint64_t suppressed_total() const noexcept { return suppressed_total_; }

 private:
  struct Window {
    Clock::time_point start{};
    uint64_t passed = 0;
    uint64_t suppressed = 0;
  };
  void summarise(const std::string& service, Window& window);

  LogSink& next_;
  uint32_t per_second_;  // 0: unlimited
  Now now_;
  std::map<std::string, Window, std::less<>> windows_;
  uint64_t suppressed_total_ = 0;
};

}  // namespace socketd
