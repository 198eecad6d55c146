// UploadSession over an in-memory UploadTarget: acks, end word, byte-identical
// data however split, abandon exactly once, failures, max_bytes.
#include "service/upload.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "service/session.hpp"
#include "support/memory_upload_target.hpp"
#include "support/session_driver.hpp"
#include "support/upload_completion.hpp"

namespace socketd {
namespace {

using test::all_splits;
using test::Completion;
using test::configure;
using test::describe;
using test::feed;
using test::feed_as;
using test::kCompletions;
using test::memory_opener;
using test::MemoryUploadLog;
using test::record_results;
using test::RecordingReply;

// The shared in-memory target (support/memory_upload_target.hpp): `storage`
// is what it did; every test also checks that the session kept the target
// protocol (nothing after commit or abandon, each at most once).
struct Harness {
  explicit Harness(UploadOptions opts = {}) : options(opts) {}
  ~Harness() {
    for (const auto& v : storage.violations) ADD_FAILURE() << "target protocol: " << v;
  }
  UploadSession make() {
    return UploadSession(options, memory_opener(storage), record_results(storage));
  }
  UploadOptions options;
  MemoryUploadLog storage;
};

std::string repeat(std::string_view word, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += word;
  return out;
}

// A file as the classic sender sends it: lines with their endings, binary
// bytes, a NUL; never containing the end word.
const std::string kFile = std::string("first line\n") + std::string("\0bin\xff\xfe\r\n", 8) + "\n" +
                          "last line, no newline";

TEST(UploadSessionTest, NothingIsOpenedWhenNoDataArrives) {
  Harness h;
  auto session = h.make();
  RecordingReply reply;
  session.on_open(reply);
  session.on_eof(reply);
  session.on_close();
  EXPECT_EQ(h.storage.opens, 0);
  EXPECT_EQ(h.storage.abandons, 0);
  EXPECT_TRUE(h.storage.results.empty());
  EXPECT_TRUE(reply.bytes.empty());
  EXPECT_EQ(reply.close_calls, 1);
}

TEST(UploadSessionTest, NothingIsOpenedOnCloseWithoutData) {
  Harness h;
  {
    auto session = h.make();
    session.on_close();
  }
  EXPECT_EQ(h.storage.opens, 0);
  EXPECT_TRUE(h.storage.results.empty());
}

TEST(UploadSessionTest, EveryChunkIsAppendedAndAckedWithTheAckWord) {
  Harness h;
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "line one\n");
  EXPECT_EQ(reply.sends, std::vector<std::string>{"success"});
  feed(session, reply, "line two\n");
  feed(session, reply, "x");
  EXPECT_EQ(reply.sends, (std::vector<std::string>{"success", "success", "success"}));
  EXPECT_EQ(h.storage.data, "line one\nline two\nx");
  EXPECT_EQ(h.storage.opens, 1);
  EXPECT_EQ(h.storage.commits, 0);
  EXPECT_EQ(reply.close_calls, 0);
}

TEST(UploadSessionTest, EndWordCommitsSendsOneMoreAckAndCloses) {
  Harness h;
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "a\n");
  feed(session, reply, "bb\n");
  feed(session, reply, "quit");
  EXPECT_EQ(h.storage.commits, 1);
  EXPECT_EQ(h.storage.abandons, 0);
  EXPECT_EQ(h.storage.data, "a\nbb\n") << "the end word is not data";
  EXPECT_EQ(reply.sends, (std::vector<std::string>{"success", "success", "success"}));
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_FALSE(reply.sent_after_close);
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kFinished);
  EXPECT_EQ(h.storage.results[0].bytes, 5u);
  EXPECT_EQ(h.storage.results[0].file, "upload-1");

  // Nothing after the end word changes anything, and the close that follows
  // must not turn the finished upload into an incomplete one.
  feed(session, reply, "late");
  session.on_eof(reply);
  session.on_close();
  EXPECT_EQ(h.storage.data, "a\nbb\n");
  EXPECT_EQ(h.storage.abandons, 0);
  EXPECT_EQ(h.storage.commits, 1);
  EXPECT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(reply.sends.size(), 3u);
}

