// StreamUploadSession over an in-memory UploadTarget: the header and the data
// split every way, the one final reply with byte count and SHA-256, refusals
// before any data, extra bytes, early EOF, target failures. Also Sha256.
#include "service/stream_upload.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "service/sha256.hpp"
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
using test::memory_stream_opener;
using test::MemoryUploadLog;
using test::record_results;
using test::RecordingReply;

// sha256sum of "hello world" and of nothing.
constexpr std::string_view kHelloSha =
    "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
constexpr std::string_view kEmptySha =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The shared in-memory target (support/memory_upload_target.hpp): `storage`
// is what it did; every test also checks that the session kept the target
// protocol.
struct Harness {
  explicit Harness(uint64_t max_bytes = 0) { options.max_bytes = max_bytes; }
  ~Harness() {
    for (const auto& v : storage.violations) ADD_FAILURE() << "target protocol: " << v;
  }
  StreamUploadSession make() {
    return StreamUploadSession(options, memory_stream_opener(storage), record_results(storage));
  }
  UploadOptions options;
  MemoryUploadLog storage;
};

void feed_all(StreamUploadSession& session, RecordingReply& reply,
              const std::vector<std::string>& pieces) {
  for (const auto& piece : pieces) feed(session, reply, piece);
}

TEST(Sha256, MatchesKnownDigests) {
  Sha256 hash;
  EXPECT_EQ(hash.hex_digest(), kEmptySha);
  hash.reset();
  hash.update(std::span<const char>("hello ", 6));
  hash.update(std::span<const char>("world", 5));
  EXPECT_EQ(hash.hex_digest(), kHelloSha);
}

TEST(StreamUpload, EverySplitStoresTheBytesAndRepliesOnceWithCountAndChecksum) {
  const std::string input = "UPLOAD 11\nhello world";
  for (const Completion c : kCompletions) {
    for (const auto& pieces : all_splits(input)) {
      SCOPED_TRACE(describe(c));
      SCOPED_TRACE(describe(pieces));
      Harness h;
      configure(h.storage, c);
      auto session = h.make();
      RecordingReply reply;
      reply.wake_session = &session;
      feed_as(c, session, reply, h.storage, pieces);
      if (c == Completion::kLazy) {
        EXPECT_TRUE(reply.sends.empty()) << "nothing is durable before the commit completes";
        EXPECT_FALSE(session.accepts_input());
      }
      h.storage.complete_all();
      EXPECT_EQ(h.storage.data, "hello world");
      ASSERT_EQ(reply.sends.size(), 1u);
      EXPECT_EQ(reply.sends[0], "OK 11 sha256=" + std::string(kHelloSha) + "\n");
      EXPECT_EQ(reply.close_calls, 1);
      EXPECT_EQ(h.storage.commits, 1);
      EXPECT_EQ(h.storage.abandons, 0);
      EXPECT_EQ(h.storage.opened_for, std::vector<uint64_t>{11});
      ASSERT_EQ(h.storage.results.size(), 1u);
      EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kFinished);
      EXPECT_EQ(h.storage.results[0].bytes, 11u);
      EXPECT_EQ(h.storage.results[0].sha256, kHelloSha);
      EXPECT_EQ(h.storage.results[0].file, "upload-1");
      session.on_close();
      EXPECT_EQ(h.storage.abandons, 0);
      EXPECT_FALSE(reply.sent_after_close);
    }
  }
}

TEST(StreamUpload, AcceptsACrLfHeader) {
  Harness h;
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "UPLOAD 11\r\nhello world");
  EXPECT_EQ(reply.bytes, "OK 11 sha256=" + std::string(kHelloSha) + "\n");
}

TEST(StreamUpload, AnEmptyFileIsCommittedRightAfterTheHeader) {
  Harness h;
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "UPLOAD 0\n");
  EXPECT_EQ(reply.bytes, "OK 0 sha256=" + std::string(kEmptySha) + "\n");
  EXPECT_EQ(h.storage.commits, 1);
}

