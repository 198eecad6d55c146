// Session-keeping upgrade (SIGUSR2): the daemon re-executes itself in the same
// process and the new socketd serves on every chat and echo connection where
// the old one stopped; a socketd handed state it cannot read closes those
// connections cleanly and still adopts the listening sockets.
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "handover/state.hpp"
#include "process_fixture.hpp"

namespace socketd::test {
namespace {

class ProcessUpgrade : public DaemonTest {
 protected:
  // SIGUSR2, then the new socketd's READY=1 in the same process.
  bool upgrade() {
    const pid_t pid = daemon_.pid();
    const size_t from = daemon_.stderr_size();
    if (!daemon_.signal(SIGUSR2)) return false;
    if (!notify_.wait_for("RELOADING=1") || !notify_.wait_for("READY=1")) return false;
    return daemon_.wait_stderr("socketd started:", kProcessDeadline, from).has_value() &&
           daemon_.pid() == pid && daemon_.running();
  }
};

TEST_F(ProcessUpgrade, ChatAndEchoSessionsContinueInTheNewProcess) {
  auto ports = start(daemon_table() + chat_service("chat", "127.0.0.1:0", "success!") +
                     chat_service("lines", "127.0.0.1:0", "hi") + "framing = \"line\"\n\n" +
                     service("echo", "echo", "127.0.0.1:0"));
  ASSERT_EQ(ports.size(), 3u);
  Fd chatting = connect_port(ports["chat/tcp"]);
  ASSERT_EQ(recv_exact(chatting.get(), 8), "success!");
  EXPECT_EQ(chat(chatting.get(), "before"), "before777");
  Fd lines = connect_port(ports["lines/tcp"]);
  ASSERT_EQ(recv_exact(lines.get(), 2), "hi");
  send_all(lines.get(), "half a li");  // an unterminated line is handed over
  Fd echoing = connect_port(ports["echo/tcp"]);
  send_all(echoing.get(), "e1");
  ASSERT_EQ(recv_exact(echoing.get(), 2), "e1");
  // The line's first half must have reached the old socketd before the signal.
  ASSERT_TRUE(eventually(
      [&] { return daemon_.stderr_text().find("lines: 127.0.0.1:") != std::string::npos; }));

  ASSERT_TRUE(upgrade()) << daemon_.stderr_text();
  EXPECT_TRUE(daemon_.wait_stderr("took over 3 of 3 connection(s)"));

  EXPECT_EQ(chat(chatting.get(), "after"), "after777");
  send_all(lines.get(), "ne\n");
  EXPECT_EQ(recv_exact(lines.get(), 16), "half a line\n777\n");
  send_all(echoing.get(), "e2");
  EXPECT_EQ(recv_exact(echoing.get(), 2), "e2");
  // Same listening sockets, and no greeting replayed to the old clients.
  auto again = daemon_.wait_started();
  EXPECT_EQ(again, ports);
  Fd fresh = connect_port(ports["chat/tcp"]);
  EXPECT_EQ(recv_exact(fresh.get(), 8), "success!");
  // Twice, and it still stops cleanly.
  ASSERT_TRUE(upgrade()) << daemon_.stderr_text();
  EXPECT_EQ(chat(chatting.get(), "third"), "third777");
  chatting.reset();
  lines.reset();
  echoing.reset();
  fresh.reset();
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << describe(*status);
}

TEST_F(ProcessUpgrade, UploadsAreClosedAsIncompleteAndTheRestGoesOn) {
  auto ports = start(daemon_table() + service("upload", "upload", "127.0.0.1:0") +
                     chat_service("chat", "127.0.0.1:0", "success!"));
  Fd sender = connect_port(ports["upload/tcp"]);
  send_all(sender.get(), "line one\n");
  ASSERT_EQ(recv_exact(sender.get(), 7), "success");
  // Input the old socketd has not read (or not answered) when it closes the
  // connection: the close must still be a FIN, not a RST.
  send_all(sender.get(), "line two\n");
  ASSERT_TRUE(upgrade()) << daemon_.stderr_text();
  std::string rest;
  bool clean_eof = false;
  for (char buf[64];;) {
    const ssize_t n = ::recv(sender.get(), buf, sizeof buf, 0);
    if (n > 0) {
      rest.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    clean_eof = n == 0;
    break;
  }
  EXPECT_TRUE(clean_eof) << "reset instead of FIN: " << std::strerror(errno);
  EXPECT_TRUE(rest.empty() || rest == "success") << rest;
  EXPECT_TRUE(eventually([&] {
    for (const auto& f : list_dir(dir_.file("uploads"))) {
      if (f.ends_with(".incomplete")) return true;
    }
    return false;
  }));
  Fd client = connect_port(ports["chat/tcp"]);
  EXPECT_EQ(recv_exact(client.get(), 8), "success!");
}

// A socketd started with hand-over state it cannot read: the listening
// socket is adopted by address, the handed-over client sees a clean close.
class ProcessBadHandover : public DaemonTest {
 protected:
  void run_with_state(const std::string& state) {
    Fd listener = listen_tcp_loopback(16);
    const uint16_t port = local_port(listener.get());
    Fd other = listen_tcp_loopback(16);
    Fd client = connect_port(local_port(other.get()));
    ASSERT_TRUE(client);
    Fd served(::accept4(other.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(served);
    Fd memfd(::memfd_create("state", MFD_CLOEXEC));
    ASSERT_EQ(::write(memfd.get(), state.data(), state.size()), static_cast<ssize_t>(state.size()));

    DaemonOptions o = options();
    o.listen_fds = {listener.get(), served.get(), memfd.get()};  // at 3, 4, 5
    o.listen_fdnames = {"x", "y", "z"};
    o.listen_pid_override = 1;  // not socket activation: only passed across "the exec"
    o.env["SOCKETD_HANDOVER_FD"] = "5";
    write_config(daemon_table() + chat_service("chat", addr(port), "success!"));
    ASSERT_TRUE(daemon_.start_with_config(config_, o));
    ASSERT_TRUE(notify_.wait_for("READY=1")) << daemon_.stderr_text();
    served.reset();
    listener.reset();
    EXPECT_TRUE(daemon_.wait_stderr("cannot read the state handed over"));
    EXPECT_TRUE(peer_closed(client.get()));
    Fd fresh = connect_port(port);
    ASSERT_TRUE(fresh);
    EXPECT_EQ(recv_exact(fresh.get(), 8), "success!");
  }
};

TEST_F(ProcessBadHandover, GarbageState) {
  run_with_state("this is not socketd state");
}

TEST_F(ProcessBadHandover, StateOfAnotherVersion) {
  handover::State state;
  state.listeners.push_back({"chat", 3, true, false});
  std::string bytes = handover::encode(state);
  bytes[4] = 99;
  run_with_state(bytes);
}

}  // namespace
}  // namespace socketd::test
