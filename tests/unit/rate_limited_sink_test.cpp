// RateLimitedSink with a hand-driven clock: each severity has its own budget
// per service and second, one-time records and records without a service
// always pass, and the summary counts what was held back, by severity.
#include "log/rate_limited_sink.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace socketd {
namespace {

using namespace std::chrono_literals;

struct Collect final : LogSink {
  std::vector<LogRecord> records;
  void write(const LogRecord& record) noexcept override { records.push_back(record); }
  size_t count(LogLevel level, LogEvent event) const {
    size_t n = 0;
    for (const auto& r : records) n += r.level == level && r.event == event;
    return n;
  }
};

struct Fixture {
  Collect out;
  Clock::time_point now = Clock::time_point{} + 1h;
  RateLimitedSink sink{out, 3, [this] { return now; }};

  void write(LogLevel level, std::string service = "chat", bool once = false) {
    LogRecord record{level, LogEvent::kGeneric, "m", {}};
    if (!service.empty()) record.fields.push_back({"SERVICE", service});
    record.once = once;
    sink.write(record);
  }
};

TEST(RateLimitedSink, InfoFloodDoesNotHideWarningsOrErrors) {
  Fixture f;
  for (int i = 0; i < 100; ++i) f.write(LogLevel::kInfo);
  f.write(LogLevel::kWarning);
  f.write(LogLevel::kError);
  EXPECT_EQ(f.out.count(LogLevel::kInfo, LogEvent::kGeneric), 3u);
  EXPECT_EQ(f.out.count(LogLevel::kWarning, LogEvent::kGeneric), 1u);
  EXPECT_EQ(f.out.count(LogLevel::kError, LogEvent::kGeneric), 1u);
  EXPECT_FALSE(f.sink.admits(LogLevel::kInfo, "chat"));
  EXPECT_TRUE(f.sink.admits(LogLevel::kWarning, "chat"));
}

TEST(RateLimitedSink, EachSeverityHasItsOwnBudget) {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.write(LogLevel::kWarning);
  for (int i = 0; i < 10; ++i) f.write(LogLevel::kError);
  EXPECT_EQ(f.out.count(LogLevel::kWarning, LogEvent::kGeneric), 3u);
  EXPECT_EQ(f.out.count(LogLevel::kError, LogEvent::kGeneric), 3u);
}

TEST(RateLimitedSink, OneTimeRecordsAlwaysPass) {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.write(LogLevel::kError);
  f.write(LogLevel::kError, "chat", /*once=*/true);
  EXPECT_EQ(f.out.count(LogLevel::kError, LogEvent::kGeneric), 4u);
}

TEST(RateLimitedSink, RecordsWithoutServiceAlwaysPass) {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.write(LogLevel::kInfo, "");
  EXPECT_EQ(f.out.count(LogLevel::kInfo, LogEvent::kGeneric), 10u);
}

TEST(RateLimitedSink, SummaryCountsBySeverityAndBudgetsRefill) {
  Fixture f;
  for (int i = 0; i < 8; ++i) f.write(LogLevel::kInfo);
  for (int i = 0; i < 5; ++i) f.write(LogLevel::kWarning);
  f.sink.tick();
  EXPECT_EQ(f.out.count(LogLevel::kWarning, LogEvent::kLimitHit), 0u) << "second not over";
  f.now += 1s;
  f.sink.tick();
  ASSERT_EQ(f.out.count(LogLevel::kWarning, LogEvent::kLimitHit), 1u);
  const auto& summary = f.out.records.back();
  EXPECT_NE(summary.message.find("7 log records suppressed (2 warning, 5 info;"), std::string::npos)
      << summary.message;
  f.write(LogLevel::kInfo);
  EXPECT_EQ(f.out.count(LogLevel::kInfo, LogEvent::kGeneric), 4u);
}

TEST(RateLimitedSink, ServicesHaveSeparateBudgets) {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.write(LogLevel::kInfo, "a");
  for (int i = 0; i < 10; ++i) f.write(LogLevel::kInfo, "b");
  EXPECT_EQ(f.out.count(LogLevel::kInfo, LogEvent::kGeneric), 6u);
}

}  // namespace
}  // namespace socketd
