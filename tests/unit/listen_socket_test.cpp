// The listening sockets socketd opens: a taken address fails for UDP exactly
// as for TCP unless both sides asked for reuse_port.
#include <gtest/gtest.h>

#include "net/socket.hpp"

namespace socketd {
namespace {

SocketAddress loopback_any_port() {
  return *SocketAddress::parse("127.0.0.1:0");
}

TEST(ListenSocket, UdpAddressTakenWithoutReusePortFails) {
  auto first = bind_udp(loopback_any_port());
  ASSERT_TRUE(first);
  auto taken = local_address(first->get());
  ASSERT_TRUE(taken);
  auto second = bind_udp(*taken);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), std::errc::address_in_use);
}

TEST(ListenSocket, UdpAddressIsSharedOnlyWithReusePortOnBothSides) {
  auto first = bind_udp(loopback_any_port(), /*reuse_port=*/true);
  ASSERT_TRUE(first);
  auto taken = local_address(first->get());
  ASSERT_TRUE(taken);
  EXPECT_TRUE(bind_udp(*taken, true));
  auto plain = bind_udp(*taken, false);
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error(), std::errc::address_in_use);
}

TEST(ListenSocket, TcpAddressTakenFails) {
  auto first = listen_tcp(loopback_any_port(), {});
  ASSERT_TRUE(first);
  auto taken = local_address(first->get());
  ASSERT_TRUE(taken);
  auto second = listen_tcp(*taken, {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), std::errc::address_in_use);
}

}  // namespace
}  // namespace socketd
