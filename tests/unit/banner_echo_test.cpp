// BannerSession (message on accept, then a clean close) and EchoSession
// (RFC 862: every byte back, however the stream is split; no greeting).
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "service/banner.hpp"
#include "service/echo.hpp"
#include "service/session.hpp"
#include "support/session_driver.hpp"

namespace socketd {
namespace {

using test::RecordingReply;
using test::all_splits;
using test::describe;
using test::feed;

TEST(BannerSessionTest, SendsTheMessageExactlyThenCloses) {
  BannerSession session("success!");
  RecordingReply reply;
  session.on_open(reply);
  EXPECT_EQ(reply.bytes, "success!");
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_FALSE(reply.sent_after_close) << "the message must be queued before the close";
}

TEST(BannerSessionTest, KeepsBinaryAndMultibyteBytesUnchanged) {
  const std::string message("line1\r\nnul\0caf\xC3\xA9", 17);
  BannerSession session(message);
  RecordingReply reply;
  session.on_open(reply);
  EXPECT_EQ(reply.bytes, message);
  EXPECT_EQ(reply.close_calls, 1);
}

TEST(BannerSessionTest, IgnoresWhateverTheClientSends) {
  BannerSession session("hi");
  RecordingReply reply;
  session.on_open(reply);
  feed(session, reply, "exit");
  feed(session, reply, "anything\n");
  EXPECT_EQ(reply.bytes, "hi");
  EXPECT_FALSE(reply.sent_after_close);
}

TEST(BannerSessionTest, EmptyMessageStillCloses) {
  BannerSession session("");
  RecordingReply reply;
  session.on_open(reply);
  EXPECT_EQ(reply.bytes, "");
  EXPECT_EQ(reply.close_calls, 1);
}

TEST(EchoSessionTest, SendsNothingOnOpen) {
  EchoSession session;
  RecordingReply reply;
  session.on_open(reply);
  EXPECT_EQ(reply.send_calls, 0);
  EXPECT_EQ(reply.close_calls, 0);
}

TEST(EchoSessionTest, EchoesEveryByteHoweverSplit) {
  const std::string stream = std::string("exit\nquit\r\n\0\x01\xff", 14) + "caf\xC3\xA9 end";
  for (const auto& pieces : all_splits(stream)) {
    EchoSession session;
    RecordingReply reply;
    for (const auto& piece : pieces) {
      const size_t before = reply.bytes.size();
      feed(session, reply, piece);
      ASSERT_EQ(reply.bytes.substr(before), piece) << "each read answered at once";
    }
    ASSERT_EQ(reply.bytes, stream);
    ASSERT_EQ(reply.close_calls, 0) << "echo has no exit word";
  }
}

TEST(EchoSessionTest, EofClosesTheConnection) {
  EchoSession session;
  RecordingReply reply;
  feed(session, reply, "abc");
  session.on_eof(reply);
  EXPECT_EQ(reply.bytes, "abc");
  EXPECT_EQ(reply.close_calls, 1);
}

TEST(EchoSessionTest, EchoesLargeChunksUnchanged) {
  std::string big(256 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + 7);
  EchoSession session;
  RecordingReply reply;
  feed(session, reply, big);
  EXPECT_EQ(reply.bytes, big);
}

}  // namespace
}  // namespace socketd
