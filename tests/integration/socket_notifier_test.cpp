// SocketNotifier against a real unix datagram socket: sends at once when the
// supervisor's queue has room; with the queue full nothing blocks, what must
// arrive is retried from the reactor and arrives in order once there is room,
// STATUS=/WATCHDOG=1 only as the latest; descriptors travel (FDSTORE=1).
#include "app/socket_notifier.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <filesystem>
#include <functional>

namespace socketd::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kFiller = "FILL";

// A fresh directory for the socket files, removed with them.
class ScratchDir {
 public:
  ScratchDir() {
    std::string t = (std::filesystem::temp_directory_path() / "socketd-notify-XXXXXX").string();
    if (::mkdtemp(t.data()) != nullptr) path_ = t;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

class Receiver {
 public:
  explicit Receiver(std::string name) : name_(std::move(name)) {
    fd_ = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un a = address();
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), length()), 0)
        << std::strerror(errno);
  }
  // NOTIFY_SOCKET's spelling of the address.
  const std::string& name() const { return name_; }

  // Datagrams from fresh senders until a fresh one cannot add one.
  void fill() {
    for (int i = 0; i < 64; ++i) {
      Fd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      int sent = 0;
      sockaddr_un a = address();
      while (::sendto(s.get(), kFiller.data(), kFiller.size(), MSG_DONTWAIT,
                      reinterpret_cast<sockaddr*>(&a), length()) >= 0) {
        ++sent;
      }
      ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
      fillers_.push_back(std::move(s));
      if (sent == 0) return;
    }
    FAIL() << "the queue never filled";
  }

  // Everything queued now, fillers left out; received descriptors in `fds`.
  std::vector<std::string> take(std::vector<Fd>* fds = nullptr) {
    std::vector<std::string> out;
    for (;;) {
      char buf[4096];
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
      iovec iov{buf, sizeof buf};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      const ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0) return out;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
          int fd = -1;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          if (fds != nullptr) {
            fds->emplace_back(fd);
          } else {
            ::close(fd);
          }
        }
      }
      const std::string m(buf, static_cast<size_t>(n));
      if (m != kFiller) out.push_back(m);
    }
  }

 private:
  sockaddr_un address() const {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name_.data(), name_.size());
    if (name_[0] == '@') a.sun_path[0] = '\0';
    return a;
  }
  socklen_t length() const {
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() +
                                  (name_[0] == '@' ? 0 : 1));
  }

  std::string name_;
  Fd fd_;
  std::vector<Fd> fillers_;
};

class SocketNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Reactor::create();
    ASSERT_TRUE(r);
    reactor_ = std::move(*r);
  }
  std::unique_ptr<SocketNotifier> make(const std::string& where) {
    auto n = SocketNotifier::create(*reactor_, where);
    EXPECT_TRUE(n) << n.error().message();
    return n ? std::move(*n) : nullptr;
  }
  // Runs reactor turns until `done` or the deadline.
  bool turn_until(const std::function<bool()>& done, std::chrono::milliseconds deadline = 10s) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      reactor_->run_once(50ms);
    }
    return true;
  }

  ScratchDir dir_;
  std::unique_ptr<Reactor> reactor_;
};

TEST_F(SocketNotifierTest, SendsAtOnceWhenThereIsRoom) {
  Receiver r(dir_.file("notify"));
  auto n = make(r.name());
  ASSERT_TRUE(n);
  n->ready();
  n->status("serving 3");
  n->watchdog();
  EXPECT_EQ(r.take(), (std::vector<std::string>{"READY=1", "STATUS=serving 3", "WATCHDOG=1"}));
  EXPECT_EQ(n->pending(), 0u);
  EXPECT_EQ(n->stats().sent, 3u);
  EXPECT_EQ(n->stats().deferred, 0u);
}