TEST(StreamUpload, BadHeadersAreRefusedWithoutOpeningAFile) {
  for (const std::string& header : std::vector<std::string>
       {"PUT 5\n", "UPLOAD\n", "UPLOAD \n", "UPLOAD -5\n", "UPLOAD +5\n", "UPLOAD 5x\n",
        "UPLOAD  5\n", "upload 5\n", "UPLOAD 5 \n", "UPLOAD 0x10\n",
        "UPLOAD 99999999999999999999\n", "\n", std::string(40, 'U')}) {
    for (const auto& pieces : all_splits(header)) {
      Harness h;
      auto session = h.make();
      RecordingReply reply;
      feed_all(session, reply, pieces);
      SCOPED_TRACE(describe(pieces));
      EXPECT_TRUE(reply.bytes.starts_with("ERROR bad header: send \"UPLOAD <size>\\n\" first"))
          << reply.bytes;
      EXPECT_TRUE(reply.bytes.ends_with("\n"));
      EXPECT_EQ(reply.close_calls, 1);
      EXPECT_TRUE(h.storage.opened_for.empty());
      EXPECT_TRUE(h.storage.results.empty());
    }
  }
}

TEST(StreamUpload, ALongerDeclaredSizeThanMaxBytesIsRefusedBeforeAnyData) {
  Harness h(10);
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "UPLOAD 11\nhello");
  EXPECT_EQ(reply.bytes, "ERROR size 11 exceeds max_upload_bytes (10); send a smaller file\n");
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_TRUE(h.storage.opened_for.empty());
  feed(session, reply, " world");
  EXPECT_EQ(reply.send_calls, 1);

  Harness exact(11);
  auto fits = exact.make();
  RecordingReply ok;
  feed(fits, ok, "UPLOAD 11\nhello world");
  EXPECT_TRUE(ok.bytes.starts_with("OK 11 ")) << ok.bytes;
}

TEST(StreamUpload, NoRoomForTheDeclaredSizeIsRefusedBeforeAnyData) {
  Harness h;
  h.storage.open_error = std::make_error_code(std::errc::no_space_on_device);
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "UPLOAD 11\n");
  EXPECT_EQ(reply.bytes,
            "ERROR not enough free disk space for 11 bytes; try again later or send a smaller "
            "file\n");
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_TRUE(h.storage.results.empty());
  EXPECT_EQ(h.storage.opened_for, std::vector<uint64_t>{11});  // checked against the size

  Harness other;
  other.storage.open_error = std::make_error_code(std::errc::permission_denied);
  auto denied = other.make();
  RecordingReply denied_reply;
  feed(denied, denied_reply, "UPLOAD 11\n");
  EXPECT_EQ(denied_reply.bytes, "ERROR cannot store upload: " +
                                    std::make_error_code(std::errc::permission_denied).message() +
                                    "\n");
}

// fuzz_stream_upload found it: a failed open answered as an overlong upload
// (and abandoned, and reported) when extra bytes came with the header.
TEST(StreamUpload, AFailedOpenIsARefusalWhateverFollowsTheHeader) {
  for (const std::string input : {"UPLOAD 0\nx", "UPLOAD 2\nabc", "UPLOAD 2\nab"}) {
    for (const bool async : {false, true}) {
      // Async, extra bytes arrive before the open is known to fail: refusing
      // them as extra bytes is then all the session can do.
      if (async && input != "UPLOAD 2\nab") continue;
      SCOPED_TRACE(input + (async ? " (async)" : " (sync)"));
      Harness h;
      h.storage.async = async;
      h.storage.open_error = std::make_error_code(std::errc::no_space_on_device);
      auto session = h.make();
      RecordingReply reply;
      reply.wake_session = &session;
      feed(session, reply, input);
      h.storage.complete_all();
      const std::string size = input.substr(7, 1);
      EXPECT_EQ(reply.bytes, "ERROR not enough free disk space for " + size +
                                 " bytes; try again later or send a smaller file\n");
      session.on_close();
      EXPECT_EQ(h.storage.abandons, 0);
      EXPECT_TRUE(h.storage.results.empty());
      EXPECT_TRUE(h.storage.data.empty());
    }
  }
}

