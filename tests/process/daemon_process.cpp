#include "daemon_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace socketd::test {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point end) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// The variables a supervisor hands to a daemon: never leak ours into a test.
bool supervisor_variable(std::string_view name) {
  return name == "NOTIFY_SOCKET" || name.starts_with("LISTEN_") || name == "JOURNAL_STREAM" ||
         name.starts_with("WATCHDOG_") || name == "STATE_DIRECTORY" || name == "INVOCATION_ID";
}

// Writes `value` as decimal into `out` (async-signal-safe; used after fork).
void write_decimal(char* out, long value) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  for (int i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  out[n] = '\0';
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                        "/socketd-proc-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << std::strerror(errno);
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(std::string_view name, std::string_view content) const {
  const std::string target = file(name);
  // A hidden temp file beside the target (`name` may have directories; they
  // are created).
  const size_t slash = name.rfind('/');
  const std::string dir =
      slash == std::string_view::npos ? "" : std::string(name.substr(0, slash + 1));
  std::filesystem::create_directories(file(dir));
  const std::string tmp = file(dir + "." + std::string(name.substr(dir.size())) + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) ADD_FAILURE() << "cannot write " << tmp;
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    ADD_FAILURE() << "rename " << tmp << ": " << std::strerror(errno);
  }
  return target;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

const char* socketd_binary() {
  return SOCKETD_BINARY;
}

std::string describe(const ExitStatus& status) {
  if (status.exited) return "exit status " + std::to_string(status.code);
  return "killed by signal " + std::to_string(status.signal);
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    wait_exit(kProcessDeadline);
  }
  if (reader_.joinable()) reader_.join();
}

bool DaemonProcess::start_with_config(const std::string& config_path, DaemonOptions options) {
  options.args.insert(options.args.begin(), {"--config", config_path});
  return start(options);
}

bool DaemonProcess::start(const DaemonOptions& options) {
  if (pid_ > 0) {
    ADD_FAILURE() << "DaemonProcess started twice";
    return false;
  }
  // Everything the child needs is prepared here: between fork and exec only
  // async-signal-safe calls are allowed (this process has threads).
  std::vector<std::string> argv_store{options.binary.empty() ? SOCKETD_BINARY : options.binary};
  argv_store.insert(argv_store.end(), options.args.begin(), options.args.end());

  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry = *e;
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string name(entry.substr(0, eq));
    if (!supervisor_variable(name)) env[name] = std::string(entry.substr(eq + 1));
  }
  for (const auto& [name, value] : options.env) {
    if (value.empty()) {
      env.erase(name);
    } else {
      env[name] = value;
    }
  }
  const size_t n_fds = options.listen_fds.size();
  if (n_fds > 0) {
    env["LISTEN_FDS"] = std::to_string(n_fds);
    std::string names;
    for (size_t i = 0; i < options.listen_fdnames.size(); ++i) {
      names += (i == 0 ? "" : ":") + options.listen_fdnames[i];
    }
    if (!options.listen_fdnames.empty()) env["LISTEN_FDNAMES"] = names;
  }
  std::vector<std::string> env_store;
  for (const auto& [name, value] : env) env_store.push_back(name + "=" + value);
  // LISTEN_PID must be the pid of the process that execs socketd, known only
  // in the child: reserve room and fill it in after fork.
  const std::string listen_pid_prefix = "LISTEN_PID=";
  size_t listen_pid_index = SIZE_MAX;
  if (n_fds > 0) {
    listen_pid_index = env_store.size();
    env_store.push_back(listen_pid_prefix + std::string(24, '\0'));
  }
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  char* listen_pid_digits =
      listen_pid_index == SIZE_MAX ? nullptr : env_store[listen_pid_index].data() +
                                                   listen_pid_prefix.size();
  const pid_t listen_pid_override = options.listen_pid_override;
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();

  int err_pipe[2];
  int out_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return false;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    // Child. Move inherited sockets out of the way first, so that placing
    // the pipes and then the sockets at 3, 4, ... never clobbers one of them.
    int high[64];
    const size_t n = std::min<size_t>(n_fds, 64);
    for (size_t i = 0; i < n; ++i) {
      high[i] = ::fcntl(options.listen_fds[i], F_DUPFD_CLOEXEC, 200);
      if (high[i] < 0) ::_exit(126);
    }
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(out_pipe[1], 1) < 0 ||
        ::dup2(err_pipe[1], 2) < 0) {
      ::_exit(126);
    }
    for (size_t i = 0; i < n; ++i) {
      if (::dup2(high[i], static_cast<int>(3 + i)) < 0) ::_exit(126);  // dup2 clears CLOEXEC
    }
#ifdef SYS_close_range
    ::syscall(SYS_close_range, static_cast<unsigned>(3 + n), ~0u, 0u);
