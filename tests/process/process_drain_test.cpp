// Graceful stop: SIGTERM closes the listeners at once, open connections are
// served until they end (exit 0 then), or until drain_timeout (exit 0 too).
#include <signal.h>

#include "process_fixture.hpp"

namespace socketd::test {
namespace {

using Clock = std::chrono::steady_clock;

class ProcessDrain : public DaemonTest {
 protected:
  std::map<std::string, uint16_t> start_chat(std::string_view daemon_extra = "") {
    return start(daemon_table(daemon_extra) + chat_service("chat", "127.0.0.1:0", "success!") +
                 service("upload", "upload", "127.0.0.1:0"));
  }
};

TEST_F(ProcessDrain, OpenConnectionIsServedToItsEndThenExitZero) {
  auto ports = start_chat();
  ASSERT_EQ(ports.size(), 2u);
  Fd open = connect_port(ports["chat/tcp"]);
  ASSERT_TRUE(open);
  EXPECT_EQ(recv_exact(open.get(), 8), "success!");

  const size_t mark = daemon_.stderr_size();
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  EXPECT_TRUE(notify_.wait_for("STOPPING=1"));
  // Logged once the listeners are closed.
  auto stopping = daemon_.wait_stderr("stopping: no longer accepting", kProcessDeadline, mark);
  ASSERT_TRUE(stopping) << daemon_.stderr_text();
  EXPECT_NE(stopping->find("1 connection(s)"), std::string::npos) << *stopping;

  EXPECT_TRUE(tcp_refused(ports["chat/tcp"])) << "still accepting after SIGTERM";
  EXPECT_TRUE(tcp_refused(ports["upload/tcp"])) << "still accepting after SIGTERM";

  // The open connection is still served, several times.
  EXPECT_EQ(chat(open.get(), "still there?"), "still there?777");
  EXPECT_EQ(chat(open.get(), "yes"), "yes777");
  EXPECT_TRUE(daemon_.running()) << "exited with a connection still open";

  send_all(open.get(), "exit");
  EXPECT_TRUE(peer_closed(open.get()));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status) << "socketd did not exit once the last connection ended";
  EXPECT_TRUE(status->clean()) << describe(*status);
}

TEST_F(ProcessDrain, ClientClosingEndsTheDrainToo) {
  auto ports = start_chat();
  ASSERT_EQ(ports.size(), 2u);
  Fd open = connect_port(ports["chat/tcp"]);
  ASSERT_TRUE(open);
  EXPECT_EQ(recv_exact(open.get(), 8), "success!");
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  ASSERT_TRUE(daemon_.wait_stderr("stopping: no longer accepting"));
  open = Fd();  // the client goes away without "exit"
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << describe(*status);
}

// Ctrl-C twice: the second signal does not wait out drain_timeout (an hour here).
class SecondSignal : public ProcessDrain {
 protected:
  void stops_at_once(int signo) {
    auto ports = start_chat("drain_timeout = \"1h\"\n");
    ASSERT_EQ(ports.size(), 2u);
    Fd open = connect_port(ports["chat/tcp"]);
    ASSERT_TRUE(open);
    EXPECT_EQ(recv_exact(open.get(), 8), "success!");
    ASSERT_TRUE(daemon_.signal(signo));
    ASSERT_TRUE(daemon_.wait_stderr("stopping: no longer accepting"));
    EXPECT_TRUE(daemon_.running());
    ASSERT_TRUE(daemon_.signal(signo));
    auto status = daemon_.wait_exit(10s);
    ASSERT_TRUE(status) << "a second signal still waited for the drain";
    EXPECT_TRUE(status->clean()) << describe(*status);
    EXPECT_TRUE(daemon_.wait_stderr("while draining: stopping at once, closing 1 connection(s)"))
        << daemon_.stderr_text();
    EXPECT_TRUE(peer_closed(open.get()));
  }
};

TEST_F(SecondSignal, SigtermDuringTheDrainStopsAtOnce) {
  stops_at_once(SIGTERM);
}
TEST_F(SecondSignal, SigintDuringTheDrainStopsAtOnce) {
  stops_at_once(SIGINT);
}

TEST_F(ProcessDrain, DrainTimeoutClosesWhatIsLeftAndExitsZero) {
  auto ports = start_chat("drain_timeout = \"300ms\"\n");
  ASSERT_EQ(ports.size(), 2u);
  Fd idle = connect_port(ports["chat/tcp"]);
  ASSERT_TRUE(idle);
  EXPECT_EQ(recv_exact(idle.get(), 8), "success!");

  const auto t0 = Clock::now();
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  auto status = daemon_.wait_exit(10s);
  const auto took = Clock::now() - t0;
  ASSERT_TRUE(status) << "socketd ignored its drain_timeout";
  EXPECT_TRUE(status->clean()) << describe(*status);
  // Never before the timeout (timerfd does not fire early); generous above.
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 8s);
  // The connection was closed by the daemon, not left dangling.
  std::string rest = recv_until_eof(idle.get());
  EXPECT_EQ(rest, "");
  EXPECT_TRUE(daemon_.wait_stderr("drain timeout"));
}

TEST_F(ProcessDrain, SighupDuringTheDrainDoesNotReload) {
  auto ports = start_chat("drain_timeout = \"300ms\"\n");
  ASSERT_EQ(ports.size(), 2u);
  Fd open = connect_port(ports["chat/tcp"]);
  ASSERT_TRUE(open);
  EXPECT_EQ(recv_exact(open.get(), 8), "success!");
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  ASSERT_TRUE(daemon_.wait_stderr("stopping: no longer accepting"));
  ASSERT_TRUE(daemon_.signal(SIGHUP));  // no reload while stopping
  EXPECT_EQ(chat(open.get(), "ok"), "ok777");
  auto status = daemon_.wait_exit(10s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << describe(*status);
  EXPECT_FALSE(notify_.wait_for("RELOADING=1", 0ms));
}

}  // namespace
}  // namespace socketd::test
