// AsyncSink against a wrapped sink that blocks until the test lets it go:
// write() returns while the log thread is stuck, a full queue drops and
// counts, exactly one drop summary follows, flush() honours its deadline, and
// a stuck log thread does not hang the destructor. Every wait is on a
// condition with a deadline.
#include "log/async_sink.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace socketd {
namespace {

using namespace std::chrono_literals;
constexpr auto kDeadline = 10s;

// What the gated sink saw; shared with the test, so it outlives the sink
// (a detached log thread may destroy the sink at any time).
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  uint64_t permits = UINT64_MAX;  // writes allowed to complete
  size_t entered = 0;             // writes begun
  std::vector<LogRecord> written;
  size_t ticks = 0;
  std::thread::id writer;
  bool destroyed = false;

  void close() {
    std::lock_guard lock(mutex);
    permits = 0;
  }
  void allow(uint64_t n) {
    std::lock_guard lock(mutex);
    permits = n == UINT64_MAX ? n : permits + n;
    changed.notify_all();
  }
  void open() { allow(UINT64_MAX); }
  template <class Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, kDeadline, [&] { return pred(*this); });
  }
  std::vector<LogRecord> records() {
    std::lock_guard lock(mutex);
    return written;
  }
};

class GatedSink final : public LogSink {
 public:
  explicit GatedSink(std::shared_ptr<Gate> gate) : gate_(std::move(gate)) {}
  ~GatedSink() override {
    std::lock_guard lock(gate_->mutex);
    gate_->destroyed = true;
    gate_->changed.notify_all();
  }
  void write(const LogRecord& record) noexcept override {
    std::unique_lock lock(gate_->mutex);
    gate_->writer = std::this_thread::get_id();
    ++gate_->entered;
    gate_->changed.notify_all();
    gate_->changed.wait(lock, [&] { return gate_->permits > 0; });
    if (gate_->permits != UINT64_MAX) --gate_->permits;
    gate_->written.push_back(record);
    gate_->changed.notify_all();
  }
  void tick() noexcept override {
    std::lock_guard lock(gate_->mutex);
    gate_->writer = std::this_thread::get_id();
    ++gate_->ticks;
    gate_->changed.notify_all();
  }

 private:
  std::shared_ptr<Gate> gate_;
};

LogRecord record(int i) {
  return {LogLevel::kInfo, LogEvent::kConnectionOpened, "record " + std::to_string(i),
          {{"SERVICE", "chat"}, {"PEER", "127.0.0.1:" + std::to_string(i)}}};
}

std::string field(const LogRecord& r, std::string_view key) {
  for (const auto& f : r.fields) {
    if (f.key == key) return f.value;
  }
  return "(none)";
}

size_t summaries(const std::vector<LogRecord>& records) {
  return static_cast<size_t>(std::count_if(records.begin(), records.end(), [](const LogRecord& r) {
    return r.event == LogEvent::kLogDropped;
  }));
}

struct Fixture {
  explicit Fixture(AsyncSink::Limits limits = {})
      : gate(std::make_shared<Gate>()),
        sink(std::make_unique<GatedSink>(gate), limits) {}
  // Closes the gate, writes record 0 and waits until the log thread is
  // blocked inside the wrapped sink's write().
  void block_log_thread() {
    gate->close();
    sink.write(record(0));
    ASSERT_TRUE(gate->wait([](Gate& g) { return g.entered == 1; }))
        << "the log thread never called the wrapped sink";
  }
  std::shared_ptr<Gate> gate;
  AsyncSink sink;
};

TEST(AsyncSink, WritesInOrderOnTheLogThread) {
  Fixture f;
  for (int i = 0; i < 100; ++i) f.sink.write(record(i));
  ASSERT_TRUE(f.sink.flush(kDeadline));
  const auto written = f.gate->records();
  ASSERT_EQ(written.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(written[static_cast<size_t>(i)].message, "record " + std::to_string(i));
    EXPECT_EQ(field(written[static_cast<size_t>(i)], "PEER"), "127.0.0.1:" + std::to_string(i));
  }
  EXPECT_NE(f.gate->writer, std::this_thread::get_id());
  EXPECT_EQ(f.sink.dropped_total(), 0u);
}

TEST(AsyncSink, WriteReturnsWhileTheWrappedSinkIsBlocked) {
  Fixture f;
  f.block_log_thread();
  // Were write() waiting for the log thread, this would never return.
  for (int i = 1; i <= 1000; ++i) f.sink.write(record(i));
  EXPECT_EQ(f.sink.dropped_total(), 0u);
  EXPECT_FALSE(f.sink.flush(50ms)) << "flush() claims a blocked log was written";
  {
    std::lock_guard lock(f.gate->mutex);
    EXPECT_EQ(f.gate->written.size(), 0u);
  }
  f.gate->open();
  EXPECT_TRUE(f.sink.flush(kDeadline));
  const auto written = f.gate->records();
  ASSERT_EQ(written.size(), 1001u);
  EXPECT_EQ(written.back().message, "record 1000");
  EXPECT_EQ(summaries(written), 0u);
}

