// A log nobody reads: socketd's stderr is a pipe the test leaves unread
// (64 KiB fill in well under a second of a flood), then a UDP burst to a
// udp-log service and a storm of chat connects, with log_rate_limit = 0 so
// every datagram and connection is a record. The reactor must go on serving
// chat round trips, SIGTERM must still stop it with exit 0 in time, and once
// the pipe is read the records dropped meanwhile are reported in one record.
// (Before the log thread, the daemon froze in write(2) after ~3,000 records:
// no client served, SIGTERM never read from the signalfd.)
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <atomic>
#include <charconv>

#include "fault_support.hpp"

extern char** environ;

namespace socketd::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kDatagrams = 20'000;
constexpr int kConnects = 5'000;
constexpr int kStormThreads = 2;
constexpr auto kStopDeadline = 10s;

// socketd with stderr a pipe that nobody reads until read_from_now_on().
class UnreadStderrDaemon {
 public:
  UnreadStderrDaemon() = default;
  ~UnreadStderrDaemon() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      wait_exit(kProcessDeadline);
    }
    // The daemon is gone, and with it the pipe's only writer: EOF.
    if (reader_.joinable()) reader_.join();
  }

  bool start(const std::string& config, const std::string& notify_socket, const std::string& cwd) {
    std::vector<std::string> argv_store{SOCKETD_BINARY, "--config", config};
    std::vector<std::string> env_store;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      const std::string_view entry = *e;
      const std::string name(entry.substr(0, entry.find('=')));
      if (name == "NOTIFY_SOCKET" || name.starts_with("LISTEN_") || name == "JOURNAL_STREAM" ||
          name.starts_with("WATCHDOG_") || name == "STATE_DIRECTORY" ||
          name == "INVOCATION_ID") {
        continue;
      }
      env_store.emplace_back(entry);
    }
    env_store.push_back("NOTIFY_SOCKET=" + notify_socket);
    std::vector<char*> argv;
    for (auto& a : argv_store) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : env_store) envp.push_back(e.data());
    envp.push_back(nullptr);

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << std::strerror(errno);
      return false;
    }
    err_ = Fd(pipe_fds[0]);
    Fd write_end(pipe_fds[1]);
    capacity_ = static_cast<size_t>(::fcntl(err_.get(), F_GETPIPE_SZ));
    const pid_t pid = ::fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return false;
    }
    if (pid == 0) {  // only async-signal-safe calls until execve
      const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(devnull, 1) < 0 ||
          ::dup2(write_end.get(), 2) < 0) {
        ::_exit(126);
      }
#ifdef SYS_close_range
      ::syscall(SYS_close_range, 3u, ~0u, 0u);
#endif
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::signal(SIGPIPE, SIG_DFL);
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    pid_ = pid;
#ifdef SYS_pidfd_open
    pidfd_ = Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
