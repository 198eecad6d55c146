// Fakes shared by the upload fuzz targets (fuzz_upload, fuzz_stream_upload):
// a Reply that records what was sent, checks nothing is sent after close()
// and forwards wakes to the session; the in-memory UploadTarget is the one
// of the unit tests (support/memory_upload_target.hpp), with its protocol
// checks turned into fuzz failures.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "service/session.hpp"
#include "support/memory_upload_target.hpp"

namespace socketd::fuzz {

using test::MemoryUploadLog;

class RecordingReply final : public Reply {
 public:
  void send(std::string_view first, std::string_view second) override {
    fuzz_check(!closed, "send after close(): \"" + printable(first) + "\"");
    sent.push_back(std::string(first) + std::string(second));
  }
  void close() override { closed = true; }
  // What the connection does when the target's work completes.
  std::function<void()> waker() override {
    return [this] {
      if (session != nullptr) session->on_wake(*this);
    };
  }

  std::vector<std::string> sent;
  bool closed = false;
  Session* session = nullptr;
};

// A log whose target-protocol violations (append or commit after commit or
// abandon, abandon twice or after a successful commit, append while full)
// are fuzz failures.
inline void fail_on_violations(MemoryUploadLog& log) {
  log.on_violation = [](const std::string& what) { fuzz_check(false, "target protocol: " + what); };
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
