// MetricsSession: the metrics endpoint's protocol. Reads one HTTP/1.x request
// (HttpRequestParser), answers GET or HEAD /metrics with the exposition the
// render function writes, 404 for other paths, 405 (with Allow) for other
// methods, 400/414/431/505 for requests it cannot take; then closes
// (Connection: close). No syscalls: rendering is the caller's function.
#pragma once

#include <functional>
#include <string>

#include "service/http_request.hpp"
#include "service/session.hpp"

namespace socketd {

struct MetricsOptions {
  size_t max_request_bytes = 8192;
};

class MetricsSession final : public Session {
 public:
  // Appends the exposition (text format 0.0.4) to its argument.
  using Render = std::function<void(std::string&)>;
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  MetricsSession(const MetricsOptions& options, Render render)
      : parser_(options.max_request_bytes), render_(std::move(render)) {}
  void on_data(std::span<const char> chunk, Reply& reply) override;

 private:
  void answer(Reply& reply);
  void respond(Reply& reply, std::string_view status, std::string_view extra_headers,
               std::string_view content_type, std::string body, bool head);

  HttpRequestParser parser_;
  Render render_;
  bool answered_ = false;
};

}  // namespace socketd
