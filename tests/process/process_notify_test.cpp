// sd_notify through a NOTIFY_SOCKET the test owns: READY=1 only once the
// listeners serve; SIGHUP gives RELOADING=1 + MONOTONIC_USEC= in one datagram,
// then READY=1; STATUS= lines; STOPPING=1 on stop.
#include <signal.h>
#include <time.h>

#include "process_fixture.hpp"

namespace socketd::test {
namespace {

uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

std::optional<uint64_t> field_value(std::string_view message, std::string_view key) {
  for (const auto& line : NotifySocket::lines(message)) {
    if (line.starts_with(key)) return std::stoull(line.substr(key.size()));
  }
  return std::nullopt;
}

class ProcessNotify : public DaemonTest {};

TEST_F(ProcessNotify, ReadyOnlyOnceTheListenersServe) {
  // Ports chosen by the test, so the connects below need nothing from stderr:
  // whatever READY=1 promises must hold the moment it arrives.
  const uint16_t hello_port = free_tcp_port();
  const uint16_t chat_port = free_tcp_port();
  write_config(daemon_table() + chat_service("hello", addr(hello_port), "hello") +
               chat_service("chat", addr(chat_port), "success!"));
  ASSERT_TRUE(daemon_.start_with_config(config_, options()));
  auto ready = notify_.wait_for("READY=1");
  ASSERT_TRUE(ready) << daemon_.stderr_text();

  Fd hello = connect_port(hello_port);
  Fd chat_fd = connect_port(chat_port);
  ASSERT_TRUE(hello);
  ASSERT_TRUE(chat_fd);
  EXPECT_EQ(recv_exact(hello.get(), 5), "hello");
  EXPECT_EQ(recv_exact(chat_fd.get(), 8), "success!");
  EXPECT_EQ(chat(chat_fd.get(), "hi"), "hi777");

  // The start line was logged (queued before READY=1 was sent; the log
  // thread writes it out on its own time).
  EXPECT_TRUE(daemon_.wait_stderr("socketd started: "));
  // Nothing but READY=1 / STATUS= before it: no STOPPING=1, no RELOADING=1.
  for (const auto& m : notify_.messages()) {
    EXPECT_FALSE(NotifySocket::has_line(m, "STOPPING=1")) << m;
    EXPECT_FALSE(NotifySocket::has_line(m, "RELOADING=1")) << m;
  }
}

TEST_F(ProcessNotify, StatusLinesDescribeTheDaemon) {
  auto ports = start(daemon_table() + chat_service("hello", "127.0.0.1:0", "hello"));
  ASSERT_FALSE(ports.empty());
  auto status = notify_.wait_for("STATUS=");
  ASSERT_TRUE(status);
  EXPECT_NE(status->find("open"), std::string::npos) << *status;
  EXPECT_NE(status->find("last reload: none"), std::string::npos) << *status;
}

TEST_F(ProcessNotify, SighupSendsReloadingWithMonotonicUsecThenReady) {
  auto ports = start(daemon_table() + chat_service("hello", "127.0.0.1:0", "hello"));
  ASSERT_FALSE(ports.empty());

  const uint64_t before = monotonic_usec();
  ASSERT_TRUE(daemon_.signal(SIGHUP));
  auto reloading = notify_.wait_for("RELOADING=1");
  const uint64_t after = monotonic_usec();
  ASSERT_TRUE(reloading) << daemon_.stderr_text();
  // Both in one datagram, as systemd requires for Type=notify-reload.
  ASSERT_TRUE(NotifySocket::has_line(*reloading, "MONOTONIC_USEC=")) << *reloading;
  const auto usec = field_value(*reloading, "MONOTONIC_USEC=");
  ASSERT_TRUE(usec);
  EXPECT_GE(*usec, before);
  EXPECT_LE(*usec, after);

  auto ready = notify_.wait_for("READY=1");
  ASSERT_TRUE(ready) << "no READY=1 after the reload";
  auto status = notify_.wait_for("STATUS=");
  ASSERT_TRUE(status);
  EXPECT_NE(status->find("last reload: reloaded 1 services"), std::string::npos) << *status;
  EXPECT_TRUE(daemon_.wait_stderr("reloaded 1 services"));

  // Still serving on the same port.
  Fd hello = connect_port(ports["hello/tcp"]);
  ASSERT_TRUE(hello);
  EXPECT_EQ(recv_exact(hello.get(), 5), "hello");
}

TEST_F(ProcessNotify, FailedReloadStillEndsWithReady) {
  auto ports = start(daemon_table() + chat_service("hello", "127.0.0.1:0", "hello"));
  ASSERT_FALSE(ports.empty());
  write_config("this is not toml\n");
  ASSERT_TRUE(daemon_.signal(SIGHUP));
  ASSERT_TRUE(notify_.wait_for("RELOADING=1"));
  ASSERT_TRUE(notify_.wait_for("READY=1"));
  auto status = notify_.wait_for("STATUS=");
  ASSERT_TRUE(status);
  EXPECT_NE(status->find("reload failed"), std::string::npos) << *status;
}

TEST_F(ProcessNotify, StoppingIsSentOnSigterm) {
  auto ports = start(daemon_table() + chat_service("hello", "127.0.0.1:0", "hello"));
  ASSERT_FALSE(ports.empty());
  // Served once, so the event loop is past its first turn (a SIGTERM before
  // that is ProcessLifecycle.SigtermRightAfterReadyExitsCleanly).
  Fd hello = connect_port(ports["hello/tcp"]);
  ASSERT_TRUE(hello);
  EXPECT_EQ(recv_exact(hello.get(), 5), "hello");
  hello = Fd();
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  EXPECT_TRUE(notify_.wait_for("STOPPING=1"));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << describe(*status);
  // Nothing claims readiness after STOPPING=1.
  EXPECT_FALSE(notify_.wait_for("READY=1", 0ms));
}

TEST_F(ProcessNotify, StatusAfterStoppingCarriesTheFinalCounts) {
  auto ports = start(daemon_table() + service("udp", "udp-log", "127.0.0.1:0"));
  ASSERT_FALSE(ports.empty());
  auto sock = udp_socket();
  const auto to = loopback(ports["udp/udp"]);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(::sendto(sock.get(), "ping", 4, 0, to.get(), to.size()), 4);
  }
  // Logged one by one (under log_rate_limit): all three have arrived.
  ASSERT_TRUE(eventually([&] {
    const auto text = daemon_.stderr_text();
    size_t n = 0;
    for (size_t at = text.find("(4 bytes): ping"); at != std::string::npos;
         at = text.find("(4 bytes): ping", at + 1)) {
      ++n;
    }
    return n == 3;
  })) << daemon_.stderr_text();
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  ASSERT_TRUE(notify_.wait_for("STOPPING=1"));
  auto status = notify_.wait_for("STATUS=");
  ASSERT_TRUE(status);
  EXPECT_NE(status->find("STATUS=Stopping: "), std::string::npos) << *status;
  EXPECT_NE(status->find("; 3 datagrams;"), std::string::npos) << *status;
  auto exit = daemon_.wait_exit();
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->clean()) << describe(*exit);
}

}  // namespace
}  // namespace socketd::test