TEST(StreamUpload, BytesBeyondTheDeclaredSizeAreAnErrorAndNothingIsCommitted) {
  const std::string input = "UPLOAD 3\nabcd";
  for (const Completion c : kCompletions) {
    for (const auto& pieces : all_splits(input)) {
      SCOPED_TRACE(describe(c));
      SCOPED_TRACE(describe(pieces));
      Harness h;
      configure(h.storage, c);
      auto session = h.make();
      RecordingReply reply;
      reply.wake_session = &session;
      feed_as(c, session, reply, h.storage, pieces);
      h.storage.complete_all();
      // Once all three bytes arrived alone, the upload is finished and replied
      // to; a later byte cannot undo that. Otherwise the extra byte is an error.
      if (reply.bytes.starts_with("OK")) {
        EXPECT_EQ(h.storage.data, "abc");
        EXPECT_EQ(reply.send_calls, 1);
        continue;
      }
      EXPECT_EQ(reply.bytes, "ERROR more than the declared 3 bytes received\n");
      EXPECT_EQ(h.storage.commits, 0);
      EXPECT_EQ(h.storage.abandons, 1);
      ASSERT_EQ(h.storage.results.size(), 1u);
      EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
    }
  }
}

TEST(StreamUpload, EarlyEofKeepsTheFileIncompleteAndSaysHowMuchArrived) {
  Harness h;
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "UPLOAD 10\nabc");
  session.on_eof(reply);
  EXPECT_EQ(reply.bytes, "ERROR connection ended after 3 of 10 bytes\n");
  EXPECT_EQ(reply.close_calls, 1);
  session.on_close();
  EXPECT_EQ(h.storage.commits, 0);
  EXPECT_EQ(h.storage.abandons, 1);
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
  EXPECT_EQ(h.storage.results[0].file, "upload-1.incomplete");
  EXPECT_EQ(h.storage.results[0].bytes, 3u);
}

TEST(StreamUpload, AResetConnectionLeavesTheFileIncompleteOnce) {
  Harness h;
  auto session = h.make();
  RecordingReply reply;
  feed(session, reply, "UPLOAD 10\nabc");
  session.on_close();
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 1);
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
}

TEST(StreamUpload, EofBeforeAnyHeaderJustCloses) {
  Harness h;
  auto session = h.make();
  RecordingReply reply;
  session.on_eof(reply);
  EXPECT_EQ(reply.bytes, "");
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_TRUE(h.storage.opened_for.empty());

  Harness partial;
  auto cut = partial.make();
  RecordingReply refused;
  feed(cut, refused, "UPLO");
  cut.on_eof(refused);
  EXPECT_TRUE(refused.bytes.starts_with("ERROR bad header"));
}

TEST(StreamUpload, WriteAndCommitFailuresAreReportedAndLeaveTheFileIncomplete) {
  Harness w;
  w.storage.fail_append_number = 1;
  w.storage.append_error = std::make_error_code(std::errc::no_space_on_device);
  auto writing = w.make();
  RecordingReply write_reply;
  feed(writing, write_reply, "UPLOAD 5\nab");
  EXPECT_EQ(write_reply.bytes, "ERROR cannot write upload: " +
                                   std::make_error_code(std::errc::no_space_on_device).message() +
                                   "\n");
  EXPECT_EQ(w.storage.abandons, 1);

  Harness c;
  c.storage.commit_error = std::make_error_code(std::errc::io_error);
  auto committing = c.make();
  RecordingReply commit_reply;
  feed(committing, commit_reply, "UPLOAD 2\nab");
  EXPECT_TRUE(commit_reply.bytes.starts_with("ERROR cannot make upload durable: "));
  EXPECT_EQ(c.storage.abandons, 1);
  committing.on_close();
  EXPECT_EQ(c.storage.abandons, 1);
}

// Asynchronous targets: what the session waits for, and what it says when.
struct AsyncHarness : Harness {
  explicit AsyncHarness(uint64_t max_bytes = 0) : Harness(max_bytes) {
    storage.async = true;
    storage.max_pending_appends = 2;
  }
};

TEST(StreamUploadAsync, NoReplyBeforeTheCommitCompletes) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "UPLOAD 11\n");
  EXPECT_EQ(h.storage.opened_for, std::vector<uint64_t>{11});
  EXPECT_FALSE(session.accepts_input()) << "no data is read before the file exists";
  ASSERT_TRUE(h.storage.complete_next());  // the open
  EXPECT_TRUE(session.accepts_input());
  feed(session, reply, "hello world");
  EXPECT_EQ(h.storage.commits, 1) << "every declared byte is in: commit asked for";
  EXPECT_FALSE(session.accepts_input()) << "committing";
  EXPECT_TRUE(reply.sends.empty());
  ASSERT_TRUE(h.storage.complete_next());  // the append
  EXPECT_TRUE(reply.sends.empty());
  ASSERT_TRUE(h.storage.complete_next());  // the commit
  EXPECT_EQ(reply.bytes, "OK 11 sha256=" + std::string(kHelloSha) + "\n");
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_TRUE(session.accepts_input()) << "done: nothing to wait for";
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].sha256, kHelloSha);
}

