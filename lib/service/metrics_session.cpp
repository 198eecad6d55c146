#include "service/metrics_session.hpp"

namespace socketd {
namespace {
constexpr std::string_view kPath = "/metrics";
constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
}  // namespace

void MetricsSession::on_data(std::span<const char> chunk, Reply& reply) {
  if (answered_) return;  // a body or a pipelined request: not read, the connection closes
  const auto status = parser_.feed(as_view(chunk));
  if (status == HttpRequestParser::Status::kNeedMore) return;
  answer(reply);
}

void MetricsSession::answer(Reply& reply) {
  answered_ = true;
  using Status = HttpRequestParser::Status;
  const auto status = parser_.status();
  if (status != Status::kComplete) {
    const auto line = http_error_status(status);
    respond(reply, line, {}, kTextPlain, std::string(line) + "\n", false);
    return;
  }
  const auto method = parser_.method();
  const bool head = method == "HEAD";
  if (parser_.path() != kPath) {
    respond(reply, "404 Not Found", {}, kTextPlain,
            "404 Not Found: the metrics are at " + std::string(kPath) + "\n", head);
    return;
  }
  if (method != "GET" && !head) {
    respond(reply, "405 Method Not Allowed", "Allow: GET, HEAD\r\n", kTextPlain,
            "405 Method Not Allowed: use GET\n", false);
    return;
  }
  std::string body;
  if (render_) render_(body);
  respond(reply, "200 OK", {}, kContentType, std::move(body), head);
}

void MetricsSession::respond(Reply& reply, std::string_view status, std::string_view extra_headers,
                             std::string_view content_type, std::string body, bool head) {
  std::string header;
  header.reserve(160);
  header.append("HTTP/1.1 ").append(status).append("\r\n");
  header.append("Content-Type: ").append(content_type).append("\r\n");
  header.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  header.append(extra_headers);
  header.append("Connection: close\r\n\r\n");
  reply.send(header, head ? std::string_view() : std::string_view(body));
  reply.close();
}

}  // namespace socketd
