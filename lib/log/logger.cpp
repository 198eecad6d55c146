#include "log/logger.hpp"

#include <unistd.h>

#include <cstdlib>

namespace socketd {

StderrSink::StderrSink() : priority_prefix_(std::getenv("JOURNAL_STREAM") != nullptr) {}

std::string StderrSink::format(const LogRecord& record, bool priority_prefix) {
  std::string line;
  if (priority_prefix) {
    line = "<" + std::to_string(static_cast<int>(record.level)) + ">";
  }
  // The message already says what the fields say; fields are for the journal.
  line += record.message;
  line += '\n';
  return line;
}

void StderrSink::write(const LogRecord& record) noexcept {
  const std::string line = format(record, priority_prefix_);
  // One write per record so concurrent writers never interleave a line.
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace socketd
