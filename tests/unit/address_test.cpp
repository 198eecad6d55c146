// SocketAddress: parsing the config's "host:port" / "[v6]:port", printing the
// same form back, ports, equality, and conversion from a kernel sockaddr.
#include "net/address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace socketd {
namespace {

TEST(SocketAddressTest, ParsesIpv4) {
  const auto addr = SocketAddress::parse("127.0.0.1:8888");
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->family(), AF_INET);
  EXPECT_EQ(addr->port(), 8888);
  EXPECT_EQ(addr->host(), "127.0.0.1");
  EXPECT_EQ(addr->to_string(), "127.0.0.1:8888");
  EXPECT_EQ(addr->size(), sizeof(sockaddr_in));
  const auto* in = reinterpret_cast<const sockaddr_in*>(addr->get());
  EXPECT_EQ(in->sin_port, htons(8888));
  EXPECT_EQ(in->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
}

TEST(SocketAddressTest, ParsesIpv6InBrackets) {
  const auto addr = SocketAddress::parse("[::1]:8889");
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->family(), AF_INET6);
  EXPECT_EQ(addr->port(), 8889);
  EXPECT_EQ(addr->host(), "::1");
  EXPECT_EQ(addr->to_string(), "[::1]:8889");
  EXPECT_EQ(addr->size(), sizeof(sockaddr_in6));
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr->get());
  EXPECT_EQ(std::memcmp(&in6->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback), 0);
}

TEST(SocketAddressTest, ParsesWildcardsAndPortBounds) {
  const auto any4 = SocketAddress::parse("0.0.0.0:0");
  ASSERT_TRUE(any4);
  EXPECT_EQ(any4->port(), 0);
  EXPECT_EQ(any4->to_string(), "0.0.0.0:0");
  const auto any6 = SocketAddress::parse("[::]:0");
  ASSERT_TRUE(any6);
  EXPECT_EQ(any6->family(), AF_INET6);
  EXPECT_EQ(any6->to_string(), "[::]:0");
  const auto top = SocketAddress::parse("10.1.2.3:65535");
  ASSERT_TRUE(top);
  EXPECT_EQ(top->port(), 65535);
}

TEST(SocketAddressTest, PrintsCanonicalIpv6) {
  const auto addr = SocketAddress::parse("[2001:0db8:0000:0000:0000:0000:0000:0001]:443");
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->to_string(), "[2001:db8::1]:443");
  const auto mapped = SocketAddress::parse("[::ffff:127.0.0.1]:80");
  ASSERT_TRUE(mapped);
  EXPECT_EQ(mapped->family(), AF_INET6);
  EXPECT_EQ(mapped->to_string(), "[::ffff:127.0.0.1]:80");
}

TEST(SocketAddressTest, RejectsMalformedText) {
  for (const char* text : {
           "",
           "127.0.0.1",        // no port
           "127.0.0.1:",       // empty port
           ":8888",            // no host
           "127.0.0.1:65536",  // port too large
           "127.0.0.1:99999999999999999999",
           "127.0.0.1:-1",
           "127.0.0.1:+80",
           "127.0.0.1:80x",
           "127.0.0.1:8 0",
           "127.0.0.1: 80",
           "127.0.0.1:80 ",
           " 127.0.0.1:80",
           "127.0.0.1:0x50",
           "localhost:80",  // numeric hosts only: no resolving at start-up
           "example.com:80",
           "256.0.0.1:80",
           "1.2.3:80",
           "1.2.3.4.5:80",
           "::1:8888",  // IPv6 needs brackets
           "::1",
           "[::1]",      // no port
           "[::1]:",     // empty port
           "[::1]8888",  // missing colon
           "[::1:8888",  // unclosed bracket
           "[]:80",
           "[::1]:80:80",
           "[fe80::1%lo]:80",  // no scope ids
           "[localhost]:80",
       }) {
    EXPECT_FALSE(SocketAddress::parse(text)) << "accepted: \"" << text << "\"";
  }
}

TEST(SocketAddressTest, ToStringRoundTripsThroughParse) {
  for (const char* text : {"127.0.0.1:8888", "0.0.0.0:1", "192.168.100.200:65535", "[::1]:8888",
                           "[::]:0", "[fe80::1]:22", "[2001:db8::abcd:1]:9999"}) {
    const auto addr = SocketAddress::parse(text);
    ASSERT_TRUE(addr) << text;
    EXPECT_EQ(addr->to_string(), text);
    const auto again = SocketAddress::parse(addr->to_string());
    ASSERT_TRUE(again) << text;
    EXPECT_TRUE(*again == *addr) << text;
  }
}

TEST(SocketAddressTest, SetPortChangesOnlyThePort) {
  auto v4 = SocketAddress::parse("127.0.0.1:0");
  ASSERT_TRUE(v4);
  v4->set_port(4242);
  EXPECT_EQ(v4->port(), 4242);
  EXPECT_EQ(v4->to_string(), "127.0.0.1:4242");
  auto v6 = SocketAddress::parse("[::1]:0");
  ASSERT_TRUE(v6);
  v6->set_port(65535);
  EXPECT_EQ(v6->to_string(), "[::1]:65535");
}

TEST(SocketAddressTest, EqualityComparesFamilyHostAndPort) {
  const auto a = *SocketAddress::parse("127.0.0.1:80");
  EXPECT_TRUE(a == *SocketAddress::parse("127.0.0.1:80"));
  EXPECT_FALSE(a == *SocketAddress::parse("127.0.0.1:81"));
  EXPECT_FALSE(a == *SocketAddress::parse("127.0.0.2:80"));
  EXPECT_FALSE(a == *SocketAddress::parse("[::ffff:127.0.0.1]:80"))
      << "v4-mapped is another family";
  const auto b = *SocketAddress::parse("[::1]:80");
  EXPECT_TRUE(b == *SocketAddress::parse("[0:0:0:0:0:0:0:1]:80"));
  EXPECT_FALSE(b == *SocketAddress::parse("[::1]:81"));
  EXPECT_FALSE(b == *SocketAddress::parse("[::2]:80"));
}

TEST(SocketAddressTest, FromSockaddrOfABoundSocket) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  auto want = *SocketAddress::parse("127.0.0.1:0");
  ASSERT_EQ(::bind(fd, want.get(), want.size()), 0);
  sockaddr_storage storage{};
  socklen_t len = sizeof storage;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len), 0);
  ::close(fd);
  const auto addr = SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage), len);
  EXPECT_EQ(addr.family(), AF_INET);
  EXPECT_EQ(addr.size(), sizeof(sockaddr_in));
  EXPECT_NE(addr.port(), 0) << "the kernel chose a port";
  EXPECT_EQ(addr.host(), "127.0.0.1");
  want.set_port(addr.port());
  EXPECT_TRUE(addr == want);
}

TEST(SocketAddressTest, FromSockaddrIpv6) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(1234);
  in6.sin6_addr = in6addr_loopback;
  const auto addr =
      SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
  EXPECT_EQ(addr.to_string(), "[::1]:1234");
  EXPECT_TRUE(addr == *SocketAddress::parse("[::1]:1234"));
}

TEST(SocketAddressTest, DefaultAddressIsUsableAsARecvfromTarget) {
  SocketAddress addr;
  EXPECT_EQ(*addr.size_mut(), sizeof(sockaddr_storage)) << "room for any address family";
  EXPECT_EQ(addr.port(), 0);
  EXPECT_NE(addr.get_mut(), nullptr);
}

}  // namespace
}  // namespace socketd
