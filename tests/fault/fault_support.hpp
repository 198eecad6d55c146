// Shared pieces of the fault tests: a private mount namespace to run socketd
// in (tmpfs that fills up, remounts read-only; nothing is visible outside the
// namespace), the classic file sender (support/classic_sender.hpp),
// upload-directory listings, a client that resets, and /proc readings of the
// daemon (CPU and runnable time, open descriptors).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include "process_fixture.hpp"
#include "support/classic_sender.hpp"

namespace socketd::test {

inline std::error_code last_error() { return {errno, std::system_category()}; }

// One thread of this test process that lives in a mount namespace of its own
// (unshare(CLONE_NEWNS) affects only the calling thread, which gets its own
// fs_struct; the rest of the test process stays in the host namespace). Work
// is handed to it with run(): mounts made there, files read there, and a
// socketd started from there (fork copies the namespace of the forking
// thread) all see the private mounts; the host never does. Every mount is
// private, so nothing propagates back. The namespace, and its mounts, vanish
// once this thread and every process started from it are gone.
class MountNamespace {
 public:
  MountNamespace() {
    std::promise<std::string> entered;
    auto result = entered.get_future();
    thread_ = std::thread([this, &entered] { loop(entered); });
    unavailable_ = result.get();
  }
  ~MountNamespace() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  MountNamespace(const MountNamespace&) = delete;
  MountNamespace& operator=(const MountNamespace&) = delete;

  // Empty if the namespace exists; otherwise why not (for GTEST_SKIP).
  const std::string& unavailable() const { return unavailable_; }

  // Runs `f` on the namespace thread and returns its result.
  template <class F>
  std::invoke_result_t<F&> run(F f) {
    using R = std::invoke_result_t<F&>;
    // Never fall back to this thread: a mount made here would reach the host.
    if (!unavailable_.empty()) throw std::logic_error("no mount namespace: " + unavailable_);
    std::packaged_task<R()> task(std::move(f));
    auto result = task.get_future();
    {
      std::lock_guard lock(mutex_);
      tasks_.emplace_back([&task] { task(); });
    }
    changed_.notify_all();
    return result.get();
  }

 private:
  void loop(std::promise<std::string>& entered) {
    if (::unshare(CLONE_NEWNS) != 0) {
      entered.set_value("unshare(CLONE_NEWNS): " + last_error().message() +
                        " (needs CAP_SYS_ADMIN)");
      return;
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      entered.set_value("making / private: " + last_error().message());
      return;
    }
    entered.set_value({});
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::thread thread_;
  std::string unavailable_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
};

// Call these on a MountNamespace thread.
inline std::error_code mount_tmpfs(const std::string& dir, std::string_view size) {
  const std::string data = "size=" + std::string(size) + ",mode=0755";
  if (::mount("socketd-fault", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, data.c_str()) != 0) {
    return last_error();
  }
  return {};
}
// A read-only (or again writable) remount of the mount at `dir`: the mount
// point's flag, which binds even root (chmod would not).
inline std::error_code remount(const std::string& dir, bool read_only) {
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV;
  if (read_only) flags |= MS_RDONLY;
  if (::mount(nullptr, dir.c_str(), nullptr, flags, nullptr) != 0) return last_error();
  return {};
}

// A file of `bytes` bytes in lines of `line_bytes` (the last line shorter),
// each line unique, ending in '\n'.
inline std::string lines_of(size_t bytes, size_t line_bytes, std::string_view tag) {
  std::string text;
  text.reserve(bytes);
  for (size_t i = 0; text.size() < bytes; ++i) {
    std::string line = std::string(tag) + " line " + std::to_string(i) + " ";
    const size_t want = std::min(line_bytes, bytes - text.size());
    if (line.size() + 1 > want) line.resize(want > 0 ? want - 1 : 0);
    line.append(want - 1 - line.size(), static_cast<char>('a' + i % 26));
    text += line;
    text += '\n';
  }
  return text;
}

// Upload-directory names: ".NAME.part" while written, "NAME.incomplete" when
// abandoned, "NAME" when finished.
inline bool is_part(const std::string& name) {
  return name.starts_with(".") && name.ends_with(".part");
}
inline bool is_incomplete(const std::string& name) { return name.ends_with(".incomplete"); }
inline bool is_finished(const std::string& name) {
  return !name.starts_with(".") && !is_incomplete(name);
}
inline std::vector<std::string> names_where(const std::string& dir,
                                            bool (*keep)(const std::string&)) {
  std::vector<std::string> out;
  for (const auto& name : list_dir(dir)) {
    if (keep(name)) out.push_back(name);
  }
  return out;
}

// Closes `fd` with SO_LINGER 0: the kernel drops whatever is queued and sends
// RST instead of FIN.
inline void reset_connection(Fd& fd) {
  const linger hard{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  fd.reset();
}

// utime + stime of `pid`, in seconds (/proc/PID/stat fields 14 and 15).
inline std::optional<double> cpu_seconds(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  size_t at = paren + 2;
  while (at < stat.size()) {
    const size_t space = stat.find(' ', at);
    fields.push_back(stat.substr(at, space - at));
    if (space == std::string::npos) break;
    at = space + 1;
  }
  if (fields.size() < 13) return std::nullopt;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
}

// Time `pid` (a single-threaded process) spent runnable: on a CPU plus
// waiting in the run queue (/proc/PID/schedstat, ns). A process that spins
// is runnable all the time however loaded the machine is; utime + stime
// alone shrink when other processes take the CPUs.
inline std::optional<double> runnable_seconds(pid_t pid) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/schedstat"));
  double on_cpu = 0;
  double waiting = 0;
  if (!(in >> on_cpu >> waiting)) return std::nullopt;
  return (on_cpu + waiting) / 1e9;
}

// Open descriptors of `pid` (entries of /proc/PID/fd).
inline size_t open_fds(pid_t pid) { return list_dir("/proc/" + std::to_string(pid) + "/fd").size(); }
// "0 -> /dev/null, 1 -> pipe:[...], ...": what they are, for messages.
inline std::string describe_fds(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::string out;
  for (const auto& name : list_dir(dir)) {
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(dir + "/" + name, ec);
    out += (out.empty() ? "" : ", ") + name + " -> " + (ec ? "?" : target.string());
  }
  return out;
}
// Open descriptors of `pid` other than unix sockets: sd_notify opens one per
// message and closes it again, and the daemon holds none for good (the tests
// do not run it under journald). What the daemon holds, without the noise.
inline size_t steady_open_fds(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  std::set<std::string> unix_inodes;  // /proc/PID/net/unix: "... Inode Path", inode 7th
  const std::string table = read_file(proc + "/net/unix");
  for (const auto& line : split_lines(table)) {
    std::istringstream fields(line);
    std::string field;
    for (int i = 0; i < 7 && fields >> field; ++i) {
    }
    unix_inodes.insert("socket:[" + field + "]");
  }
  size_t n = 0;
  for (const auto& name : list_dir(proc + "/fd")) {
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(proc + "/fd/" + name, ec);
    if (ec || unix_inodes.count(target.string()) == 0) ++n;
  }
  return n;
}

}  // namespace socketd::test
