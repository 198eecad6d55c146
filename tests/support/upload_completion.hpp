// When the in-memory upload target's operations finish, for the upload
// session tests (tests/unit/upload_session_test.cpp,
// stream_upload_session_test.cpp): every scenario runs once per Completion,
// fed the way the connection reads, only while the session takes input.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "service/session.hpp"
#include "support/memory_upload_target.hpp"
#include "support/session_driver.hpp"

namespace socketd::test {

// kSync: inside each call (a memory target). kEager: the disk catches up
// after every read. kLazy: only when the connection would otherwise stop
// reading (accepts_input() false), and at the end, so the open, the appends
// and the commit stay pending as long as they can.
enum class Completion { kSync, kEager, kLazy };
inline constexpr Completion kCompletions[] = {Completion::kSync, Completion::kEager,
                                              Completion::kLazy};

inline const char* describe(Completion c) {
  switch (c) {
    case Completion::kSync:
      return "sync";
    case Completion::kEager:
      return "async, eager";
    case Completion::kLazy:
      return "async, lazy";
  }
  return "?";
}

inline void configure(MemoryUploadLog& storage, Completion c) {
  storage.async = c != Completion::kSync;
  storage.max_pending_appends = 2;  // like the file's two queued writes
}

// One read, as the connection does it: only when the session takes input.
inline void feed_as(Completion c, Session& session, RecordingReply& reply, MemoryUploadLog& storage,
                    std::string_view piece) {
  if (c == Completion::kLazy) {
    while (!session.accepts_input() && storage.complete_next()) {
    }
  }
  ASSERT_TRUE(session.accepts_input()) << "the session waits, but nothing is pending";
  feed(session, reply, piece);
  if (c == Completion::kEager) storage.complete_all();
}

// Reads of each piece in turn; stops at the first that fails.
inline void feed_as(Completion c, Session& session, RecordingReply& reply, MemoryUploadLog& storage,
                    const std::vector<std::string>& pieces) {
  for (const auto& piece : pieces) {
    feed_as(c, session, reply, storage, piece);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace socketd::test
