#include "service/http_request.hpp"

namespace socketd {
namespace {

// RFC 9110 token characters.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_vchar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x21 && u != 0x7f;  // visible ASCII and obs-text (0x80-0xff)
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr size_t kMaxTarget = 8192;

}  // namespace

HttpRequestParser::Status HttpRequestParser::feed(std::string_view bytes) {
  consumed_from_last_ = 0;
  for (char c : bytes) {
    if (status_ != Status::kNeedMore) break;
    ++consumed_from_last_;
    if (++seen_ > max_bytes_) {
      const bool in_request_line = state_ == State::kMethod || state_ == State::kTarget ||
                                   state_ == State::kVersion || state_ == State::kRequestLineLf;
      status_ = in_request_line ? Status::kUriTooLong : Status::kHeadersTooLarge;
      break;
    }
    status_ = step(c);
  }
  return status_;
}

HttpRequestParser::Status HttpRequestParser::step(char c) {
  switch (state_) {
    case State::kMethod:
      if (c == ' ') {
        if (method_.empty()) return Status::kBadRequest;
        state_ = State::kTarget;
        return Status::kNeedMore;
      }
      if (!is_tchar(c)) return Status::kBadRequest;
      // A longer token is valid but no method we serve: its prefix says so.
      if (method_.size() <= kMaxMethod) method_ += c;
      return Status::kNeedMore;
    case State::kTarget:
      if (c == ' ') {
        if (target_.empty()) return Status::kBadRequest;
        state_ = State::kVersion;
        return Status::kNeedMore;
      }
      if (!is_vchar(c)) return Status::kBadRequest;
      if (target_.size() >= kMaxTarget) return Status::kUriTooLong;
      target_ += c;
      return Status::kNeedMore;
    case State::kVersion:
      if (c == '\r') {
        state_ = State::kRequestLineLf;
        return Status::kNeedMore;
      }
      if (c == '\n') return end_request_line();  // a bare LF ends a line too (RFC 9112 2.2)
      if (version_.size() >= 8) return Status::kBadRequest;
      version_ += c;
      return Status::kNeedMore;
    case State::kRequestLineLf:
      if (c != '\n') return Status::kBadRequest;
      return end_request_line();
    case State::kFieldStart:
      if (c == '\r') {
        state_ = State::kHeadLf;
        return Status::kNeedMore;
      }
      if (c == '\n') {
        state_ = State::kDone;
        return version_minor_ == 1 && !has_host_ ? Status::kBadRequest : Status::kComplete;
      }
      // Leading whitespace is a folded line (obs-fold): rejected (RFC 9112 5.2).
      if (!is_tchar(c)) return Status::kBadRequest;
      field_name_.clear();
      field_name_length_ = 0;
      state_ = State::kFieldName;
      [[fallthrough]];
    case State::kFieldName:
      if (c == ':') {
        if (field_name_length_ == 0) return Status::kBadRequest;
        end_field_name();
        state_ = State::kFieldValue;
        return Status::kNeedMore;
      }
      if (!is_tchar(c)) return Status::kBadRequest;  // also "Name :" (RFC 9112 5.1)
      if (field_name_.size() < 5) field_name_ += lower(c);
      ++field_name_length_;
      return Status::kNeedMore;
    case State::kFieldValue:
      if (c == '\r') {
        state_ = State::kFieldLf;
        return Status::kNeedMore;
      }
      if (c == '\n') {
        state_ = State::kFieldStart;
        return Status::kNeedMore;
      }
      if (c != ' ' && c != '\t' && !is_vchar(c)) return Status::kBadRequest;
      return Status::kNeedMore;
    case State::kFieldLf:
      if (c != '\n') return Status::kBadRequest;
      state_ = State::kFieldStart;
      return Status::kNeedMore;
    case State::kHeadLf:
      if (c != '\n') return Status::kBadRequest;
      state_ = State::kDone;
      return version_minor_ == 1 && !has_host_ ? Status::kBadRequest : Status::kComplete;
    case State::kDone:
      break;
  }
  return status_;
}

HttpRequestParser::Status HttpRequestParser::end_request_line() {
  state_ = State::kFieldStart;
  if (version_.size() != 8 || !version_.starts_with("HTTP/") || version_[6] != '.' ||
      version_[5] < '0' || version_[5] > '9' || version_[7] < '0' || version_[7] > '9') {
    return Status::kBadRequest;
  }
  if (version_[5] != '1' || (version_[7] != '0' && version_[7] != '1')) {
    return Status::kVersionNotSupported;
  }
  version_minor_ = version_[7] - '0';
  return Status::kNeedMore;
}

void HttpRequestParser::end_field_name() {
  if (field_name_length_ == 4 && field_name_ == "host") has_host_ = true;
}

std::string_view http_error_status(HttpRequestParser::Status status) {
  switch (status) {
    case HttpRequestParser::Status::kUriTooLong:
      return "414 URI Too Long";
    case HttpRequestParser::Status::kHeadersTooLarge:
      return "431 Request Header Fields Too Large";
    case HttpRequestParser::Status::kVersionNotSupported:
      return "505 HTTP Version Not Supported";
    case HttpRequestParser::Status::kBadRequest:
    case HttpRequestParser::Status::kNeedMore:
    case HttpRequestParser::Status::kComplete:
      break;
  }
  return "400 Bad Request";
}

}  // namespace socketd
