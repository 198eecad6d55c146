#include "log/rate_limited_sink.hpp"

namespace socketd {
namespace {
constexpr auto kWindow = std::chrono::seconds(1);

const std::string* service_of(const LogRecord& record) {
  for (const auto& field : record.fields) {
    if (field.key == "SERVICE") return &field.value;
  }
  return nullptr;
}
}  // namespace

void RateLimitedSink::write(const LogRecord& record) noexcept {
  const bool limited = per_second_ != 0 && record.event != LogEvent::kDatagramSummary;
  const std::string* service = limited ? service_of(record) : nullptr;
  if (service == nullptr) {
    next_.write(record);
    return;
  }
  const auto now = now_();
  auto it = windows_.find(*service);
  if (it == windows_.end()) it = windows_.emplace(*service, Window{now}).first;
  Window& window = it->second;
  if (now - window.start >= kWindow) {
    summarise(*service, window);
    window = Window{now};
  }
  if (window.passed < per_second_) {
    ++window.passed;
    next_.write(record);
  } else {
    ++window.suppressed;
    ++suppressed_total_;
  }
}

bool RateLimitedSink::admits(std::string_view service) noexcept {
  if (per_second_ == 0) return true;
  const auto it = windows_.find(service);
  if (it == windows_.end()) return true;
  return it->second.passed < per_second_ || now_() - it->second.start >= kWindow;
}

void RateLimitedSink::tick() noexcept {
  const auto now = now_();
  for (auto& [service, window] : windows_) {
    if (now - window.start >= kWindow && window.suppressed > 0) {
      summarise(service, window);
      window = Window{now};
    }
  }
  next_.tick();
}

void RateLimitedSink::summarise(const std::string& service, Window& window) {
  if (window.suppressed == 0) return;
  next_.write({LogLevel::kWarning, LogEvent::kLimitHit,
               service + ": " + std::to_string(window.suppressed) +
                   " log records suppressed (more than " + std::to_string(per_second_) +
                   "/s; raise [daemon] log_rate_limit to see them all)",
               {{"SERVICE", service},
                {"LIMIT", "log_rate_limit"},
                {"SUPPRESSED", std::to_string(window.suppressed)}}});
  window.suppressed = 0;
}

}  // namespace socketd
