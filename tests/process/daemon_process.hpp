// Test scaffolding for running the socketd executable as a child process:
// a temporary directory, the daemon itself (args, env, inherited fds, stderr
// and stdout captured through pipes, signals, exit with a deadline) and a
// NOTIFY_SOCKET the test owns. Every wait has a deadline; nothing sleeps in
// place of a condition.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/fd.hpp"

namespace socketd::test {

using namespace std::chrono_literals;
inline constexpr std::chrono::milliseconds kProcessDeadline = 10s;

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }
  // Writes (replaces) `name` atomically (temp file + rename); returns its path.
  std::string write(std::string_view name, std::string_view content) const;

 private:
  std::string path_;
};

std::string read_file(const std::string& path);
// Plain names in `dir` (no "." / ".."), sorted.
std::vector<std::string> list_dir(const std::string& dir);

// How a child ended: exited with `code`, or killed by `signal`.
struct ExitStatus {
  bool exited = false;
  int code = -1;
  int signal = 0;
  bool clean() const { return exited && code == 0; }
};
std::string describe(const ExitStatus& status);

struct DaemonOptions {
  std::vector<std::string> args;
  // Applied over the test's own environment, from which the variables a
  // supervisor sets (NOTIFY_SOCKET, LISTEN_*, JOURNAL_STREAM, WATCHDOG_*,
  // STATE_DIRECTORY, INVOCATION_ID) are removed first. An empty value unsets.
  std::map<std::string, std::string> env;
  // Socket activation: these fds appear in the child as 3, 4, ... and the
  // child gets LISTEN_FDS=<n>, LISTEN_PID=<its own pid>, LISTEN_FDNAMES.
  std::vector<int> listen_fds;
  std::vector<std::string> listen_fdnames;
  // Set LISTEN_PID to this instead of the child's pid (0: the child's pid).
  pid_t listen_pid_override = 0;
  // Working directory of the child (default: the test's).
  std::string cwd;
  // Another executable to run instead of the socketd under test (a copy of it).
  std::string binary;
};

// The socketd executable under test.
const char* socketd_binary();

// One run of the socketd executable. The destructor SIGKILLs it if it is
// still running, so a failing test never leaks a daemon.
class DaemonProcess {
 public:
  DaemonProcess() = default;
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // fork + exec SOCKETD_BINARY. False (with a test failure) if it could not.
  bool start(const DaemonOptions& options);
  // start() with `--config config_path` put before options.args.
  bool start_with_config(const std::string& config_path, DaemonOptions options = {});

  pid_t pid() const { return pid_; }
  bool running();
  bool signal(int signo);

  // Waits for the exit up to `deadline`; nullopt if it is still running.
  std::optional<ExitStatus> wait_exit(std::chrono::milliseconds deadline = kProcessDeadline);
  // Runs to completion (for --help, --check-config...): start, wait, collect output.
  static std::optional<ExitStatus> run(const DaemonOptions& options, std::string& out,
                                       std::string& err,
                                       std::chrono::milliseconds deadline = kProcessDeadline);

  // Everything captured so far.
  std::string stderr_text() const;
  std::string stdout_text() const;
  // Waits until stderr holds `needle` at or after byte `from`; returns the
  // full line that contains it (without the newline).
  std::optional<std::string> wait_stderr(std::string_view needle,
                                         std::chrono::milliseconds deadline = kProcessDeadline,
                                         size_t from = 0);
  size_t stderr_size() const;
  // After the pipes reached EOF (the child and all its fds are gone).
  void wait_output_closed(std::chrono::milliseconds deadline = kProcessDeadline);

  // Waits for "socketd started: ..." and returns the bound address of every
  // listener, by "service/tcp" or "service/udp" -> port.
  std::map<std::string, uint16_t> wait_started(std::chrono::milliseconds deadline =
                                                   kProcessDeadline);

 private:
  void reader_loop(int err_fd, int out_fd);

  pid_t pid_ = -1;
  Fd pidfd_;
  std::optional<ExitStatus> status_;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string stderr_;
  std::string stdout_;
  bool output_closed_ = false;
};

// Parses "socketd started: hello tcp 127.0.0.1:P, udp udp 127.0.0.1:Q" into
// {"hello/tcp": P, "udp/udp": Q}.
std::map<std::string, uint16_t> parse_started_line(std::string_view line);

// A unix datagram socket in its own temp dir, to be handed to the daemon as
// NOTIFY_SOCKET. A thread reads it all the time, as systemd does: sd_notify
// blocks once the receiver's queue is full (net.unix.max_dgram_qlen), so a
// socket nobody reads would stall the daemon. Waits move a cursor forward,
// so "A then B" is asserted by waiting for A, then for B.
class NotifySocket {
 public:
  NotifySocket();
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }
  // {"NOTIFY_SOCKET", path()} ready to merge into DaemonOptions::env.
  std::pair<std::string, std::string> env() const { return {"NOTIFY_SOCKET", path_}; }

  // Waits for the next message (after the cursor) with a line equal to
  // `line` ("READY=1") or, if `line` ends with '=', a line starting with it
  // ("STATUS="). Returns the whole datagram and moves the cursor past it.
  std::optional<std::string> wait_for(std::string_view line,
                                      std::chrono::milliseconds deadline = kProcessDeadline);
  // Every message received so far, including any still queued in the socket.
  std::vector<std::string> messages() const;

  // Off by default (fds sent are closed, as systemd does without
  // FileDescriptorStoreMax=). On: like systemd's fd store, fds sent with FDSTORE=1 are kept by
  // FDNAME= (a duplicate of a kept one is ignored), FDSTOREREMOVE=1 drops a name. Returns (name,
  // fd) of everything kept; the fds stay owned by this object.
  std::vector<std::pair<std::string, int>> stored_fds() const;
  // DaemonOptions whose LISTEN_FDS are the stored fds, as systemd restarts a unit.
  void add_stored_fds(DaemonOptions& options) const;
  void keep_stored_fds(bool on) {
    std::lock_guard lock(mutex_);
    keep_fds_ = on;
  }
  // Lines of one datagram.
  static std::vector<std::string> lines(std::string_view message);
  static bool has_line(std::string_view message, std::string_view line);

 private:
  void reader_loop();
  void drain_locked() const;

  TempDir dir_;
  std::string path_;
  Fd fd_;
  Fd stop_;  // eventfd: tells the reader to finish
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  mutable std::vector<std::string> messages_;
  mutable std::vector<std::pair<std::string, Fd>> store_;
  bool keep_fds_ = false;
  size_t cursor_ = 0;
};

// Sockets on loopback for tests, never on a fixed port.
// A listening TCP socket (blocking, close-on-exec) on 127.0.0.1:0.
Fd listen_tcp_loopback(int backlog = 16);
// A bound UDP socket (blocking, close-on-exec) on 127.0.0.1:0.
Fd bind_udp_loopback();
uint16_t local_port(int fd);
// A port that was free a moment ago (bound to 0, read back, closed). Only for
// config values that must differ from 0; prefer port 0 or a held socket.
uint16_t free_tcp_port();
uint16_t free_udp_port();
// True if a TCP connect to 127.0.0.1:port is refused (nothing listens).
bool tcp_refused(uint16_t port);

}  // namespace socketd::test
