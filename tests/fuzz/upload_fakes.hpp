// Fakes shared by the upload fuzz targets (fuzz_upload, fuzz_stream_upload):
// the unit tests' recording Reply (support/session_driver.hpp), which notes
// anything sent after close() and forwards wakes to the session, and their
// in-memory UploadTarget (support/memory_upload_target.hpp), with its
// protocol checks turned into fuzz failures.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fuzz_input.hpp"
#include "service/session.hpp"
#include "support/memory_upload_target.hpp"
#include "support/session_driver.hpp"

namespace socketd::fuzz {

using test::MemoryUploadLog;

using test::RecordingReply;  // wake_session: where wakes go, as the connection does

// A log whose target-protocol violations (append or commit after commit or
// abandon, abandon twice or after a successful commit, append while full)
// are fuzz failures.
inline void fail_on_violations(MemoryUploadLog& log) {
  log.on_violation = [](const std::string& what) { fuzz_check(false, "target protocol: " + what); };
}

// The target's behaviour from an upload fuzz input's first bytes, the same in
// both upload fuzzers: flag 1, the open fails with `open_error`; flag 2, the
// commit fails; flag 32, operations stay pending (at most two appends) until
// completed; the `fail_append`-th append fails (0: none). Also makes the
// target's protocol violations fuzz failures.
inline void configure_target(MemoryUploadLog& log, uint8_t flags, uint8_t fail_append,
                             std::error_code open_error) {
  fail_on_violations(log);
  log.async = flags & 32;
  log.max_pending_appends = 2;
  if (flags & 1) log.open_error = open_error;
  if (flags & 2) log.commit_error = std::make_error_code(std::errc::io_error);
  log.fail_append_number = fail_append;
}

// Async inputs: a chunk length byte of kComplete finishes one pending target
// operation instead of carrying data.
inline constexpr uint8_t kComplete = 0xFF;

// Before a read, as the connection does: complete pending operations while the
// session takes no input. A session that waits with nothing pending is stuck.
inline void wait_for_input(const Session& session, MemoryUploadLog& log) {
  while (!session.accepts_input()) {
    fuzz_check(log.complete_next(), "the session takes no input, but nothing is pending");
  }
}

}  // namespace socketd::fuzz
