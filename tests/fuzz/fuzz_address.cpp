// fuzz_address: SocketAddress::parse() on arbitrary text. Whatever it accepts
// prints (to_string) in a form it accepts again as the same address, and that
// printed form is canonical (printing it again gives the same text). Text
// with a NUL byte is refused (nothing after it may be silently ignored).
#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "net/address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace socketd;
  using namespace socketd::fuzz;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto address = SocketAddress::parse(text);
  if (!address) return 0;
  const std::string input = "\"" + printable(text) + "\"";
  // inet_pton() stops at a NUL: text after it must not be silently ignored.
  fuzz_check(text.find('\0') == std::string_view::npos,
             input + " accepted as " + address->to_string() + " despite a NUL byte");
  fuzz_check(address->family() == AF_INET || address->family() == AF_INET6, input);
  fuzz_check(address->size() ==
                 (address->family() == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6)),
             input);
  const std::string printed = address->to_string();
  const auto again = SocketAddress::parse(printed);
  fuzz_check(again.has_value(), input + " prints as \"" + printed + "\", which does not parse");
  fuzz_check(*again == *address, input + " prints as \"" + printed + "\", a different address");
  fuzz_check(again->port() == address->port() && again->host() == address->host(), input);
  fuzz_check(again->to_string() == printed,
             input + " prints as \"" + printed + "\" then \"" + again->to_string() + "\"");
  // The port is the text after the last ':'; parse() takes it exactly.
  const auto port_text = text.substr(text.rfind(':') + 1);
  fuzz_check(std::stoul(std::string(port_text)) == address->port(), input);
  return 0;
}
