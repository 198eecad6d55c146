// PROXY protocol (HAProxy's, versions 1 and 2): the header a load balancer
// sends before the client's bytes, naming the client it accepted. Pure: no
// syscalls. parse_proxy_header() judges a prefix of the stream;
// ProxyHeaderReader accumulates reads (split at any offset) up to a bounded
// size and says how much of the last read was header.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "net/address.hpp"

namespace socketd {

struct ProxyHeader {
  int version = 0;  // 1 or 2
  // LOCAL (v2), UNKNOWN (v1), or an address family socketd does not use
  // (v2 UNSPEC, UNIX, datagram): the proxy speaks for itself (a health
  // check), so the socket's own peer address stands.
  bool local = true;
  SocketAddress source;       // the client, when !local
  SocketAddress destination;  // the address the client connected to, when !local
};

struct ProxyParse {
  enum class Status { kNeedMore, kParsed, kInvalid };
  Status status = Status::kNeedMore;
  size_t length = 0;   // bytes of header, when kParsed
  ProxyHeader header;  // when kParsed
  std::string error;   // why, when kInvalid
};

// Longest header accepted: a v1 line is at most 107 bytes; a v2 header is 16
// bytes plus its length, capped here (TLVs beyond this are refused) to bound
// what an unauthenticated peer can make us hold.
inline constexpr size_t kMaxProxyHeader = 4096;
inline constexpr size_t kMaxProxyV1Line = 107;

// Judges `bytes`, the first bytes of a connection: kNeedMore while they are
// a possible beginning of a header, kInvalid as soon as they cannot be.
// Monotone: more bytes never turn kInvalid or kParsed into something else.
ProxyParse parse_proxy_header(std::string_view bytes);

// Feeds the reads of one connection to parse_proxy_header(), holding at most
// kMaxProxyHeader bytes.
class ProxyHeaderReader {
 public:
  // `chunk` is what one read returned. When the result is kParsed,
  // consumed_from_last() bytes of `chunk` were header; the rest is payload.
  const ProxyParse& feed(std::span<const char> chunk);
  const ProxyParse& result() const { return result_; }
  size_t consumed_from_last() const { return consumed_from_last_; }
  // The bytes fed so far while the header is incomplete (for a hand-over).
  const std::string& pending() const { return bytes_; }

 private:
  std::string bytes_;
  ProxyParse result_;
  size_t consumed_from_last_ = 0;
};

}  // namespace socketd
