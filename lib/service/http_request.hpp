// HttpRequestParser: reads one HTTP/1.x request head (request line and header
// fields, RFC 9112) from bytes split any way, with no syscalls. It keeps only
// the method, the target and whether a Host field came, and bounds the head to
// max_bytes. A body, if any, is not read: the metrics endpoint answers and
// closes (Connection: close).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace socketd {

class HttpRequestParser {
 public:
  enum class Status {
    kNeedMore,
    kComplete,
    kBadRequest,           // 400: not HTTP/1.x syntax, or HTTP/1.1 without Host
    kUriTooLong,           // 414: the request line alone is over max_bytes
    kHeadersTooLarge,      // 431: the head is over max_bytes
    kVersionNotSupported,  // 505: HTTP/d.d other than 1.0 and 1.1
  };
  // Longest method kept whole (a longer token keeps its first kMaxMethod + 1 bytes).
  static constexpr size_t kMaxMethod = 16;

  explicit HttpRequestParser(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Consumes bytes until the head is complete or wrong; returns the status
  // after them. Once no longer kNeedMore, further bytes are ignored.
  Status feed(std::string_view bytes);
  Status status() const { return status_; }
  // Bytes of `bytes` (the last feed) that belonged to the head.
  size_t consumed_from_last() const { return consumed_from_last_; }

  std::string_view method() const { return method_; }
  std::string_view target() const { return target_; }
  // The target without its query ("/metrics?x=1" -> "/metrics").
  std::string_view path() const { return std::string_view(target_).substr(0, target_.find('?')); }
  int version_minor() const { return version_minor_; }

 private:
  enum class State {
    kMethod,
    kTarget,
    kVersion,
    kRequestLineLf,  // after CR of the request line
    kFieldStart,     // at the start of a header line (or the blank line)
    kFieldName,
    kFieldValue,
    kFieldLf,  // after CR of a header line
    kHeadLf,   // after CR of the blank line
    kDone,
  };
  Status step(char c);
  Status end_request_line();
  void end_field_name();

  size_t max_bytes_;
  State state_ = State::kMethod;
  Status status_ = Status::kNeedMore;
  size_t seen_ = 0;  // bytes of the head so far
  size_t consumed_from_last_ = 0;
  std::string method_;
  std::string target_;
  std::string version_;
  std::string field_name_;  // lower-cased, only as long as needed to spot "host"
  size_t field_name_length_ = 0;
  int version_minor_ = 1;
  bool has_host_ = false;
};

// "400 Bad Request", ... for a status other than kNeedMore and kComplete.
std::string_view http_error_status(HttpRequestParser::Status status);

}  // namespace socketd
