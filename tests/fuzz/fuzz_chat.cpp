// fuzz_chat: ChatSession against a reference model of the chat protocol.
//
// Input layout (see README.md; tests/fuzz/make-corpus writes examples):
//   byte 0   flags: bit 0 line framing; bit 1 exit word "q" instead of "exit";
//            bits 2-3 random range: 0 [1,1000], 1 [n,n], 2 [0,INT64_MAX],
//            3 [a,b] from two 8-byte values; bit 4 max_line_bytes = byte 1 + 1
//            (else 65536)
//   byte 1   max_line_bytes - 1 (when bit 4)
//   [8 or 16 bytes of range values, for range kinds 1 and 3]
//   byte     greeting length G, then G bytes of greeting
//   then chunks: a length byte L and L bytes, each one read; L == 0 is the
//   peer's FIN (on_eof) and ends the input.
// Chunks keep coming after the session closed: it must ignore them.
//
// Checked: the greeting comes first, alone; after close() nothing is sent;
// each reply is the message then decimal digits in [random_min, random_max];
// in line mode every reply ends with "\n" and the answers depend only on the
// bytes, not on how they were split into reads (the model sees the stream).
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "service/chat.hpp"
#include "support/session_driver.hpp"

namespace socketd::fuzz {
namespace {

using test::RecordingReply;
using Sent = RecordingReply::Parts;

void check_digits(std::string_view digits, const ChatOptions& o) {
  fuzz_check(!digits.empty(), "no digits");
  fuzz_check(digits == "0" || digits.front() != '0', "leading zero: " + printable(digits));
  int64_t n = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  fuzz_check(ec == std::errc{} && end == digits.data() + digits.size(),
             "not decimal: " + printable(digits));
  fuzz_check(n >= o.random_min && n <= o.random_max, std::to_string(n) + " outside [" +
                                                         std::to_string(o.random_min) + ", " +
                                                         std::to_string(o.random_max) + "]");
}

// What the session must answer to everything it was given before it closed.
struct Expected {
  std::vector<std::string> messages;  // the `first` of each reply
  bool closes = false;
  bool line_too_long = false;
};

Expected model_chunks(const std::vector<std::string_view>& chunks, const ChatOptions& o) {
  Expected e;
  for (const auto chunk : chunks) {
    if (strip_one_newline(chunk) == o.exit_word) {
      e.closes = true;
      break;
    }
    e.messages.emplace_back(chunk);
  }
  return e;
}

Expected model_lines(const std::vector<std::string_view>& chunks, const ChatOptions& o) {
  std::string stream;
  for (const auto chunk : chunks) stream += chunk;
  Expected e;
  std::string_view rest = stream;
  while (!rest.empty()) {
    const auto newline = rest.find('\n');
    const size_t content = newline == std::string_view::npos ? rest.size() : newline;
    if (content > o.max_line_bytes) {
      e.closes = e.line_too_long = true;
      break;
    }
    if (newline == std::string_view::npos) break;  // a partial line waits
    const auto line = rest.substr(0, newline + 1);
    rest.remove_prefix(newline + 1);
    if (strip_one_newline(line) == o.exit_word) {
      e.closes = true;
      break;
    }
    e.messages.emplace_back(line);
  }
  return e;
}

ChatOptions read_options(FuzzInput& in, std::string& greeting) {
  ChatOptions o;
  const uint8_t flags = in.byte();
  const uint8_t line_limit = in.byte();
  o.line_framing = flags & 1;
  o.exit_word = (flags & 2) ? "q" : "exit";
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  switch ((flags >> 2) & 3) {
    case 0:
      break;
    case 1:
      o.random_min = o.random_max = static_cast<int64_t>(in.u64() & uint64_t{kMax});
      break;
    case 2:
      o.random_min = 0, o.random_max = kMax;
      break;
    default: {
      // The loader guarantees 0 <= random_min <= random_max (fuzz_config checks it).
      auto a = static_cast<int64_t>(in.u64() & uint64_t{kMax});
      auto b = static_cast<int64_t>(in.u64() & uint64_t{kMax});
      if (a > b) std::swap(a, b);
      o.random_min = a, o.random_max = b;
    }
  }
  if (flags & 16) o.max_line_bytes = uint32_t{line_limit} + 1;
  greeting = std::string(in.take(in.byte()));
  o.greeting = greeting;
  return o;
}

}  // namespace
}  // namespace socketd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace socketd;
  using namespace socketd::fuzz;
  FuzzInput in(data, size);
  std::string greeting;
  const ChatOptions options = read_options(in, greeting);
  RandomSource random(size);
  ChatSession session(options, random);
  RecordingReply reply;

  session.on_open(reply);
  fuzz_check(reply.parts.size() == (greeting.empty() ? 0u : 1u), "greeting sends");
  if (!greeting.empty()) {
    fuzz_check(reply.parts[0].first == greeting && reply.parts[0].second.empty(), "greeting");
  }
  fuzz_check(!reply.closed(), "closed on open");
  const size_t greeting_sends = reply.parts.size();

  std::vector<std::string_view> delivered;  // what the session saw before it closed
  bool eof = false;
  while (!in.empty()) {
    const auto chunk = in.chunk();
    if (chunk.empty()) {
      eof = true;
      break;
    }
    if (!reply.closed()) delivered.push_back(chunk);
    session.on_data(as_span(chunk), reply);
    fuzz_check(!reply.sent_after_close, "sent after close()");
  }
  const bool closed_by_session = reply.closed();
  if (eof) session.on_eof(reply);
  session.on_close();
  fuzz_check(!reply.sent_after_close, "sent after close()");

  const Expected expected =
      options.line_framing ? model_lines(delivered, options) : model_chunks(delivered, options);
  fuzz_check(closed_by_session == expected.closes, "closed " + std::to_string(closed_by_session) +
                                                       ", model says " +
                                                       std::to_string(expected.closes));
  fuzz_check(!eof || reply.closed(), "FIN did not end the session");
  const size_t answers = reply.parts.size() - greeting_sends;
  fuzz_check(answers == expected.messages.size() + (expected.line_too_long ? 1 : 0),
             std::to_string(answers) + " replies, model expects " +
                 std::to_string(expected.messages.size()) +
                 (expected.line_too_long ? " + error" : ""));
  for (size_t i = 0; i < expected.messages.size(); ++i) {
    const Sent& s = reply.parts[greeting_sends + i];
    fuzz_check(s.first == expected.messages[i], "reply " + std::to_string(i) + ": \"" +
                                                    printable(s.first) + "\" expected \"" +
                                                    printable(expected.messages[i]) + "\"");
    std::string_view digits = s.second;
    if (options.line_framing) {
      fuzz_check(s.first.ends_with('\n') && digits.ends_with('\n'),
                 "line reply without \\n: \"" + printable(s.first + s.second) + "\"");
      digits.remove_suffix(1);
    }
    check_digits(digits, options);
  }
  if (expected.line_too_long) {
    const Sent& s = reply.parts.back();
    fuzz_check((s.first + s.second).starts_with("error: ") && (s.first + s.second).ends_with('\n'),
               "line error: \"" + printable(s.first + s.second) + "\"");
  }
  return 0;
}