TEST(AsyncSink, FullQueueDropsCountsAndSummarisesOnce) {
  Fixture f({.max_records = 8, .max_bytes = AsyncSink::kMaxBytes});
  f.block_log_thread();  // record 0 is being written: it counts against the 8
  for (int i = 1; i <= 20; ++i) f.sink.write(record(i));
  EXPECT_EQ(f.sink.dropped_total(), 13u);  // 1..7 queued, 8..20 dropped
  EXPECT_FALSE(f.sink.flush(20ms));

  f.gate->open();
  ASSERT_TRUE(f.sink.flush(kDeadline));
  auto written = f.gate->records();
  ASSERT_EQ(written.size(), 9u);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(written[i].message, "record " + std::to_string(i));
  const LogRecord& summary = written[8];
  EXPECT_EQ(summary.event, LogEvent::kLogDropped);
  EXPECT_EQ(summary.level, LogLevel::kWarning);
  EXPECT_EQ(field(summary, "DROPPED"), "13");
  EXPECT_NE(summary.message.find("13 log records dropped"), std::string::npos) << summary.message;
  EXPECT_NE(summary.message.find("not being read"), std::string::npos) << summary.message;

  // Later records are written normally, with no further summary.
  f.sink.write(record(21));
  ASSERT_TRUE(f.sink.flush(kDeadline));
  written = f.gate->records();
  ASSERT_EQ(written.size(), 10u);
  EXPECT_EQ(written.back().message, "record 21");
  EXPECT_EQ(summaries(written), 1u);
  EXPECT_EQ(f.sink.dropped_total(), 13u);
}

TEST(AsyncSink, TheByteBoundDropsToo) {
  const size_t one = AsyncSink::footprint(record(0));
  Fixture f({.max_records = 1000, .max_bytes = 3 * one});
  f.block_log_thread();
  for (int i = 1; i <= 10; ++i) f.sink.write(record(i));  // same size as record 0
  EXPECT_EQ(f.sink.dropped_total(), 8u);
  f.gate->open();
  ASSERT_TRUE(f.sink.flush(kDeadline));
  const auto written = f.gate->records();
  ASSERT_EQ(written.size(), 4u);
  EXPECT_EQ(written[2].message, "record 2");
  EXPECT_EQ(field(written[3], "DROPPED"), "8");
}

TEST(AsyncSink, TheSummaryStandsWhereTheRecordsWentMissing) {
  Fixture f({.max_records = 2, .max_bytes = AsyncSink::kMaxBytes});
  f.block_log_thread();
  f.sink.write(record(1));  // queued
  f.sink.write(record(2));  // dropped
  EXPECT_EQ(f.sink.dropped_total(), 1u);
  // Let record 0 through; the log thread then blocks in record 1, so there
  // is room again before it could report the drop.
  f.gate->allow(1);
  ASSERT_TRUE(f.gate->wait([](Gate& g) { return g.entered == 2; }));
  f.sink.write(record(3));
  f.gate->open();
  ASSERT_TRUE(f.sink.flush(kDeadline));
  const auto written = f.gate->records();
  ASSERT_EQ(written.size(), 4u);
  EXPECT_EQ(written[0].message, "record 0");
  EXPECT_EQ(written[1].message, "record 1");
  EXPECT_EQ(written[2].event, LogEvent::kLogDropped);
  EXPECT_EQ(field(written[2], "DROPPED"), "1");
  EXPECT_NE(written[2].message.find("1 log record dropped"), std::string::npos);
  EXPECT_EQ(written[3].message, "record 3");
}

TEST(AsyncSink, TickReachesTheWrappedSinkOnTheLogThread) {
  Fixture f;
  f.sink.tick();
  ASSERT_TRUE(f.gate->wait([](Gate& g) { return g.ticks == 1; }));
  std::lock_guard lock(f.gate->mutex);
  EXPECT_NE(f.gate->writer, std::this_thread::get_id());
}

TEST(AsyncSink, AdmitsAlwaysSoDropsAreCountedNotMisreported) {
  Fixture f({.max_records = 1, .max_bytes = AsyncSink::kMaxBytes});
  f.block_log_thread();
  EXPECT_TRUE(f.sink.admits(LogLevel::kInfo, "chat"));
  f.gate->open();
}

TEST(AsyncSink, TheDestructorWritesWhatIsQueued) {
  auto gate = std::make_shared<Gate>();
  {
    AsyncSink sink(std::make_unique<GatedSink>(gate));
    for (int i = 0; i < 50; ++i) sink.write(record(i));
  }
  EXPECT_EQ(gate->records().size(), 50u);
  EXPECT_TRUE(gate->destroyed);
}

TEST(AsyncSink, TheDestructorDoesNotWaitForAStuckLogThread) {
  auto gate = std::make_shared<Gate>();
  const auto start = std::chrono::steady_clock::now();
  {
    AsyncSink sink(std::make_unique<GatedSink>(gate));
    gate->close();
    sink.write(record(0));
    ASSERT_TRUE(gate->wait([](Gate& g) { return g.entered == 1; }));
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, AsyncSink::kStopDeadline + 5s);
  // The detached thread still owns the sink; let it finish and clean up.
  gate->open();
  EXPECT_TRUE(gate->wait([](Gate& g) { return g.destroyed; }));
  EXPECT_EQ(gate->records().size(), 1u);
}

}  // namespace
}  // namespace socketd
