// fuzz_cidr: Cidr::parse() on arbitrary text (the allow/deny entries of the
// config). Whatever it accepts is a well-formed range: prefix within the
// family's width, host bits zero, written as digits only after '/'; it prints
// (to_string) as text that parses back to the same range; and it contains its
// own network address, so no accepted entry can be one that never matches.
// Text with a NUL byte is refused (nothing after it may be silently ignored).
#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "net/access_list.hpp"
#include "net/address.hpp"

namespace socketd::fuzz {
namespace {

bool same(const Cidr& a, const Cidr& b) {
  return a.family == b.family && a.prefix == b.prefix && a.bytes == b.bytes;
}

SocketAddress network_address(const Cidr& c) {
  sockaddr_storage storage{};
  if (c.family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    std::memcpy(&v4->sin_addr, c.bytes.data(), 4);
    return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), sizeof *v4);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  v6->sin6_family = AF_INET6;
  std::memcpy(&v6->sin6_addr, c.bytes.data(), 16);
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), sizeof *v6);
}

}  // namespace
}  // namespace socketd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace socketd;
  using namespace socketd::fuzz;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto cidr = Cidr::parse(text);
  if (!cidr) return 0;
  const std::string input = "\"" + printable(text) + "\"";
  fuzz_check(text.find('\0') == std::string_view::npos,
             input + " accepted as " + cidr->to_string() + " despite a NUL byte");
  fuzz_check(cidr->family == AF_INET || cidr->family == AF_INET6, input);
  const int width = cidr->family == AF_INET ? 32 : 128;
  fuzz_check(cidr->prefix >= 0 && cidr->prefix <= width, input);
  for (int bit = cidr->prefix; bit < width; ++bit) {
    const auto byte = cidr->bytes[static_cast<size_t>(bit / 8)];
    fuzz_check(!(byte & (0x80u >> (bit % 8))),
               input + ": host bit " + std::to_string(bit) + " set");
  }
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    fuzz_check(
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }),
        input + " accepted with prefix \"" + printable(digits) + "\" (parsed as /" +
            std::to_string(cidr->prefix) + ")");
  }
  const std::string printed = cidr->to_string();
  const auto again = Cidr::parse(printed);
  fuzz_check(again && same(*again, *cidr), input + " prints as \"" + printed + "\"");
  fuzz_check(again->to_string() == printed,
             input + " prints as \"" + printed + "\" then \"" + again->to_string() + "\"");
  fuzz_check(cidr->contains(network_address(*cidr)),
             input + " (" + printed + ") does not contain its own network address " +
                 network_address(*cidr).to_string() + ": an entry that can never match");
  return 0;
}
