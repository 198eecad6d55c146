// PROXY protocol v1/v2 parsing: every split of a header (with payload behind
// it), IPv4 and IPv6, LOCAL/UNKNOWN, TLVs, and malformed input refused as
// early as it can be, with a reason.
#include "net/proxy_header.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/proxy_headers.hpp"

namespace socketd {
namespace {

using test::proxy_v1;
using test::proxy_v2;
using test::ProxyCommand;
using Status = ProxyParse::Status;

SocketAddress addr(std::string_view text) { return *SocketAddress::parse(text); }

const SocketAddress kClient4 = addr("192.0.2.7:56324");
const SocketAddress kServer4 = addr("198.51.100.1:8889");
const SocketAddress kClient6 = addr("[2001:db8::7]:40000");
const SocketAddress kServer6 = addr("[2001:db8::1]:443");

// Feeds `stream` in two reads split at every offset, and byte by byte; the
// header must end exactly where `header_size` says and the rest is payload.
void expect_every_split_parses(const std::string& stream, size_t header_size,
                               const SocketAddress* source) {
  std::vector<std::vector<size_t>> splits;
  for (size_t cut = 1; cut < stream.size(); ++cut) splits.push_back({cut, stream.size() - cut});
  splits.push_back(std::vector<size_t>(stream.size(), 1));
  for (const auto& sizes : splits) {
    ProxyHeaderReader reader;
    size_t offset = 0;
    std::string payload;
    for (size_t size : sizes) {
      const auto chunk = std::span<const char>(stream.data() + offset, size);
      const bool was_parsed = reader.result().status == Status::kParsed;
      if (was_parsed) {
        payload.append(chunk.data(), chunk.size());
      } else {
        const auto& result = reader.feed(chunk);
        ASSERT_NE(result.status, Status::kInvalid) << result.error << " at " << offset;
        if (result.status == Status::kParsed) {
          ASSERT_EQ(offset + reader.consumed_from_last(), header_size);
          payload.append(chunk.data() + reader.consumed_from_last(),
                         size - reader.consumed_from_last());
        } else {
          ASSERT_LT(offset + size, header_size);
        }
      }
      offset += size;
    }
    const auto& result = reader.result();
    ASSERT_EQ(result.status, Status::kParsed);
    EXPECT_EQ(result.length, header_size);
    EXPECT_EQ(payload, stream.substr(header_size));
    EXPECT_EQ(result.header.local, source == nullptr);
    if (source != nullptr) {
      EXPECT_EQ(result.header.source, *source);
    }
  }
}

TEST(ProxyHeader, V1Ipv4EverySplitWithPayloadBehind) {
  const std::string header = proxy_v1(kClient4, kServer4);
  EXPECT_EQ(header, "PROXY TCP4 192.0.2.7 198.51.100.1 56324 8889\r\n");
  expect_every_split_parses(header + "hello", header.size(), &kClient4);
  const auto result = parse_proxy_header(header);
  EXPECT_EQ(result.header.version, 1);
  EXPECT_EQ(result.header.destination, kServer4);
}

TEST(ProxyHeader, V1Ipv6EverySplit) {
  const std::string header = proxy_v1(kClient6, kServer6);
  expect_every_split_parses(header + "x", header.size(), &kClient6);
  EXPECT_EQ(parse_proxy_header(header).header.destination, kServer6);
}

TEST(ProxyHeader, V1UnknownKeepsTheSocketsOwnAddressAndIgnoresTheRest) {
  expect_every_split_parses("PROXY UNKNOWN\r\nhi", 15, nullptr);
  const std::string line = "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
  expect_every_split_parses(line, line.size(), nullptr);
}

TEST(ProxyHeader, V1LongestLinesAreAccepted) {
  const std::string ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const std::string tcp6 = "PROXY TCP6 " + ffff + " " + ffff + " 65535 65535\r\n";
  EXPECT_EQ(tcp6.size(), 104u);
  EXPECT_EQ(parse_proxy_header(tcp6).status, Status::kParsed);
  EXPECT_EQ(parse_proxy_header(tcp6).header.source.port(), 65535);
  const std::string unknown = "PROXY UNKNOWN " + ffff + " " + ffff + " 65535 65535\r\n";
  ASSERT_EQ(unknown.size(), kMaxProxyV1Line);
  EXPECT_EQ(parse_proxy_header(unknown).status, Status::kParsed);
  expect_every_split_parses(unknown + "!", unknown.size(), nullptr);
  EXPECT_EQ(parse_proxy_header("PROXY UNKNOWN " + ffff + " " + ffff + " 65535 655355\r\n").status,
            Status::kInvalid);
}

TEST(ProxyHeader, V2Ipv4AndIpv6EverySplit) {
  const std::string v4 = proxy_v2(kClient4, kServer4);
  EXPECT_EQ(v4.size(), 28u);
  expect_every_split_parses(v4 + "data", v4.size(), &kClient4);
  const std::string v6 = proxy_v2(kClient6, kServer6);
  EXPECT_EQ(v6.size(), 52u);
  expect_every_split_parses(v6 + "data", v6.size(), &kClient6);
  EXPECT_EQ(parse_proxy_header(v6).header.version, 2);
  EXPECT_EQ(parse_proxy_header(v6).header.destination, kServer6);
}

TEST(ProxyHeader, V2TlvsAreSkipped) {
  const std::string header = proxy_v2(kClient4, kServer4, ProxyCommand::kProxy, 300);
  EXPECT_EQ(header.size(), 28u + 300u);
  expect_every_split_parses(header + "after", header.size(), &kClient4);
}

TEST(ProxyHeader, V2LocalIsAHealthCheck) {
  const std::string header = proxy_v2(kClient4, kServer4, ProxyCommand::kLocal);
  expect_every_split_parses(header + "z", header.size(), nullptr);
  std::string bare("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);
  expect_every_split_parses(bare, 16, nullptr);
}

TEST(ProxyHeader, V2UnsupportedFamilyCountsAsLocal) {
  // AF_UNIX over STREAM (0x31) with 216 bytes of addresses, and UNSPEC (0x00).
  std::string unix_header("\r\n\r\n\0\r\nQUIT\n\x21\x31\x00\xd8", 16);
  unix_header += std::string(216, 'u');
  expect_every_split_parses(unix_header, unix_header.size(), nullptr);
  std::string unspec("\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x00", 16);
  expect_every_split_parses(unspec, 16, nullptr);
  // AF_INET over DGRAM.
  std::string dgram = proxy_v2(kClient4, kServer4);
  dgram[13] = 0x12;
  expect_every_split_parses(dgram, dgram.size(), nullptr);
}

ProxyParse parse(std::string_view bytes) { return parse_proxy_header(bytes); }

void expect_invalid(std::string_view bytes, std::string_view reason_part) {
  const auto result = parse(bytes);
  EXPECT_EQ(result.status, Status::kInvalid) << bytes;
  EXPECT_NE(result.error.find(reason_part), std::string::npos) << result.error;
}

TEST(ProxyHeader, GarbageIsRefusedAtItsFirstByte) {
  expect_invalid("h", "not a PROXY protocol header");
  expect_invalid("hello", "not a PROXY protocol header");
  expect_invalid("PROXx", "not a PROXY protocol header");
  expect_invalid(std::string("\r\n\r\n\0\r\nQUIX", 12), "not a PROXY protocol header");
  EXPECT_EQ(parse("").status, Status::kNeedMore);
  EXPECT_EQ(parse("PROX").status, Status::kNeedMore);
  EXPECT_EQ(parse(std::string("\r\n\r\n\0", 5)).status, Status::kNeedMore);
}

TEST(ProxyHeader, MalformedV1LinesAreRefusedWithAReason) {
  expect_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "line feed without carriage return");
  expect_invalid("PROXY TCP4 1.2.3.4\rx", "carriage return without line feed");
  expect_invalid("PROXY " + std::string(101, 'A'), "within 107 bytes");
  expect_invalid("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "TCP4, TCP6 or UNKNOWN");
  expect_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "single spaces");
  expect_invalid("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "single spaces");
  expect_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "single spaces");
  expect_invalid("PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n", "invalid IPv4");
  expect_invalid("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "invalid IPv4");
  expect_invalid("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "invalid IPv6");
  expect_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "invalid IPv4 address or port");
  expect_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "leading zeros");
  expect_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "invalid");
  expect_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", "invalid");
  expect_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2x\r\n", "invalid");
  expect_invalid("PROXY \r\n", "TCP4, TCP6 or UNKNOWN");
  expect_invalid("PROXY UNKNOWNX\r\n", "TCP4, TCP6 or UNKNOWN");
}

TEST(ProxyHeader, MalformedV2HeadersAreRefusedWithAReason) {
  std::string header = proxy_v2(kClient4, kServer4);
  std::string version = header;
  version[12] = 0x11;
  expect_invalid(version.substr(0, 13), "version other than 2");
  std::string command = header;
  command[12] = 0x22;
  expect_invalid(command.substr(0, 13), "LOCAL or PROXY");
  std::string short_v4 = header.substr(0, 16);
  short_v4[15] = 11;  // one byte short of two IPv4 addresses and ports
  expect_invalid(short_v4, "too short for its IPv4");
  std::string short_v6 = proxy_v2(kClient6, kServer6).substr(0, 16);
  short_v6[15] = 35;
  expect_invalid(short_v6, "too short for its IPv6");
  std::string huge = header.substr(0, 16);
  huge[14] = '\x10';  // 16 + 4096 bytes
  huge[15] = 0;
  expect_invalid(huge, "more than the 4096 accepted");
}

TEST(ProxyHeader, LargestV2HeaderIsAcceptedAndTheReaderStaysBounded) {
  const std::string header = proxy_v2(kClient4, kServer4, ProxyCommand::kProxy,
                                       kMaxProxyHeader - 28);
  ASSERT_EQ(header.size(), kMaxProxyHeader);
  ProxyHeaderReader reader;
  const std::string stream = header + std::string(10000, 'p');
  const auto& result = reader.feed(std::span<const char>(stream.data(), stream.size()));
  ASSERT_EQ(result.status, Status::kParsed);
  EXPECT_EQ(reader.consumed_from_last(), kMaxProxyHeader);
  EXPECT_EQ(result.header.source, kClient4);
}

TEST(ProxyHeader, ReaderReportsInvalidOnceAndKeepsIt) {
  ProxyHeaderReader reader;
  EXPECT_EQ(reader.feed(std::span<const char>("PROXY TCP4 ", 11)).status, Status::kNeedMore);
  EXPECT_EQ(reader.feed(std::span<const char>("x\n", 2)).status, Status::kInvalid);
  EXPECT_EQ(reader.feed(std::span<const char>("\r\n", 2)).status, Status::kInvalid);
}

}  // namespace
}  // namespace socketd
