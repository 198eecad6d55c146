// Connection, exec mode: the PROXY header read before the handler starts,
// the handler's environment, its start, its end and the exit record. The
// rest of Connection (reads, writes, closing) is in connection.cpp.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "net/socket.hpp"
#include "server/connection.hpp"
#include "server/proxy_field.hpp"
#include "server/service_runtime.hpp"

namespace socketd {

void Connection::read_exec_proxy_header() {
  auto& scratch = service_.context().scratch;
  const size_t want = std::min(scratch.size(), kMaxProxyHeader);
  ssize_t n;
  do {
    n = ::recv(fd_.get(), scratch.data(), want, MSG_PEEK);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return;  // the rest raises a new edge when it comes
    finish(errno == ECONNRESET ? "reset by peer" : "read error", false);
    return;
  }
  if (n == 0) {
    fail_proxy_header("closed before sending a complete PROXY header");
    return;
  }
  const ProxyParse result =
      parse_proxy_header(std::string_view(scratch.data(), static_cast<size_t>(n)));
  if (result.status == ProxyParse::Status::kNeedMore) {
    if (static_cast<size_t>(n) >= kMaxProxyHeader) {
      fail_proxy_header("bad PROXY header: longer than " + std::to_string(kMaxProxyHeader) +
                        " bytes");
    }
    return;  // bytes peeked stay queued; the next segment is a new edge
  }
  if (result.status == ProxyParse::Status::kInvalid) {
    fail_proxy_header("bad PROXY header: " + result.error);
    return;
  }
  // Consume exactly the header: the bytes after it are the handler's stdin.
  ssize_t taken;
  do {
    taken = ::recv(fd_.get(), scratch.data(), result.length, 0);
  } while (taken < 0 && errno == EINTR);
  if (taken != static_cast<ssize_t>(result.length)) {
    finish("read error", false);
    return;
  }
  bytes_in_ += result.length;
  if (!admit_proxied(result.header)) return;
  admitted_ = true;
  begin_exec();
}

std::vector<std::string> Connection::handler_environment() const {
  const auto& config = settings_->config;
  std::vector<std::string> env;
  env.reserve(6 + config.environment.size());
  SocketAddress local;
  if (proxied_ && proxied_->named_client) {
    local = proxied_->destination;
  } else if (auto bound = local_address(fd_.get())) {
    local = *bound;
  }
  env.push_back("PROTO=TCP");
  env.push_back("TCPREMOTEIP=" + peer_.host());
  env.push_back("TCPREMOTEPORT=" + std::to_string(peer_.port()));
  env.push_back("TCPLOCALIP=" + local.host());
  env.push_back("TCPLOCALPORT=" + std::to_string(local.port()));
  env.push_back("SOCKETD_SERVICE=" + config.name);
  for (const auto& [name, value] : config.environment) env.push_back(name + "=" + value);
  return env;
}

void Connection::begin_exec() {
  const auto& config = settings_->config;
  if (!service_.exec_admit(*this)) {  // max_instances: logged and counted there
    refusal_logged_ = true;
    finish("refused", false);
    return;
  }
  // O_NONBLOCK lives in the open file description, which the handler
  // shares, and programs expect a blocking stdin and stdout (cat would stop
  // at the first EAGAIN). socketd does no I/O on it from here on.
  if (auto ec = set_blocking(fd_.get())) {
    finish("cannot prepare the socket for the handler: " + ec.message(), false);
    return;
  }
  auto started = ExecProcess::start(service_.context().reactor, service_.context().logger, *this,
                                    config.name, peer_.to_string(),
                                    {.argv = &config.command,
                                     .env = handler_environment(),
                                     .connection = fd_.get(),
                                     .uid = config.uid,
                                     .gid = config.gid,
                                     .run_timeout = config.run_timeout,
                                     .kill_grace = config.kill_grace});
  if (!started) {
    service_.exec_failed(*this, config.command.front(), started.error());
    refusal_logged_ = true;
    finish("handler failed to start", false);
    return;
  }
  exec_ = std::move(*started);
  if (registered_) {
    service_.context().reactor.remove(fd_.get());
    registered_ = false;
  }
  service_.exec_started(*this);
}

void Connection::terminate_handler(std::string_view why, std::chrono::milliseconds grace) {
  if (exec_ && !closed_) exec_->terminate(why, grace);
}

void Connection::on_exec_exit(const ExitStatus& status, std::string_view ended_by) noexcept {
  uint64_t in = 0, out = 0;
  if (tcp_byte_counts(fd_.get(), in, out)) {
    bytes_in_ += in;
    bytes_out_ = out;
  }
  service_.exec_exited(*this);
  log_exit(status, ended_by);
  refusal_logged_ = true;  // the exit record is this connection's last word
  finish(ended_by.empty() ? std::string_view("handler exited") : ended_by, false);
}

void Connection::log_exit(const ExitStatus& status, std::string_view ended_by) {
  auto& logger = service_.context().logger;
  const bool clean = status.exited && status.code == 0 && ended_by.empty();
  const LogLevel level = clean                       ? LogLevel::kInfo
                         : ended_by == "run_timeout" ? LogLevel::kWarning
                                                     : LogLevel::kNotice;
  if (!logger.enabled(level)) return;
  const auto& config = settings_->config;
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - exec_->started())
          .count();
  std::string peer = peer_.to_string();
  std::string in = std::to_string(bytes_in_);
  std::string out = std::to_string(bytes_out_);
  std::string duration = std::to_string(ms);
  std::string pid = std::to_string(exec_->pid());
  std::string how;
  LogRecord record{level,
                   LogEvent::kExecExited,
                   {},
                   {{"SERVICE", config.name},
                    {"PEER", peer},
                    {"PID", pid},
                    {"COMMAND", config.command.front()}}};
  if (status.exited) {
    how = "exited with status " + std::to_string(status.code);
    record.fields.push_back({"EXIT_STATUS", std::to_string(status.code)});
  } else {
    const char* name = ::sigabbrev_np(status.signal);
    std::string signal = name != nullptr ? name : std::to_string(status.signal);
    how = "killed by SIG" + signal + (status.core ? " (core dumped)" : "");
    record.fields.push_back({"EXIT_SIGNAL", signal});
  }
  record.message = config.name + ": handler " + config.command.front() + "[" + pid + "] for " +
                   peer + " " + how + " after " + duration + " ms (in " + in + " B, out " + out +
                   " B)";
  if (!ended_by.empty()) {
    record.message += "; ended by " + std::string(ended_by);
    record.fields.push_back({"REASON", std::string(ended_by)});
  }
  if (exec_->stderr_lines_dropped() != 0) {
    const std::string dropped = std::to_string(exec_->stderr_lines_dropped());
    record.message += "; " + dropped + " stderr line(s) not logged (over [daemon] log_rate_limit)";
    record.fields.push_back({"STDERR_DROPPED", dropped});
  }
  record.fields.push_back({"DURATION_MS", std::move(duration)});
  record.fields.push_back({"BYTES_IN", std::move(in)});
  record.fields.push_back({"BYTES_OUT", std::move(out)});
  add_proxy(record);
  logger.log(record);
}

}  // namespace socketd
