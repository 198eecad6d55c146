#include "server/exec_process.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>

#include "service/escape.hpp"

namespace socketd {

ExecProcess::ExecProcess(Reactor& reactor, Logger& logger, Observer& observer,
                         const std::string& service, std::string peer)
    : reactor_(reactor),
      logger_(logger),
      observer_(observer),
      service_(service),
      peer_(std::move(peer)),
      started_(Clock::now()) {
  pid_watch_.process = this;
  stderr_watch_.process = this;
}

ExecProcess::~ExecProcess() {
  cancel_timers();
  reactor_.unready(&stderr_watch_);
}

Result<std::unique_ptr<ExecProcess>> ExecProcess::start(Reactor& reactor, Logger& logger,
                                                        Observer& observer,
                                                        const std::string& service,
                                                        std::string peer, Start request) {
  // The write end is the child's stderr and stays blocking (a handler that
  // writes faster than we read waits, as with any pipe); only our read end,
  // a separate open file description, is made non-blocking.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_code();
  Fd read_end(fds[0]), write_end(fds[1]);
  if (::fcntl(read_end.get(), F_SETFL, O_NONBLOCK) != 0) return errno_code();
  auto spawned = spawn_handler({.argv = request.argv,
                                .env = std::move(request.env),
                                .connection = request.connection,
                                .stderr_pipe = write_end.get(),
                                .uid = request.uid,
                                .gid = request.gid});
  if (!spawned) return spawned.error();
  write_end.reset();  // the child's copy is the only one: EOF when it (and its children) exit
  std::unique_ptr<ExecProcess> process(
      new ExecProcess(reactor, logger, observer, service, std::move(peer)));
  process->pidfd_ = std::move(spawned->pidfd);
  process->pid_ = spawned->pid;
  process->stderr_ = std::move(read_end);
  auto ec = reactor.add(process->pidfd_.get(), &process->pid_watch_, EPOLLIN | EPOLLET);
  if (!ec) {
    ec = reactor.add(process->stderr_.get(), &process->stderr_watch_,
                     EPOLLIN | EPOLLRDHUP | EPOLLET);
  }
  if (ec) {
    // Cannot watch it: do not leave it running unsupervised (nor tell the
    // observer, which hears of this failure as the result).
    (void)signal_pidfd(process->pidfd_.get(), SIGKILL);
    (void)reap_pidfd(process->pidfd_.get(), true);
    process->exited_ = true;
    return ec;
  }
  if (request.run_timeout.count() > 0) {
    process->run_timer_ =
        reactor.add_timer(request.run_timeout, [p = process.get(), grace = request.kill_grace] {
          p->run_timer_ = 0;
          p->terminate("run_timeout", grace);
        });
  }
  return process;
}

void ExecProcess::terminate(std::string_view why, std::chrono::milliseconds grace) {
  if (exited_ || terminating_) return;
  terminating_ = true;
  ended_by_ = why;
  (void)signal_pidfd(pidfd_.get(), SIGTERM);
  if (grace.count() > 0) {
    kill_timer_ = reactor_.add_timer(grace, [this] {
      kill_timer_ = 0;
      if (!exited_) (void)signal_pidfd(pidfd_.get(), SIGKILL);
    });
  }
}

void ExecProcess::kill_and_reap(std::string_view why) {
  if (exited_) return;
  if (!terminating_ || ended_by_.empty()) ended_by_ = why;
  terminating_ = true;
  (void)signal_pidfd(pidfd_.get(), SIGKILL);
  // Blocks only as long as the kernel takes to end a SIGKILLed process.
  auto status = reap_pidfd(pidfd_.get(), true);
  finish(status ? *status : ExitStatus{.exited = false, .code = 0, .signal = SIGKILL});
}

void ExecProcess::on_exit_event() noexcept {
  if (exited_) return;
  auto status = reap_pidfd(pidfd_.get(), false);
  if (!status) {
    if (status.error() == std::errc::operation_would_block) return;  // not yet: a later edge
    // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN by our parent
    // makes the kernel do so). It is gone all the same.
    finish(ExitStatus{});
    return;
  }
  finish(*status);
}

void ExecProcess::finish(const ExitStatus& status) noexcept {
  exited_ = true;
  cancel_timers();
  read_stderr();  // what it wrote just before exiting comes before its exit record
  if (!partial_.empty()) {
    log_line(partial_);
    partial_.clear();
  }
  close_stderr();
  pidfd_.reset();  // closing removes it from the epoll set
  observer_.on_exec_exit(status, ended_by_);
}

void ExecProcess::read_stderr() noexcept {
  if (!stderr_) return;
  std::array<char, 16 * 1024> buffer;
  for (int i = 0; i < kReadBudget; ++i) {
    ssize_t n;
    do {
      n = ::read(stderr_.get(), buffer.data(), buffer.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN) return;
      close_stderr();
      return;
    }
    if (n == 0) {  // every writer is gone
      if (!partial_.empty()) {
        log_line(partial_);
        partial_.clear();
      }
      close_stderr();
      return;
    }
    std::string_view chunk(buffer.data(), static_cast<size_t>(n));
    while (!chunk.empty()) {
      const size_t nl = chunk.find('\n');
      if (nl == std::string_view::npos) {
        partial_.append(chunk);
        while (partial_.size() >= kMaxLine) {
          log_line(std::string_view(partial_).substr(0, kMaxLine));
          partial_.erase(0, kMaxLine);
        }
        break;
      }
      if (partial_.empty()) {
        log_line(chunk.substr(0, nl));
      } else {
        partial_.append(chunk.substr(0, nl));
        log_line(partial_);
        partial_.clear();
      }
      chunk.remove_prefix(nl + 1);
    }
  }
  // Budget spent, more may be waiting: edge-triggering will not say so again.
  if (!exited_) reactor_.mark_ready(&stderr_watch_);
}

void ExecProcess::log_line(std::string_view line) noexcept {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // Over the service's log rate the line is only counted: no escaping or
  // formatting for a record the limiter would throw away.
  if (!logger_.admits(LogLevel::kNotice, service_)) {
    ++stderr_dropped_;
    return;
  }
  std::string text = escape_payload(std::span<const char>(line.data(), line.size()), kMaxLine);
  std::string pid = std::to_string(pid_);
  logger_.log({LogLevel::kNotice,
               LogEvent::kExecStderr,
               service_ + "[" + pid + "] " + peer_ + ": " + text,
               {{"SERVICE", service_}, {"PEER", peer_}, {"PID", std::move(pid)}}});
}

void ExecProcess::close_stderr() noexcept {
  reactor_.unready(&stderr_watch_);
  stderr_.reset();
}

void ExecProcess::cancel_timers() noexcept {
  if (run_timer_ != 0) reactor_.cancel_timer(run_timer_);
  if (kill_timer_ != 0) reactor_.cancel_timer(kill_timer_);
  run_timer_ = kill_timer_ = 0;
}

bool tcp_byte_counts(int fd, uint64_t& received, uint64_t& sent) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
  // Older kernels fill less of the struct (bytes_sent came with 4.19).
  if (len < offsetof(tcp_info, tcpi_bytes_retrans) + sizeof info.tcpi_bytes_retrans) return false;
  // The peer's FIN takes a sequence number, and bytes_received counts it.
  // (The kernel's TCP states, include/net/tcp_states.h: not in a uapi header.)
  enum : uint8_t { kTimeWait = 6, kCloseWait = 8, kLastAck = 9, kClosing = 11 };
  const uint8_t state = info.tcpi_state;
  const bool fin_received =
      state == kCloseWait || state == kLastAck || state == kClosing || state == kTimeWait;
  received = info.tcpi_bytes_received - (fin_received && info.tcpi_bytes_received > 0 ? 1 : 0);
  // What the handler wrote: acknowledged, plus what is still queued (sent
  // or not) when it exits; bytes_sent would miss the queue.
  int queued = 0;
  if (::ioctl(fd, SIOCOUTQ, &queued) != 0) queued = 0;
  sent = info.tcpi_bytes_acked + static_cast<uint64_t>(queued);
  return true;
}

}  // namespace socketd
