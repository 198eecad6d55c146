// Many clients at once, and clients that misbehave: nobody starves, nobody
// slows the others, memory stays bounded.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "support/loopback.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

TEST(Concurrency, ThousandChatClientsAreAllServedEveryRound) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  ASSERT_GE(limit.rlim_cur, 2200u) << "needs 2 fds per client";

  auto chat = make_service("chat", Mode::kChat);
  chat.greeting = "success!";
  TestServer server({chat});
  constexpr int kClients = 1000;
  std::vector<Fd> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(connect_tcp_blocking(server.address("chat")));
    ASSERT_TRUE(clients.back().valid());
  }
  for (auto& c : clients) ASSERT_EQ(recv_once(c.get()), "success!");
  EXPECT_EQ(server.totals().open_connections, static_cast<uint64_t>(kClients));
  for (int round = 0; round < 3; ++round) {
    // Everyone sends first, then everyone reads: all 1000 requests are in
    // flight at once.
    for (int i = 0; i < kClients; ++i) send_all(clients[i].get(), "m" + std::to_string(i));
    int served = 0;
    for (int i = 0; i < kClients; ++i) {
      const std::string reply = recv_once(clients[i].get());
      const std::string expect = "m" + std::to_string(i);
      if (reply.starts_with(expect) && reply.size() > expect.size()) ++served;
    }
    ASSERT_EQ(served, kClients) << "round " << round;
  }
  for (auto& c : clients) send_all(c.get(), "exit");
  for (auto& c : clients) EXPECT_TRUE(peer_closed(c.get()));
  EXPECT_TRUE(eventually([&] { return server.totals().open_connections == 0; }));
}

TEST(Concurrency, ClientThatNeverReadsDoesNotHurtOthersAndIsBounded) {
  TestServer server({make_service("echo", Mode::kEcho)});
  auto hog = connect_tcp_blocking(server.address("echo"), std::chrono::milliseconds(200));
  // Write until the server stops reading us: our send times out (EAGAIN)
  // once its queue, both kernels' buffers and the daemon's high-water mark
  // are full.
  const std::string block(64 * 1024, 'x');
  size_t pushed = 0;
  for (;;) {
    const ssize_t n = ::send(hog.get(), block.data(), block.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    pushed += static_cast<size_t>(n);
    ASSERT_LT(pushed, 64u << 20) << "server kept reading a peer that never reads";
  }
  // Kernel buffers on both sides plus the daemon's high-water mark: a few MB.
  RecordProperty("bytes_accepted_before_backpressure", std::to_string(pushed));
  // Others are served normally meanwhile.
  for (int i = 0; i < 20; ++i) {
    auto fd = connect_tcp_blocking(server.address("echo"));
    send_all(fd.get(), "still here");
    EXPECT_EQ(recv_exact(fd.get(), 10), "still here");
  }
  EXPECT_EQ(server.totals().open_connections, 1u);  // the hog is still connected
  // And the hog itself is served once it reads again.
  timeval patient{5, 0};
  ::setsockopt(hog.get(), SOL_SOCKET, SO_RCVTIMEO, &patient, sizeof patient);
  std::string drained;
  while (drained.size() < pushed) {
    std::string part = recv_once(hog.get(), 1 << 20);
    if (part.empty()) break;
    drained += part;
  }
  EXPECT_EQ(drained.size(), pushed);
}

TEST(Concurrency, IdleClientsAreDisconnectedOnTime) {
  auto echo = make_service("echo", Mode::kEcho);
  echo.idle_timeout = std::chrono::milliseconds(200);
  TestServer server({echo});
  auto idle = connect_tcp_blocking(server.address("echo"));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(peer_closed(idle.get()));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kConnectionClosed));
  bool found = false;
  for (const auto& r : server.log().records()) {
    found |= r.message.find("idle timeout") != std::string::npos;
  }
  EXPECT_TRUE(found);
}

TEST(Concurrency, ConnectionCapsCloseExtraClientsCleanly) {
  auto echo = make_service("echo", Mode::kEcho);
  echo.max_connections = 2;
  TestServer server({echo});
  auto a = connect_tcp_blocking(server.address("echo"));
  auto b = connect_tcp_blocking(server.address("echo"));
  send_all(a.get(), "a");
  ASSERT_EQ(recv_once(a.get()), "a");
  send_all(b.get(), "b");
  ASSERT_EQ(recv_once(b.get()), "b");
  auto c = connect_tcp_blocking(server.address("echo"));
  EXPECT_TRUE(peer_closed(c.get()));  // EOF at once, not a hang
  ASSERT_TRUE(server.log().wait_for(LogEvent::kLimitHit));
  EXPECT_EQ(server.log().count(LogEvent::kLimitHit), 1u);
  a.reset();
  EXPECT_TRUE(eventually([&] { return server.totals().open_connections == 1; }));
  auto d = connect_tcp_blocking(server.address("echo"));
  send_all(d.get(), "d");
  EXPECT_EQ(recv_once(d.get()), "d");
}

TEST(Concurrency, GlobalCapAppliesAcrossServices) {
  DaemonConfig daemon;
  daemon.max_connections = 1;
  TestServer server({make_service("one", Mode::kEcho), make_service("two", Mode::kEcho)}, daemon);
  auto a = connect_tcp_blocking(server.address("one"));
  send_all(a.get(), "x");
  ASSERT_EQ(recv_once(a.get()), "x");
  auto b = connect_tcp_blocking(server.address("two"));
  EXPECT_TRUE(peer_closed(b.get()));
}

}  // namespace
}  // namespace socketd::test