TEST(StreamUploadAsync, AFinAfterEveryByteWhileTheCommitIsPendingStillFinishes) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "UPLOAD 11\n");
  h.storage.complete_all();
  feed(session, reply, "hello world");
  session.on_eof(reply);
  EXPECT_EQ(reply.close_calls, 0) << "the reply is still owed";
  EXPECT_EQ(h.storage.abandons, 0) << "every declared byte arrived: not incomplete";
  h.storage.complete_all();
  EXPECT_EQ(reply.bytes, "OK 11 sha256=" + std::string(kHelloSha) + "\n");
  EXPECT_EQ(reply.close_calls, 1);
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 0);
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kFinished);
}

TEST(StreamUploadAsync, AFinAfterEveryByteWhileTheFileIsStillOpeningStillFinishes) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "UPLOAD 11\nhello world");  // data in the header's read
  session.on_eof(reply);
  EXPECT_EQ(reply.close_calls, 0);
  EXPECT_EQ(h.storage.abandons, 0);
  h.storage.complete_all();
  EXPECT_EQ(reply.bytes, "OK 11 sha256=" + std::string(kHelloSha) + "\n");
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 0);
  EXPECT_EQ(h.storage.data, "hello world");
}

TEST(StreamUploadAsync, AFinBeforeEveryByteLeavesTheFileIncomplete) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "UPLOAD 10\nabc");
  session.on_eof(reply);  // while the file is still being created
  EXPECT_EQ(reply.bytes, "ERROR connection ended after 3 of 10 bytes\n");
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_EQ(h.storage.abandons, 1);
  EXPECT_FALSE(h.storage.complete_next()) << "abandoned: nothing more happens";
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 1);
  EXPECT_EQ(h.storage.data, "abc") << "what arrived is kept";
  EXPECT_FALSE(reply.sent_after_close);
}

TEST(StreamUploadAsync, NoRoomForTheDeclaredSizeIsRefusedOnceTheOpenFails) {
  AsyncHarness h;
  h.storage.open_error = std::make_error_code(std::errc::no_space_on_device);
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "UPLOAD 11\nhello");
  EXPECT_TRUE(reply.sends.empty());
  ASSERT_TRUE(h.storage.complete_next());
  EXPECT_EQ(reply.bytes,
            "ERROR not enough free disk space for 11 bytes; try again later or send a smaller "
            "file\n");
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_TRUE(h.storage.data.empty()) << "nothing stored";
  session.on_eof(reply);
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 0) << "no file, nothing to abandon";
  EXPECT_TRUE(h.storage.results.empty());
  EXPECT_FALSE(reply.sent_after_close);
}

TEST(StreamUploadAsync, AcceptsInputOnlyWhileTheTargetCanTakeMore) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  EXPECT_TRUE(session.accepts_input()) << "reading the header";
  feed(session, reply, "UPLOAD 5\n");
  EXPECT_FALSE(session.accepts_input()) << "opening";
  ASSERT_TRUE(h.storage.complete_next());
  EXPECT_TRUE(session.accepts_input());
  feed(session, reply, "a");
  EXPECT_TRUE(session.accepts_input()) << "one append pending";
  feed(session, reply, "b");
  EXPECT_FALSE(session.accepts_input()) << "two appends pending: the buffers are full";
  ASSERT_TRUE(h.storage.complete_next());
  EXPECT_TRUE(session.accepts_input()) << "a buffer came back";
  feed(session, reply, "cde");
  EXPECT_FALSE(session.accepts_input()) << "committing";
  h.storage.complete_all();
  EXPECT_TRUE(session.accepts_input());
  EXPECT_EQ(h.storage.data, "abcde");
  EXPECT_TRUE(reply.bytes.starts_with("OK 5 ")) << reply.bytes;
}