#endif
    return true;
  }

  pid_t pid() const { return pid_; }
  size_t pipe_capacity() const { return capacity_; }

  // Reads stderr only as far as the start line (the ports), then leaves the
  // pipe alone.
  std::map<std::string, uint16_t> read_start_line(std::chrono::milliseconds deadline) {
    const auto end = Clock::now() + deadline;
    const std::string_view marker = "socketd started: ";
    for (;;) {
      const size_t at = text_.find(marker);
      if (at != std::string::npos) {
        const size_t nl = text_.find('\n', at);
        if (nl != std::string::npos) return parse_started_line(text_.substr(at, nl - at));
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      pollfd p{err_.get(), POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      const ssize_t n = ::read(err_.get(), buf, sizeof buf);
      if (n <= 0) break;
      text_.append(buf, static_cast<size_t>(n));
    }
    ADD_FAILURE() << "no start line from socketd; stderr:\n" << text_;
    return {};
  }

  // Bytes written to the pipe and not read yet.
  size_t unread_bytes() const {
    int n = 0;
    return ::ioctl(err_.get(), FIONREAD, &n) == 0 ? static_cast<size_t>(n) : 0;
  }

  // True while one of socketd's threads sits in write(2, ...): its log is
  // blocked. (/proc/PID/task/TID/syscall: "1 0x2 ..." is write on fd 2.)
  bool blocked_writing_stderr() const {
    const std::string tasks = "/proc/" + std::to_string(pid_) + "/task";
    for (const auto& tid : list_dir(tasks)) {
      if (read_file(tasks + "/" + tid + "/syscall").starts_with("1 0x2 ")) return true;
    }
    return false;
  }

  // From now on a thread reads the pipe (until EOF).
  void read_from_now_on() {
    reader_ = std::thread([this] {
      char buf[65536];
      for (;;) {
        const ssize_t n = ::read(err_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        std::lock_guard lock(mutex_);
        if (n <= 0) {
          eof_ = true;
          changed_.notify_all();
          return;
        }
        text_.append(buf, static_cast<size_t>(n));
        changed_.notify_all();
      }
    });
  }
  // Waits until the text read holds `needle` on a complete line.
  bool wait_text(std::string_view needle, std::chrono::milliseconds deadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, deadline, [&] {
      const size_t at = text_.find(needle);
      return at != std::string::npos && text_.find('\n', at) != std::string::npos;
    });
  }
  bool wait_eof(std::chrono::milliseconds deadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, deadline, [&] { return eof_; });
  }
  std::string text() const {
    std::lock_guard lock(mutex_);
    return text_;
  }

  std::optional<ExitStatus> wait_exit(std::chrono::milliseconds deadline) {
    if (status_) return status_;
    const auto end = Clock::now() + deadline;
    for (;;) {
      int raw = 0;
      const pid_t r = ::waitpid(pid_, &raw, WNOHANG);
      if (r == pid_) {
        ExitStatus s;
        s.exited = WIFEXITED(raw);
        s.code = s.exited ? WEXITSTATUS(raw) : -1;
        s.signal = WIFSIGNALED(raw) ? WTERMSIG(raw) : 0;
        status_ = s;
        return status_;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{pidfd_.get(), POLLIN, 0};
      ::poll(&p, pidfd_ ? 1 : 0, pidfd_ ? static_cast<int>(left.count()) : 2);
    }
  }

 private:
  pid_t pid_ = -1;
  Fd pidfd_;
  Fd err_;
  size_t capacity_ = 0;
  std::optional<ExitStatus> status_;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string text_;  // before read_from_now_on() only the test thread touches it
  bool eof_ = false;
};

// What the flood's clients saw.
struct Flood {
  std::atomic<int> round_trips{0};
  std::atomic<int> failures{0};
  std::string first_failure;
  std::mutex mutex;
  void failed(const std::string& what) {
    if (failures.fetch_add(1) == 0) {
      std::lock_guard lock(mutex);
      first_failure = what;
    }
  }
};

// One short chat connection: greeting, one round trip, close.
bool chat_once(uint16_t port, int i, Flood& flood) {
  Fd fd = connect_port(port);
  if (!fd) {
    flood.failed("connect " + std::to_string(i) + ": " + last_error().message());
    return false;
  }
  if (const auto greeting = recv_exact(fd.get(), 2); greeting != "hi") {
    flood.failed("connect " + std::to_string(i) + ": greeting '" + greeting + "'");
    return false;
  }
  const std::string message = "storm " + std::to_string(i);
  if (const auto reply = chat(fd.get(), message); reply != message + std::string(kDigits)) {
    flood.failed("connect " + std::to_string(i) + ": reply '" + reply + "'");
    return false;
  }
  ++flood.round_trips;
  return true;
}

class LogBlocked : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.write("socketd.toml",
                         "[daemon]\nupload_dir = \"" + dir_.file("uploads") +
                             "\"\nlog_rate_limit = 0\ndrain_timeout = \"1s\"\n\n" +
                             "[services.chat]\nmode = \"chat\"\nlisten = \"127.0.0.1:0\"\n"
                             "greeting = \"hi\"\nrandom_min = 777\nrandom_max = 777\n"
                             "backlog = 1024\n\n" +
                             service("udp", "udp-log", "127.0.0.1:0") +
                             service("metrics", "metrics", "127.0.0.1:0"));
    ASSERT_TRUE(daemon_.start(config_, notify_.path(), dir_.path()));
    ASSERT_TRUE(notify_.wait_for("READY=1")) << "no READY=1";
    auto ports = daemon_.read_start_line(kProcessDeadline);
    chat_port_ = ports["chat/tcp"];
    udp_port_ = ports["udp/udp"];
    metrics_port_ = ports["metrics/tcp"];
    ASSERT_NE(chat_port_, 0);
    ASSERT_NE(udp_port_, 0);
    ASSERT_NE(metrics_port_, 0);
  }

  // The UDP burst and the connect storm, while a long-lived chat client
  // keeps doing round trips. Expects every round trip served.
  void flood_and_expect_served() {
    Flood flood;
    Fd probe = connect_port(chat_port_);
    ASSERT_TRUE(probe);
    ASSERT_EQ(recv_exact(probe.get(), 2), "hi");
    std::atomic<bool> storm_over{false};

    std::thread udp([&] {
      Fd fd = udp_socket();
      const SocketAddress to = loopback(udp_port_);
      for (int i = 0; i < kDatagrams; ++i) {
        const std::string payload = "flood " + std::to_string(i);
        ::sendto(fd.get(), payload.data(), payload.size(), 0, to.get(), to.size());
      }
    });
    std::vector<std::thread> storm;
    for (int t = 0; t < kStormThreads; ++t) {
      storm.emplace_back([&, t] {
        for (int i = t; i < kConnects; i += kStormThreads) {
          if (!chat_once(chat_port_, i, flood)) return;  // a frozen daemon: stop at once
        }
      });
    }
    std::thread prober([&] {
      for (int i = 0; !storm_over.load() && flood.failures.load() == 0; ++i) {
        const std::string message = "probe " + std::to_string(i);
        const std::string reply = chat(probe.get(), message);
        if (reply != message + std::string(kDigits)) {
          flood.failed("probe round trip " + std::to_string(i) + ": reply '" + reply + "'");
          return;
        }
        ++flood.round_trips;
      }
    });
    udp.join();
    for (auto& t : storm) t.join();
    storm_over = true;
    prober.join();

    EXPECT_EQ(flood.failures.load(), 0) << "first failure: " << flood.first_failure;
    EXPECT_GE(flood.round_trips.load(), kConnects);
    // The flood really met a blocked log: the pipe is full and socketd is
    // stuck writing to it.
    EXPECT_GT(daemon_.unread_bytes(), daemon_.pipe_capacity() / 2)
        << "the pipe never filled up; the test did not block the log";
    EXPECT_TRUE(eventually([&] { return daemon_.blocked_writing_stderr(); }))
        << "no socketd thread is blocked in write(2) on stderr";
    // And after it, a new client is served at once.
    Fd fresh = connect_port(chat_port_);
    ASSERT_TRUE(fresh);
    EXPECT_EQ(recv_exact(fresh.get(), 2), "hi");
    EXPECT_EQ(chat(fresh.get(), "after"), "after" + std::string(kDigits));
  }

  // The config as SetUp wrote it, with the chat greeting `greeting`.
  void rewrite_config(const std::string& greeting) {
    dir_.write("socketd.toml",
               "[daemon]\nupload_dir = \"" + dir_.file("uploads") +
                   "\"\nlog_rate_limit = 0\ndrain_timeout = \"1s\"\n\n" +
                   "[services.chat]\nmode = \"chat\"\nlisten = \"127.0.0.1:" +
                   std::to_string(chat_port_) + "\"\ngreeting = \"" + greeting +
                   "\"\nrandom_min = 777\nrandom_max = 777\nbacklog = 1024\n\n" +
                   service("udp", "udp-log", "127.0.0.1:" + std::to_string(udp_port_)) +
                   service("metrics", "metrics", "127.0.0.1:" + std::to_string(metrics_port_)));
  }

  // SIGTERM must end the process with exit 0 within kStopDeadline.
  void expect_prompt_clean_stop() {
    const auto start = Clock::now();
    ASSERT_EQ(::kill(daemon_.pid(), SIGTERM), 0);
    const auto status = daemon_.wait_exit(kStopDeadline);
    ASSERT_TRUE(status) << "socketd ignored SIGTERM for " << kStopDeadline.count() << " s";
    EXPECT_TRUE(status->clean()) << describe(*status);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    RecordProperty("stop_ms", static_cast<int>(took.count()));
  }

  // socketd_log_records_dropped_total{reason="<reason>"} from a GET /metrics
  // of the metrics service (served by the reactor, so it answers while the
  // log is stuck); nullopt if the scrape or the series is missing.
  std::optional<uint64_t> scraped_drops(std::string_view reason) const {
    Fd fd = connect_port(metrics_port_);
    if (!fd) return std::nullopt;
    send_all(fd.get(), "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const std::string response = recv_until_eof(fd.get());
    if (!response.starts_with("HTTP/1.1 200 OK\r\n")) return std::nullopt;
    const std::string prefix =
        "\nsocketd_log_records_dropped_total{reason=\"" + std::string(reason) + "\"} ";
    const size_t at = response.find(prefix);
    if (at == std::string::npos) return std::nullopt;
    uint64_t v = 0;
    const char* begin = response.data() + at + prefix.size();
    const auto [end, ec] = std::from_chars(begin, response.data() + response.size(), v);
    if (ec != std::errc{} || end == response.data() + response.size() || *end != '\n') {
      return std::nullopt;
    }
    return v;
  }

  // "socketd: N log records dropped: ..." lines in what was read; N summed.
  static uint64_t dropped_in(const std::string& text, size_t* summaries) {
    uint64_t total = 0;
    *summaries = 0;
    for (const auto& line : split_lines(text)) {
      const size_t at = line.find(" log records dropped: the log was not being read");
      if (!line.starts_with("socketd: ") || at == std::string::npos) continue;
      ++*summaries;
      total += std::stoull(line.substr(9, at - 9));
    }
    return total;
  }

  TempDir dir_;
  std::string config_;
  NotifySocket notify_;
  UnreadStderrDaemon daemon_;
  uint16_t chat_port_ = 0;
  uint16_t udp_port_ = 0;
  uint16_t metrics_port_ = 0;
};

