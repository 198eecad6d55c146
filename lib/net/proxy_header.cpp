#include "net/proxy_header.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace socketd {

namespace {

using Status = ProxyParse::Status;

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr size_t kV2FixedPart = 16;

ProxyParse need_more() { return {}; }

ProxyParse invalid(std::string error) {
  ProxyParse result;
  result.status = Status::kInvalid;
  result.error = std::move(error);
  return result;
}

ProxyParse parsed(size_t length, ProxyHeader header) {
  ProxyParse result;
  result.status = Status::kParsed;
  result.length = length;
  result.header = header;
  return result;
}

bool starts_as(std::string_view bytes, std::string_view expected) {
  const size_t n = std::min(bytes.size(), expected.size());
  return bytes.substr(0, n) == expected.substr(0, n);
}

SocketAddress make_address(int family, const void* address, uint16_t port_network_order) {
  sockaddr_storage storage{};
  if (family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    v4->sin_port = port_network_order;
    std::memcpy(&v4->sin_addr, address, 4);
    return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), sizeof *v4);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  v6->sin6_family = AF_INET6;
  v6->sin6_port = port_network_order;
  std::memcpy(&v6->sin6_addr, address, 16);
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), sizeof *v6);
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (;;) {
    const size_t space = line.find(' ', start);
    fields.push_back(line.substr(start, space - start));
    if (space == std::string_view::npos) return fields;
    start = space + 1;
  }
}

// A v1 port: decimal 0..65535 without leading zeros.
std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

std::optional<SocketAddress> parse_v1_endpoint(int family, std::string_view host,
                                               std::string_view port) {
  const auto number = parse_port(port);
  if (!number || host.empty() || host.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char text[INET6_ADDRSTRLEN] = {};
  std::memcpy(text, host.data(), host.size());
  unsigned char address[16];
  if (::inet_pton(family, text, address) != 1) return std::nullopt;
  return make_address(family, address, htons(*number));
}

// "PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n", "PROXY UNKNOWN ...\r\n".
ProxyParse parse_v1(std::string_view bytes) {
  if (!starts_as(bytes, kV1Prefix)) {
    return invalid("not a PROXY protocol header: it starts like neither \"PROXY \" (v1) nor the "
                   "v2 signature");
  }
  const std::string_view window = bytes.substr(0, kMaxProxyV1Line);
  size_t end = std::string_view::npos;
  for (size_t i = 0; i < window.size(); ++i) {
    if (window[i] == '\n') return invalid("PROXY v1 line has a line feed without carriage return");
    if (window[i] != '\r') continue;
    if (i + 1 == window.size()) break;  // the '\n' may come next
    if (window[i + 1] != '\n') {
      return invalid("PROXY v1 line has a carriage return without line feed");
    }
    end = i;
    break;
  }
  if (end == std::string_view::npos) {
    if (bytes.size() >= kMaxProxyV1Line) {
      return invalid("PROXY v1 line is not terminated by CRLF within 107 bytes");
    }
    return need_more();
  }
  const std::string_view line = bytes.substr(kV1Prefix.size(), end - kV1Prefix.size());
  const size_t length = end + 2;
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) {
    ProxyHeader header;
    header.version = 1;
    return parsed(length, header);  // the rest of the line is to be ignored
  }
  const auto fields = split_spaces(line);
  const int family = fields[0] == "TCP4" ? AF_INET : fields[0] == "TCP6" ? AF_INET6 : 0;
  if (family == 0) {
    return invalid("PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN");
  }
  if (fields.size() != 5) {
    return invalid("PROXY v1 line must be \"PROXY " + std::string(fields[0]) +
                   " SOURCE DESTINATION SOURCE_PORT DESTINATION_PORT\" with single spaces");
  }
  const auto source = parse_v1_endpoint(family, fields[1], fields[3]);
  const auto destination = parse_v1_endpoint(family, fields[2], fields[4]);
  if (!source || !destination) {
    return invalid(std::string("PROXY v1 line has an invalid ") +
                   (family == AF_INET ? "IPv4" : "IPv6") +
                   " address or port (ports are 0..65535 without leading zeros)");
  }
  ProxyHeader header;
  header.version = 1;
  header.local = false;
  header.source = *source;
  header.destination = *destination;
  return parsed(length, header);
}

uint16_t load_u16(std::string_view bytes, size_t at) {
  uint16_t value;
  std::memcpy(&value, bytes.data() + at, 2);
  return value;  // network order
}

ProxyParse parse_v2(std::string_view bytes) {
  if (!starts_as(bytes, kV2Signature)) {
    return invalid("not a PROXY protocol header: it starts like neither \"PROXY \" (v1) nor the "
                   "v2 signature");
  }
  if (bytes.size() <= kV2Signature.size()) return need_more();
  const auto version_command = static_cast<unsigned char>(bytes[12]);
  if ((version_command >> 4) != 2) return invalid("PROXY v2 header has a version other than 2");
  const unsigned command = version_command & 0x0F;
  if (command > 1) return invalid("PROXY v2 command must be LOCAL or PROXY");
  if (bytes.size() < kV2FixedPart) return need_more();
  const auto family_transport = static_cast<unsigned char>(bytes[13]);
  const size_t length = kV2FixedPart + ntohs(load_u16(bytes, 14));
  if (length > kMaxProxyHeader) {
    return invalid("PROXY v2 header is " + std::to_string(length) + " bytes, more than the " +
                   std::to_string(kMaxProxyHeader) + " accepted");
  }
  const bool inet = family_transport == 0x11;   // AF_INET over STREAM
  const bool inet6 = family_transport == 0x21;  // AF_INET6 over STREAM
  const size_t address_block = inet ? 12 : inet6 ? 36 : 0;
  if (command == 1 && length - kV2FixedPart < address_block) {
    return invalid("PROXY v2 header is too short for its " +
                   std::string(inet ? "IPv4" : "IPv6") + " addresses");
  }
  if (bytes.size() < length) return need_more();
  ProxyHeader header;
  header.version = 2;
  if (command == 0 || address_block == 0) return parsed(length, header);  // TLVs skipped
  const int family = inet ? AF_INET : AF_INET6;
  const size_t width = inet ? 4 : 16;
  const char* block = bytes.data() + kV2FixedPart;
  header.local = false;
  header.source = make_address(family, block, load_u16(bytes, kV2FixedPart + 2 * width));
  header.destination =
      make_address(family, block + width, load_u16(bytes, kV2FixedPart + 2 * width + 2));
  return parsed(length, header);
}

}  // namespace

ProxyParse parse_proxy_header(std::string_view bytes) {
  if (bytes.empty()) return need_more();
  return bytes[0] == kV2Signature[0] ? parse_v2(bytes) : parse_v1(bytes);
}

const ProxyParse& ProxyHeaderReader::feed(std::span<const char> chunk) {
  if (result_.status != Status::kNeedMore) return result_;
  const size_t before = bytes_.size();
  const size_t take = std::min(chunk.size(), kMaxProxyHeader - before);
  bytes_.append(chunk.data(), take);
  result_ = parse_proxy_header(bytes_);
  consumed_from_last_ = 0;
  if (result_.status == Status::kParsed) {
    consumed_from_last_ = result_.length - before;
    std::string().swap(bytes_);
  } else if (result_.status == Status::kNeedMore && bytes_.size() >= kMaxProxyHeader) {
    result_ = invalid("PROXY header longer than " + std::to_string(kMaxProxyHeader) + " bytes");
  }
  return result_;
}

}  // namespace socketd
