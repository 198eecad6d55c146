// reuse_port: two socketd processes on one address, and the kernel gives
// clients to both (how socketd@N instances share a port, one per core).
#include <gtest/gtest.h>

#include "process_fixture.hpp"

namespace socketd::test {
namespace {

std::string chat_config(const TempDir& dir, uint16_t port, bool reuse_port) {
  return "[daemon]\nupload_dir = \"" + dir.file("uploads") + "\"\n[services.chat]\n" +
         "mode = \"chat\"\nlisten = \"" + addr(port) + "\"\nbacklog = 128\n" +
         (reuse_port ? "reuse_port = true\n" : "");
}

TEST(ReusePort, TwoInstancesShareTheAddressAndBothAcceptClients) {
  TempDir dir;
  const uint16_t port = free_tcp_port();
  const std::string config = dir.write("socketd.toml", chat_config(dir, port, true));
  DaemonProcess first, second;
  for (auto* instance : {&first, &second}) {
    ASSERT_TRUE(instance->start_with_config(config));
    ASSERT_TRUE(instance->wait_stderr("socketd started", 10s)) << instance->stderr_text();
  }
  // SO_REUSEPORT hashes the 4-tuple: over 64 clients both instances get some.
  for (int i = 0; i < 64; ++i) {
    auto fd = connect_port(port);
    ASSERT_TRUE(fd);
    send_all(fd.get(), "exit");
    EXPECT_TRUE(peer_closed(fd.get()));
  }
  EXPECT_TRUE(first.wait_stderr("connected", 10s)) << "the first instance got no client";
  EXPECT_TRUE(second.wait_stderr("connected", 10s)) << "the second instance got no client";
}

TEST(ReusePort, WithoutItASecondInstanceCannotBindAndSaysWhy) {
  TempDir dir;
  const uint16_t port = free_tcp_port();
  const std::string config = dir.write("socketd.toml", chat_config(dir, port, false));
  DaemonProcess first, second;
  ASSERT_TRUE(first.start_with_config(config));
  ASSERT_TRUE(first.wait_stderr("socketd started", 10s));
  ASSERT_TRUE(second.start_with_config(config));
  const auto status = second.wait_exit(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->clean());
  EXPECT_TRUE(second.wait_stderr("Address already in use", 2s)) << second.stderr_text();
}

std::string udp_config(const TempDir& dir, uint16_t port, bool reuse_port) {
  return "[daemon]\nupload_dir = \"" + dir.file("uploads") + "\"\n[services.udp]\n" +
         "mode = \"udp-log\"\nlisten = \"" + addr(port) + "\"\n" +
         (reuse_port ? "reuse_port = true\n" : "");
}

// A second instance used to bind the UDP address too (SO_REUSEADDR) and take
// the first one's datagrams without a word.
TEST(ReusePort, WithoutItASecondInstanceCannotBindUdpEither) {
  TempDir dir;
  const uint16_t port = free_udp_port();
  const std::string config = dir.write("socketd.toml", udp_config(dir, port, false));
  DaemonProcess first, second;
  ASSERT_TRUE(first.start_with_config(config));
  ASSERT_TRUE(first.wait_stderr("socketd started", 10s)) << first.stderr_text();
  ASSERT_TRUE(second.start_with_config(config));
  const auto status = second.wait_exit(10s);
  ASSERT_TRUE(status.has_value()) << "the second instance bound the taken UDP address";
  EXPECT_FALSE(status->clean());
  EXPECT_TRUE(second.wait_stderr("Address already in use", 2s)) << second.stderr_text();
}

TEST(ReusePort, UdpInstancesShareTheAddressWithIt) {
  TempDir dir;
  const uint16_t port = free_udp_port();
  const std::string config = dir.write("socketd.toml", udp_config(dir, port, true));
  DaemonProcess first, second;
  for (auto* instance : {&first, &second}) {
    ASSERT_TRUE(instance->start_with_config(config));
    ASSERT_TRUE(instance->wait_stderr("socketd started", 10s)) << instance->stderr_text();
  }
}

}  // namespace
}  // namespace socketd::test
