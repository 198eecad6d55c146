// StreamUploadSession over an in-memory UploadTarget: the header and the data
// split every way, the one final reply with byte count and SHA-256, refusals
// before any data, extra bytes, early EOF, target failures. Also Sha256.
#include "service/stream_upload.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "service/sha256.hpp"
#include "support/session_driver.hpp"

namespace socketd {
namespace {

using test::RecordingReply;
using test::all_splits;
using test::describe;
using test::feed;

// sha256sum of "hello world" and of nothing.
constexpr std::string_view kHelloSha =
    "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
constexpr std::string_view kEmptySha =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Storage {
  std::string data;
  std::vector<uint64_t> opened_for;  // declared size passed to each open
  int commits = 0;
  int abandons = 0;
  std::error_code open_error;
  std::error_code append_error;
  std::error_code commit_error;
  std::vector<UploadResult> results;
};

class FakeTarget final : public UploadTarget {
 public:
  explicit FakeTarget(Storage& storage) : storage_(storage) {}
  std::error_code append(std::span<const char> bytes) override {
    if (storage_.append_error) return storage_.append_error;
    storage_.data.append(bytes.data(), bytes.size());
    return {};
  }
  std::error_code commit() override {
    ++storage_.commits;
    if (storage_.commit_error) return storage_.commit_error;
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
  explicit Harness(uint64_t max_bytes = 0) { options.max_bytes = max_bytes; }
  StreamUploadSession make() {
    return StreamUploadSession(
        options,
        [this](uint64_t size, std::error_code& ec) -> std::unique_ptr<UploadTarget> {
          storage.opened_for.push_back(size);
          if (storage.open_error) {
            ec = storage.open_error;
            return nullptr;
          }
          return std::make_unique<FakeTarget>(storage);
        },
        [this](const UploadResult& result) { storage.results.push_back(result); });
  }
  UploadOptions options;
  Storage storage;
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
  for (const auto& pieces : all_splits(input)) {
    Harness h;
    auto session = h.make();
    RecordingReply reply;
    feed_all(session, reply, pieces);
    SCOPED_TRACE(describe(pieces));
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
    session.on_close();
    EXPECT_EQ(h.storage.abandons, 0);
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

TEST(StreamUpload, BytesBeyondTheDeclaredSizeAreAnErrorAndNothingIsCommitted) {
  const std::string input = "UPLOAD 3\nabcd";
  for (const auto& pieces : all_splits(input)) {
    Harness h;
    auto session = h.make();
    RecordingReply reply;
    feed_all(session, reply, pieces);
    SCOPED_TRACE(describe(pieces));
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

}  // namespace
}  // namespace socketd
