// socketd: loads the config, wires the systemd glue into the App and runs the
// reactor until a graceful stop. Exit codes follow daemon(7)/LSB: 0 clean
// stop, 1 generic failure, 2 usage error, 6 (EXIT_NOTCONFIGURED) an invalid
// configuration, at start and with --check-config alike (the unit's
// RestartPreventExitStatus=6 keeps systemd from restarting it in a loop).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
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
#include "handover/state.hpp"
#include "log/async_sink.hpp"
#include "log/rate_limited_sink.hpp"
#include "net/socket.hpp"
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

// `socketd --upgrade PID`: SIGUSR2, then wait for the report of the socketd
// that took over (or of the old one, if the exec failed): the report file is
// replaced (a new inode) either way.
// Whether `pid` takes SIGUSR2 through its signalfd (blocked) or a handler:
// a socketd from before upgrades existed would be killed by it.
bool takes_sigusr2(int pid, std::string& why) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "re");
  if (f == nullptr) {
    why = std::string("cannot read its /proc status: ") + std::strerror(errno);
    return false;
  }
  unsigned long long blocked = 0;
  unsigned long long caught = 0;
  char line[256];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    std::sscanf(line, "SigBlk: %llx", &blocked);
    std::sscanf(line, "SigCgt: %llx", &caught);
  }
  std::fclose(f);
  const unsigned long long bit = 1ull << (SIGUSR2 - 1);
  if (((blocked | caught) & bit) != 0) return true;
  why = "it neither blocks nor handles SIGUSR2 (a socketd without upgrades?)";
  return false;
}

int signal_upgrade(int pid) {
  if (std::string why; !takes_sigusr2(pid, why)) {
    std::fprintf(stderr, "socketd: PID %d cannot be upgraded in place: %s; not signalled\n", pid,
                 why.c_str());
    return 1;
  }
  std::string path = reload_report_path();
  if (path.empty()) {
    // Run by hand or by a package script, not by systemd: the daemon's own
    // RUNTIME_DIRECTORY says where it reports (readable by root).
    if (FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/environ").c_str(), "r")) {
      std::string env(1 << 16, '\0');
      env.resize(std::fread(env.data(), 1, env.size(), f));
      std::fclose(f);
      for (size_t at = 0; at < env.size();) {
        const size_t end = std::min(env.find('\0', at), env.size());
        const std::string_view var(env.data() + at, end - at);
        if (var.starts_with("RUNTIME_DIRECTORY=") && var.size() > 18) {
          const std::string_view dirs = var.substr(18);
          path = std::string(dirs.substr(0, dirs.find(':'))) + "/reload-status";
        }
        at = end + 1;
      }
    }
  }
  struct stat before {};
  if (!path.empty()) ::stat(path.c_str(), &before);
  if (::kill(pid, SIGUSR2) != 0) {
    std::fprintf(stderr, "socketd: cannot signal PID %d: %s\n", pid, std::strerror(errno));
    return 1;
  }
  if (path.empty()) return 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    struct stat now {};
    if (::stat(path.c_str(), &now) == 0 && now.st_ino != before.st_ino) {
      const auto report = socketd::read_reload_report(path);
      std::fprintf(report.ok ? stdout : stderr, "%s %s\n", report.ok ? "ok" : "failed",
                   report.message.c_str());
      return report.ok ? 0 : 1;
    }
    ::usleep(5000);  // polling a file another process writes; there is no event to wait on
  }
  std::fprintf(stderr, "socketd: PID %d did not report the upgrade within 30 s\n", pid);
  return 1;
}

constexpr const char* kHandoverEnv = "SOCKETD_HANDOVER_FD";
constexpr size_t kMaxHandoverBytes = 1u << 30;

// What a socketd started by an upgrade finds: the state and every descriptor
// really passed across the exec (open, not close-on-exec). Read before this
// process opens anything, so nothing of its own can pass for a handed-over fd.
struct Handover {
  bool present = false;
  std::optional<socketd::handover::State> state;
  std::string error;  // why `state` is empty
  std::vector<int> fds;
};

