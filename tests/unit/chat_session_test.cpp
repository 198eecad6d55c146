// ChatSession and RandomSource: greeting, chunk framing (one read = one
// message), line framing fed split and coalesced at every offset, exit word,
// random numbers in range, max_line_bytes.
#include "service/chat.hpp"

#include <gtest/gtest.h>

#include <charconv>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "service/random_source.hpp"
#include "service/session.hpp"
#include "support/session_driver.hpp"

namespace socketd {
namespace {

using test::RecordingReply;
using test::all_splits;
using test::describe;
using test::feed;

// Whether the leading decimal number of `s` is in [min, max]; sets `used`.
bool number_in_range(std::string_view s, int64_t min, int64_t max, size_t& used) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  used = static_cast<size_t>(end - s.data());
  return ec == std::errc{} && used > 0 && s.front() != '-' && value >= min && value <= max;
}

// Matches `actual` against `pattern`, where each "{N}" stands for a decimal
// number in [min, max] (digits only, greedy).
::testing::AssertionResult matches(std::string_view actual, std::string_view pattern,
                                   int64_t min = 1, int64_t max = 1000) {
  const std::string_view whole = actual;
  for (;;) {
    const auto hole = pattern.find("{N}");
    const auto literal = pattern.substr(0, hole);
    if (!actual.starts_with(literal)) {
      return ::testing::AssertionFailure()
             << "at byte " << whole.size() - actual.size() << " expected \"" << literal
             << "\"; actual reply: \"" << whole << "\"";
    }
    actual.remove_prefix(literal.size());
    if (hole == std::string_view::npos) break;
    pattern.remove_prefix(hole + 3);
    size_t used = 0;
    if (actual.empty() || !number_in_range(actual, min, max, used)) {
      return ::testing::AssertionFailure()
             << "at byte " << whole.size() - actual.size() << " expected a number in [" << min
             << ", " << max << "]; actual reply: \"" << whole << "\"";
    }
    actual.remove_prefix(used);
  }
  if (!actual.empty()) {
    return ::testing::AssertionFailure()
           << "unexpected trailing bytes \"" << actual << "\"; actual reply: \"" << whole << "\"";
  }
  return ::testing::AssertionSuccess();
}

ChatOptions chunk_options() {
  ChatOptions options;
  options.greeting = "success!";
  return options;
}

ChatOptions line_options() {
  ChatOptions options;
  options.greeting = "hello";
  options.line_framing = true;
  return options;
}

TEST(ChatSessionTest, SendsGreetingOnOpenWithoutNewline) {
  const ChatOptions options = chunk_options();
  RandomSource random(1);
  ChatSession session(options, random);
  RecordingReply reply;
  session.on_open(reply);
  EXPECT_EQ(reply.bytes, "success!");
  EXPECT_EQ(reply.sends.size(), 1u);
  EXPECT_EQ(reply.close_calls, 0);
}

TEST(ChatSessionTest, SendsNothingOnOpenWhenGreetingIsEmpty) {
  ChatOptions options = chunk_options();
  options.greeting = "";
  RandomSource random(1);
  ChatSession session(options, random);
  RecordingReply reply;
  session.on_open(reply);
  EXPECT_TRUE(reply.sends.empty());
  EXPECT_EQ(reply.close_calls, 0);
}

TEST(ChatSessionTest, ChunkFramingEchoesMessageThenDigitsWithNoDelimiter) {
  const ChatOptions options = chunk_options();
  RandomSource random(7);
  ChatSession session(options, random);
  RecordingReply reply;
  for (std::string_view message :
       std::vector<std::string_view>{"hi", "hello world", "two\nlines\n", "x", "  spaced  ",
                                     "exit now", "caf\xC3\xA9", std::string_view("nul\0byte", 8)}) {
    const size_t before = reply.bytes.size();
    const size_t sends_before = reply.sends.size();
    feed(session, reply, message);
    EXPECT_EQ(reply.sends.size(), sends_before + 1) << "one reply per message: " << message;
    EXPECT_TRUE(
        matches(std::string_view(reply.bytes).substr(before), std::string(message) + "{N}"));
  }
  EXPECT_EQ(reply.close_calls, 0);
}

TEST(ChatSessionTest, ChunkFramingEveryReadIsOneMessageHoweverTheStreamIsSplit) {
  const ChatOptions options = chunk_options();
  const std::string_view stream = "abc\ndef\r\nghi";
  for (const auto& pieces : all_splits(stream)) {
    RandomSource random(3);
    ChatSession session(options, random);
    RecordingReply reply;
    std::string pattern;
    for (const auto& piece : pieces) {
      feed(session, reply, piece);
      pattern += piece + "{N}";
    }
    EXPECT_EQ(reply.sends.size(), pieces.size()) << describe(pieces);
    EXPECT_TRUE(matches(reply.bytes, pattern)) << describe(pieces);
    EXPECT_EQ(reply.close_calls, 0) << describe(pieces);
  }
}

TEST(ChatSessionTest, ChunkFramingExitWordClosesIgnoringOneTrailingNewline) {
  const ChatOptions options = chunk_options();
  for (std::string_view exit : {"exit", "exit\n", "exit\r\n"}) {
    RandomSource random(1);
    ChatSession session(options, random);
    RecordingReply reply;
    feed(session, reply, "hi");
    feed(session, reply, exit);
    EXPECT_EQ(reply.close_calls, 1) << "exit word: " << exit;
    EXPECT_EQ(reply.sends.size(), 1u) << "the exit word itself gets no reply";
    EXPECT_TRUE(matches(reply.bytes, "hi{N}"));
    feed(session, reply, "after");
    EXPECT_EQ(reply.sends.size(), 1u) << "nothing is answered after the exit word";
    EXPECT_FALSE(reply.sent_after_close);
    EXPECT_EQ(reply.close_calls, 1);
  }
}

TEST(ChatSessionTest, ChunkFramingNearMissesOfTheExitWordAreOrdinaryMessages) {
  const ChatOptions options = chunk_options();
  for (std::string_view message : {"exit ", "exitx", "Exit", "EXIT", " exit", "exit\n\n", "exit\r",
                                   "exit\n\r\n", "exi", "xexit", "exit\r\r\n"}) {
    RandomSource random(1);
    ChatSession session(options, random);
    RecordingReply reply;
    feed(session, reply, message);
    EXPECT_EQ(reply.close_calls, 0) << "message: \"" << message << "\"";
    EXPECT_TRUE(matches(reply.bytes, std::string(message) + "{N}"));
  }
}

TEST(ChatSessionTest, ConfiguredExitWordReplacesTheDefault) {
  ChatOptions options = chunk_options();
  options.exit_word = "bye";
  RandomSource random(1);
  ChatSession session(options, random);
  RecordingReply reply;
  feed(session, reply, "exit");
  EXPECT_EQ(reply.close_calls, 0);
  EXPECT_TRUE(matches(reply.bytes, "exit{N}"));
  feed(session, reply, "bye\n");
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_EQ(reply.sends.size(), 1u);
}

TEST(ChatSessionTest, RandomNumbersStayWithinConfiguredRangeAndCoverIt) {
  ChatOptions options = chunk_options();
  options.random_min = 5;
  options.random_max = 7;
  RandomSource random(11);
  ChatSession session(options, random);
  std::set<std::string> seen;
  for (int i = 0; i < 600; ++i) {
    RecordingReply reply;
    feed(session, reply, "m");
    ASSERT_TRUE(matches(reply.bytes, "m{N}", 5, 7));
    seen.insert(reply.bytes.substr(1));
  }
  EXPECT_EQ(seen, (std::set<std::string>{"5", "6", "7"}));
}

TEST(ChatSessionTest, RandomRangeWithMinEqualMaxAlwaysGivesThatNumber) {
  ChatOptions options = chunk_options();
  for (int64_t n :
       {int64_t{0}, int64_t{1}, int64_t{42}, int64_t{1000}, int64_t{9223372036854775807}}) {
    options.random_min = options.random_max = n;
    RandomSource random;
    ChatSession session(options, random);
    for (int i = 0; i < 20; ++i) {
      RecordingReply reply;
      feed(session, reply, "q");
      EXPECT_EQ(reply.bytes, "q" + std::to_string(n));
    }
  }
}

TEST(ChatSessionTest, RandomNumbersUseTheDefaultRangeOneToThousand) {
  const ChatOptions options = chunk_options();
  EXPECT_EQ(options.random_min, 1);
  EXPECT_EQ(options.random_max, 1000);
  RandomSource random(5);
  ChatSession session(options, random);
  for (int i = 0; i < 2000; ++i) {
    RecordingReply reply;
    feed(session, reply, "a");
    ASSERT_TRUE(matches(reply.bytes, "a{N}", 1, 1000));
  }
}

// A script of several lines, including CRLF, an empty line, multibyte UTF-8
// and the exit word followed by bytes that must be ignored.
constexpr std::string_view kLineScript =
    "hello\n"
    "two words \r\n"
    "\n"
    "x\n"
    "caf\xC3\xA9\n"
    "exit\r\n"
    "ignored\n"
    "tail";
constexpr std::string_view kLineReplies =
    "hello\n{N}\n"
    "two words \r\n{N}\n"
    "\n{N}\n"
    "x\n{N}\n"
    "caf\xC3\xA9\n{N}\n";

TEST(ChatSessionTest, LineFramingAllAtOnce) {
  const ChatOptions options = line_options();
  RandomSource random(9);
  ChatSession session(options, random);
  RecordingReply reply;
  session.on_open(reply);
  feed(session, reply, kLineScript);
  EXPECT_TRUE(matches(reply.bytes, "hello" + std::string(kLineReplies)));
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_EQ(reply.bytes_at_close, reply.bytes.size()) << "close comes after every reply";
  EXPECT_FALSE(reply.sent_after_close);
}

TEST(ChatSessionTest, LineFramingSplitAtEveryOffsetAndPairOfOffsetsGivesIdenticalReplies) {
  const ChatOptions options = line_options();
  std::string reference;
  {
    RandomSource random(1234);
    ChatSession session(options, random);
    RecordingReply reply;
    feed(session, reply, kLineScript);
    reference = reply.bytes;
  }
  ASSERT_TRUE(matches(reference, kLineReplies));
  const auto splits = all_splits(kLineScript);
  ASSERT_GT(splits.size(), 900u);
  for (const auto& pieces : splits) {
    // Same seed: the digits must be identical too, not just in range.
    RandomSource random(1234);
    ChatSession session(options, random);
    RecordingReply reply;
    for (const auto& piece : pieces) feed(session, reply, piece);
    ASSERT_TRUE(matches(reply.bytes, kLineReplies)) << describe(pieces);
    ASSERT_EQ(reply.bytes, reference) << describe(pieces);
    ASSERT_EQ(reply.close_calls, 1) << describe(pieces);
    ASSERT_FALSE(reply.sent_after_close) << describe(pieces);
  }
}

TEST(ChatSessionTest, LineFramingWaitsForTheNewlineOfASplitMessage) {
  const ChatOptions options = line_options();
  RandomSource random(2);
  ChatSession session(options, random);
  RecordingReply reply;
  feed(session, reply, "a\nbc");
  EXPECT_TRUE(matches(reply.bytes, "a\n{N}\n"));
  const size_t after_first = reply.bytes.size();
  feed(session, reply, "d");
  EXPECT_EQ(reply.bytes.size(), after_first) << "no reply before the newline";
  feed(session, reply, "\nexi");
  EXPECT_TRUE(matches(reply.bytes, "a\n{N}\nbcd\n{N}\n"));
  feed(session, reply, "t");
  EXPECT_EQ(reply.close_calls, 0) << "\"exit\" without its newline is not a message yet";
  feed(session, reply, "\n");
  EXPECT_EQ(reply.close_calls, 1);
}

TEST(ChatSessionTest, LineFramingExitWordVariants) {
  const ChatOptions options = line_options();
  for (std::string_view line : {"exit\n", "exit\r\n"}) {
    RandomSource random(1);
    ChatSession session(options, random);
    RecordingReply reply;
    feed(session, reply, line);
    EXPECT_EQ(reply.close_calls, 1) << line;
    EXPECT_TRUE(reply.bytes.empty());
  }
  for (std::string_view line : {"exit \n", "exitx\n", "exit\r\r\n", " exit\n"}) {
    RandomSource random(1);
    ChatSession session(options, random);
    RecordingReply reply;
    feed(session, reply, line);
    EXPECT_EQ(reply.close_calls, 0) << line;
    EXPECT_TRUE(matches(reply.bytes, std::string(line) + "{N}\n"));
  }
}

TEST(ChatSessionTest, LineFramingAcceptsALineOfExactlyMaxLineBytes) {
  ChatOptions options = line_options();
  options.max_line_bytes = 8;
  const std::string script = "12345678\nabcdefg\r\nexit\n";
  for (const auto& pieces : all_splits(script)) {
    RandomSource random(1);
    ChatSession session(options, random);
    RecordingReply reply;
    for (const auto& piece : pieces) feed(session, reply, piece);
    ASSERT_TRUE(matches(reply.bytes, "12345678\n{N}\nabcdefg\r\n{N}\n")) << describe(pieces);
    ASSERT_EQ(reply.close_calls, 1) << describe(pieces);
  }
}

TEST(ChatSessionTest, LineFramingRejectsALongerLineWithAnErrorAndClosesHoweverSplit) {
  ChatOptions options = line_options();
  options.max_line_bytes = 8;
  const std::string script = "ok\n123456789\nnever\n";
  std::string reference;
  for (const auto& pieces : all_splits(script)) {
    RandomSource random(1);
    ChatSession session(options, random);
    RecordingReply reply;
    for (const auto& piece : pieces) feed(session, reply, piece);
    ASSERT_EQ(reply.close_calls, 1) << describe(pieces);
    ASSERT_FALSE(reply.sent_after_close) << describe(pieces);
    ASSERT_TRUE(reply.bytes.starts_with("ok\n")) << reply.bytes;
    const auto first_reply_end = reply.bytes.find('\n', 3);
    ASSERT_NE(first_reply_end, std::string::npos);
    const std::string error = reply.bytes.substr(first_reply_end + 1);
    ASSERT_TRUE(error.starts_with("error: ")) << error;
    ASSERT_TRUE(error.ends_with("\n")) << error;
    ASSERT_EQ(error.find('\n'), error.size() - 1) << "one error line: " << error;
    ASSERT_EQ(error.find("never"), std::string::npos);
    if (reference.empty()) reference = reply.bytes;
    ASSERT_EQ(reply.bytes, reference) << describe(pieces);
  }
}

TEST(ChatSessionTest, LineFramingRejectsAnUnterminatedLineAsSoonAsItIsTooLong) {
  ChatOptions options = line_options();
  options.max_line_bytes = 4;
  RandomSource random(1);
  ChatSession session(options, random);
  RecordingReply reply;
  feed(session, reply, "abcd");
  EXPECT_EQ(reply.close_calls, 0);
  feed(session, reply, "e");
  EXPECT_EQ(reply.close_calls, 1) << "without waiting for a newline that may never come";
  EXPECT_TRUE(reply.bytes.starts_with("error: ")) << reply.bytes;
}

TEST(ChatSessionTest, MaxLineBytesDoesNotApplyToChunkFraming) {
  ChatOptions options = chunk_options();
  options.max_line_bytes = 4;
  RandomSource random(1);
  ChatSession session(options, random);
  RecordingReply reply;
  feed(session, reply, "a longer message");
  EXPECT_EQ(reply.close_calls, 0);
  EXPECT_TRUE(matches(reply.bytes, "a longer message{N}"));
}

TEST(ChatSessionTest, DefaultEofClosesTheConnection) {
  const ChatOptions options = line_options();
  RandomSource random(1);
  ChatSession session(options, random);
  RecordingReply reply;
  feed(session, reply, "partial");
  session.on_eof(reply);
  EXPECT_EQ(reply.close_calls, 1);
  EXPECT_TRUE(reply.bytes.empty());
}

TEST(RandomSourceTest, UniformStaysInRangeIncludingMinEqualMax) {
  RandomSource random(99);
  for (int i = 0; i < 1000; ++i) {
    const auto v = random.uniform(-3, 3);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
  }
  EXPECT_EQ(random.uniform(17, 17), 17);
}

TEST(RandomSourceTest, SameFixedSeedGivesSameSequenceDifferentSeedsDiffer) {
  RandomSource a(42);
  RandomSource b(42);
  RandomSource c(43);
  std::vector<int64_t> sa, sb, sc;
  for (int i = 0; i < 16; ++i) {
    sa.push_back(a.uniform(0, INT64_MAX));
    sb.push_back(b.uniform(0, INT64_MAX));
    sc.push_back(c.uniform(0, INT64_MAX));
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(RandomSourceTest, DefaultConstructedSourcesAreSeededDifferently) {
  // Two 16 x 63-bit sequences colliding by chance: probability ~2^-1000.
  RandomSource a;
  RandomSource b;
  std::vector<int64_t> sa, sb;
  for (int i = 0; i < 16; ++i) {
    sa.push_back(a.uniform(0, INT64_MAX));
    sb.push_back(b.uniform(0, INT64_MAX));
  }
  EXPECT_NE(sa, sb);
  // And not the default-seeded std::mt19937_64 sequence either.
  RandomSource fixed(std::mt19937_64::default_seed);
  std::vector<int64_t> sf;
  for (int i = 0; i < 16; ++i) sf.push_back(fixed.uniform(0, INT64_MAX));
  EXPECT_NE(sa, sf);
}

TEST(RandomSourceTest, ChatSessionsOnDefaultSourcesDoNotRepeatTheSameNumbers) {
  const ChatOptions options = chunk_options();
  std::string first;
  std::string second;
  for (std::string* out : {&first, &second}) {
    RandomSource random;
    ChatSession session(options, random);
    RecordingReply reply;
    for (int i = 0; i < 32; ++i) feed(session, reply, "m");
    *out = reply.bytes;
  }
  EXPECT_NE(first, second);
}

}  // namespace
}  // namespace socketd