TEST_F(LogBlocked, ServesAndStopsWhileTheLogIsNeverRead) {
  flood_and_expect_served();
  expect_prompt_clean_stop();
  // What the pipe holds is what fitted before it filled; the rest was
  // dropped or still queued when the flush deadline passed.
  daemon_.read_from_now_on();
  EXPECT_TRUE(daemon_.wait_eof(kProcessDeadline));
  EXPECT_TRUE(daemon_.text().find("socketd started: ") != std::string::npos);
}

// SIGHUP is read and the new file applied while the log thread is stuck:
// the reload's records only queue (or are dropped), never waited on.
TEST_F(LogBlocked, ReloadsWhileTheLogIsNeverRead) {
  flood_and_expect_served();
  ASSERT_TRUE(daemon_.blocked_writing_stderr());
  rewrite_config("yo");
  ASSERT_EQ(::kill(daemon_.pid(), SIGHUP), 0);
  ASSERT_TRUE(notify_.wait_for("RELOADING=1")) << "SIGHUP not taken while the log is stuck";
  ASSERT_TRUE(notify_.wait_for("READY=1")) << "the reload did not finish while the log is stuck";
  Fd fresh = connect_port(chat_port_);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(recv_exact(fresh.get(), 2), "yo") << "the reloaded greeting is not in force";
  EXPECT_TRUE(daemon_.blocked_writing_stderr()) << "the log came unstuck: the test proved nothing";
  expect_prompt_clean_stop();
}