Handover take_handover() {
  Handover h;
  const char* value = std::getenv(kHandoverEnv);
  if (value == nullptr) return h;
  h.present = true;
  const std::string text = value;
  ::unsetenv(kHandoverEnv);
  int memfd = -1;
  std::from_chars(text.data(), text.data() + text.size(), memfd);
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (dirent* entry = ::readdir(dir)) {
      int fd = -1;
      const std::string_view name = entry->d_name;
      auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), fd);
      if (ec != std::errc() || fd < 3 || fd == memfd || fd == ::dirfd(dir)) continue;
      const int flags = ::fcntl(fd, F_GETFD);
      if (flags >= 0 && (flags & FD_CLOEXEC) == 0) h.fds.push_back(fd);
    }
    ::closedir(dir);
  }
  for (int fd : h.fds) ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // ours now: not to a child
  struct stat st {};
  if (memfd < 3 || ::fstat(memfd, &st) != 0 || st.st_size < 0 ||
      static_cast<size_t>(st.st_size) > kMaxHandoverBytes) {
    h.error = "no readable hand-over state at " + text;
    if (memfd >= 3) ::close(memfd);
    return h;
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n =
        ::pread(memfd, bytes.data() + got, bytes.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(memfd);
  bytes.resize(got);
  auto decoded = socketd::handover::decode(bytes);
  if (auto* error = std::get_if<socketd::handover::DecodeError>(&decoded)) {
    h.error = error->message + " (at byte " + std::to_string(error->offset) + ")";
  } else {
    h.state = std::move(std::get<socketd::handover::State>(decoded));
  }
  return h;
}

// The listeners to adopt from a hand-over; every other passed descriptor not
// named by the state is closed. With unreadable state, listening sockets
// are matched to the config by address and everything else closed (clients
// see a clean close).
socketd::InheritedSockets handover_listeners(Handover& h, const socketd::Config& config,
                                             std::vector<int>& connection_fds) {
  using namespace socketd;
  InheritedSockets out;
  std::vector<int> passed = h.fds;
  std::sort(passed.begin(), passed.end());
  auto take = [&](int fd) {
    auto it = std::lower_bound(passed.begin(), passed.end(), fd);
    if (it == passed.end() || *it != fd) return false;
    passed.erase(it);
    return true;
  };
  if (h.state) {
    for (const auto& l : h.state->listeners) {
      if (take(l.fd)) out.push_back({l.service, Fd(l.fd), !l.activated});
    }
    for (const auto& c : h.state->connections) {
      if (take(c.fd)) connection_fds.push_back(c.fd);
    }
  } else {
    for (auto it = passed.begin(); it != passed.end();) {
      const int fd = *it;
      int type = 0, listening = 0;
      socklen_t len = sizeof type;
      ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
      len = sizeof listening;
      ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
      auto bound = local_address(fd);
      const ServiceConfig* match = nullptr;
      if (bound && ((type == SOCK_STREAM && listening != 0) || type == SOCK_DGRAM)) {
        for (const auto& s : config.services) {
          const bool tcp = s.transport() == Transport::kTcp;
          for (const auto& address : s.listen) {
            SocketAddress have = *bound;
            if (address.port() == 0) have.set_port(0);
            if (tcp == (type == SOCK_STREAM) && have == address) match = &s;
          }
        }
      }
      if (match != nullptr) {
        out.push_back({match->name, Fd(fd), true});
        it = passed.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (int fd : passed) ::close(fd);  // connections we cannot serve on: a clean close
  return out;
}

// Replaces this process with /usr/sbin/socketd (the path we were started as)
// and the hand-over state; returns only on failure, with the reason.
std::string exec_successor(const std::vector<std::string>& argv, const std::string& state,
                           const std::vector<int>& fds, socketd::AsyncSink& sink) {
  const int memfd = ::memfd_create("socketd-handover", 0);  // kept across the exec
  if (memfd < 0) return std::string("memfd_create: ") + std::strerror(errno);
  size_t done = 0;
  while (done < state.size()) {
    const ssize_t n = ::write(memfd, state.data() + done, state.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(memfd);
      return std::string("writing the hand-over state: ") + std::strerror(errno);
    }
    done += static_cast<size_t>(n);
  }
  sink.flush(kLogFlushDeadline);  // the log thread ends with the exec
  for (int fd : fds) ::fcntl(fd, F_SETFD, 0);
  ::setenv(kHandoverEnv, std::to_string(memfd).c_str(), 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string path = argv[0].starts_with("/") ? argv[0] : "/proc/self/exe";
  ::execv(path.c_str(), args.data());
  const int err = errno;
  ::unsetenv(kHandoverEnv);
  for (int fd : fds) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::close(memfd);
  return "cannot execute " + path + ": " + std::strerror(err);
}

int run(const socketd::Options& options, const std::vector<std::string>& argv) {
  using namespace socketd;
  Handover handover = take_handover();
  // Blocked before anything else so they only ever arrive through signalfd.
  if (auto ec = block_signals({SIGTERM, SIGINT, SIGHUP, SIGUSR2})) {
    std::fprintf(stderr, "socketd: cannot block signals: %s\n", ec.message().c_str());
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);
  install_crash_handoff();
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
           .log_limiter = &limited,
           .exec_successor = [&argv, &sink](const std::string& state, const std::vector<int>& fds) {
             return exec_successor(argv, state, fds, sink);
           }});
  app.server().metrics().set_log_drops([&limited] { return limited.suppressed_total(); },
                                       [&sink] { return sink.dropped_total(); });
  auto signals = SignalSource::create(**reactor, {SIGTERM, SIGINT, SIGHUP, SIGUSR2},
                                      [&app](int signo) { app.on_signal(signo); });
  if (!signals) {
    std::fprintf(stderr, "socketd: cannot create signalfd: %s\n",
                 signals.error().message().c_str());
    return 1;
  }
  std::vector<std::string> problems;
  InheritedSockets inherited = inherited_sockets(problems);
  for (const auto& p : problems) logger.log(LogLevel::kWarning, p);
  std::vector<int> connection_fds;
  if (handover.present) {
    if (!handover.state) {
      logger.log(LogLevel::kError,
                 "cannot read the state handed over by the previous socketd: " + handover.error +
                     "; its connections are closed, its listening sockets "
                     "adopted by address");
    }
    auto from_handover = handover_listeners(handover, *load.config, connection_fds);
    for (auto& socket : from_handover) inherited.push_back(std::move(socket));
  }
  if (handover.present && !handover.state) {
    app.set_last_reload("upgraded in place; the handed-over state was unreadable (" +
                        handover.error + "): its connections were closed");
  }
  record_pid();  // before READY=1: ExecReload= may follow at once
  // Adopts or closes every inherited socket; takes over the connections.
  if (!app.start(*load.config, &inherited, handover.state ? &*handover.state : nullptr,
                 std::move(connection_fds))) {
    return 1;
  }
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
  if (options->upgrade_pid != 0) return signal_upgrade(options->upgrade_pid);
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
  return run(*options, std::vector<std::string>(argv, argv + argc));
}