TEST(UploadSessionTest, OnlyAChunkExactlyEqualToTheEndWordEndsTheUpload) {
  for (std::string_view chunk : {"quit\n", "quit\r\n", "quit ", " quit", "QUIT", "quitx", "qui"}) {
    Harness h;
    auto session = h.make();
    RecordingReply reply;
    feed(session, reply, chunk);
    EXPECT_EQ(h.storage.commits, 0) << chunk;
    EXPECT_EQ(h.storage.data, chunk);
    EXPECT_EQ(reply.sends, std::vector<std::string>{"success"});
    EXPECT_EQ(reply.close_calls, 0);
  }
}

TEST(UploadSessionTest, EndWordAloneFinishesAnEmptyUpload) {
  Harness h;
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "quit");
  EXPECT_EQ(h.storage.commits, 1);
  EXPECT_EQ(reply.sends, std::vector<std::string>{"success"});
  EXPECT_EQ(reply.close_calls, 1);
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kFinished);
  EXPECT_EQ(h.storage.results[0].bytes, 0u);
}

TEST(UploadSessionTest, ConfiguredAckAndEndWords) {
  UploadOptions options;
  options.ack_word = "ok";
  options.end_word = "done";
  Harness h(options);
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "quit");
  feed(session, reply, "done");
  EXPECT_EQ(h.storage.data, "quit");
  EXPECT_EQ(reply.sends, (std::vector<std::string>{"ok", "ok"}));
  EXPECT_EQ(h.storage.commits, 1);
  EXPECT_EQ(reply.close_calls, 1);
}

TEST(UploadSessionTest, DataArrivesByteIdenticalHoweverSplit) {
  const auto splits = all_splits(kFile);
  ASSERT_GT(splits.size(), 500u);
  for (const Completion c : kCompletions) {
    for (const auto& pieces : splits) {
      SCOPED_TRACE(describe(c));
      Harness h;
      configure(h.storage, c);
      auto session = h.make();
      RecordingReply reply;
      reply.wake_session = &session;
      for (const auto& piece : pieces) feed_as(c, session, reply, h.storage, piece);
      feed_as(c, session, reply, h.storage, "quit");
      h.storage.complete_all();
      session.on_close();
      ASSERT_EQ(h.storage.data, kFile) << describe(pieces);
      ASSERT_EQ(reply.bytes, repeat("success", pieces.size() + 1)) << describe(pieces);
      ASSERT_EQ(reply.sends.size(), pieces.size() + 1) << "one ack per chunk: " << describe(pieces);
      ASSERT_EQ(h.storage.opens, 1);
      ASSERT_EQ(h.storage.commits, 1);
      ASSERT_EQ(h.storage.abandons, 0);
      ASSERT_EQ(reply.close_calls, 1);
      ASSERT_FALSE(reply.sent_after_close);
      ASSERT_EQ(h.storage.results.size(), 1u);
      ASSERT_EQ(h.storage.results[0].state, UploadResult::State::kFinished);
      ASSERT_EQ(h.storage.results[0].bytes, kFile.size());
      ASSERT_EQ(h.storage.results[0].file, "upload-1");
    }
  }
}

