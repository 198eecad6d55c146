// PROXY protocol headers as a load balancer sends them, for tests: v1 lines
// and v2 binary headers built from addresses, independently of the parser.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "net/address.hpp"

namespace socketd::test {

inline std::string proxy_v1(const SocketAddress& source, const SocketAddress& destination) {
  const char* proto = source.family() == AF_INET ? "TCP4" : "TCP6";
  return std::string("PROXY ") + proto + " " + source.host() + " " + destination.host() + " " +
         std::to_string(source.port()) + " " + std::to_string(destination.port()) + "\r\n";
}

enum class ProxyCommand : uint8_t { kLocal = 0x20, kProxy = 0x21 };

// A v2 header; `tlv_bytes` of padding TLV (type 0x04, NOOP) after the addresses.
inline std::string proxy_v2(const SocketAddress& source, const SocketAddress& destination,
                            ProxyCommand command = ProxyCommand::kProxy, size_t tlv_bytes = 0) {
  std::string out("\r\n\r\n\0\r\nQUIT\n", 12);
  out += static_cast<char>(command);
  std::string body;
  const bool v4 = source.family() == AF_INET;
  out += static_cast<char>(v4 ? 0x11 : 0x21);
  const auto raw = [](const SocketAddress& a) {
    if (a.family() == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a.get());
      return std::string(reinterpret_cast<const char*>(&in->sin_addr), 4);
    }
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a.get());
    return std::string(reinterpret_cast<const char*>(&in6->sin6_addr), 16);
  };
  const auto port = [](const SocketAddress& a) {
    const uint16_t p = htons(a.port());
    return std::string(reinterpret_cast<const char*>(&p), 2);
  };
  body = raw(source) + raw(destination) + port(source) + port(destination);
  if (tlv_bytes >= 3) {
    const size_t value = tlv_bytes - 3;
    body += '\x04';
    body += static_cast<char>(value >> 8);
    body += static_cast<char>(value & 0xFF);
    body += std::string(value, '\0');
  }
  out += static_cast<char>(body.size() >> 8);
  out += static_cast<char>(body.size() & 0xFF);
  return out + body;
}

}  // namespace socketd::test
