// HttpRequestParser and MetricsSession: the metrics endpoint's protocol, fed
// every request split at every offset (and every pair of offsets).
#include <gtest/gtest.h>

#include <string>

#include "service/http_request.hpp"
#include "service/metrics_session.hpp"
#include "support/session_driver.hpp"

namespace socketd {
namespace {

using Status = HttpRequestParser::Status;

constexpr std::string_view kPrometheusGet =
    "GET /metrics HTTP/1.1\r\n"
    "Host: 127.0.0.1:9100\r\n"
    "User-Agent: Prometheus/2.42.0\r\n"
    "Accept: "
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
    "Accept-Encoding: gzip\r\n"
    "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"
    "\r\n";

Status parse_split(const std::vector<std::string>& pieces, size_t max = 8192,
                   HttpRequestParser* out = nullptr) {
  HttpRequestParser local(max);
  HttpRequestParser& p = out != nullptr ? *out : local;
  Status s = Status::kNeedMore;
  for (const auto& piece : pieces) s = p.feed(piece);
  return s;
}

TEST(HttpRequestParser, PrometheusRequestAtEverySplit) {
  for (const auto& pieces : test::all_splits(kPrometheusGet)) {
    HttpRequestParser p(8192);
    ASSERT_EQ(parse_split(pieces, 8192, &p), Status::kComplete) << test::describe(pieces);
    EXPECT_EQ(p.method(), "GET");
    EXPECT_EQ(p.target(), "/metrics");
    EXPECT_EQ(p.version_minor(), 1);
  }
}

TEST(HttpRequestParser, BareLineFeedsAndHttp10WithoutHost) {
  HttpRequestParser p(8192);
  EXPECT_EQ(p.feed("HEAD /metrics?x=1 HTTP/1.0\n\n"), Status::kComplete);
  EXPECT_EQ(p.method(), "HEAD");
  EXPECT_EQ(p.path(), "/metrics");
  EXPECT_EQ(p.version_minor(), 0);
}

TEST(HttpRequestParser, StopsAtTheEndOfTheHead) {
  HttpRequestParser p(8192);
  const std::string request = "GET / HTTP/1.1\r\nhOsT: x\r\n\r\nbody";
  EXPECT_EQ(p.feed(request), Status::kComplete);
  EXPECT_EQ(p.consumed_from_last(), request.size() - 4);
  EXPECT_EQ(p.feed("more"), Status::kComplete);
}

TEST(HttpRequestParser, RejectsWhatIsNotHttp1) {
  const std::pair<std::string_view, Status> cases[] = {
      {"GET /metrics HTTP/1.1\r\n\r\n", Status::kBadRequest},              // 1.1 needs Host
      {"GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", Status::kBadRequest},  // empty target
      {" GET / HTTP/1.1\r\n", Status::kBadRequest},
      {"G(T / HTTP/1.1\r\n", Status::kBadRequest},
      {"GET /a b HTTP/1.1\r\n", Status::kBadRequest},
      {"GET / HTTP/1.1 \r\n", Status::kBadRequest},
      {"GET / HTTP/1.1\rX", Status::kBadRequest},
      {"GET / http/1.1\r\n", Status::kBadRequest},
      {"GET / HTTP/2.0\r\n", Status::kVersionNotSupported},
      {"GET / HTTP/1.2\r\n", Status::kVersionNotSupported},
      {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", Status::kBadRequest},  // space before colon
      {"GET / HTTP/1.1\r\n: x\r\n\r\n", Status::kBadRequest},
      {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", Status::kBadRequest},
      {"GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n", Status::kBadRequest},
      {"GET / HTTP/1.1\r\nHost: x\r\n\rX", Status::kBadRequest},
      {"\r\n", Status::kBadRequest},
  };
  for (const auto& [request, expected] : cases) {
    for (const auto& pieces : test::all_splits(request)) {
      EXPECT_EQ(parse_split(pieces), expected) << test::describe(pieces);
    }
  }
}

TEST(HttpRequestParser, NeedsMoreUntilTheBlankLine) {
  const std::string_view head = kPrometheusGet.substr(0, kPrometheusGet.size() - 2);
  HttpRequestParser p(8192);
  EXPECT_EQ(p.feed(head), Status::kNeedMore);
  EXPECT_EQ(p.feed("\r"), Status::kNeedMore);
  EXPECT_EQ(p.feed("\n"), Status::kComplete);
}

TEST(HttpRequestParser, BoundsTheHead) {
  // Exactly max_bytes is fine; one more is not.
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(parse_split({request}, request.size()), Status::kComplete);
  for (const auto& pieces : test::all_splits(request)) {
    EXPECT_EQ(parse_split(pieces, request.size() - 1), Status::kHeadersTooLarge)
        << test::describe(pieces);
  }
  // Over the bound inside the request line: the URI is too long.
  EXPECT_EQ(parse_split({"GET /" + std::string(300, 'a')}, 256), Status::kUriTooLong);
  // Endless headers never complete.
  HttpRequestParser p(1024);
  Status s = p.feed("GET / HTTP/1.1\r\n");
  for (int i = 0; i < 100 && s == Status::kNeedMore; ++i) s = p.feed("X-Filler: 0123456789\r\n");
  EXPECT_EQ(s, Status::kHeadersTooLarge);
}

TEST(HttpRequestParser, LongMethodIsKeptDistinct) {
  HttpRequestParser p(8192);
  const std::string method(100, 'G');
  EXPECT_EQ(p.feed(method + " / HTTP/1.0\r\n\r\n"), Status::kComplete);
  EXPECT_NE(p.method(), "GET");
  EXPECT_LE(p.method().size(), HttpRequestParser::kMaxMethod + 1);
}

// MetricsSession: what it answers, whatever the split.
struct Answer {
  std::string status_line;
  std::string headers;
  std::string body;
  bool closed = false;
};

Answer run_session(const std::vector<std::string>& pieces, size_t max = 8192) {
  MetricsSession session({.max_request_bytes = max},
                         [](std::string& out) { out += "socketd_test 1\n"; });
  test::RecordingReply reply;
  session.on_open(reply);
  for (const auto& piece : pieces) test::feed(session, reply, piece);
  Answer a;
  a.closed = reply.close_calls > 0;
  EXPECT_FALSE(reply.sent_after_close);
  const auto& bytes = reply.bytes;
  const auto line_end = bytes.find("\r\n");
  const auto head_end = bytes.find("\r\n\r\n");
  if (line_end == std::string::npos || head_end == std::string::npos) return a;
  a.status_line = bytes.substr(0, line_end);
  a.headers = bytes.substr(line_end + 2, head_end - line_end);
  a.body = bytes.substr(head_end + 4);
  return a;
}

TEST(MetricsSession, GetMetricsAtEverySplit) {
  for (const auto& pieces : test::all_splits(kPrometheusGet)) {
    const Answer a = run_session(pieces);
    ASSERT_EQ(a.status_line, "HTTP/1.1 200 OK") << test::describe(pieces);
    EXPECT_NE(a.headers.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
              std::string::npos);
    EXPECT_NE(a.headers.find("Content-Length: 15\r\n"), std::string::npos);
    EXPECT_NE(a.headers.find("Connection: close\r\n"), std::string::npos);
    EXPECT_EQ(a.body, "socketd_test 1\n");
    EXPECT_TRUE(a.closed);
  }
}

TEST(MetricsSession, NothingBeforeTheRequestIsComplete) {
  MetricsSession session({}, [](std::string& out) { out += "x 1\n"; });
  test::RecordingReply reply;
  test::feed(session, reply, kPrometheusGet.substr(0, kPrometheusGet.size() - 1));
  EXPECT_EQ(reply.send_calls, 0);
  EXPECT_EQ(reply.close_calls, 0);
  test::feed(session, reply, "\n");
  EXPECT_EQ(reply.send_calls, 1);
  test::feed(session, reply, "GET /metrics HTTP/1.0\r\n\r\n");  // pipelined: ignored
  EXPECT_EQ(reply.send_calls, 1);
}

TEST(MetricsSession, HeadHasTheLengthButNoBody) {
  const Answer a = run_session({"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"});
  EXPECT_EQ(a.status_line, "HTTP/1.1 200 OK");
  EXPECT_NE(a.headers.find("Content-Length: 15\r\n"), std::string::npos);
  EXPECT_EQ(a.body, "");
}

TEST(MetricsSession, OtherPathsAre404) {
  for (const auto& pieces : test::all_splits("GET /metricsx HTTP/1.1\r\nHost: x\r\n\r\n")) {
    const Answer a = run_session(pieces);
    EXPECT_EQ(a.status_line, "HTTP/1.1 404 Not Found") << test::describe(pieces);
    EXPECT_TRUE(a.closed);
  }
  EXPECT_EQ(run_session({"POST / HTTP/1.0\r\n\r\n"}).status_line, "HTTP/1.1 404 Not Found");
}

TEST(MetricsSession, OtherMethodsAre405WithAllow) {
  for (const auto& pieces : test::all_splits("POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n")) {
    const Answer a = run_session(pieces);
    EXPECT_EQ(a.status_line, "HTTP/1.1 405 Method Not Allowed") << test::describe(pieces);
    EXPECT_NE(a.headers.find("Allow: GET, HEAD\r\n"), std::string::npos);
  }
}

TEST(MetricsSession, BadAndOversizedRequests) {
  EXPECT_EQ(run_session({"GARBAGE\r\n\r\n"}).status_line, "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(run_session({"GET /metrics HTTP/1.1\r\n\r\n"}).status_line, "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(run_session({"GET /metrics HTTP/3.0\r\n\r\n"}).status_line,
            "HTTP/1.1 505 HTTP Version Not Supported");
  const std::string big = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(600, 'a');
  for (const auto& pieces : test::all_splits(big.substr(0, 300))) {
    const Answer a = run_session(pieces, 256);
    ASSERT_EQ(a.status_line, "HTTP/1.1 431 Request Header Fields Too Large")
        << test::describe(pieces);
    EXPECT_TRUE(a.closed);
  }
  EXPECT_EQ(run_session({"GET /" + std::string(600, 'a')}, 256).status_line,
            "HTTP/1.1 414 URI Too Long");
}

TEST(MetricsSession, FinBeforeTheRequestClosesWithoutAnswer) {
  MetricsSession session({}, [](std::string&) {});
  test::RecordingReply reply;
  test::feed(session, reply, "GET /met");
  session.on_eof(reply);
  EXPECT_EQ(reply.send_calls, 0);
  EXPECT_EQ(reply.close_calls, 1);
}

}  // namespace
}  // namespace socketd
