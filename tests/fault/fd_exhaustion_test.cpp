// socketd out of file descriptors (RLIMIT_NOFILE 64): clients beyond the
// limit are closed at once instead of hanging in the backlog, the exhaustion
// is logged once, the daemon does not spin on a listener it cannot drain, and
// it serves again as soon as descriptors free up.
#include <poll.h>
#include <sys/resource.h>

#include <chrono>
#include <iostream>

#include "fault_support.hpp"

namespace socketd::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr rlim_t kFdLimit = 64;

size_t count(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// A blocking client. Its connect completes in the kernel's backlog whether
// or not socketd ever accepts it.
Fd connect_client(uint16_t port) { return connect_tcp_blocking(loopback(port), 5s); }

enum class Fate { kServed, kClosed, kUndecided };

// Sends a probe and waits for its echo (served) or EOF / reset (closed).
Fate probe(int fd, std::string_view text) {
  if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL) < 0) return Fate::kClosed;
  std::string got;
  while (got.size() < text.size()) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return Fate::kUndecided;
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return got.empty() ? Fate::kClosed : Fate::kUndecided;
    got.append(buf, static_cast<size_t>(n));
  }
  return got == text ? Fate::kServed : Fate::kUndecided;
}

// True once `fd` reports EOF or a reset, without sending anything.
bool closed_by_peer(int fd, std::chrono::milliseconds deadline) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, static_cast<int>(deadline.count())) <= 0) return false;
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE));
}

class FdExhaustion : public DaemonTest {};