#endif
    if (listen_pid_digits != nullptr) {
      write_decimal(listen_pid_digits, listen_pid_override != 0 ? listen_pid_override : ::getpid());
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (cwd != nullptr && ::chdir(cwd) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  pid_ = pid;
  ::close(err_pipe[1]);
  ::close(out_pipe[1]);
#ifdef SYS_pidfd_open
  pidfd_ = Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
#endif
  reader_ = std::thread([this, e = err_pipe[0], o = out_pipe[0]] { reader_loop(e, o); });
  return true;
}

void DaemonProcess::reader_loop(int err_fd, int out_fd) {
  Fd err(err_fd);
  Fd out(out_fd);
  pollfd fds[2] = {{err_fd, POLLIN, 0}, {out_fd, POLLIN, 0}};
  int open = 2;
  char buf[65536];
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open;
        continue;
      }
      std::lock_guard lock(mutex_);
      (i == 0 ? stderr_ : stdout_).append(buf, static_cast<size_t>(n));
      changed_.notify_all();
    }
  }
  std::lock_guard lock(mutex_);
  output_closed_ = true;
  changed_.notify_all();
}

bool DaemonProcess::running() {
  if (pid_ <= 0) return false;
  return !wait_exit(0ms).has_value();
}

bool DaemonProcess::signal(int signo) {
  if (pid_ <= 0 || status_) return false;
  return ::kill(pid_, signo) == 0;
}

std::optional<ExitStatus> DaemonProcess::wait_exit(std::chrono::milliseconds deadline) {
  if (status_) return status_;
  if (pid_ <= 0) return std::nullopt;
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
    if (r < 0 && errno != EINTR) {
      ADD_FAILURE() << "waitpid: " << std::strerror(errno);
      return std::nullopt;
    }
    const int left = remaining_ms(end);
    if (left == 0) return std::nullopt;
    if (pidfd_) {
      pollfd p{pidfd_.get(), POLLIN, 0};
      ::poll(&p, 1, left);
    } else {
      // No pidfd (old kernel): look again shortly.
      pollfd none{-1, 0, 0};
      ::poll(&none, 0, std::min(left, 2));
    }
  }
}

std::optional<ExitStatus> DaemonProcess::run(const DaemonOptions& options, std::string& out,
                                             std::string& err,
                                             std::chrono::milliseconds deadline) {
  DaemonProcess process;
  if (!process.start(options)) return std::nullopt;
  auto status = process.wait_exit(deadline);
  if (status) process.wait_output_closed(deadline);
  out = process.stdout_text();
  err = process.stderr_text();
  return status;
}

std::string DaemonProcess::stderr_text() const {
  std::lock_guard lock(mutex_);
  return stderr_;
}

std::string DaemonProcess::stdout_text() const {
  std::lock_guard lock(mutex_);
  return stdout_;
}

size_t DaemonProcess::stderr_size() const {
  std::lock_guard lock(mutex_);
  return stderr_.size();
}

std::optional<std::string> DaemonProcess::wait_stderr(std::string_view needle,
                                                      std::chrono::milliseconds deadline,
                                                      size_t from) {
  std::unique_lock lock(mutex_);
  size_t at = std::string::npos;
  // Only whole lines count: a line is written with one write(), but the pipe
  // may hand it over in pieces.
  auto found = [&] {
    at = from <= stderr_.size() ? stderr_.find(needle, from) : std::string::npos;
    return at != std::string::npos && stderr_.find('\n', at) != std::string::npos;
  };
  if (!changed_.wait_for(lock, deadline, [&] { return found() || output_closed_; })) {
    return std::nullopt;
  }
  if (!found()) return std::nullopt;
  const size_t begin = stderr_.rfind('\n', at);
  const size_t line_begin = begin == std::string::npos ? 0 : begin + 1;
  const size_t line_end = stderr_.find('\n', at);
  return stderr_.substr(line_begin, line_end - line_begin);
}

void DaemonProcess::wait_output_closed(std::chrono::milliseconds deadline) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, deadline, [&] { return output_closed_; });
}

std::map<std::string, uint16_t> DaemonProcess::wait_started(std::chrono::milliseconds deadline) {
  auto line = wait_stderr("socketd started: ", deadline);
  if (!line) {
    ADD_FAILURE() << "no start line from socketd; stderr:\n" << stderr_text();
    return {};
  }
  return parse_started_line(*line);
}

std::map<std::string, uint16_t> parse_started_line(std::string_view line) {
  std::map<std::string, uint16_t> ports;
  const std::string_view marker = "socketd started: ";
  const size_t at = line.find(marker);
  if (at == std::string_view::npos) return ports;
  std::string_view rest = line.substr(at + marker.size());
  while (!rest.empty()) {
    const size_t comma = rest.find(", ");
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 2);
    // "name tcp 127.0.0.1:1234"
    const size_t s1 = item.find(' ');
    const size_t s2 = s1 == std::string_view::npos ? s1 : item.find(' ', s1 + 1);
    const size_t colon = item.rfind(':');
    if (s2 == std::string_view::npos || colon == std::string_view::npos) continue;
    const std::string key = std::string(item.substr(0, s1)) + "/" +
                            std::string(item.substr(s1 + 1, s2 - s1 - 1));
    ports[key] = static_cast<uint16_t>(std::stoul(std::string(item.substr(colon + 1))));
  }
  return ports;
}

