// The daemon's life cycle as a process: start on a temporary config, serve
// through real sockets, stop on SIGTERM or SIGINT with exit status 0.
#include <signal.h>

#include "process_fixture.hpp"

namespace socketd::test {
namespace {

class ProcessLifecycle : public DaemonTest {
 protected:
  std::string config() const {
    return daemon_table() + chat_service("hello", "127.0.0.1:0", "hello") +
           chat_service("chat", "127.0.0.1:0", "success!") + service("udp", "udp-log", "127.0.0.1:0") +
           service("echo", "echo", "127.0.0.1:0") + service("greeter", "banner", "127.0.0.1:0");
  }
};

TEST_F(ProcessLifecycle, ServesEveryModeAndStopsCleanlyOnSigterm) {
  auto ports = start(config());
  ASSERT_EQ(ports.size(), 5u) << daemon_.stderr_text();
  for (const auto& [name, port] : ports) EXPECT_NE(port, 0) << name;

  // hello: the threaded server's greeting, then echo + digits.
  Fd hello = connect_port(ports["hello/tcp"]);
  ASSERT_TRUE(hello);
  EXPECT_EQ(recv_exact(hello.get(), 5), "hello");
  EXPECT_EQ(chat(hello.get(), "abc"), "abc777");
  EXPECT_EQ(chat(hello.get(), "second message"), "second message777");
  send_all(hello.get(), "exit");
  EXPECT_TRUE(peer_closed(hello.get()));

  // chat: the interactive server's greeting.
  Fd chat_fd = connect_port(ports["chat/tcp"]);
  ASSERT_TRUE(chat_fd);
  EXPECT_EQ(recv_exact(chat_fd.get(), 8), "success!");
  EXPECT_EQ(chat(chat_fd.get(), "x"), "x777");

  // echo (RFC 862): no greeting, bytes back.
  Fd echo = connect_port(ports["echo/tcp"]);
  ASSERT_TRUE(echo);
  send_all(echo.get(), "ping");
  EXPECT_EQ(recv_exact(echo.get(), 4), "ping");

  // banner: message, then a clean close.
  Fd greeter = connect_port(ports["greeter/tcp"]);
  ASSERT_TRUE(greeter);
  EXPECT_EQ(recv_until_eof(greeter.get()), "success!");

  // udp-log: logged with the byte count.
  Fd udp = udp_socket();
  const auto to = loopback(ports["udp/udp"]);
  ASSERT_EQ(::sendto(udp.get(), "exit", 4, 0, to.get(), to.size()), 4);
  EXPECT_TRUE(daemon_.wait_stderr("udp: datagram from 127.0.0.1:"));
  EXPECT_TRUE(daemon_.wait_stderr("(4 bytes): exit"));

  chat_fd = Fd();
  echo = Fd();
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  EXPECT_TRUE(notify_.wait_for("STOPPING=1"));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status.has_value()) << "socketd did not exit after SIGTERM";
  EXPECT_TRUE(status->clean()) << describe(*status);
  EXPECT_TRUE(daemon_.wait_stderr("socketd stopped"));
  for (const auto& [name, port] : ports) {
    if (name.ends_with("/tcp")) {
      EXPECT_TRUE(tcp_refused(port)) << name;
    }
  }
}

TEST_F(ProcessLifecycle, StopsCleanlyOnSigint) {
  auto ports = start(config());
  ASSERT_FALSE(ports.empty());
  Fd hello = connect_port(ports["hello/tcp"]);
  ASSERT_TRUE(hello);
  EXPECT_EQ(recv_exact(hello.get(), 5), "hello");
  hello = Fd();

  ASSERT_TRUE(daemon_.signal(SIGINT));
  EXPECT_TRUE(notify_.wait_for("STOPPING=1"));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status.has_value()) << "socketd did not exit after SIGINT";
  EXPECT_TRUE(status->clean()) << describe(*status);
}

TEST_F(ProcessLifecycle, StopsCleanlyWithoutNotifySocket) {
  DaemonOptions o;
  o.cwd = dir_.path();
  write_config(config());
  ASSERT_TRUE(daemon_.start_with_config(config_, o));
  auto ports = daemon_.wait_started();
  ASSERT_FALSE(ports.empty());
  Fd hello = connect_port(ports["hello/tcp"]);
  ASSERT_TRUE(hello);
  EXPECT_EQ(recv_exact(hello.get(), 5), "hello");
  hello = Fd();
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->clean()) << describe(*status);
  EXPECT_TRUE(notify_.messages().empty());
}

// READY=1 is the supervisor's cue that it may send signals: a SIGTERM that
// arrives the moment READY=1 does (before the event loop's first turn) must
// stop the daemon as cleanly as any other. Repeated, since it is a race.
TEST_F(ProcessLifecycle, SigtermRightAfterReadyExitsCleanly) {
  const std::string path = write_config(config());
  for (int i = 0; i < 20; ++i) {
    NotifySocket notify;
    DaemonProcess daemon;
    DaemonOptions o;
    o.env.insert(notify.env());
    o.cwd = dir_.path();
    ASSERT_TRUE(daemon.start_with_config(path, o));
    ASSERT_TRUE(notify.wait_for("READY=1")) << daemon.stderr_text();
    ASSERT_TRUE(daemon.signal(SIGTERM));
    auto status = daemon.wait_exit();
    ASSERT_TRUE(status) << "run " << i << ": no exit after SIGTERM";
    ASSERT_TRUE(status->clean()) << "run " << i << ": " << describe(*status) << "\n"
                                 << daemon.stderr_text();
  }
}

// The same race on reload: a SIGHUP right after READY=1 that moves a port
// closes a listener the event loop has not run yet.
TEST_F(ProcessLifecycle, ReloadRightAfterReadyKeepsServing) {
  const std::string before = daemon_table() + chat_service("hello", "127.0.0.1:0", "hello");
  for (int i = 0; i < 20; ++i) {
    NotifySocket notify;
    DaemonProcess daemon;
    DaemonOptions o;
    o.env.insert(notify.env());
    o.cwd = dir_.path();
    const std::string path = dir_.write("socketd.toml", before);
    ASSERT_TRUE(daemon.start_with_config(path, o));
    ASSERT_TRUE(notify.wait_for("READY=1")) << daemon.stderr_text();
    const uint16_t moved = free_tcp_port();
    dir_.write("socketd.toml", daemon_table() + chat_service("hello", addr(moved), "hello"));
    ASSERT_TRUE(daemon.signal(SIGHUP));
    ASSERT_TRUE(notify.wait_for("RELOADING=1"));
    ASSERT_TRUE(notify.wait_for("READY=1")) << "run " << i << ": " << daemon.stderr_text();
    Fd hello = connect_port(moved);
    ASSERT_TRUE(hello) << "run " << i;
    EXPECT_EQ(recv_exact(hello.get(), 5), "hello");
    hello = Fd();
    ASSERT_TRUE(daemon.signal(SIGTERM));
    auto status = daemon.wait_exit();
    ASSERT_TRUE(status) << "run " << i << ": no exit after SIGTERM";
    ASSERT_TRUE(status->clean()) << "run " << i << ": " << describe(*status) << "\n"
                                 << daemon.stderr_text();
  }
}

}  // namespace
}  // namespace socketd::test
