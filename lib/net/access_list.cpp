#include "net/access_list.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace socketd {
namespace {

// The peer as (family, 16 bytes), unwrapping IPv4-mapped IPv6.
std::pair<int, std::array<uint8_t, 16>> raw(const SocketAddress& address) {
  std::array<uint8_t, 16> bytes{};
  if (address.family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.get());
    std::memcpy(bytes.data(), &v4->sin_addr, 4);
    return {AF_INET, bytes};
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.get());
  if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
    std::memcpy(bytes.data(), reinterpret_cast<const uint8_t*>(&v6->sin6_addr) + 12, 4);
    return {AF_INET, bytes};
  }
  std::memcpy(bytes.data(), &v6->sin6_addr, 16);
  return {AF_INET6, bytes};
}

// Longest prefix among `list` that contains the peer, or -1.
int best_match(const std::vector<Cidr>& list, const SocketAddress& peer) {
  int best = -1;
  for (const auto& cidr : list) {
    if (cidr.prefix > best && cidr.contains(peer)) best = cidr.prefix;
  }
  return best;
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return std::nullopt;  // inet_pton stops there
  const auto slash = text.find('/');
  const std::string host(text.substr(0, slash));
  Cidr cidr;
  if (inet_pton(AF_INET, host.c_str(), cidr.bytes.data()) == 1) {
    cidr.family = AF_INET;
  } else if (inet_pton(AF_INET6, host.c_str(), cidr.bytes.data()) == 1) {
    cidr.family = AF_INET6;
  } else {
    return std::nullopt;
  }
  const int max = cidr.family == AF_INET ? 32 : 128;
  cidr.prefix = max;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    // Digits only: from_chars would take "-0" as 0.
    if (digits.empty() || digits.size() > 3 ||
        digits.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    std::from_chars(digits.data(), digits.data() + digits.size(), cidr.prefix);
    if (cidr.prefix > max) return std::nullopt;
  }
  // "::ffff:10.0.0.1" names an IPv4 client (peers are unwrapped the same way
  // in contains()), so store it as IPv4 or it would never match anyone.
  if (cidr.family == AF_INET6 && cidr.prefix >= 96 &&
      IN6_IS_ADDR_V4MAPPED(reinterpret_cast<const in6_addr*>(cidr.bytes.data()))) {
    std::array<uint8_t, 16> v4{};
    std::memcpy(v4.data(), cidr.bytes.data() + 12, 4);
    cidr.bytes = v4;
    cidr.family = AF_INET;
    cidr.prefix -= 96;
  }
  const int bits = cidr.family == AF_INET ? 32 : 128;
  for (int bit = cidr.prefix; bit < bits; ++bit) {
    cidr.bytes[static_cast<size_t>(bit / 8)] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return cidr;
}

bool Cidr::contains(const SocketAddress& address) const {
  const auto [peer_family, peer] = raw(address);
  if (peer_family != family) return false;
  const int whole = prefix / 8;
  if (std::memcmp(peer.data(), bytes.data(), static_cast<size_t>(whole)) != 0) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xFF00u >> rest);
  return (peer[static_cast<size_t>(whole)] & mask) == bytes[static_cast<size_t>(whole)];
}

std::string Cidr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix);
}

bool AccessList::allows(const SocketAddress& peer) const {
  if (empty()) return true;
  const int allow = best_match(allow_, peer);
  const int deny = best_match(deny_, peer);
  if (allow < 0 && deny < 0) return allow_.empty();
  return allow > deny;
}

}  // namespace socketd