TEST(UploadSessionTest, EofBeforeEndWordAbandonsExactlyOnceHoweverSplit) {
  for (const Completion c : kCompletions) {
    for (const auto& pieces : all_splits(kFile)) {
      SCOPED_TRACE(describe(c));
      Harness h;
      configure(h.storage, c);
      auto session = h.make();
      RecordingReply reply;
      reply.wake_session = &session;
      for (const auto& piece : pieces) feed_as(c, session, reply, h.storage, piece);
      // Lazy: the last chunk is not stored yet, so its ack is owed when the
      // FIN comes; it is never sent, since the upload is incomplete.
      const bool ack_owed = c == Completion::kLazy;
      session.on_eof(reply);
      ASSERT_EQ(h.storage.pending(), 0u) << "abandon drops (and keeps) what was pending";
      session.on_close();  // the connection's last call always follows
      ASSERT_EQ(h.storage.data, kFile) << describe(pieces);
      ASSERT_EQ(h.storage.commits, 0);
      ASSERT_EQ(h.storage.abandons, 1) << describe(pieces);
      ASSERT_EQ(reply.close_calls, 1);
      ASSERT_EQ(reply.bytes, repeat("success", pieces.size() - (ack_owed ? 1 : 0)))
          << "no ack for the EOF";
      ASSERT_EQ(h.storage.results.size(), 1u);
      ASSERT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
      ASSERT_EQ(h.storage.results[0].bytes, kFile.size());
      ASSERT_EQ(h.storage.results[0].file, "upload-1.incomplete");
      ASSERT_FALSE(h.storage.results[0].reason.empty());
    }
  }
}

TEST(UploadSessionTest, CloseWithoutEofBeforeEndWordAbandonsExactlyOnce) {
  Harness h;
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "partial");
  session.on_close();
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 1);
  EXPECT_EQ(h.storage.commits, 0);
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
  EXPECT_EQ(h.storage.results[0].bytes, 7u);
}

TEST(UploadSessionTest, DataAfterEofIsIgnored) {
  Harness h;
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "a");
  session.on_eof(reply);
  feed(session, reply, "quit");
  EXPECT_EQ(h.storage.commits, 0) << "an abandoned upload is never committed";
  EXPECT_EQ(h.storage.abandons, 1);
  EXPECT_EQ(reply.sends.size(), 1u);
}

TEST(UploadSessionTest, AppendFailureRepliesErrorAndLeavesIncompleteOnce) {
  Harness h;
  h.storage.fail_append_number = 2;
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "one\n");
  feed(session, reply, "two\n");
  EXPECT_EQ(reply.close_calls, 1);
  ASSERT_EQ(reply.sends.size(), 2u);
  EXPECT_EQ(reply.sends[0], "success");
  EXPECT_TRUE(reply.sends[1].starts_with("error: ")) << reply.sends[1];
  EXPECT_NE(reply.sends[1].find(std::make_error_code(std::errc::no_space_on_device).message()),
            std::string::npos)
      << reply.sends[1];
  EXPECT_EQ(h.storage.abandons, 1);
  EXPECT_EQ(h.storage.commits, 0);
  feed(session, reply, "quit");
  session.on_eof(reply);
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 1);
  EXPECT_EQ(h.storage.commits, 0);
  EXPECT_FALSE(reply.sent_after_close);
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
  EXPECT_EQ(h.storage.results[0].bytes, 4u) << "only what was stored";
  EXPECT_FALSE(h.storage.results[0].reason.empty());
}

TEST(UploadSessionTest, CommitFailureRepliesErrorInsteadOfAckAndLeavesIncomplete) {
  Harness h;
  h.storage.commit_error = std::make_error_code(std::errc::io_error);
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "data\n");
  feed(session, reply, "quit");
  EXPECT_EQ(h.storage.commits, 1);
  EXPECT_EQ(h.storage.abandons, 1);
  ASSERT_EQ(reply.sends.size(), 2u);
  EXPECT_EQ(reply.sends[0], "success");
  EXPECT_TRUE(reply.sends[1].starts_with("error: ")) << reply.sends[1];
  EXPECT_EQ(reply.close_calls, 1);
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 1);
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
  EXPECT_EQ(h.storage.results[0].file, "upload-1.incomplete");
}

