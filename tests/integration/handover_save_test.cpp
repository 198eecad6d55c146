// Server::save_state() at an upgrade: a connection that is not handed over is
// closed the way a graceful close is (input it never read is discarded first),
// so its client sees FIN, never RST. The input is sent from the reactor thread
// right before save_state(), so no turn of the loop can read it first.
// Server::adopt_state(): the idle timers go on from the handed-over state.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "support/loopback.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

// Reads to the end: true for a clean EOF, false for a reset (or a timeout).
bool ends_with_fin(int fd, std::string& got) {
  for (char buf[256];;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n == 0;
  }
}

TEST(HandoverSave, UnreadUploadRequestIsClosedWithFin) {
  TestServer server({make_service("upload", Mode::kUpload)});
  Fd client = connect_tcp_blocking(server.address("upload"));
  ASSERT_TRUE(client);
  ASSERT_TRUE(eventually([&] { return server.totals().open_connections == 1; }));
  size_t handed_over = 99;
  server.run_in_loop([&] {
    send_all(client.get(), "quit");  // lands in the server's receive queue, unread
    handed_over = server.server().save_state().connections.size();
  });
  // An upload that has not read its request is not handed over...
  EXPECT_EQ(handed_over, 0u);
  std::string got;
  // ...and its client sees the connection end cleanly.
  EXPECT_TRUE(ends_with_fin(client.get(), got)) << std::strerror(errno);
  EXPECT_EQ(got, "");
}

TEST(HandoverSave, ConnectionOfARemovedServiceIsClosedWithFin) {
  auto chat = make_service("chat", Mode::kChat);
  auto keep = make_service("keep", Mode::kChat);
  TestServer server({chat, keep});
  Fd client = connect_tcp_blocking(server.address("chat"));
  ASSERT_TRUE(client);
  ASSERT_TRUE(eventually([&] { return server.totals().open_connections == 1; }));
  // The service goes; its connection serves on until the upgrade.
  const auto errors = server.reconfigure({keep});
  ASSERT_TRUE(errors.empty()) << errors.front();
  size_t handed_over = 99;
  server.run_in_loop([&] {
    send_all(client.get(), "unread\n");
    handed_over = server.server().save_state().connections.size();
  });
  EXPECT_EQ(handed_over, 0u);
  std::string got;
  EXPECT_TRUE(ends_with_fin(client.get(), got)) << std::strerror(errno);
  EXPECT_EQ(got, "");
}

// A connected loopback pair: {client, server side}.
std::pair<Fd, Fd> tcp_pair() {
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::listen(listener.get(), 4), 0);
  EXPECT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Fd client =
      connect_tcp_blocking(SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&addr), len));
  Fd served(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  return {std::move(client), std::move(served)};
}

TEST(HandoverAdopt, IdleTimersGoOnFromTheHandedOverState) {
  auto chat = make_service("chat", Mode::kChat);
  chat.idle_timeout = std::chrono::seconds(60);
  TestServer server({chat});
  auto [fresh_client, fresh_served] = tcp_pair();
  auto [idle_client, idle_served] = tcp_pair();
  ASSERT_TRUE(fresh_served && idle_served);
  handover::State state;
  auto record = [](int fd, uint64_t idle_ms) {
    handover::ConnectionRecord r;
    r.service = "chat";
    r.fd = fd;
    r.kind = handover::SessionKind::kChat;
    r.peer = *SocketAddress::parse("127.0.0.1:1");
    r.idle_ms = idle_ms;
    r.age_ms = idle_ms;
    return r;
  };
  // The fresh one first: adopted in record order, the lists must be sorted
  // again or the sweep would stop at the fresh one and never see the other.
  // adopt_state() owns the descriptors it is given (as after an exec).
  const int fresh = ::fcntl(fresh_served.get(), F_DUPFD_CLOEXEC, 3);
  const int idle = ::fcntl(idle_served.get(), F_DUPFD_CLOEXEC, 3);
  fresh_served.reset();
  idle_served.reset();
  state.connections.push_back(record(fresh, 0));
  state.connections.push_back(record(idle, 3'600'000));  // idle for an hour
  std::vector<int> fds{fresh, idle};
  server.run_in_loop([&] { server.server().adopt_state(state, fds); });
  ASSERT_EQ(server.totals().open_connections, 2u);
  // Closed by the next sweep (a quarter of idle_timeout away), not 60 s on.
  std::string got;
  EXPECT_TRUE(ends_with_fin(idle_client.get(), got));
  EXPECT_EQ(server.totals().open_connections, 1u);
  send_all(fresh_client.get(), "still here");
  EXPECT_EQ(recv_exact(fresh_client.get(), 10), "still here");
}

}  // namespace
}  // namespace socketd::test