TEST(StreamUploadAsync, ResetDuringAPendingCommitAbandonsOnce) {
  AsyncHarness h;
  auto session = h.make();
  RecordingReply reply;
  reply.wake_session = &session;
  feed(session, reply, "UPLOAD 2\n");
  h.storage.complete_all();
  feed(session, reply, "ab");
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 1);
  EXPECT_FALSE(h.storage.complete_next()) << "the commit never happens";
  EXPECT_FALSE(h.storage.committed);
  session.on_close();
  EXPECT_EQ(h.storage.abandons, 1);
  EXPECT_TRUE(reply.sends.empty());
  ASSERT_EQ(h.storage.results.size(), 1u);
  EXPECT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
  EXPECT_EQ(h.storage.results[0].file, "upload-1.incomplete");
  EXPECT_EQ(h.storage.data, "ab");
}

TEST(StreamUploadAsync, WriteAndCommitFailuresAreAnsweredWhenKnown) {
  AsyncHarness w;
  w.storage.fail_append_number = 2;
  auto writing = w.make();
  RecordingReply write_reply;
  write_reply.wake_session = &writing;
  feed(writing, write_reply, "UPLOAD 5\n");
  w.storage.complete_all();
  feed(writing, write_reply, "ab");
  feed(writing, write_reply, "c");
  EXPECT_TRUE(write_reply.sends.empty());
  w.storage.complete_all();
  EXPECT_EQ(write_reply.bytes, "ERROR cannot write upload: " +
                                   std::make_error_code(std::errc::no_space_on_device).message() +
                                   "\n");
  EXPECT_EQ(w.storage.abandons, 1);
  writing.on_close();
  EXPECT_EQ(w.storage.abandons, 1);
  EXPECT_EQ(w.storage.data, "ab");

  AsyncHarness c;
  c.storage.commit_error = std::make_error_code(std::errc::io_error);
  auto committing = c.make();
  RecordingReply commit_reply;
  commit_reply.wake_session = &committing;
  feed(committing, commit_reply, "UPLOAD 2\nab");
  c.storage.complete_all();
  EXPECT_TRUE(commit_reply.bytes.starts_with("ERROR cannot make upload durable: "))
      << commit_reply.bytes;
  EXPECT_EQ(c.storage.abandons, 1);
  committing.on_close();
  EXPECT_EQ(c.storage.abandons, 1);
}

TEST(StreamUpload, ReadsLandInTheTargetsWriteSpaceOnlyWhileTakingData) {
  Harness h;
  h.storage.write_space_bytes = 64;
  auto session = h.make();
  RecordingReply reply;
  EXPECT_TRUE(session.input_space().empty()) << "the header is read into the connection's buffer";
  feed(session, reply, "UPLOAD 5\n");
  const std::span<char> space = session.input_space();
  ASSERT_EQ(space.size(), 64u);
  std::memcpy(space.data(), "hello", 5);
  session.on_data(space.first(5), reply);
  EXPECT_EQ(h.storage.zero_copy_appends, 1);
  EXPECT_EQ(h.storage.data, "hello");
  EXPECT_EQ(reply.bytes.substr(0, 5), "OK 5 ");
  EXPECT_TRUE(session.input_space().empty()) << "done";
}

// The connection is woken per input_batch() bytes (SO_RCVLOWAT): never more
// than the declared bytes still to come, nothing before the body.
TEST(StreamUpload, InputBatchIsTheBodyStillToComeCappedAtOneBatch) {
  Harness h;
  auto session = h.make();
  RecordingReply reply;
  EXPECT_EQ(session.input_batch(), 0u);  // the header: any byte may end it
  const size_t size = StreamUploadSession::kInputBatch + 1000;
  feed(session, reply, "UPLOAD " + std::to_string(size) + "\n");
  EXPECT_EQ(session.input_batch(), StreamUploadSession::kInputBatch);
  feed(session, reply, std::string(1500, 'x'));
  EXPECT_EQ(session.input_batch(), size - 1500);
  feed(session, reply, std::string(size - 1501, 'x'));
  EXPECT_EQ(session.input_batch(), 1u);
  feed(session, reply, "x");
  EXPECT_EQ(session.input_batch(), 0u);  // done: the reply is due
  EXPECT_TRUE(reply.bytes.starts_with("OK " + std::to_string(size))) << reply.bytes;
}

}  // namespace
}  // namespace socketd