TEST(UploadSessionTest, OpenFailureRepliesErrorAndCloses) {
  Harness h;
  h.storage.open_error = std::make_error_code(std::errc::permission_denied);
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "data");
  EXPECT_EQ(h.storage.opens, 1);
  ASSERT_EQ(reply.sends.size(), 1u);
  EXPECT_TRUE(reply.sends[0].starts_with("error: ")) << reply.sends[0];
  EXPECT_NE(reply.sends[0].find(std::make_error_code(std::errc::permission_denied).message()),
            std::string::npos);
  EXPECT_EQ(reply.close_calls, 1);
  feed(session, reply, "more");
  session.on_eof(reply);
  session.on_close();
  EXPECT_EQ(h.storage.opens, 1) << "no retry after the failure";
  EXPECT_EQ(reply.sends.size(), 1u);
  EXPECT_FALSE(reply.sent_after_close);
}

TEST(UploadSessionTest, MaxBytesAllowsExactlyTheLimit) {
  UploadOptions options;
  options.max_bytes = 10;
  Harness h(options);
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "1234");
  feed(session, reply, "567890");
  feed(session, reply, "quit");
  EXPECT_EQ(h.storage.data, "1234567890");
  EXPECT_EQ(reply.bytes, "successsuccesssuccess");
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kFinished);
}

TEST(UploadSessionTest, MaxBytesExceededRepliesErrorAndLeavesIncomplete) {
  UploadOptions options;
  options.max_bytes = 10;
  Harness h(options);
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "1234");
  feed(session, reply, "5678901");
  EXPECT_EQ(h.storage.data, "1234") << "the chunk that crosses the limit is not stored";
  ASSERT_EQ(reply.sends.size(), 2u);
  EXPECT_EQ(reply.sends[0], "success");
  EXPECT_TRUE(reply.sends[1].starts_with("error: ")) << reply.sends[1];
  EXPECT_NE(reply.sends[1].find("10"), std::string::npos) << "names the limit";
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_EQ(h.storage.abandons, 1);
  feed(session, reply, "quit");
  session.on_close();
  EXPECT_EQ(h.storage.commits, 0);
  EXPECT_EQ(h.storage.abandons, 1);
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
}

TEST(UploadSessionTest, MaxBytesZeroMeansUnlimited) {
  Harness h;
  ASSERT_EQ(h.options.max_bytes, 0u);
  auto session = h.make();
  RecordingReply reply;
  const std::string big(1 << 20, 'z');
  for (int i = 0; i < 8; ++i) feed(session, reply, big);
  feed(session, reply, "quit");
  EXPECT_EQ(h.storage.data.size(), 8u << 20);
  EXPECT_EQ(reply.bytes, repeat("success", 9));
}

TEST(UploadSessionTest, WorksWithoutAFinishedCallback) {
  const UploadOptions options;
  MemoryUploadLog storage;
  UploadSession session(options, memory_opener(storage), nullptr);
  RecordingReply reply;
  feed(session, reply, "x");
  session.on_close();
  EXPECT_EQ(storage.abandons, 1) << "a missing callback must not skip the abandon";
}

// Asynchronous targets: what the session waits for, and what it says when.
struct AsyncHarness : Harness {
  explicit AsyncHarness(UploadOptions opts = {}) : Harness(opts) {
    storage.async = true;
    storage.max_pending_appends = 2;
  }
};

