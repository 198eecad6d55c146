// SIGKILL during hundreds of concurrent uploads, then a restart on the same
// upload directory. Whatever moment the kill hits:
// - every upload whose client got the durable "success" is there under a
//   finished name, byte-identical;
// - a finished name only ever holds a file that was sent completely ("quit");
// - a file cut off holds a prefix of what was sent, with at least every
//   acknowledged line, and is never presented as finished;
// - the restart renames leftover ".part" files to "*.incomplete", says so in
//   its log, and serves.
// The kill moments are random but seeded, counted in acknowledged lines
// across all uploads: the seed is printed, and SOCKETD_FAULT_SEED=<seed>
// replays the same files and kill points (the interleaving is the kernel's).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "fault_support.hpp"

namespace socketd::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kUploads = 200;
constexpr size_t kMinBytes = 10u << 10;
constexpr size_t kMaxBytes = 200u << 10;
constexpr size_t kMaxLine = 400;  // well inside one recv(1024) and one segment
constexpr int kRounds = 3;
constexpr std::string_view kAck = "success";

// One client of the swarm: the classic sender's protocol, plus waiting for
// the durable acknowledgement.
struct Upload {
  enum class Phase { kConnecting, kLines, kQuitSent, kDurable, kBroken };

  std::string content;
  std::vector<std::string_view> lines;  // views into `content`
  size_t acked_lines = 0;
  size_t acked_bytes = 0;
  Phase phase = Phase::kConnecting;
  Fd fd;
  std::string inbox;
  std::string why_broken;
  bool quit = false;  // "quit" was handed to send(): the upload may be finished

  bool quit_sent() const { return quit; }
  bool done() const { return phase == Phase::kDurable || phase == Phase::kBroken; }
};

// First line of every file: names its upload, so any prefix of a file that
// holds it can be traced back.
std::string tag_of(int round, size_t index, uint64_t seed) {
  return "upload " + std::to_string(index) + " of round " + std::to_string(round) + " seed " +
         std::to_string(seed) + "\n";
}

std::vector<Upload> make_uploads(int round, uint64_t seed, std::mt19937_64& rng) {
  std::uniform_int_distribution<size_t> size_dist(kMinBytes, kMaxBytes);
  std::uniform_int_distribution<size_t> line_dist(0, kMaxLine - 1);
  std::uniform_int_distribution<int> char_dist(0, 62);
  static constexpr std::string_view kChars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ";
  std::vector<Upload> uploads(kUploads);
  for (size_t i = 0; i < kUploads; ++i) {
    auto& u = uploads[i];
    const size_t size = size_dist(rng);
    u.content = tag_of(round, i, seed);
    while (u.content.size() < size) {
      const size_t len = std::min(line_dist(rng), size - u.content.size() - 1);
      for (size_t k = 0; k < len; ++k) u.content += kChars[static_cast<size_t>(char_dist(rng))];
      u.content += '\n';
    }
    std::string_view rest = u.content;
    while (!rest.empty()) {
      const size_t n = rest.find('\n') + 1;
      u.lines.push_back(rest.substr(0, n));
      rest.remove_prefix(n);
    }
  }
  return uploads;
}

// Drives every upload concurrently from this thread (non-blocking sockets,
// one epoll set) and SIGKILLs `victim` right after the `kill_at`-th line
// acknowledgement. Returns once every upload is durable or broken.
class Swarm {
 public:
  Swarm(std::vector<Upload>& uploads, uint16_t port) : uploads_(uploads), port_(port) {}

