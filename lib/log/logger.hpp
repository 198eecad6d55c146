// Logging: a LogRecord (one event with its structured fields) goes through
// Logger, which filters by level and hands it to a LogSink. The lib only has
// the stderr sink; the daemon adds the journal sink.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "log/log_level.hpp"

namespace socketd {

// Every kind of record; each has a fixed journal MESSAGE_ID.
enum class LogEvent {
  kGeneric,
  kStarted,
  kReloaded,
  kReloadFailed,
  kConnectionOpened,
  kConnectionClosed,
  kUploadFinished,
  kUploadIncomplete,
  kDatagram,
  kDatagramSummary,  // per-second totals of a udp-log service; never rate limited
  kLimitHit,
  kStopping,
  kLogDropped,     // records an AsyncSink dropped because its queue was full
  kUploadRefused,  // a stream upload refused before anything was stored
  kExecExited,     // an exec-mode handler exited (status, run time, bytes)
  kExecStderr,     // one line an exec-mode handler wrote to its stderr
};

struct LogField {
  // Journal field name without the SOCKETD_ prefix, e.g. "PEER". A string
  // literal: records are copied to the log thread (AsyncSink), key and all.
  std::string_view key;
  std::string value;
};

struct LogRecord {
  LogLevel level = LogLevel::kInfo;
  LogEvent event = LogEvent::kGeneric;
  std::string message;  // human-readable; must already be escaped if untrusted
  std::vector<LogField> fields;
  // A record its emitter writes once per episode (fd exhaustion began, a
  // limit was first hit): never rate limited, since nothing repeats it.
  bool once = false;
};

class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void write(const LogRecord& record) noexcept = 0;
  // About once a second, for sinks that summarise or flush.
  virtual void tick() noexcept {}
  // Whether a record of `service` written now would be passed on, so a caller
  // can skip building a record that would only be thrown away.
  virtual bool admits(LogLevel /*level*/, std::string_view /*service*/) noexcept { return true; }
};

// Human-readable lines on stderr, one per record. With JOURNAL_STREAM
// set (stderr connected to journald) each line starts with "<N>" so journald
// keeps the priority.
class StderrSink final : public LogSink {
 public:
  StderrSink();
  void write(const LogRecord& record) noexcept override;
  static std::string format(const LogRecord& record, bool priority_prefix);

 private:
  bool priority_prefix_;
};

class Logger {
 public:
  Logger(LogSink& sink, LogLevel level) : sink_(&sink), level_(level) {}
  bool enabled(LogLevel level) const { return level <= level_; }
  void set_level(LogLevel level) { level_ = level; }
  void set_sink(LogSink& sink) { sink_ = &sink; }
  void log(const LogRecord& record) noexcept {
    if (enabled(record.level)) sink_->write(record);
  }
  void tick() noexcept { sink_->tick(); }
  // enabled(level), and the sink would pass a record of `service` now.
  bool admits(LogLevel level, std::string_view service) noexcept {
    return enabled(level) && sink_->admits(level, service);
  }
  void log(LogLevel level, std::string message) noexcept {
    log(LogRecord{level, LogEvent::kGeneric, std::move(message), {}});
  }

 private:
  LogSink* sink_;
  LogLevel level_;
};

}  // namespace socketd