TEST(UploadSessionAsyncTest, EachChunkIsAcknowledgedOnlyOnceStored) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  EXPECT_TRUE(session.accepts_input());
  feed(session, reply, "first");
  EXPECT_EQ(h.storage.opens, 1);
  EXPECT_TRUE(reply.sends.empty()) << "no ack before the file exists";
  EXPECT_FALSE(session.accepts_input()) << "nothing more is read while the file is created";
  ASSERT_TRUE(h.storage.complete_next());  // the open
  EXPECT_EQ(reply.wakes, 1);
  EXPECT_TRUE(reply.sends.empty()) << "the file exists, the chunk is not written yet";
  EXPECT_FALSE(session.accepts_input());
  ASSERT_TRUE(h.storage.complete_next());  // the append
  EXPECT_EQ(reply.sends, std::vector<std::string>{"success"});
  EXPECT_TRUE(session.accepts_input());
  feed(session, reply, "second");
  EXPECT_EQ(reply.sends.size(), 1u) << "acknowledged once stored, not once taken";
  EXPECT_FALSE(session.accepts_input()) << "the next chunk is read only after the ack";
  ASSERT_TRUE(h.storage.complete_next());
  EXPECT_EQ(reply.sends, (std::vector<std::string>{"success", "success"}));
  EXPECT_TRUE(session.accepts_input());
  EXPECT_EQ(h.storage.data, "firstsecond");
  EXPECT_EQ(reply.close_calls, 0);
}

TEST(UploadSessionAsyncTest, TheDurableAckComesOnlyAfterTheCommitCompletes) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "a\n");
  h.storage.complete_all();
  feed(session, reply, "bb\n");
  h.storage.complete_all();
  feed(session, reply, "quit");
  EXPECT_EQ(h.storage.commits, 1);
  EXPECT_EQ(reply.sends.size(), 2u) << "the end word is not acknowledged before it is durable";
  EXPECT_EQ(reply.close_calls, 0);
  EXPECT_FALSE(session.accepts_input()) << "committing";
  EXPECT_TRUE(h.storage.results.empty());
  h.storage.complete_all();
  EXPECT_EQ(reply.sends, (std::vector<std::string>{"success", "success", "success"}));
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_FALSE(reply.sent_after_close);
  EXPECT_TRUE(session.accepts_input()) << "done: nothing to wait for";
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kFinished);
  EXPECT_EQ(h.storage.results[0].bytes, 5u);
  EXPECT_EQ(h.storage.data, "a\nbb\n");
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 0);
}

TEST(UploadSessionAsyncTest, TheEndWordAsTheFirstChunkCommitsOnceTheFileExists) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "quit");
  EXPECT_EQ(h.storage.commits, 1) << "asked for at once; the target runs it after the open";
  ASSERT_TRUE(h.storage.complete_next());  // the open
  EXPECT_TRUE(reply.sends.empty());
  EXPECT_FALSE(session.accepts_input());
  ASSERT_TRUE(h.storage.complete_next());  // the commit
  EXPECT_EQ(reply.sends, std::vector<std::string>{"success"});
  EXPECT_EQ(reply.close_calls, 1);
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kFinished);
  EXPECT_EQ(h.storage.results[0].bytes, 0u);
}

TEST(UploadSessionAsyncTest, AFinWhileTheCommitIsPendingStillFinishes) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "data");
  h.storage.complete_all();
  feed(session, reply, "quit");
  session.on_eof(reply);  // the client half-closes after the end word
  EXPECT_EQ(reply.close_calls, 0) << "the durable ack is still owed";
  EXPECT_EQ(h.storage.abandons, 0);
  h.storage.complete_all();
  EXPECT_EQ(reply.sends, (std::vector<std::string>{"success", "success"}));
  EXPECT_EQ(reply.close_calls, 1);
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 0);
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kFinished);
}

TEST(UploadSessionAsyncTest, AcceptsInputOnlyWhenNothingIsOwedAndTheTargetCanTakeMore) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "1");
  EXPECT_FALSE(session.accepts_input()) << "opening";
  ASSERT_TRUE(h.storage.complete_next());
  EXPECT_FALSE(session.accepts_input()) << "open, the chunk's ack still owed";
  ASSERT_TRUE(h.storage.complete_next());
  EXPECT_TRUE(session.accepts_input()) << "stored and acknowledged";
  h.storage.max_pending_appends = 1;
  feed(session, reply, "2");
  EXPECT_FALSE(session.accepts_input()) << "the target's buffers are full";
  h.storage.complete_all();
  EXPECT_TRUE(session.accepts_input());
  feed(session, reply, "quit");
  EXPECT_FALSE(session.accepts_input()) << "committing";
  h.storage.complete_all();
  EXPECT_TRUE(session.accepts_input());
  EXPECT_EQ(h.storage.data, "12");
  EXPECT_EQ(reply.bytes, repeat("success", 3));
}