TEST_F(SocketNotifierTest, AbstractAddress) {
  Receiver r("@socketd-notify-test-" + std::to_string(::getpid()));
  auto n = make(r.name());
  ASSERT_TRUE(n);
  n->stopping();
  EXPECT_EQ(r.take(), std::vector<std::string>{"STOPPING=1"});
}

TEST_F(SocketNotifierTest, AFullQueueDefersInOrderAndCoalescesStatusAndWatchdog) {
  Receiver r(dir_.file("notify"));
  r.fill();
  auto n = make(r.name());
  ASSERT_TRUE(n);
  // None of these waits: the queue is full.
  n->ready();
  n->reloading();
  for (int i = 0; i < 100; ++i) n->status("status " + std::to_string(i));
  for (int i = 0; i < 10; ++i) n->watchdog();
  n->ready();
  EXPECT_EQ(n->pending(), 5u);  // READY, RELOADING, READY, the latest STATUS, WATCHDOG
  EXPECT_EQ(n->stats().sent, 0u);
  EXPECT_GT(n->stats().deferred, 0u);
  EXPECT_EQ(n->stats().coalesced, 99u + 9u);
  // Turns while the queue stays full: retries, still nothing sent.
  reactor_->run_once(100ms);
  EXPECT_EQ(n->pending(), 5u);

  EXPECT_TRUE(r.take().empty());  // the supervisor reads (only fillers so far)
  ASSERT_TRUE(turn_until([&] { return n->pending() == 0; })) << "the retries never sent";
  const auto got = r.take();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0], "READY=1");
  EXPECT_TRUE(got[1].starts_with("RELOADING=1\nMONOTONIC_USEC=")) << got[1];
  EXPECT_EQ(got[2], "READY=1");
  EXPECT_EQ(got[3], "STATUS=status 99");
  EXPECT_EQ(got[4], "WATCHDOG=1");
  EXPECT_EQ(n->stats().dropped, 0u);
}

TEST_F(SocketNotifierTest, DescriptorsTravelAndAreKeptWhileQueued) {
  Receiver r(dir_.file("notify"));
  r.fill();
  auto n = make(r.name());
  ASSERT_TRUE(n);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Fd read_end(p[0]);
  {
    Fd write_end(p[1]);
    const int fds[] = {write_end.get()};
    n->send_with_fds("FDSTORE=1\nFDNAME=pipe", fds);
  }  // our copy is closed; the notifier holds its own
  EXPECT_EQ(n->pending(), 1u);
  EXPECT_TRUE(r.take().empty());
  ASSERT_TRUE(turn_until([&] { return n->pending() == 0; }));
  std::vector<Fd> fds;
  EXPECT_EQ(r.take(&fds), std::vector<std::string>{"FDSTORE=1\nFDNAME=pipe"});
  ASSERT_EQ(fds.size(), 1u);
  ASSERT_EQ(::write(fds[0].get(), "x", 1), 1);
  char c = 0;
  EXPECT_EQ(::read(read_end.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  // Sent, the notifier's copy is gone: the received one is the last writer.
  fds.clear();
  EXPECT_EQ(::read(read_end.get(), &c, 1), 0);
}

TEST_F(SocketNotifierTest, NobodyListeningDropsWithoutRetrying) {
  auto n = make(dir_.file("nobody"));
  ASSERT_TRUE(n);
  n->ready();
  n->status("x");
  EXPECT_EQ(n->pending(), 0u);
  EXPECT_EQ(n->stats().dropped, 2u);
}

TEST_F(SocketNotifierTest, RejectsWhatIsNoUnixAddress) {
  EXPECT_EQ(SocketNotifier::create(*reactor_, "vsock:2:1234").error(),
            std::errc::address_family_not_supported);
  EXPECT_EQ(SocketNotifier::create(*reactor_, "").error(), std::errc::invalid_argument);
  EXPECT_EQ(SocketNotifier::create(*reactor_, "/" + std::string(200, 'x')).error(),
            std::errc::filename_too_long);
}

}  // namespace
}  // namespace socketd::test
