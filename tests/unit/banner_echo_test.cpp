// BannerSession (message on accept, then a clean close) and EchoSession
// (RFC 862: every byte back, however the stream is split; no greeting).
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "service/banner.hpp"
#include "service/echo.hpp"
#include "service/session.hpp"

namespace socketd {
namespace {

class RecordingReply final : public Reply {
 public:
  void send(std::string_view first, std::string_view second) override {
    if (close_calls > 0) sent_after_close = true;
    bytes.append(first).append(second);
    ++send_calls;
  }
  void close() override { ++close_calls; }

  std::string bytes;
  int send_calls = 0;
  int close_calls = 0;
  bool sent_after_close = false;
};

void feed(Session& session, RecordingReply& reply, std::string_view piece) {
  session.on_data(std::span<const char>(piece.data(), piece.size()), reply);
}

std::vector<std::vector<std::string>> all_splits(std::string_view s) {
  std::vector<std::vector<std::string>> out;
  out.push_back({std::string(s)});
  for (size_t i = 1; i < s.size(); ++i) {
    out.push_back({std::string(s.substr(0, i)), std::string(s.substr(i))});
    for (size_t j = i + 1; j < s.size(); ++j) {
      out.push_back(
          {std::string(s.substr(0, i)), std::string(s.substr(i, j - i)), std::string(s.substr(j))});
    }
  }
  std::vector<std::string> bytes;
  for (char c : s) bytes.emplace_back(1, c);
  out.push_back(std::move(bytes));
  return out;
}

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