  bool run(pid_t victim, size_t kill_at, std::chrono::milliseconds deadline) {
    Fd ep(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep) return fail("epoll_create1");
    ep_ = ep.get();
    for (size_t i = 0; i < uploads_.size(); ++i) start(i);
    const auto end = Clock::now() + deadline;
    std::vector<epoll_event> events(64);
    while (busy()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      if (left <= 0ms) return false;
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(left.count()));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail("epoll_wait");
      for (int k = 0; k < n; ++k) on_event(events[static_cast<size_t>(k)]);
      if (!killed_ && acks_ >= kill_at) kill_now(victim);
    }
    if (!killed_) kill_now(victim);  // every upload finished first: kill anyway
    return true;
  }

  size_t acks() const { return acks_; }
  size_t acks_at_kill() const { return acks_at_kill_; }

 private:
  bool fail(const char* what) {
    ADD_FAILURE() << what << ": " << std::strerror(errno);
    return false;
  }

  bool busy() const {
    for (const auto& u : uploads_) {
      if (!u.done()) return true;
    }
    return false;
  }

  void kill_now(pid_t victim) {
    killed_ = true;
    acks_at_kill_ = acks_;
    ::kill(victim, SIGKILL);
  }

  void start(size_t i) {
    auto& u = uploads_[i];
    u.fd = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!u.fd) return broken(u, "socket: " + last_error().message());
    const SocketAddress to = loopback(port_);
    if (::connect(u.fd.get(), to.get(), to.size()) != 0 && errno != EINPROGRESS) {
      return broken(u, "connect: " + last_error().message());
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = i;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, u.fd.get(), &ev) != 0) {
      return broken(u, "epoll_ctl: " + last_error().message());
    }
  }

  void broken(Upload& u, std::string why) {
    u.phase = Upload::Phase::kBroken;
    u.why_broken = std::move(why);
    if (u.fd) ::epoll_ctl(ep_, EPOLL_CTL_DEL, u.fd.get(), nullptr);
    u.fd.reset();
  }

  // One line (or "quit") per send(), as the classic sender does: the socket's
  // buffer is empty each time (we wait for the ack), so it goes whole.
  void send_chunk(Upload& u, std::string_view chunk) {
    const ssize_t n = ::send(u.fd.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(chunk.size())) {
      broken(u, n < 0 ? "send: " + last_error().message() : "short send");
    }
  }

  void on_event(const epoll_event& ev) {
    auto& u = uploads_[ev.data.u64];
    if (u.done()) return;
    if (u.phase == Upload::Phase::kConnecting) {
      if ((ev.events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(u.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return broken(u, std::string("connect: ") + std::strerror(err));
      epoll_event in{};
      in.events = EPOLLIN;
      in.data.u64 = ev.data.u64;
      ::epoll_ctl(ep_, EPOLL_CTL_MOD, u.fd.get(), &in);
      u.phase = Upload::Phase::kLines;
      return send_chunk(u, u.lines[0]);
    }
    char buf[256];
    const ssize_t n = ::recv(u.fd.get(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n < 0) return broken(u, "recv: " + last_error().message());
    if (n == 0) return broken(u, "EOF");
    u.inbox.append(buf, static_cast<size_t>(n));
    while (u.inbox.size() >= kAck.size() && !u.done()) {
      if (!u.inbox.starts_with(kAck)) return broken(u, "unexpected reply '" + u.inbox + "'");
      u.inbox.erase(0, kAck.size());
      on_ack(u);
    }
    if (!u.done() && !std::string_view(kAck).starts_with(u.inbox)) {
      broken(u, "unexpected reply '" + u.inbox + "'");
    }
  }

  void on_ack(Upload& u) {
    if (u.phase == Upload::Phase::kQuitSent) {
      u.phase = Upload::Phase::kDurable;
      ::epoll_ctl(ep_, EPOLL_CTL_DEL, u.fd.get(), nullptr);
      u.fd.reset();
      return;
    }
    u.acked_bytes += u.lines[u.acked_lines].size();
    ++u.acked_lines;
    ++acks_;
    if (u.acked_lines < u.lines.size()) return send_chunk(u, u.lines[u.acked_lines]);
    u.phase = Upload::Phase::kQuitSent;
    u.quit = true;  // even if the send fails below, the daemon may have it
    send_chunk(u, "quit");
  }

  std::vector<Upload>& uploads_;
  uint16_t port_;
  int ep_ = -1;
  size_t acks_ = 0;
  size_t acks_at_kill_ = 0;
  bool killed_ = false;
};

uint64_t choose_seed() {
  if (const char* s = std::getenv("SOCKETD_FAULT_SEED"); s != nullptr && *s != '\0') {
    return std::strtoull(s, nullptr, 10);
  }
  return std::random_device{}() | (static_cast<uint64_t>(std::random_device{}()) << 32);
}

class CrashConsistency : public DaemonTest {
 protected:
  std::string uploads_dir() const { return dir_.file("uploads"); }

  // A new socketd on the same config (and upload directory); its upload port.
  uint16_t start_daemon() {
    daemons_.push_back(std::make_unique<DaemonProcess>());
    auto& d = *daemons_.back();
    if (!d.start_with_config(config_, options())) return 0;
    return d.wait_started()["upload/tcp"];
  }
  DaemonProcess& current() { return *daemons_.back(); }

  void TearDown() override {
    if (!HasFailure()) return;
    for (size_t i = 0; i < daemons_.size(); ++i) {
      std::cerr << "---- socketd #" << i << " stderr ----\n" << daemons_[i]->stderr_text();
    }
  }

  std::map<std::string, std::string> snapshot() const {
    std::map<std::string, std::string> files;
    for (const auto& name : list_dir(uploads_dir())) {
      files[name] = read_file(uploads_dir() + "/" + name);
    }
    return files;
  }

  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
};

TEST_F(CrashConsistency, SigkillDuringConcurrentUploadsLosesNothingAcknowledged) {
  const uint64_t seed = choose_seed();
  std::cout << "[ SEED     ] SOCKETD_FAULT_SEED=" << seed << std::endl;
  RecordProperty("seed", std::to_string(seed));
  SCOPED_TRACE("SOCKETD_FAULT_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);

  write_config(daemon_table() +
               "[services.upload]\nmode = \"upload\"\nlisten = \"127.0.0.1:0\"\nbacklog = 1024\n");
  uint16_t port = start_daemon();
  ASSERT_NE(port, 0);

  const auto test_start = Clock::now();
  size_t durable_total = 0;
  size_t parts_total = 0;
  std::set<std::string> known;  // files from earlier rounds
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto uploads = make_uploads(round, seed, rng);
    size_t total_lines = 0;
    for (const auto& u : uploads) total_lines += u.lines.size();
    // Somewhere between "few finished yet" and "most finished".
    std::uniform_real_distribution<double> moment(0.25, 0.95);
    const auto kill_at = static_cast<size_t>(moment(rng) * static_cast<double>(total_lines));

    Swarm swarm(uploads, port);
    ASSERT_TRUE(swarm.run(current().pid(), kill_at, 30s)) << "uploads still running after 30 s";
    auto status = current().wait_exit();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->signal, SIGKILL) << describe(*status);

    // Who got what.
    std::map<std::string, size_t> by_tag;
    size_t durable = 0;
    size_t quit = 0;
    for (size_t i = 0; i < uploads.size(); ++i) {
      by_tag[tag_of(round, i, seed)] = i;
      durable += uploads[i].phase == Upload::Phase::kDurable;
      quit += uploads[i].quit_sent();
    }
    durable_total += durable;
    std::cout << "[ ROUND " << round << "  ] killed after " << swarm.acks_at_kill() << " of "
              << total_lines << " line acks; " << durable << " durable, " << quit
              << " sent quit, of " << uploads.size() << std::endl;

    // The directory after the crash, before anything touches it.
    const auto crashed = snapshot();
    std::vector<bool> has_file(uploads.size(), false);
    std::map<std::string, std::string> parts;  // ".NAME.part" -> content
    for (const auto& [name, content] : crashed) {
      if (known.count(name) != 0) continue;
      const size_t nl = content.find('\n');
      const auto it = nl == std::string::npos ? by_tag.end() : by_tag.find(content.substr(0, nl + 1));
      if (it == by_tag.end()) {
        // Cut off inside its first line: only possible for an unfinished file.
        EXPECT_FALSE(is_finished(name)) << name << " is finished but matches no upload";
        EXPECT_TRUE(is_part(name) || is_incomplete(name)) << "unexpected file " << name;
        if (is_part(name)) parts[name] = content;
        continue;
      }
      const Upload& u = uploads[it->second];
      EXPECT_FALSE(has_file[it->second]) << "two files for upload " << it->second;
      has_file[it->second] = true;
      if (is_finished(name)) {
        EXPECT_TRUE(u.quit_sent()) << name << " is finished, but upload " << it->second
                                   << " never sent quit (" << u.acked_lines << " of "
                                   << u.lines.size() << " lines acknowledged)";
        EXPECT_TRUE(content == u.content)
            << name << " is finished but differs from upload " << it->second << " ("
            << content.size() << " vs " << u.content.size() << " bytes)";
      } else {
        EXPECT_TRUE(is_part(name) || is_incomplete(name)) << "unexpected file " << name;
        EXPECT_NE(u.phase, Upload::Phase::kDurable)
            << "upload " << it->second << " was acknowledged durable but is only " << name;
        EXPECT_GE(content.size(), u.acked_bytes)
            << name << " lacks acknowledged lines of upload " << it->second;
        EXPECT_TRUE(u.content.compare(0, content.size(), content) == 0)
            << name << " is not a prefix of upload " << it->second;
        if (is_part(name)) parts[name] = content;
      }
    }
    for (size_t i = 0; i < uploads.size(); ++i) {
      const auto& u = uploads[i];
      if (u.phase == Upload::Phase::kDurable) {
        EXPECT_TRUE(has_file[i]) << "upload " << i << " got the durable success but is gone";
      } else if (u.acked_lines > 0) {
        EXPECT_TRUE(has_file[i]) << "upload " << i << " had " << u.acked_lines
                                 << " lines acknowledged but left no file";
      }
    }

    parts_total += parts.size();
    std::cout << "[ ROUND " << round << "  ] " << parts.size() << " .part file(s) left by the kill"
              << std::endl;

    // Restart on the same directory.
    port = start_daemon();
    ASSERT_NE(port, 0) << "socketd did not restart after SIGKILL";
    if (!parts.empty()) {
      EXPECT_TRUE(current().wait_stderr(std::to_string(parts.size()) +
                                        " interrupted upload(s) from an earlier run kept as "
                                        "*.incomplete"))
          << parts.size() << " .part files left by the crash; restart log:\n"
          << current().stderr_text();
    } else {
      EXPECT_EQ(current().stderr_text().find("interrupted upload(s)"), std::string::npos);
    }
    const auto restarted = snapshot();
    for (const auto& [name, content] : restarted) {
      EXPECT_FALSE(is_part(name)) << name << " left as .part after the restart";
    }
    for (const auto& [name, content] : parts) {
      const std::string renamed = name.substr(1, name.size() - 1 - 5) + ".incomplete";
      const auto it = restarted.find(renamed);
      ASSERT_NE(it, restarted.end()) << name << " was not renamed to " << renamed;
      EXPECT_TRUE(it->second == content) << renamed << " changed in the rename";
    }
    for (const auto& [name, content] : crashed) {
      if (is_part(name)) continue;
      const auto it = restarted.find(name);
      EXPECT_TRUE(it != restarted.end() && it->second == content)
          << name << " was changed by the restart";
    }
    EXPECT_EQ(restarted.size(), crashed.size());

    // And it serves.
    {
      Fd sender = connect_port(port);
      ASSERT_TRUE(sender);
      const SendOutcome sent = classic_send_lines(sender.get(), "after the crash\n");
      ASSERT_FALSE(sent.refusal) << *sent.refusal;
      EXPECT_EQ(recv_exact(sender.get(), 7), "success");
    }
    for (const auto& name : list_dir(uploads_dir())) known.insert(name);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(durable_total, 0u) << "no upload finished before any kill: nothing durable was tested";
  EXPECT_GT(parts_total, 0u) << "no kill left a .part file: the restart's recovery was not tested";
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                                            test_start);
  EXPECT_LT(elapsed, 60s) << "three kill rounds took " << elapsed.count() << " ms";
}

}  // namespace
}  // namespace socketd::test
