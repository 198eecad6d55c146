// A service with several listen addresses: one socket per address, all
// feeding the same service (its limits and counters); a reload keeps the
// socket of every address that stays and closes the one that goes.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "net/socket.hpp"
#include "support/loopback.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

bool echoes(const SocketAddress& to) {
  auto fd = connect_tcp_blocking(to);
  if (!fd) return false;
  send_all(fd.get(), "ping");
  return recv_exact(fd.get(), 4) == "ping";
}

std::vector<SocketAddress> bound_of(TestServer& server, const std::string& name) {
  std::vector<SocketAddress> out;
  server.run_in_loop([&] {
    for (const auto& l : server.server().listeners()) {
      if (l.service == name) out.push_back(l.address);
    }
  });
  return out;
}

ServiceConfig dual_echo(std::vector<SocketAddress> listen) {
  auto s = make_service("echo", Mode::kEcho);
  s.listen = std::move(listen);
  return s;
}

const SocketAddress kV4 = *SocketAddress::parse("127.0.0.1:0");
const SocketAddress kV6 = *SocketAddress::parse("[::1]:0");

TEST(ListenArray, OneServiceServesOnEveryAddress) {
  TestServer server({dual_echo({kV4, kV6})});
  const auto bound = bound_of(server, "echo");
  ASSERT_EQ(bound.size(), 2u);
  EXPECT_EQ(bound[0].family(), AF_INET);
  EXPECT_EQ(bound[1].family(), AF_INET6);
  for (const auto& address : bound) EXPECT_TRUE(echoes(address)) << address.to_string();
  EXPECT_EQ(server.totals().stats.connections_total, 2u);  // one service counts both
}

TEST(ListenArray, ReloadKeepsTheSocketsOfAddressesThatStay) {
  TestServer server({dual_echo({kV4, kV6})});
  const auto before = bound_of(server, "echo");
  ASSERT_EQ(before.size(), 2u);
  // Drop the IPv6 address: IPv4 keeps its socket (and port), IPv6 closes.
  ASSERT_TRUE(server.reconfigure({dual_echo({kV4})}).empty());
  const auto after = bound_of(server, "echo");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_TRUE(echoes(after[0]));
  Fd refused(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_NE(::connect(refused.get(), before[1].get(), before[1].size()), 0);
  // And back: the IPv4 socket still stays.
  ASSERT_TRUE(server.reconfigure({dual_echo({kV4, kV6})}).empty());
  const auto again = bound_of(server, "echo");
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0], before[0]);
  EXPECT_TRUE(echoes(again[1]));
}

TEST(ListenArray, AnUnbindableSecondAddressFailsTheWholeReload) {
  TestServer server({dual_echo({kV4})});
  const auto before = bound_of(server, "echo");
  auto occupied = listen_tcp(kV6, {});
  ASSERT_TRUE(occupied);
  const auto taken = *local_address(occupied->get());
  const auto errors = server.reconfigure({dual_echo({kV4, taken})});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("cannot listen on " + taken.to_string()), std::string::npos)
      << errors[0];
  EXPECT_EQ(bound_of(server, "echo"), before);
  EXPECT_TRUE(echoes(before[0]));
}

}  // namespace
}  // namespace socketd::test
