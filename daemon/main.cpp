// socketd: loads the config, wires the systemd glue into the App and runs the
// reactor until a graceful stop. Exit codes follow daemon(7)/LSB: 0 clean
// stop, 1 generic failure, 2 usage error, 6 (EXIT_NOTCONFIGURED) an invalid
// configuration, at start and with --check-config alike (the unit's
// RestartPreventExitStatus=6 keeps systemd from restarting it in a loop).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>

#include <cstdio>
#include <string>
#include <vector>

#include "app/app.hpp"
#include "app/reload_report.hpp"
#include "config/config_dump.hpp"
#include "config/config_loader.hpp"
#include "log/async_sink.hpp"
#include "log/rate_limited_sink.hpp"
#include "options.hpp"
#include "reactor/signal_source.hpp"
#include "systemd_glue.hpp"

#ifndef SOCKETD_VERSION
#define SOCKETD_VERSION "unknown"
#endif

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitNotConfigured = 6;
// How long a stop waits for queued log records to be written: enough for a
// slow journald, well inside systemd's TimeoutStopSec=.
constexpr std::chrono::milliseconds kLogFlushDeadline = std::chrono::seconds(2);

// The first directory of RuntimeDirectory= (systemd sets $RUNTIME_DIRECTORY), or "".
std::string runtime_dir() {
  const char* dir = std::getenv("RUNTIME_DIRECTORY");
  if (dir == nullptr || *dir == '\0') return {};
  const std::string_view dirs = dir;
  return std::string(dirs.substr(0, dirs.find(':')));
}

std::string reload_report_path() {
  const std::string dir = runtime_dir();
  return dir.empty() ? dir : dir + "/reload-status";
}

// Where a daemon under systemd records its PID, so that `--signal-reload`
// can recognise it even where /proc/PID/exe cannot be read. Not a PID file in
// the old sense: nothing supervises by it.
std::string pid_record_path() {
  const std::string dir = runtime_dir();
  return dir.empty() ? dir : dir + "/pid";
}

void record_pid() {
  const std::string path = pid_record_path();
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  bool written = false;
  if (FILE* f = std::fopen(tmp.c_str(), "we")) {
    written = std::fprintf(f, "%d\n", static_cast<int>(::getpid())) > 0;
    written = std::fclose(f) == 0 && written;
  }
  if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::fprintf(stderr, "socketd: cannot record the PID in %s: %s\n", path.c_str(),
                 std::strerror(errno));
  }
}

// The executable of `pid` as the kernel names it; " (deleted)" is cut off,
// since a package upgrade replaces the file under a running daemon.
std::optional<std::string> exe_of(const std::string& proc_entry, int& error) {
  char buf[4096];
  const ssize_t n = ::readlink(proc_entry.c_str(), buf, sizeof buf);
  if (n < 0 || static_cast<size_t>(n) >= sizeof buf) {
    error = n < 0 ? errno : ENAMETOOLONG;
    return std::nullopt;
  }
  std::string path(buf, static_cast<size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.ends_with(kDeleted)) path.resize(path.size() - kDeleted.size());
  return path;
}

// Whether `pid` is a socketd: its executable is ours, or it is the PID our
// runtime directory records. Otherwise says why not in `why`.
bool is_socketd(int pid, std::string& why) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) {
    why = "no such process";
    return false;
  }
  int error = 0;
  const auto ours = exe_of("/proc/self/exe", error);
  const auto theirs = exe_of("/proc/" + std::to_string(pid) + "/exe", error);
  if (ours && theirs) {
    if (*ours == *theirs) return true;
    why = "it runs " + *theirs + ", not " + *ours;
  } else {
    // Under systemd's ProtectProc=invisible the daemon may be hidden from
    // ExecReload= (ENOENT): the runtime directory's record decides then.
    why = "cannot read /proc/" + std::to_string(pid) + "/exe: " + std::strerror(error);
  }
  const std::string record = pid_record_path();
  if (!record.empty()) {
    int recorded = 0;
    if (FILE* f = std::fopen(record.c_str(), "re")) {
      if (std::fscanf(f, "%d", &recorded) != 1) recorded = 0;
      std::fclose(f);
    }
    if (recorded == pid) return true;
    why += "; and " + record + " does not name it";
  }
  return false;
}

// ExecReload=: SIGHUP the daemon, then wait until it reports the outcome, so
// `systemctl reload` returns only once the new file is in force (or refused).
int signal_reload(int pid) {
  std::string why;
  if (!is_socketd(pid, why)) {
    std::fprintf(stderr, "socketd: PID %d is not a socketd (%s); not signalled\n", pid,
                 why.c_str());
    return 1;
  }
  const std::string path = reload_report_path();
  const uint64_t before = path.empty() ? 0 : socketd::read_reload_report(path).generation;
  if (::kill(pid, SIGHUP) != 0) {
    std::fprintf(stderr, "socketd: cannot signal PID %d: %s\n", pid, std::strerror(errno));
    return 1;
  }
  if (path.empty()) return 0;  // not under systemd: nothing to wait on
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto report = socketd::read_reload_report(path);
    if (report.generation > before) {
      std::fprintf(report.ok ? stdout : stderr, "%s %s\n", report.ok ? "ok" : "failed",
                   report.message.c_str());
      return report.ok ? 0 : 1;
    }
    ::usleep(5000);  // polling a file another process writes; there is no event to wait on
  }
  std::fprintf(stderr, "socketd: PID %d did not report the reload within 30 s\n", pid);
  return 1;
}