TEST_F(FdExhaustion, ExtraClientsAreShedLoggedOnceNoBusyLoopAndServiceResumes) {
  const std::string toml = daemon_table() +
                           "[services.echo]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n"
                           "backlog = 256\n";
  write_config(toml);
  ASSERT_TRUE(daemon_.start_with_config(config_, options()));
  // The daemon's limit, soft = hard = 64, set with prlimit(2) right after the
  // fork, before it accepts anyone: DaemonProcess has no hook between fork
  // and exec, and lowering the test's own hard limit for the child to
  // inherit could not be undone without CAP_SYS_RESOURCE. Whatever the daemon
  // does with its limit at start, the hard limit caps it at 64.
  const rlimit low{kFdLimit, kFdLimit};
  if (::prlimit(daemon_.pid(), RLIMIT_NOFILE, &low, nullptr) != 0) {
    GTEST_SKIP() << "prlimit(RLIMIT_NOFILE) on the daemon: " << std::strerror(errno);
  }
  ASSERT_TRUE(notify_.wait_for("READY=1")) << daemon_.stderr_text();
  const uint16_t port = daemon_.wait_started()["echo/tcp"];
  ASSERT_NE(port, 0);
  rlimit now{};
  ASSERT_EQ(::prlimit(daemon_.pid(), RLIMIT_NOFILE, nullptr, &now), 0);
  ASSERT_EQ(now.rlim_cur, kFdLimit);
  const size_t idle_fds = steady_open_fds(daemon_.pid());
  ASSERT_LT(idle_fds, kFdLimit / 2) << "the daemon alone holds " << describe_fds(daemon_.pid());
  const size_t room = kFdLimit - idle_fds;

  // 100 clients, far more than the daemon can hold.
  constexpr size_t kClients = 100;
  std::vector<Fd> served;
  size_t closed = 0;
  {
    std::vector<Fd> clients;
    for (size_t i = 0; i < kClients; ++i) {
      clients.push_back(connect_client(port));
      ASSERT_TRUE(clients.back()) << "client " << i;
    }
    for (size_t i = 0; i < kClients; ++i) {
      const Fate fate = probe(clients[i].get(), "probe " + std::to_string(i));
      ASSERT_NE(fate, Fate::kUndecided) << "client " << i
                                        << " neither served nor closed: it hangs in the backlog";
      if (fate == Fate::kServed) {
        served.push_back(std::move(clients[i]));
      } else {
        ++closed;
      }
    }
  }
  std::cout << "[ FDS      ] daemon idle with " << idle_fds << " of " << kFdLimit
            << " descriptors; " << served.size() << " clients served, " << closed << " shed"
            << std::endl;
  EXPECT_EQ(served.size() + closed, kClients);
  EXPECT_GT(closed, 0u) << "no client was shed: the limit did not bite";
  EXPECT_LE(served.size(), room);
  EXPECT_GE(served.size() + 3, room) << "far fewer clients served than descriptors allow";
  ASSERT_TRUE(daemon_.wait_stderr("cannot accept")) << "exhaustion not logged";

  // Still exhausted: more clients keep arriving and are shed, while the
  // served ones wait. Over this window the daemon must not spin.
  const auto cpu0 = cpu_seconds(daemon_.pid());
  const auto runnable0 = runnable_seconds(daemon_.pid());
  ASSERT_TRUE(cpu0);
  const auto window_start = Clock::now();
  const auto window_end = window_start + 1s;
  for (int i = 0; i < 20; ++i) {
    Fd late = connect_client(port);
    ASSERT_TRUE(late);
    EXPECT_TRUE(closed_by_peer(late.get(), 5s)) << "late client " << i << " was not shed";
  }
  // The rest of the window: the waiting clients get nothing unasked.
  std::vector<pollfd> waiting;
  for (const auto& fd : served) waiting.push_back({fd.get(), POLLIN | POLLRDHUP, 0});
  for (auto left = window_end - Clock::now(); left > 0ms; left = window_end - Clock::now()) {
    const int ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
    const int n = ::poll(waiting.data(), waiting.size(), ms);
    ASSERT_EQ(n, 0) << "a waiting client got an event it did not ask for";
  }
  const auto cpu1 = cpu_seconds(daemon_.pid());
  const auto runnable1 = runnable_seconds(daemon_.pid());
  ASSERT_TRUE(cpu1);
  const double window = std::chrono::duration<double>(Clock::now() - window_start).count();
  std::cout << "[ FDS      ] while exhausted, over " << window << " s the daemon used "
            << *cpu1 - *cpu0 << " s of CPU";
  if (runnable0 && runnable1) std::cout << ", was runnable " << *runnable1 - *runnable0 << " s";
  std::cout << std::endl;
  EXPECT_LT(*cpu1 - *cpu0, 0.3) << "the daemon burns CPU while out of descriptors";
  if (runnable0 && runnable1) {
    // The same bound, immune to other tests competing for the CPUs.
    EXPECT_LT(*runnable1 - *runnable0, 0.3) << "the daemon spins while out of descriptors";
  }
  EXPECT_EQ(count(daemon_.stderr_text(), "cannot accept"), 1u)
      << "EMFILE must be logged once per episode, not per client";

  // The clients it holds are still served.
  for (size_t i = 0; i < served.size(); ++i) {
    ASSERT_EQ(probe(served[i].get(), "again " + std::to_string(i)), Fate::kServed) << i;
  }

  // Descriptors free up: new clients are served again.
  served.clear();
  EXPECT_TRUE(eventually([&] {
    Fd fresh = connect_client(port);
    return fresh && probe(fresh.get(), "back") == Fate::kServed;
  })) << "no client served after the others left";
  EXPECT_TRUE(eventually([&] { return steady_open_fds(daemon_.pid()) == idle_fds; }))
      << "descriptors leaked: " << describe_fds(daemon_.pid()) << "; " << idle_fds
      << " when idle";
  std::vector<Fd> again;
  for (size_t i = 0; i + 3 < room; ++i) {
    again.push_back(connect_client(port));
    ASSERT_TRUE(again.back());
    ASSERT_EQ(probe(again.back().get(), "full again " + std::to_string(i)), Fate::kServed) << i;
  }
  EXPECT_TRUE(daemon_.running());
}

}  // namespace
}  // namespace socketd::test
