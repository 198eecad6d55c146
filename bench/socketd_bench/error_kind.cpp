#include "error_kind.hpp"

#include <cerrno>

namespace socketd::bench {

std::string_view label(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConnectRefused:
      return "connect refused";
    case ErrorKind::kReset:
      return "reset";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kWrongReply:
      return "wrong reply";
    case ErrorKind::kUnexpectedEof:
      return "unexpected EOF";
    case ErrorKind::kOther:
      return "other";
  }
  return "?";
}

std::string_view json_key(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConnectRefused:
      return "connect_refused";
    case ErrorKind::kReset:
      return "reset";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kWrongReply:
      return "wrong_reply";
    case ErrorKind::kUnexpectedEof:
      return "unexpected_eof";
    case ErrorKind::kOther:
      return "other";
  }
  return "?";
}

ErrorKind classify_errno(int err) {
  switch (err) {
    case ECONNREFUSED:
      return ErrorKind::kConnectRefused;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
      return ErrorKind::kReset;
    case ETIMEDOUT:
      return ErrorKind::kTimeout;
    default:
      return ErrorKind::kOther;
  }
}

}  // namespace socketd::bench