NotifySocket::NotifySocket() : path_(dir_.file("notify")) {
  fd_ = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  stop_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) {
    ADD_FAILURE() << "notify socket path too long: " << path_;
    return;
  }
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  if (!fd_ || !stop_ || ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ADD_FAILURE() << "notify socket " << path_ << ": " << std::strerror(errno);
    return;
  }
  reader_ = std::thread([this] { reader_loop(); });
}

NotifySocket::~NotifySocket() {
  if (reader_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(stop_.get(), &one, sizeof one);
    reader_.join();
  }
}

void NotifySocket::reader_loop() {
  pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    std::lock_guard lock(mutex_);
    drain_locked();
    changed_.notify_all();
  }
}

void NotifySocket::drain_locked() const {
  // Under mutex_, so datagrams are appended in the order they were queued,
  // whichever thread reads them.
  char buf[4096];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)];
  for (;;) {
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    std::vector<Fd> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds.emplace_back(fd);
      }
    }
    messages_.emplace_back(buf, static_cast<size_t>(n));
    const std::string& text = messages_.back();
    std::string name;
    for (const auto& l : lines(text)) {
      if (l.starts_with("FDNAME=")) name = l.substr(7);
    }
    if (has_line(text, "FDSTOREREMOVE=1")) {
      std::erase_if(store_, [&](const auto& kept) { return kept.first == name; });
    }
    if (keep_fds_ && has_line(text, "FDSTORE=1")) {
      for (auto& fd : fds) {
        struct stat st {};
        ::fstat(fd.get(), &st);
        const bool duplicate = std::any_of(store_.begin(), store_.end(), [&](const auto& kept) {
          struct stat other {};
          return ::fstat(kept.second.get(), &other) == 0 && other.st_ino == st.st_ino &&
                 other.st_dev == st.st_dev;
        });
        if (!duplicate) store_.emplace_back(name, std::move(fd));
      }
    }
  }
}

std::vector<std::pair<std::string, int>> NotifySocket::stored_fds() const {
  std::lock_guard lock(mutex_);
  drain_locked();
  std::vector<std::pair<std::string, int>> out;
  for (const auto& [name, fd] : store_) out.emplace_back(name, fd.get());
  return out;
}

void NotifySocket::add_stored_fds(DaemonOptions& options) const {
  for (const auto& [name, fd] : stored_fds()) {
    options.listen_fds.push_back(fd);
    options.listen_fdnames.push_back(name);
  }
}

std::vector<std::string> NotifySocket::lines(std::string_view message) {
  std::vector<std::string> out;
  while (!message.empty()) {
    const size_t nl = message.find('\n');
    out.emplace_back(message.substr(0, nl));
    if (nl == std::string_view::npos) break;
    message.remove_prefix(nl + 1);
  }
  return out;
}

bool NotifySocket::has_line(std::string_view message, std::string_view line) {
  for (const auto& l : lines(message)) {
    if (line.ends_with('=') ? std::string_view(l).starts_with(line) : l == line) return true;
  }
  return false;
}

std::optional<std::string> NotifySocket::wait_for(std::string_view line,
                                                  std::chrono::milliseconds deadline) {
  std::unique_lock lock(mutex_);
  size_t found = SIZE_MAX;
  auto match = [&] {
    drain_locked();
    for (size_t i = cursor_; i < messages_.size(); ++i) {
      if (has_line(messages_[i], line)) {
        found = i;
        return true;
      }
    }
    return false;
  };
  if (!changed_.wait_for(lock, deadline, match)) return std::nullopt;
  cursor_ = found + 1;
  return messages_[found];
}

std::vector<std::string> NotifySocket::messages() const {
  std::lock_guard lock(mutex_);
  drain_locked();
  return messages_;
}

namespace {

Fd loopback_socket(int type, int backlog) {
  Fd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      (type == SOCK_STREAM && backlog > 0 && ::listen(fd.get(), backlog) != 0)) {
    ADD_FAILURE() << "loopback socket: " << std::strerror(errno);
    return Fd();
  }
  return fd;
}

}  // namespace

Fd listen_tcp_loopback(int backlog) { return loopback_socket(SOCK_STREAM, backlog); }
Fd bind_udp_loopback() { return loopback_socket(SOCK_DGRAM, 0); }

uint16_t local_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

uint16_t free_tcp_port() {
  Fd fd = loopback_socket(SOCK_STREAM, 0);
  return local_port(fd.get());
}

uint16_t free_udp_port() {
  Fd fd = loopback_socket(SOCK_DGRAM, 0);
  return local_port(fd.get());
}

bool tcp_refused(uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  // A listener with a full queue drops SYNs instead of refusing: bound the wait.
  timeval tv{2, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int r;
  do {
    r = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (r != 0 && errno == EINTR);
  return r != 0 && errno == ECONNREFUSED;
}

}  // namespace socketd::test
