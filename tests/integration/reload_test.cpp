// Server::apply as a reload: unchanged listeners keep their socket, moved
// services keep their connections, a failed bind changes nothing.
#include <gtest/gtest.h>

#include "net/socket.hpp"
#include "support/loopback.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

ServiceConfig chat_on(const std::string& name, const SocketAddress& at, std::string greeting) {
  auto s = make_service(name, Mode::kChat);
  s.listen = {at};
  s.greeting = std::move(greeting);
  return s;
}

TEST(Reload, UnchangedListenerKeepsItsSocketAndNewOptionsApplyToNewClients) {
  TestServer server({chat_on("chat", *SocketAddress::parse("127.0.0.1:0"), "v1")});
  const auto before = server.address("chat");
  auto old_client = connect_tcp_blocking(before);
  ASSERT_EQ(recv_once(old_client.get()), "v1");
  ASSERT_TRUE(server.reconfigure({chat_on("chat", *SocketAddress::parse("127.0.0.1:0"), "v2")})
                  .empty());
  EXPECT_EQ(server.address("chat"), before);  // same socket, same port
  auto new_client = connect_tcp_blocking(before);
  EXPECT_EQ(recv_once(new_client.get()), "v2");
  send_all(old_client.get(), "still");
  EXPECT_TRUE(recv_once(old_client.get()).starts_with("still"));
}

TEST(Reload, MovedServiceKeepsOldConnectionsAndOldPortStopsListening) {
  TestServer server({chat_on("chat", *SocketAddress::parse("127.0.0.1:0"), "hi")});
  const auto old_address = server.address("chat");
  auto client = connect_tcp_blocking(old_address);
  ASSERT_EQ(recv_once(client.get()), "hi");
  // Find a free port for the move.
  auto probe = listen_tcp(*SocketAddress::parse("127.0.0.1:0"), {});
  const auto new_address = *local_address(probe->get());
  probe->reset();
  ASSERT_TRUE(server.reconfigure({chat_on("chat", new_address, "hi")}).empty());
  auto fresh = connect_tcp_blocking(new_address);
  EXPECT_EQ(recv_once(fresh.get()), "hi");
  send_all(client.get(), "old");
  EXPECT_TRUE(recv_once(client.get()).starts_with("old"));
  Fd refused(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_NE(::connect(refused.get(), old_address.get(), old_address.size()), 0);
}

TEST(Reload, UnbindableAddressFailsTheWholeReload) {
  TestServer server({chat_on("a", *SocketAddress::parse("127.0.0.1:0"), "a")});
  auto occupied = listen_tcp(*SocketAddress::parse("127.0.0.1:0"), {});
  const auto taken = *local_address(occupied->get());
  const auto errors = server.reconfigure(
      {chat_on("a", *SocketAddress::parse("127.0.0.1:0"), "changed"),
       chat_on("b", taken, "b")});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("service 'b'"), std::string::npos);
  EXPECT_NE(errors[0].find(taken.to_string()), std::string::npos);
  auto client = connect_tcp_blocking(server.address("a"));
  EXPECT_EQ(recv_once(client.get()), "a");  // old options still in force
}

TEST(Reload, RemovedServiceServesItsConnectionsToTheEnd) {
  TestServer server({chat_on("a", *SocketAddress::parse("127.0.0.1:0"), "a"),
                     chat_on("b", *SocketAddress::parse("127.0.0.1:0"), "b")});
  const auto b_address = server.address("b");
  auto client = connect_tcp_blocking(b_address);
  ASSERT_EQ(recv_once(client.get()), "b");
  ASSERT_TRUE(server.reconfigure({chat_on("a", *SocketAddress::parse("127.0.0.1:0"), "a")})
                  .empty());
  send_all(client.get(), "going on");
  EXPECT_TRUE(recv_once(client.get()).starts_with("going on"));
  send_all(client.get(), "exit");
  EXPECT_TRUE(peer_closed(client.get()));
  EXPECT_TRUE(eventually([&] { return server.totals().open_connections == 0; }));
}

}  // namespace
}  // namespace socketd::test
