// UploadSession over an in-memory UploadTarget: acks, end word, byte-identical
// data however split, abandon exactly once, failures, max_bytes.
#include "service/upload.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "service/session.hpp"
#include "support/session_driver.hpp"

namespace socketd {
namespace {

using test::RecordingReply;
using test::all_splits;
using test::describe;
using test::feed;

// What the fake targets did; outlives them.
struct Storage {
  std::string data;
  int opens = 0;
  int appends = 0;
  int commits = 0;
  int abandons = 0;
  bool open_fails = false;
  int fail_append_number = 0;  // the n-th append (1-based) fails; 0: never
  bool commit_fails = false;
  std::vector<UploadResult> results;
};

class FakeTarget final : public UploadTarget {
 public:
  explicit FakeTarget(Storage& storage) : storage_(storage) {}
  std::error_code append(std::span<const char> bytes) override {
    if (++storage_.appends == storage_.fail_append_number) {
      return std::make_error_code(std::errc::no_space_on_device);
    }
    storage_.data.append(bytes.data(), bytes.size());
    return {};
  }
  std::error_code commit() override {
    ++storage_.commits;
    if (storage_.commit_fails) return std::make_error_code(std::errc::io_error);
    name_ = "upload-1";
    return {};
  }
  void abandon() override {
    ++storage_.abandons;
    name_ = "upload-1.incomplete";
  }
  const std::string& name() const override { return name_; }

 private:
  Storage& storage_;
  std::string name_ = ".upload-1.part";
};

struct Harness {
  explicit Harness(UploadOptions opts = {}) : options(opts) {}
  UploadSession make() {
    return UploadSession(
        options,
        [this](std::error_code& ec) -> std::unique_ptr<UploadTarget> {
          ++storage.opens;
          if (storage.open_fails) {
            ec = std::make_error_code(std::errc::permission_denied);
            return nullptr;
          }
          return std::make_unique<FakeTarget>(storage);
        },
        [this](const UploadResult& result) { storage.results.push_back(result); });
  }
  UploadOptions options;
  Storage storage;
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
  for (const auto& pieces : splits) {
    Harness h;
    auto session = h.make();
    RecordingReply reply;
    for (const auto& piece : pieces) feed(session, reply, piece);
    feed(session, reply, "quit");
    session.on_close();
    ASSERT_EQ(h.storage.data, kFile) << describe(pieces);
    ASSERT_EQ(reply.bytes, repeat("success", pieces.size() + 1)) << describe(pieces);
    ASSERT_EQ(reply.sends.size(), pieces.size() + 1) << "one ack per chunk: " << describe(pieces);
    ASSERT_EQ(h.storage.opens, 1);
    ASSERT_EQ(h.storage.commits, 1);
    ASSERT_EQ(h.storage.abandons, 0);
    ASSERT_EQ(reply.close_calls, 1);
    ASSERT_EQ(h.storage.results.size(), 1u);
    ASSERT_EQ(h.storage.results[0].state, UploadResult::State::kFinished);
    ASSERT_EQ(h.storage.results[0].bytes, kFile.size());
  }
}

TEST(UploadSessionTest, EofBeforeEndWordAbandonsExactlyOnceHoweverSplit) {
  for (const auto& pieces : all_splits(kFile)) {
    Harness h;
    auto session = h.make();
    RecordingReply reply;
    for (const auto& piece : pieces) feed(session, reply, piece);
    session.on_eof(reply);
    session.on_close();  // the connection's last call always follows
    ASSERT_EQ(h.storage.data, kFile) << describe(pieces);
    ASSERT_EQ(h.storage.commits, 0);
    ASSERT_EQ(h.storage.abandons, 1) << describe(pieces);
    ASSERT_EQ(reply.close_calls, 1);
    ASSERT_EQ(reply.bytes, repeat("success", pieces.size())) << "no ack for the EOF";
    ASSERT_EQ(h.storage.results.size(), 1u);
    ASSERT_EQ(h.storage.results[0].state, UploadResult::State::kIncomplete);
    ASSERT_EQ(h.storage.results[0].bytes, kFile.size());
    ASSERT_EQ(h.storage.results[0].file, "upload-1.incomplete");
    ASSERT_FALSE(h.storage.results[0].reason.empty());
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
  h.storage.commit_fails = true;
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
  h.storage.open_fails = true;
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
  Storage storage;
  UploadSession session(
      options, [&](std::error_code&) { return std::make_unique<FakeTarget>(storage); }, nullptr);
  RecordingReply reply;
  feed(session, reply, "x");
  session.on_close();
  EXPECT_EQ(storage.abandons, 1) << "a missing callback must not skip the abandon";
}

}  // namespace
}  // namespace socketd
