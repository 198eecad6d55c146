// fuzz_metrics: the metrics endpoint's request parser (HttpRequestParser) and
// MetricsSession. Byte 0 = read size (1..32), byte 1 chooses
// max_request_bytes (256 << (b % 4)), the rest is what the client sends.
// Invariants: the parser's verdict, method, target and head length do not
// depend on how the bytes were cut into reads, and a verdict once reached
// stands; a complete head is within max_request_bytes, its method a token and
// its target non-empty visible bytes; the session answers exactly once, only
// once the verdict is in, with "HTTP/1.1 NNN", a Content-Length equal to the
// body (none for HEAD) and Connection: close, then closes; 200 only for GET
// or HEAD of /metrics, 405 (with Allow) only for a complete request.
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "service/http_request.hpp"
#include "service/metrics_session.hpp"
#include "support/session_driver.hpp"

namespace socketd::fuzz {
namespace {

using Status = HttpRequestParser::Status;
using test::RecordingReply;

constexpr std::string_view kBody = "socketd_fuzz 1\n";

void check_response(const RecordingReply& reply, const HttpRequestParser& parser) {
  fuzz_check(reply.send_calls == 1 && reply.closed(), "one answer, then close");
  const std::string& r = reply.bytes;
  fuzz_check(r.starts_with("HTTP/1.1 ") && r.size() > 12 && r[12] == ' ', "status line");
  const std::string_view code(r.data() + 9, 3);
  const auto head_end = r.find("\r\n\r\n");
  fuzz_check(head_end != std::string::npos, "head ends");
  const std::string head = r.substr(0, head_end + 2);
  const std::string body = r.substr(head_end + 4);
  fuzz_check(head.find("\r\nConnection: close\r\n") != std::string::npos, "Connection: close");
  const auto length_at = head.find("\r\nContent-Length: ");
  fuzz_check(length_at != std::string::npos, "Content-Length");
  size_t length = 0;
  const char* digits = head.data() + length_at + 18;
  std::from_chars(digits, head.data() + head.size(), length);
  const bool head_request = parser.status() == Status::kComplete && parser.method() == "HEAD";
  fuzz_check(head_request ? body.empty() : body.size() == length, "Content-Length = body");
  const bool complete = parser.status() == Status::kComplete;
  const bool wanted = complete && parser.path() == "/metrics";
  const bool get = parser.method() == "GET" || parser.method() == "HEAD";
  if (code == "200") {
    fuzz_check(wanted && get, "200 for GET/HEAD /metrics only");
    fuzz_check(head_request || body == kBody, "200 carries the exposition");
    fuzz_check(head.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") !=
                   std::string::npos,
               "exposition content type");
  } else if (code == "405") {
    fuzz_check(wanted && !get, "405 for other methods on /metrics");
    fuzz_check(head.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos, "405 says Allow");
  } else if (code == "404") {
    fuzz_check(complete && !wanted, "404 for other paths");
  } else {
    fuzz_check(!complete, "an error status for a complete request: " + std::string(code));
  }
}

}  // namespace
}  // namespace socketd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace socketd;
  using namespace socketd::fuzz;
  FuzzInput input(data, size);
  const size_t read_size = input.byte() % 32 + 1;
  const size_t max_bytes = size_t{256} << (input.byte() % 4);
  const std::string_view stream = input.rest();

  HttpRequestParser whole(max_bytes);
  whole.feed(stream);
  const size_t whole_length = whole.consumed_from_last();
  if (whole.status() == Status::kComplete) {
    fuzz_check(whole_length <= max_bytes, "complete head within max_request_bytes");
    fuzz_check(!whole.method().empty() && !whole.target().empty(), "method and target");
    for (char c : whole.target()) {
      fuzz_check(static_cast<unsigned char>(c) > 0x20 && c != 0x7f, "target is visible bytes");
    }
  }
  if (whole.status() == Status::kNeedMore) fuzz_check(whole_length == stream.size(), "all read");

  HttpRequestParser split(max_bytes);
  MetricsSession session({.max_request_bytes = max_bytes},
                         [](std::string& out) { out.append(kBody); });
  RecordingReply reply;
  session.on_open(reply);
  size_t offset = 0;
  size_t consumed = 0;
  Status verdict = Status::kNeedMore;
  while (offset < stream.size()) {
    const auto chunk = stream.substr(offset, read_size);
    offset += chunk.size();
    const Status before = split.status();
    const Status now = split.feed(chunk);
    if (before != Status::kNeedMore) fuzz_check(now == before, "a verdict stands");
    consumed += split.consumed_from_last();
    if (before == Status::kNeedMore) verdict = now;
    session.on_data(as_span(chunk), reply);
    fuzz_check((reply.send_calls > 0) == (verdict != Status::kNeedMore),
               "answer exactly at the verdict");
  }
  fuzz_check(split.status() == whole.status(), "split and whole agree on the verdict");
  fuzz_check(consumed == whole_length, "split and whole agree on the head's length");
  fuzz_check(split.method() == whole.method() && split.target() == whole.target(),
             "split and whole agree on method and target");
  if (split.status() != Status::kNeedMore) {
    check_response(reply, split);
  } else {
    session.on_eof(reply);
    fuzz_check(reply.send_calls == 0 && reply.closed(), "FIN before a verdict: closed, no answer");
  }
  fuzz_check(!reply.sent_after_close, "send after close()");
  return 0;
}
