// ExecProcess: one running exec-mode handler as the loop sees it: its pidfd
// (readable once the handler has exited), the read end of its stderr pipe
// (each line a journal record of the service and peer), and its timers
// (run_timeout, and the grace between SIGTERM and SIGKILL). No SIGCHLD
// handler: the pidfd is an ordinary epoll event, and the exit is reaped with
// waitid(P_PIDFD) in that event, so no handler is ever left a zombie.
// Owned by the Connection it runs for, which keeps its own copy of the socket
// until the exit (for the byte counts and so a stop can shut it down).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "log/logger.hpp"
#include "net/fd.hpp"
#include "net/result.hpp"
#include "reactor/io_handler.hpp"
#include "reactor/reactor.hpp"
#include "server/exec_spawn.hpp"

namespace socketd {

class ExecProcess {
 public:
  // Told once, when the handler has exited and been reaped (its stderr read
  // to the end, or as far as the pipe had data: a grandchild may hold it).
  class Observer {
   public:
    virtual void on_exec_exit(const ExitStatus& status, std::string_view ended_by) noexcept = 0;

   protected:
    ~Observer() = default;
  };

  struct Start {
    const std::vector<std::string>* argv;
    std::vector<std::string> env;
    int connection;
    int64_t uid;
    int64_t gid;
    std::chrono::milliseconds run_timeout;  // 0: none
    std::chrono::milliseconds kill_grace;
  };

  // Spawns the handler (exec_spawn.hpp) and watches it. `service` and
  // `peer` label its stderr records; the caller keeps `service` alive.
  static Result<std::unique_ptr<ExecProcess>> start(Reactor& reactor, Logger& logger,
                                                    Observer& observer, const std::string& service,
                                                    std::string peer, Start request);
  ~ExecProcess();
  ExecProcess(const ExecProcess&) = delete;
  ExecProcess& operator=(const ExecProcess&) = delete;

  pid_t pid() const { return pid_; }
  Clock::time_point started() const { return started_; }
  // SIGTERM now and, if grace > 0, SIGKILL once it has passed; `why` ends up
  // in the exit record. A second call does not restart the grace.
  void terminate(std::string_view why, std::chrono::milliseconds grace);
  // SIGKILL and wait for the exit right here (the loop is ending: daemon
  // stop after drain_timeout); then the observer hears of it as usual.
  void kill_and_reap(std::string_view why);
  uint64_t stderr_lines_dropped() const { return stderr_dropped_; }

 private:
  ExecProcess(Reactor& reactor, Logger& logger, Observer& observer, const std::string& service,
              std::string peer);
  // The pidfd turned readable: reap, read what is left on stderr, report.
  void on_exit_event() noexcept;
  void finish(const ExitStatus& status) noexcept;
  // Reads the stderr pipe until EAGAIN, EOF or the budget; logs each line.
  void read_stderr() noexcept;
  void log_line(std::string_view line) noexcept;
  void close_stderr() noexcept;
  void cancel_timers() noexcept;

  struct PidWatch final : IoHandler {
    ExecProcess* process = nullptr;
    void on_io(uint32_t) noexcept override { process->on_exit_event(); }
  };
  struct StderrWatch final : IoHandler {
    ExecProcess* process = nullptr;
    void on_io(uint32_t) noexcept override { process->read_stderr(); }
  };

  static constexpr size_t kMaxLine = 4096;  // longer lines become several records
  static constexpr int kReadBudget = 4;     // 64 KiB reads per event, then the ready list

  Reactor& reactor_;
  Logger& logger_;
  Observer& observer_;
  const std::string& service_;
  const std::string peer_;
  Fd pidfd_;
  Fd stderr_;
  pid_t pid_ = 0;
  Clock::time_point started_;
  PidWatch pid_watch_;
  StderrWatch stderr_watch_;
  std::string partial_;  // stderr bytes after the last newline
  uint64_t stderr_dropped_ = 0;
  TimerId run_timer_ = 0;
  TimerId kill_timer_ = 0;
  std::string_view ended_by_;  // "", "run_timeout", "daemon stopping", ...
  bool terminating_ = false;
  bool exited_ = false;
};

// Bytes a TCP socket received and sent (TCP_INFO), counted by the kernel:
// the handler reads and writes the socket itself. false if unavailable.
bool tcp_byte_counts(int fd, uint64_t& received, uint64_t& sent);

}  // namespace socketd
