#include "log/rate_limited_sink.hpp"

#include <numeric>

namespace socketd {
namespace {
constexpr auto kWindow = std::chrono::seconds(1);

const std::string* service_of(const LogRecord& record) {
  for (const auto& field : record.fields) {
    if (field.key == "SERVICE") return &field.value;
  }
  return nullptr;
}

size_t slot(LogLevel level) {
  const int i = static_cast<int>(level) - static_cast<int>(LogLevel::kError);
  return i < 0 ? 0 : i > 4 ? 4 : static_cast<size_t>(i);
}

const char* level_name(size_t slot) {
  static constexpr const char* kNames[] = {"error", "warning", "notice", "info", "debug"};
  return kNames[slot];
}
}  // namespace

void RateLimitedSink::write(const LogRecord& record) noexcept {
  const bool limited =
      per_second_ != 0 && !record.once && record.event != LogEvent::kDatagramSummary;
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
  const size_t i = slot(record.level);
  if (window.passed[i] < per_second_) {
    ++window.passed[i];
    next_.write(record);
  } else {
    ++window.suppressed[i];
    ++suppressed_total_;
  }
}

bool RateLimitedSink::admits(LogLevel level, std::string_view service) noexcept {
  if (per_second_ == 0) return true;
  const auto it = windows_.find(service);
  if (it == windows_.end()) return true;
  return it->second.passed[slot(level)] < per_second_ || now_() - it->second.start >= kWindow;
}

void RateLimitedSink::tick() noexcept {
  const auto now = now_();
  for (auto& [service, window] : windows_) {
    if (now - window.start >= kWindow) {
      summarise(service, window);
      window = Window{now};
    }
  }
  next_.tick();
}

void RateLimitedSink::summarise(const std::string& service, Window& window) {
  const uint64_t total =
      std::accumulate(window.suppressed.begin(), window.suppressed.end(), uint64_t{0});
  if (total == 0) return;
  std::string by_level;
  for (size_t i = 0; i < kLevels; ++i) {
    if (window.suppressed[i] == 0) continue;
    by_level +=
        (by_level.empty() ? "" : ", ") + std::to_string(window.suppressed[i]) + " " + level_name(i);
  }
  next_.write(
      {LogLevel::kWarning,
       LogEvent::kLimitHit,
       service + ": " + std::to_string(total) + " log records suppressed (" + by_level +
           "; more than " + std::to_string(per_second_) +
           "/s of one severity; raise [daemon] log_rate_limit to see them all)",
       {{"SERVICE", service}, {"LIMIT", "log_rate_limit"}, {"SUPPRESSED", std::to_string(total)}}});
  window.suppressed = {};
}

}  // namespace socketd
