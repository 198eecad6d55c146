// Socket activation as systemd does it: the test creates the sockets
// (blocking, as systemd hands them over), the child gets them at fd 3, 4 with
// LISTEN_FDS, LISTEN_PID=<its pid> and LISTEN_FDNAMES naming the services.
// The inherited sockets win over the ports in the config.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>

#include "process_fixture.hpp"

namespace socketd::test {
namespace {

class ProcessSocketActivation : public DaemonTest {
 protected:
  void SetUp() override {
    tcp_ = listen_tcp_loopback(16);
    udp_ = bind_udp_loopback();
    ASSERT_TRUE(tcp_);
    ASSERT_TRUE(udp_);
    tcp_port_ = local_port(tcp_.get());
    udp_port_ = local_port(udp_.get());
    ASSERT_EQ(::fcntl(tcp_.get(), F_GETFL) & O_NONBLOCK, 0);  // as systemd passes them
    // Different ports in the config: if the daemon bound these, the test
    // would see it (they were free a moment ago, so nothing else answers).
    config_tcp_port_ = free_tcp_port();
    config_udp_port_ = free_udp_port();
  }

  std::string config() const {
    return daemon_table() + chat_service("chat", addr(config_tcp_port_), "success!") +
           service("udp", "udp-log", addr(config_udp_port_));
  }

  DaemonOptions activation() const {
    DaemonOptions o = options();
    o.listen_fds = {tcp_.get(), udp_.get()};
    o.listen_fdnames = {"chat", "udp"};
    return o;
  }

  Fd tcp_;
  Fd udp_;
  uint16_t tcp_port_ = 0;
  uint16_t udp_port_ = 0;
  uint16_t config_tcp_port_ = 0;
  uint16_t config_udp_port_ = 0;
};

TEST_F(ProcessSocketActivation, ServesOnTheInheritedSockets) {
  auto ports = start(config(), activation());
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports["chat/tcp"], tcp_port_);
  EXPECT_EQ(ports["udp/udp"], udp_port_);

  Fd client = connect_port(tcp_port_);
  ASSERT_TRUE(client);
  EXPECT_EQ(recv_exact(client.get(), 8), "success!");
  EXPECT_EQ(chat(client.get(), "hi"), "hi777");
  EXPECT_TRUE(tcp_refused(config_tcp_port_)) << "bound the config's port as well";

  Fd sender = udp_socket();
  const auto to = loopback(udp_port_);
  ASSERT_EQ(::sendto(sender.get(), "hello udp", 9, 0, to.get(), to.size()), 9);
  EXPECT_TRUE(daemon_.wait_stderr("udp: datagram from 127.0.0.1:"));
  EXPECT_TRUE(daemon_.wait_stderr("(9 bytes): hello udp"));

  // LISTEN_* are consumed, and no warning about unmatched sockets.
  EXPECT_EQ(daemon_.stderr_text().find("inherited"), std::string::npos) << daemon_.stderr_text();
}

TEST_F(ProcessSocketActivation, InheritedSocketsAreMadeNonBlocking) {
  auto ports = start(config(), activation());
  ASSERT_EQ(ports.size(), 2u);
  // The file status flags are shared with our copy of the sockets.
  EXPECT_TRUE(eventually([&] { return (::fcntl(tcp_.get(), F_GETFL) & O_NONBLOCK) != 0; }, 5s));
  EXPECT_TRUE(eventually([&] { return (::fcntl(udp_.get(), F_GETFL) & O_NONBLOCK) != 0; }, 5s));
}

TEST_F(ProcessSocketActivation, InterleavedClientsAreAllServed) {
  // With a blocking listening socket the accept loop would block once the
  // queue is empty, and every client after the first would hang.
  auto ports = start(config(), activation());
  ASSERT_EQ(ports.size(), 2u);

  Fd slow = connect_port(tcp_port_);  // connects, then says nothing for a while
  ASSERT_TRUE(slow);
  EXPECT_EQ(recv_exact(slow.get(), 8), "success!");

  Fd a = connect_port(tcp_port_);
  ASSERT_TRUE(a);
  EXPECT_EQ(recv_exact(a.get(), 8), "success!");
  Fd b = connect_port(tcp_port_);
  ASSERT_TRUE(b);
  EXPECT_EQ(recv_exact(b.get(), 8), "success!");

  // A datagram in between: a blocking UDP socket would stall the loop after it.
  Fd sender = udp_socket();
  const auto to = loopback(udp_port_);
  ASSERT_EQ(::sendto(sender.get(), "x", 1, 0, to.get(), to.size()), 1);

  for (int round = 0; round < 5; ++round) {
    const std::string ma = "a" + std::to_string(round);
    const std::string mb = "b" + std::to_string(round);
    EXPECT_EQ(chat(a.get(), ma), ma + "777");
    EXPECT_EQ(chat(b.get(), mb), mb + "777");
  }
  EXPECT_EQ(chat(slow.get(), "late"), "late777");
  EXPECT_TRUE(daemon_.wait_stderr("(1 bytes): x"));
}

TEST_F(ProcessSocketActivation, ReloadKeepsTheInheritedSockets) {
  auto ports = start(config(), activation());
  ASSERT_EQ(ports.size(), 2u);
  ASSERT_TRUE(reload()) << daemon_.stderr_text();
  EXPECT_TRUE(daemon_.wait_stderr("reloaded 2 services"));
  Fd client = connect_port(tcp_port_);
  ASSERT_TRUE(client);
  EXPECT_EQ(recv_exact(client.get(), 8), "success!");
  EXPECT_TRUE(tcp_refused(config_tcp_port_));
}

TEST_F(ProcessSocketActivation, SocketsForAnotherPidAreIgnored) {
  DaemonOptions o = activation();
  o.listen_pid_override = 1;  // meant for someone else
  auto ports = start(config(), o);
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports["chat/tcp"], config_tcp_port_);
  EXPECT_EQ(ports["udp/udp"], config_udp_port_);
  Fd client = connect_port(config_tcp_port_);
  ASSERT_TRUE(client);
  EXPECT_EQ(recv_exact(client.get(), 8), "success!");
}

TEST_F(ProcessSocketActivation, UnmatchedInheritedSocketIsReportedAndClosed) {
  DaemonOptions o = activation();
  o.listen_fdnames = {"chat", "nosuchservice"};
  auto ports = start(config(), o);
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports["chat/tcp"], tcp_port_);
  EXPECT_EQ(ports["udp/udp"], config_udp_port_);
  EXPECT_TRUE(daemon_.wait_stderr("inherited socket 'nosuchservice' matches no configured service"));
}

TEST_F(ProcessSocketActivation, InheritedSocketOfTheWrongTypeFailsTheStart) {
  DaemonOptions o = activation();
  o.listen_fdnames = {"udp", "chat"};  // TCP socket for the UDP service and vice versa
  write_config(config());
  ASSERT_TRUE(daemon_.start_with_config(config_, o));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status) << "started with a TCP socket for a UDP service";
  EXPECT_TRUE(status->exited);
  EXPECT_NE(status->code, 0);
  EXPECT_TRUE(daemon_.wait_stderr("cannot listen on"));
  for (const auto& m : notify_.messages()) EXPECT_FALSE(NotifySocket::has_line(m, "READY=1"));
}

}  // namespace
}  // namespace socketd::test