int run(const socketd::Options& options) {
  using namespace socketd;
  // Blocked before anything else so they only ever arrive through signalfd.
  if (auto ec = block_signals({SIGTERM, SIGINT, SIGHUP})) {
    std::fprintf(stderr, "socketd: cannot block signals: %s\n", ec.message().c_str());
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);
  // exec handlers are reaped through their pidfds (waitid P_PIDFD): that needs
  // SIGCHLD at its default, not ignored (which makes the kernel reap them).
  ::signal(SIGCHLD, SIG_DFL);

  auto load = load_config_file(options.config_path);
  for (const auto& error : load.errors) std::fprintf(stderr, "%s\n", error.to_string().c_str());
  if (!load.ok()) {
    std::fprintf(stderr, "socketd: %zu error(s) in %s; not started\n", load.errors.size(),
                 options.config_path.c_str());
    return kExitNotConfigured;
  }

  // The real sink blocks (a stderr pipe nobody reads, a stopped journald):
  // it is written by AsyncSink's log thread, never by the reactor.
  std::unique_ptr<LogSink> blocking_sink;
  if (stderr_is_journal()) {
    blocking_sink = std::make_unique<JournalSink>();
  } else {
    blocking_sink = std::make_unique<StderrSink>();
  }
  AsyncSink sink(std::move(blocking_sink));
  RateLimitedSink limited(sink, load.config->daemon.log_rate_limit);
  Logger logger(limited, load.config->daemon.log_level);

  auto reactor = Reactor::create();
  if (!reactor) {
    std::fprintf(stderr, "socketd: cannot create epoll set: %s\n",
                 reactor.error().message().c_str());
    return 1;
  }
  SdNotifier notifier(**reactor);
  App app(**reactor, logger, notifier,
          {.config_path = options.config_path,
           .watchdog_interval = watchdog_interval(),
           .reload_report_path = reload_report_path(),
           .log_limiter = &limited});
  app.server().metrics().set_log_drops([&limited] { return limited.suppressed_total(); },
                                       [&sink] { return sink.dropped_total(); });
  auto signals = SignalSource::create(**reactor, {SIGTERM, SIGINT, SIGHUP},
                                      [&app](int signo) { app.on_signal(signo); });
  if (!signals) {
    std::fprintf(stderr, "socketd: cannot create signalfd: %s\n",
                 signals.error().message().c_str());
    return 1;
  }
  std::vector<std::string> problems;
  InheritedSockets inherited = inherited_sockets(problems);
  for (const auto& p : problems) logger.log(LogLevel::kWarning, p);
  record_pid();  // before READY=1: ExecReload= may follow at once
  if (!app.start(*load.config, &inherited)) return 1;
  for (const auto& [name, fd] : inherited) {
    logger.log(LogLevel::kWarning, "inherited socket '" + name +
                                       "' matches no configured service; closed");
  }
  inherited.clear();
  (*reactor)->run();
  if (auto ec = (*reactor)->error()) {
    logger.log(LogLevel::kError, "the event loop failed: " + ec.message() + "; exiting");
    app.server().drain_io();
    sink.flush(kLogFlushDeadline);
    return 1;
  }
  // Uploads cut off by the drain timeout get their ".incomplete" names now,
  // before a stuck log could make us leave without running destructors.
  app.server().drain_io();
  logger.log(LogLevel::kNotice, "socketd stopped");
  if (!sink.flush(kLogFlushDeadline)) {
    // The log thread is blocked in write(2) or sd_journal_sendv on a log
    // nobody reads; it cannot be interrupted, so it cannot be joined, and
    // running destructors beside it gains nothing. The stop itself was
    // clean (connections drained, uploads kept), so exit 0 at once.
    ::_exit(0);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string error;
  auto options = socketd::parse_options(std::vector<std::string>(argv + 1, argv + argc), error);
  if (!options) {
    std::fprintf(stderr, "socketd: %s\n%s", error.c_str(), socketd::usage_text());
    return kExitUsage;
  }
  if (options->show_help) {
    std::fputs(socketd::usage_text(), stdout);
    return 0;
  }
  if (options->show_version) {
    std::printf("socketd %s\n", SOCKETD_VERSION);
    return 0;
  }
  if (options->signal_reload_pid != 0) return signal_reload(options->signal_reload_pid);
  if (options->dump_config) {
    auto load = socketd::load_config_file(options->config_path);
    for (const auto& e : load.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    if (!load.ok()) return kExitNotConfigured;  // as --check-config
    std::fputs(socketd::dump_config(*load.config).c_str(), stdout);
    return 0;
  }
  if (options->check_config) {
    auto load = socketd::load_config_file(options->config_path);
    for (const auto& e : load.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    if (!load.ok()) return kExitNotConfigured;
    const size_t n = load.config->services.size();
    std::printf("%s: configuration OK (%zu service%s)\n", options->config_path.c_str(), n,
                n == 1 ? "" : "s");
    return 0;
  }
  return run(*options);
}