TEST(UploadSessionAsyncTest, CloseDuringAPendingCommitAbandonsOnce) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "data");
  h.storage.complete_all();
  feed(session, reply, "quit");
  session.on_close();  // reset before the file was durable
  EXPECT_EQ(h.storage.abandons, 1);
  EXPECT_FALSE(h.storage.complete_next()) << "the commit never happens";
  EXPECT_FALSE(h.storage.committed);
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 1);
  EXPECT_EQ(reply.sends, std::vector<std::string>{"success"}) << "no durable ack";
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
  EXPECT_EQ(h.storage.results[0].file, "upload-1.incomplete");
  EXPECT_EQ(h.storage.data, "data");
}

TEST(UploadSessionAsyncTest, CloseWhileOpeningAbandonsOnceAndKeepsTheBytes) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "early");
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 1);
  EXPECT_EQ(h.storage.data, "early");
  EXPECT_FALSE(h.storage.complete_next());
  EXPECT_TRUE(reply.sends.empty());
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
  EXPECT_EQ(h.storage.results[0].bytes, 5u);
}

TEST(UploadSessionAsyncTest, OpenFailureIsAnsweredWhenItIsKnown) {
  AsyncHarness h;
  h.storage.open_error = std::make_error_code(std::errc::no_space_on_device);
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "data");
  EXPECT_TRUE(reply.sends.empty());
  ASSERT_TRUE(h.storage.complete_next());
  ASSERT_EQ(reply.sends.size(), 1u);
  EXPECT_EQ(reply.sends[0], "error: cannot store upload: " +
                                std::make_error_code(std::errc::no_space_on_device).message());
  EXPECT_EQ(reply.close_calls, 1);
  session.on_eof(reply);
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 0) << "no file, nothing to abandon";
  EXPECT_TRUE(h.storage.results.empty());
  EXPECT_FALSE(reply.sent_after_close);
}

TEST(UploadSessionAsyncTest, AWriteFailureIsAnsweredWhenTheWriteCompletes) {
  AsyncHarness h;
  h.storage.fail_append_number = 2;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "one\n");
  h.storage.complete_all();
  feed(session, reply, "two\n");
  EXPECT_EQ(reply.sends, std::vector<std::string>{"success"}) << "the failure is not known yet";
  EXPECT_EQ(reply.close_calls, 0);
  ASSERT_TRUE(h.storage.complete_next());
  ASSERT_EQ(reply.sends.size(), 2u);
  EXPECT_EQ(reply.sends[1], "error: cannot write upload: " +
                                std::make_error_code(std::errc::no_space_on_device).message());
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_EQ(h.storage.abandons, 1);
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 1);
  EXPECT_EQ(h.storage.commits, 0);
  EXPECT_EQ(h.storage.data, "one\n");
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
  EXPECT_EQ(h.storage.results[0].bytes, h.storage.taken_bytes);
}

TEST(UploadSessionAsyncTest, ACommitFailureIsAnsweredInsteadOfTheDurableAck) {
  AsyncHarness h;
  h.storage.commit_error = std::make_error_code(std::errc::io_error);
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "data");
  h.storage.complete_all();
  feed(session, reply, "quit");
  session.on_eof(reply);
  EXPECT_EQ(reply.close_calls, 0);
  h.storage.complete_all();
  ASSERT_EQ(reply.sends.size(), 2u);
  EXPECT_EQ(reply.sends[1], "error: cannot make upload durable: " +
                                std::make_error_code(std::errc::io_error).message());
  EXPECT_EQ(reply.close_calls, 1);
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 1);
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
}

}  // namespace
}  // namespace socketd
