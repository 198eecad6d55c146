// A supervisor that does not read its notification socket (issue 15): the
// NOTIFY_SOCKET's receive queue is full before socketd starts and stays full.
// sd_notify's sendmsg would wait for room on the reactor thread (READY=1 is
// sent right after the start line), so no client would be served and SIGTERM
// never read. socketd must serve, reload and stop as usual; and what must
// arrive (READY=1, RELOADING=1 with MONOTONIC_USEC, STOPPING=1) arrives, in
// order, once the supervisor reads again.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <charconv>

#include "fault_support.hpp"

namespace socketd::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kFiller = "FILL";

// A bound unix datagram socket that nobody reads until drain().
class StalledNotifySocket {
 public:
  StalledNotifySocket() : path_(dir_.file("notify")) {
    receiver_ = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un a = address();
    if (!receiver_ || ::bind(receiver_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ADD_FAILURE() << "notify socket: " << std::strerror(errno);
    }
  }
  const std::string& path() const { return path_; }

  // Fills the receive queue: datagrams from fresh sockets until a fresh
  // socket's very first one is refused (EAGAIN), so the queue itself is full
  // (net.unix.max_dgram_qlen), not just one sender's buffer.
  bool fill() {
    for (int senders = 0; senders < 64; ++senders) {
      Fd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      int sent = 0;
      while (send_from(s.get())) ++sent;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        ADD_FAILURE() << "filling the notify socket: " << std::strerror(errno);
        return false;
      }
      fillers_.push_back(std::move(s));
      if (sent == 0) return true;
    }
    ADD_FAILURE() << "the notify socket's queue never filled up";
    return false;
  }
  // True while a fresh sender cannot add one datagram.
  bool full() const {
    Fd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (send_from(s.get())) {
      ++extra_fillers_;
      return false;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }

  // Reads whatever is queued, without waiting; keeps socketd's messages.
  void drain() {
    for (;;) {
      char buf[4096];
      const ssize_t n = ::recv(receiver_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) return;
      const std::string_view m(buf, static_cast<size_t>(n));
      if (m != kFiller) messages_.emplace_back(m);
    }
  }
  // Reads (from now on the supervisor reads) until socketd sent a message
  // with the line `line` after the first `from` messages; its index.
  std::optional<size_t> wait_for(std::string_view line, size_t from,
                                 std::chrono::milliseconds deadline = kProcessDeadline) {
    const auto end = Clock::now() + deadline;
    for (;;) {
      drain();
      for (size_t i = from; i < messages_.size(); ++i) {
        if (NotifySocket::has_line(messages_[i], line)) return i;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{receiver_.get(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
    }
  }
  const std::vector<std::string>& messages() const { return messages_; }
  size_t extra_fillers() const { return extra_fillers_; }

 private:
  sockaddr_un address() const {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path_.data(), std::min(path_.size(), sizeof a.sun_path - 1));
    return a;
  }
  bool send_from(int fd) const {
    sockaddr_un a = address();
    return ::sendto(fd, kFiller.data(), kFiller.size(), MSG_DONTWAIT,
                    reinterpret_cast<sockaddr*>(&a), sizeof a) >= 0;
  }

  TempDir dir_;
  std::string path_;
  Fd receiver_;
  std::vector<Fd> fillers_;  // kept open: their datagrams stay queued
  mutable size_t extra_fillers_ = 0;
  std::vector<std::string> messages_;
};

uint64_t monotonic_usec_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

class NotifyStalled : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(notify_.fill());
    config_ = dir_.write("socketd.toml", toml("hi"));
    DaemonOptions o;
    o.env["NOTIFY_SOCKET"] = notify_.path();
    o.cwd = dir_.path();
    ASSERT_TRUE(daemon_.start_with_config(config_, o));
    auto ports = daemon_.wait_started();
    chat_port_ = ports["chat/tcp"];
    ASSERT_NE(chat_port_, 0) << daemon_.stderr_text();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- socketd stderr ----\n" << daemon_.stderr_text();
  }

  std::string toml(std::string_view greeting) const {
    return "[daemon]\nupload_dir = \"" + dir_.file("uploads") + "\"\ndrain_timeout = \"1s\"\n\n" +
           chat_service("chat", chat_port_ == 0 ? "127.0.0.1:0" : addr(chat_port_), greeting);
  }

  // kClients fresh chat clients, each greeted and served one round trip,
  // while one long-lived client keeps doing round trips between them.
  void expect_served(std::string_view greeting) {
    constexpr int kClients = 200;
    Fd probe = connect_port(chat_port_);
    ASSERT_TRUE(probe);
    ASSERT_EQ(recv_exact(probe.get(), greeting.size()), greeting) << "the loop is not serving";
    for (int i = 0; i < kClients; ++i) {
      Fd fd = connect_port(chat_port_);
      ASSERT_TRUE(fd) << "connect " << i;
      ASSERT_EQ(recv_exact(fd.get(), greeting.size()), greeting) << "client " << i;
      const std::string m = "m" + std::to_string(i);
      ASSERT_EQ(chat(fd.get(), m), m + std::string(kDigits)) << "client " << i;
      ASSERT_EQ(chat(probe.get(), "p" + m), "p" + m + std::string(kDigits)) << "probe " << i;
    }
  }

  // SIGHUP with a new greeting; the reload finishes (its log line, the new
  // greeting served) whether or not RELOADING=1/READY=1 could be sent.
  void reload_to(std::string_view greeting) {
    dir_.write("socketd.toml", toml(greeting));
    const size_t from = daemon_.stderr_size();
    ASSERT_TRUE(daemon_.signal(SIGHUP));
    ASSERT_TRUE(daemon_.wait_stderr("reloaded 1 services", kProcessDeadline, from))
        << "the reload did not finish";
    expect_served(greeting);
  }

  void expect_clean_stop() {
    ASSERT_TRUE(daemon_.signal(SIGTERM));
    const auto status = daemon_.wait_exit(kProcessDeadline);
    ASSERT_TRUE(status) << "socketd did not stop on SIGTERM";
    EXPECT_TRUE(status->clean()) << describe(*status);
  }

  TempDir dir_;
  StalledNotifySocket notify_;
  DaemonProcess daemon_;
  std::string config_;
  uint16_t chat_port_ = 0;
};

TEST_F(NotifyStalled, ServesReloadsAndStopsWhileTheSupervisorNeverReads) {
  expect_served("hi");
  reload_to("yo");
  // socketd's READY=1, STATUS=, RELOADING=1 all met the full queue.
  ASSERT_TRUE(notify_.full()) << "the notify socket had room: the test proved nothing";
  expect_clean_stop();
  notify_.drain();
  EXPECT_TRUE(notify_.messages().empty()) << "a message got through a full queue?";
}

TEST_F(NotifyStalled, MessagesThatMustArriveArriveInOrderOnceTheSupervisorReads) {
  expect_served("hi");
  const uint64_t before_reload = monotonic_usec_now();
  reload_to("yo");
  ASSERT_TRUE(notify_.full());
  // The supervisor reads again: the retries deliver what was queued, in order.
  const auto ready = notify_.wait_for("READY=1", 0);
  ASSERT_TRUE(ready) << "READY=1 never arrived";
  const auto reloading = notify_.wait_for("RELOADING=1", *ready + 1);
  ASSERT_TRUE(reloading) << "RELOADING=1 never arrived";
  const auto ready_again = notify_.wait_for("READY=1", *reloading + 1);
  ASSERT_TRUE(ready_again) << "READY=1 after the reload never arrived";
  // MONOTONIC_USEC is the time of the reload, not of the late send.
  const std::string& r = notify_.messages()[*reloading];
  const auto at = r.find("MONOTONIC_USEC=");
  ASSERT_NE(at, std::string::npos) << r;
  uint64_t usec = 0;
  std::from_chars(r.data() + at + 15, r.data() + r.size(), usec);
  EXPECT_GE(usec, before_reload);
  EXPECT_LE(usec, monotonic_usec_now());
  const size_t seen = notify_.messages().size();
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  EXPECT_TRUE(notify_.wait_for("STOPPING=1", seen)) << "no STOPPING=1";
  const auto status = daemon_.wait_exit(kProcessDeadline);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << describe(*status);
}

}  // namespace
}  // namespace socketd::test
