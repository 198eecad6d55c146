// Hardening limits through real sockets: access lists, per-source caps, the
// connection rate (with a listener that resumes by itself), upload timeout,
// free-disk floor, vanished upload directory.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <filesystem>
#include <thread>

#include "support/loopback.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

Cidr cidr(std::string_view text) { return *Cidr::parse(text); }

bool echoes(const SocketAddress& to) {
  auto fd = connect_tcp_blocking(to);
  send_all(fd.get(), "ping");
  return recv_exact(fd.get(), 4) == "ping";
}

TEST(Limits, DenyListClosesClientAtOnceAndLogsIt) {
  auto echo = make_service("echo", Mode::kEcho);
  echo.deny = {cidr("127.0.0.0/8")};
  TestServer server({echo});
  auto fd = connect_tcp_blocking(server.address("echo"));
  EXPECT_TRUE(peer_closed(fd.get()));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kLimitHit));
  EXPECT_EQ(server.totals().stats.denied, 1u);
}

TEST(Limits, MoreSpecificAllowWinsOverBroaderDeny) {
  auto echo = make_service("echo", Mode::kEcho);
  echo.deny = {cidr("127.0.0.0/8")};
  echo.allow = {cidr("127.0.0.1/32")};
  TestServer server({echo});
  EXPECT_TRUE(echoes(server.address("echo")));
}

TEST(Limits, AllowListExcludesEveryoneElse) {
  auto echo = make_service("echo", Mode::kEcho);
  echo.allow = {cidr("10.0.0.0/8")};
  TestServer server({echo});
  auto fd = connect_tcp_blocking(server.address("echo"));
  EXPECT_TRUE(peer_closed(fd.get()));
}

TEST(Limits, PerSourceCapCountsOpenConnectionsOfOneAddress) {
  auto echo = make_service("echo", Mode::kEcho);
  echo.max_per_source = 2;
  TestServer server({echo});
  auto a = connect_tcp_blocking(server.address("echo"));
  auto b = connect_tcp_blocking(server.address("echo"));
  send_all(a.get(), "a");
  ASSERT_EQ(recv_once(a.get()), "a");
  send_all(b.get(), "b");
  ASSERT_EQ(recv_once(b.get()), "b");
  auto c = connect_tcp_blocking(server.address("echo"));
  EXPECT_TRUE(peer_closed(c.get()));
  a.reset();
  EXPECT_TRUE(eventually([&] { return server.totals().open_connections == 1; }));
  EXPECT_TRUE(echoes(server.address("echo")));
}

TEST(Limits, ConnectionRatePausesTheListenerWhichResumesByItself) {
  auto echo = make_service("echo", Mode::kEcho);
  echo.max_connection_rate = 3;
  echo.rate_pause = std::chrono::milliseconds(300);
  TestServer server({echo});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(echoes(server.address("echo")));
  auto over = connect_tcp_blocking(server.address("echo"));
  EXPECT_TRUE(peer_closed(over.get()));  // the 4th in this second: closed cleanly
  ASSERT_TRUE(server.log().wait_for(LogEvent::kLimitHit));
  // Connects during the pause wait in the backlog and are served after it.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(echoes(server.address("echo")));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
}

TEST(Limits, UploadThatTakesTooLongIsCutAndKeptIncomplete) {
  auto upload = make_service("upload", Mode::kUpload);
  upload.upload_timeout = std::chrono::milliseconds(300);
  upload.idle_timeout = std::chrono::milliseconds(0);
  TestServer server({upload});
  auto fd = connect_tcp_blocking(server.address("upload"));
  // A slowloris: one byte every 50 ms (the pacing is the behaviour under
  // test), never idle long enough for an idle timeout.
  bool cut = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!cut && std::chrono::steady_clock::now() < give_up) {
    if (::send(fd.get(), "x", 1, MSG_NOSIGNAL) != 1) break;
    cut = recv_once(fd.get()) != "success";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(cut);
  ASSERT_TRUE(server.log().wait_for(LogEvent::kUploadIncomplete));
  EXPECT_GE(server.totals().stats.timed_out, 1u);
}

TEST(Limits, UploadRefusedWithClearReplyBelowTheFreeDiskFloor) {
  auto upload = make_service("upload", Mode::kUpload);
  upload.min_free_bytes = ~0ull;  // no disk has that much free
  TestServer server({upload});
  auto fd = connect_tcp_blocking(server.address("upload"));
  send_all(fd.get(), "data");
  const std::string reply = recv_until_eof(fd.get());
  EXPECT_TRUE(reply.starts_with("error: ")) << reply;
  EXPECT_NE(reply.find("No space left"), std::string::npos) << reply;
  EXPECT_TRUE(server.upload_files().empty());
}

TEST(Limits, VanishedUploadDirectoryGivesAnErrorAndOthersAreStillServed) {
  TestServer server({make_service("upload", Mode::kUpload), make_service("echo", Mode::kEcho)});
  std::filesystem::remove_all(server.upload_dir());
  auto fd = connect_tcp_blocking(server.address("upload"));
  send_all(fd.get(), "data");
  EXPECT_TRUE(recv_until_eof(fd.get()).starts_with("error: cannot store upload"));
  EXPECT_TRUE(echoes(server.address("echo")));
  std::filesystem::create_directory(server.upload_dir());  // for the fixture's cleanup
}

TEST(Limits, GarbageAndHugeInputOnEveryServiceLeavesTheDaemonServing) {
  auto lines = make_service("lines", Mode::kChat);
  lines.framing = Framing::kLine;
  lines.max_line_bytes = 4096;
  TestServer server({make_service("chat", Mode::kChat), lines, make_service("echo", Mode::kEcho),
                     make_service("banner", Mode::kBanner), make_service("upload", Mode::kUpload)});
  std::string garbage(1 << 20, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 131) ^ (i >> 7));
  for (const char* name : {"chat", "lines", "echo", "banner", "upload"}) {
    auto fd = connect_tcp_blocking(server.address(name), std::chrono::milliseconds(2000));
    // Send and drain concurrently, so echo-like services never block on us.
    std::thread reader([&] { recv_until_eof(fd.get()); });
    ::send(fd.get(), garbage.data(), garbage.size(), MSG_NOSIGNAL);
    ::shutdown(fd.get(), SHUT_WR);
    reader.join();
  }
  EXPECT_TRUE(echoes(server.address("echo")));
  EXPECT_TRUE(eventually([&] { return server.totals().open_connections == 0; }));
}

}  // namespace
}  // namespace socketd::test