TEST_F(LogBlocked, DropsAreSummarisedOnceTheLogIsReadAgain) {
  flood_and_expect_served();
  daemon_.read_from_now_on();
  ASSERT_TRUE(daemon_.wait_text(" log records dropped: the log was not being read", 10s))
      << "no drop summary once the pipe was read; read:\n"
      << daemon_.text().substr(0, 2000);
  size_t summaries = 0;
  const uint64_t dropped = dropped_in(daemon_.text(), &summaries);
  EXPECT_EQ(summaries, 1u);
  // 20,000 datagram records and two per connection, against a 4096-record
  // queue and a 64 KiB pipe: most were dropped.
  EXPECT_GT(dropped, 10'000u);
  // The log flows again: the stop is recorded and flushed before the exit.
  expect_prompt_clean_stop();
  EXPECT_TRUE(daemon_.wait_text("socketd stopped", kProcessDeadline));
  EXPECT_TRUE(daemon_.wait_eof(kProcessDeadline));
  std::cerr << "socketd dropped " << dropped << " log records\n";
}

// The metrics service counts what the blocked log drops (issue 14,
// socketd_log_records_dropped_total{reason="not_read"}): none before, some
// after the flood, one more per record made while the log stays stuck, and,
// once the log is read again, exactly what the drop summaries report.
TEST_F(LogBlocked, MetricsCountTheRecordsDroppedWhileTheLogIsNotRead) {
  ASSERT_EQ(scraped_drops("not_read"), 0u) << "records dropped before the log was blocked";
  flood_and_expect_served();
  const auto after_flood = scraped_drops("not_read");
  ASSERT_TRUE(after_flood) << "no socketd_log_records_dropped_total{reason=\"not_read\"}";
  EXPECT_GT(*after_flood, 0u);

  // The log thread is stuck in write(2) and the queue is full, so every new
  // record is dropped: each chat connection makes two (opened, closed).
  ASSERT_TRUE(daemon_.blocked_writing_stderr());
  constexpr int kMore = 300;
  Flood more;
  for (int i = 0; i < kMore; ++i) ASSERT_TRUE(chat_once(chat_port_, i, more)) << more.first_failure;
  const auto after_more = scraped_drops("not_read");
  ASSERT_TRUE(after_more);
  EXPECT_GE(*after_more, *after_flood + 2 * kMore) << "the counter did not grow with the drops";
  ASSERT_TRUE(daemon_.blocked_writing_stderr()) << "the log came unstuck: the test proved nothing";
  // log_rate_limit = 0: nothing was held back by the rate limit, the
  // reasons are kept apart.
  EXPECT_EQ(scraped_drops("rate_limit"), 0u);

  // Read again: the summaries add up to what the metric says.
  daemon_.read_from_now_on();
  ASSERT_TRUE(daemon_.wait_text(" log records dropped: the log was not being read", 10s));
  uint64_t summarised = 0;
  uint64_t scraped = 0;
  EXPECT_TRUE(eventually([&] {
    size_t summaries = 0;
    summarised = dropped_in(daemon_.text(), &summaries);
    scraped = scraped_drops("not_read").value_or(0);
    return scraped == summarised;
  })) << "metric "
      << scraped << " != summarised " << summarised;
  EXPECT_GE(scraped, *after_more);
  expect_prompt_clean_stop();
  std::cerr << "not_read drops: " << *after_flood << " after the flood, " << *after_more
            << " after " << kMore << " more connections, " << scraped << " summarised\n";
}

}  // namespace
}  // namespace socketd::test
