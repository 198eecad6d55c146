// ErrorKind: how an operation or connection failed, as the summary reports it.
#pragma once

#include <cstddef>
#include <string_view>

namespace socketd::bench {

enum class ErrorKind {
  kConnectRefused,  // ECONNREFUSED: nobody listening (or a UDP port unreachable)
  kReset,           // ECONNRESET / EPIPE / ECONNABORTED: the server reset the connection
  kTimeout,         // --timeout without progress, or the kernel's ETIMEDOUT
  kWrongReply,      // bytes that are not what the protocol promises
  kUnexpectedEof,   // the server closed while we still expected something
  kOther,           // anything else, mostly local: EMFILE, EADDRNOTAVAIL, ...
};
inline constexpr size_t kErrorKinds = 6;

std::string_view label(ErrorKind kind);     // "connect refused"
std::string_view json_key(ErrorKind kind);  // "connect_refused"
ErrorKind classify_errno(int err);

}  // namespace socketd::bench
