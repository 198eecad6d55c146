// Server::save_state() at an upgrade: a connection that is not handed over is
// closed the way a graceful close is (input it never read is discarded first),
// so its client sees FIN, never RST. The input is sent from the reactor thread
// right before save_state(), so no turn of the loop can read it first.
#include <gtest/gtest.h>
#include <sys/socket.h>

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

}  // namespace
}  // namespace socketd::test
