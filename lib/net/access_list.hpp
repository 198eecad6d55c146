// AccessList: per-service allow/deny by IPv4/IPv6 address or CIDR range. The
// most specific matching entry decides (like xinetd's only_from/no_access);
// on a tie deny wins; with no match, a client is allowed unless an allow list
// exists. IPv4-mapped IPv6 peers (::ffff:a.b.c.d) match IPv4 entries.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.hpp"

namespace socketd {

struct Cidr {
  int family = 0;                   // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // network byte order, host bits zeroed
  int prefix = 0;

  // "10.0.0.0/8", "192.168.1.7" (= /32), "fd00::/8", "::1" (= /128).
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const SocketAddress& address) const;
  std::string to_string() const;
};

class AccessList {
 public:
  AccessList() = default;
  AccessList(std::vector<Cidr> allow, std::vector<Cidr> deny)
      : allow_(std::move(allow)), deny_(std::move(deny)) {}
  bool empty() const { return allow_.empty() && deny_.empty(); }
  bool allows(const SocketAddress& peer) const;

 private:
  std::vector<Cidr> allow_;
  std::vector<Cidr> deny_;
};

}  // namespace socketd
