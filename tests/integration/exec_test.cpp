// exec mode through real sockets: a handler process per connection, its
// environment, stderr and exit records, the limits (max_instances,
// run_timeout, a handler ignoring SIGTERM), stop and reload with handlers
// running, spawn failures, and after many connections no zombie and no
// leaked descriptor in socketd or in the handlers.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "support/loopback.hpp"
#include "support/proxy_headers.hpp"
#include "support/test_bytes.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

// The handlers are this test process's children: each exit raises SIGCHLD.
// socketd never needs it (pidfds), and under ThreadSanitizer its arrival can
// interrupt a client thread's blocking connect() with EINTR; so it stays
// blocked in every thread (the handlers start with an empty mask).
class BlockSigchld : public ::testing::Environment {
 public:
  void SetUp() override {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
};
const auto* const kBlockSigchld = ::testing::AddGlobalTestEnvironment(new BlockSigchld);

ServiceConfig exec_service(std::string name, std::vector<std::string> command) {
  auto s = make_service(std::move(name), Mode::kExec);
  s.command = std::move(command);
  return s;
}

ServiceConfig shell_service(std::string name, const std::string& script) {
  return exec_service(std::move(name), {"/bin/sh", "-c", script});
}

const std::string* field(const LogRecord& record, std::string_view key) {
  for (const auto& f : record.fields) {
    if (f.key == key) return &f.value;
  }
  return nullptr;
}

std::string field_or(const LogRecord& record, std::string_view key) {
  const std::string* v = field(record, key);
  return v != nullptr ? *v : std::string("<none>");
}

std::vector<LogRecord> records_of(TestServer& server, LogEvent event) {
  std::vector<LogRecord> out;
  for (auto& r : server.log().records()) {
    if (r.event == event) out.push_back(std::move(r));
  }
  return out;
}

LogRecord only_exit(TestServer& server) {
  EXPECT_TRUE(server.log().wait_for(LogEvent::kExecExited));
  auto exits = records_of(server, LogEvent::kExecExited);
  EXPECT_EQ(exits.size(), 1u);
  return exits.empty() ? LogRecord{} : exits.front();
}

void shutdown_write(int fd) {
  ::shutdown(fd, SHUT_WR);
}

std::map<std::string, std::string> parse_env(const std::string& text) {
  std::map<std::string, std::string> env;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    env[line.substr(0, eq)] = eq == std::string::npos ? "" : line.substr(eq + 1);
  }
  return env;
}

uint16_t local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

bool process_gone(pid_t pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

// The pids of this process's children (zombies included), from /proc.
std::vector<pid_t> children_of_this_process() {
  std::vector<pid_t> out;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* e = ::readdir(dir)) {
    const pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...: comm may hold spaces; parse after the last ')'.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == ::getpid()) out.push_back(pid);
  }
  ::closedir(dir);
  return out;
}

size_t open_fds() {
  size_t n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n - 1;  // the directory's own descriptor
}

TEST(Exec, CatEchoesEveryByteAndTheExitRecordCountsThem) {
  TestServer server({exec_service("cat", {"/bin/cat"})});
  const std::string data = random_bytes(1 << 20, 13);
  auto fd = connect_tcp_blocking(server.address("cat"));
  std::thread writer([&] {
    send_all(fd.get(), data);
    shutdown_write(fd.get());
  });
  const std::string back = recv_until_eof(fd.get());
  writer.join();
  EXPECT_EQ(back.size(), data.size());
  EXPECT_TRUE(back == data);
  const LogRecord exit = only_exit(server);
  EXPECT_EQ(field_or(exit, "EXIT_STATUS"), "0");
  EXPECT_EQ(field_or(exit, "BYTES_IN"), std::to_string(data.size()));
  EXPECT_EQ(field_or(exit, "BYTES_OUT"), std::to_string(data.size()));
  EXPECT_EQ(field_or(exit, "SERVICE"), "cat");
  EXPECT_EQ(field_or(exit, "PEER"), "127.0.0.1:" + std::to_string(local_port(fd.get())));
  EXPECT_TRUE(process_gone(static_cast<pid_t>(std::stoi(field_or(exit, "PID")))));
  EXPECT_EQ(server.totals().stats.handlers_started, 1u);
}

TEST(Exec, EnvironmentHasTheTcpVariablesAndNothingInherited) {
  // What socketd's own environment holds under systemd must not leak.
  ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  ::setenv("LISTEN_FDS", "3", 1);
  ::setenv("WATCHDOG_USEC", "20000000", 1);
  auto env_service = exec_service("env", {"/usr/bin/env"});
  env_service.environment = {{"LANG", "C.UTF-8"}, {"GREETING", "a b=c"}};
  TestServer server({env_service});
  auto fd = connect_tcp_blocking(server.address("env"));
  const auto env = parse_env(recv_until_eof(fd.get()));
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("WATCHDOG_USEC");
  const std::map<std::string, std::string> want = {
      {"PROTO", "TCP"},
      {"TCPREMOTEIP", "127.0.0.1"},
      {"TCPREMOTEPORT", std::to_string(local_port(fd.get()))},
      {"TCPLOCALIP", "127.0.0.1"},
      {"TCPLOCALPORT", std::to_string(server.port("env"))},
      {"SOCKETD_SERVICE", "env"},
      {"LANG", "C.UTF-8"},
      {"GREETING", "a b=c"},
  };
  EXPECT_EQ(env, want);
}

TEST(Exec, WithProxyProtocolTheHandlerSeesTheClientTheHeaderNamed) {
  auto env_service = exec_service("env", {"/usr/bin/env"});
  env_service.proxy_protocol = true;
  TestServer server({env_service});
  auto fd = connect_tcp_blocking(server.address("env"));
  send_all(fd.get(), proxy_v1(*SocketAddress::parse("192.0.2.7:4242"),
                              *SocketAddress::parse("198.51.100.9:80")));
  const auto env = parse_env(recv_until_eof(fd.get()));
  EXPECT_EQ(env.at("TCPREMOTEIP"), "192.0.2.7");
  EXPECT_EQ(env.at("TCPREMOTEPORT"), "4242");
  EXPECT_EQ(env.at("TCPLOCALIP"), "198.51.100.9");
  EXPECT_EQ(env.at("TCPLOCALPORT"), "80");
  const LogRecord exit = only_exit(server);
  EXPECT_EQ(field_or(exit, "PEER"), "192.0.2.7:4242");
  EXPECT_EQ(field_or(exit, "PROXY"), "127.0.0.1:" + std::to_string(local_port(fd.get())));
}

TEST(Exec, BytesSentRightAfterThePROXYHeaderReachTheHandler) {
  auto cat = exec_service("cat", {"/bin/cat"});
  cat.proxy_protocol = true;
  TestServer server({cat});
  auto fd = connect_tcp_blocking(server.address("cat"));
  // One segment: header and payload together.
  send_all(fd.get(), proxy_v2(*SocketAddress::parse("192.0.2.7:4242"),
                              *SocketAddress::parse("198.51.100.9:80")) +
                         "payload after the header");
  shutdown_write(fd.get());
  EXPECT_EQ(recv_until_eof(fd.get()), "payload after the header");
}

TEST(Exec, StderrLinesAreEscapedRecordsOfTheServiceAndPeer) {
  TestServer server({shell_service(
      "err", "printf 'first\\nsecond \\001 \\\\ end\\nno newline' >&2; echo out; exit 3")});
  auto fd = connect_tcp_blocking(server.address("err"));
  EXPECT_EQ(recv_until_eof(fd.get()), "out\n");
  const LogRecord exit = only_exit(server);
  EXPECT_EQ(field_or(exit, "EXIT_STATUS"), "3");
  auto lines = records_of(server, LogEvent::kExecStderr);
  ASSERT_EQ(lines.size(), 3u);
  const std::string prefix = "err[" + field_or(exit, "PID") + "] " + field_or(exit, "PEER") + ": ";
  EXPECT_EQ(lines[0].message, prefix + "first");
  EXPECT_EQ(lines[1].message, prefix + "second \\x01 \\\\ end");
  EXPECT_EQ(lines[2].message, prefix + "no newline");
  EXPECT_EQ(field_or(lines[0], "SERVICE"), "err");
  EXPECT_EQ(field_or(lines[0], "PEER"), field_or(exit, "PEER"));
  // The stderr records come before the exit record.
  const auto all = server.log().records();
  size_t last_line = 0, exit_at = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].event == LogEvent::kExecStderr) last_line = i;
    if (all[i].event == LogEvent::kExecExited) exit_at = i;
  }
  EXPECT_LT(last_line, exit_at);
}

TEST(Exec, StderrOverTheLogRateIsCountedNotLogged) {
  TestServer server(
      {shell_service("noisy", "i=0; while [ $i -lt 50 ]; do echo $i >&2; i=$((i+1)); done")});
  server.limit_log(10);
  auto fd = connect_tcp_blocking(server.address("noisy"));
  EXPECT_EQ(recv_until_eof(fd.get()), "");
  // The client sees EOF only once socketd has reaped the handler and read
  // its stderr. (The exit record itself may be over the limit too.)
  EXPECT_EQ(server.totals().open_connections, 0u);
  const auto lines = records_of(server, LogEvent::kExecStderr);
  EXPECT_GE(lines.size(), 1u);
  EXPECT_LE(lines.size(), 10u);
}

TEST(Exec, MaxInstancesClosesTheConnectionOverItAtOnce) {
  auto cat = exec_service("cat", {"/bin/cat"});
  cat.max_instances = 2;
  TestServer server({cat});
  auto a = connect_tcp_blocking(server.address("cat"));
  auto b = connect_tcp_blocking(server.address("cat"));
  for (int fd : {a.get(), b.get()}) {  // both handlers run
    send_all(fd, "x");
    ASSERT_EQ(recv_exact(fd, 1), "x");
  }
  auto c = connect_tcp_blocking(server.address("cat"));
  EXPECT_TRUE(peer_closed(c.get()));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kLimitHit));
  const auto hits = records_of(server, LogEvent::kLimitHit);
  EXPECT_EQ(field_or(hits.front(), "LIMIT"), "max_instances (2)");
  EXPECT_EQ(server.totals().stats.refused, 1u);
  EXPECT_EQ(server.totals().stats.handlers_started, 2u);
  shutdown_write(a.get());
  EXPECT_TRUE(peer_closed(a.get()));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kExecExited));
  auto d = connect_tcp_blocking(server.address("cat"));
  send_all(d.get(), "y");
  EXPECT_EQ(recv_exact(d.get(), 1), "y");
}

TEST(Exec, RunTimeoutSendsSigterm) {
  auto sleeper = exec_service("sleeper", {"/bin/sleep", "1000"});
  sleeper.run_timeout = std::chrono::milliseconds(100);
  TestServer server({sleeper});
  auto fd = connect_tcp_blocking(server.address("sleeper"));
  EXPECT_TRUE(peer_closed(fd.get()));
  const LogRecord exit = only_exit(server);
  EXPECT_EQ(field_or(exit, "EXIT_SIGNAL"), "TERM");
  EXPECT_EQ(field_or(exit, "REASON"), "run_timeout");
  EXPECT_EQ(exit.level, LogLevel::kWarning);
}

TEST(Exec, AHandlerIgnoringSigtermIsKilledAfterTheGrace) {
  auto stubborn = shell_service("stubborn", "trap '' TERM; echo ready; read line; echo never");
  stubborn.run_timeout = std::chrono::milliseconds(100);
  stubborn.kill_grace = std::chrono::milliseconds(100);
  TestServer server({stubborn});
  auto fd = connect_tcp_blocking(server.address("stubborn"));
  EXPECT_EQ(recv_exact(fd.get(), 6), "ready\n");
  EXPECT_TRUE(peer_closed(fd.get()));
  const LogRecord exit = only_exit(server);
  EXPECT_EQ(field_or(exit, "EXIT_SIGNAL"), "KILL");
  EXPECT_EQ(field_or(exit, "REASON"), "run_timeout");
}

TEST(Exec, AHandlerThatClosesStdoutButRunsOnIsStillSupervised) {
  // It closes both its copies of the socket; socketd's own copy keeps the
  // connection until the handler exits (run_timeout ends it here).
  auto closer = shell_service("closer", "echo bye; exec >&- <&-; echo closed >&2; exec sleep 1000");
  closer.run_timeout = std::chrono::milliseconds(300);
  TestServer server({closer});
  auto fd = connect_tcp_blocking(server.address("closer"));
  EXPECT_EQ(recv_exact(fd.get(), 4), "bye\n");
  ASSERT_TRUE(server.log().wait_for(LogEvent::kExecStderr));
  EXPECT_EQ(records_of(server, LogEvent::kExecExited).size(), 0u);
  EXPECT_EQ(server.totals().open_connections, 1u);
  EXPECT_TRUE(peer_closed(fd.get()));
  const LogRecord exit = only_exit(server);
  EXPECT_EQ(field_or(exit, "EXIT_SIGNAL"), "TERM");
  EXPECT_EQ(field_or(exit, "BYTES_OUT"), "4");
  EXPECT_TRUE(process_gone(static_cast<pid_t>(std::stoi(field_or(exit, "PID")))));
}

TEST(Exec, AMissingHandlerIsAnErrorAtAccept) {
  TestServer server({exec_service("gone", {"/nonexistent/handler"})});
  auto fd = connect_tcp_blocking(server.address("gone"));
  EXPECT_TRUE(peer_closed(fd.get()));
  EXPECT_TRUE(eventually([&] { return server.totals().stats.handler_failures == 1; }));
  bool logged = false;
  for (const auto& r : server.log().records()) {
    if (r.level == LogLevel::kError &&
        r.message.find("cannot run handler /nonexistent/handler") != std::string::npos &&
        r.message.find("No such file or directory") != std::string::npos) {
      logged = true;
    }
  }
  EXPECT_TRUE(logged);
  EXPECT_EQ(records_of(server, LogEvent::kExecExited).size(), 0u);
  EXPECT_TRUE(children_of_this_process().empty());
}

TEST(Exec, ANonExecutableHandlerIsAnErrorAtAccept) {
  const std::string path = ::testing::TempDir() + "socketd-exec-not-executable";
  { std::ofstream(path) << "#!/bin/sh\necho hi\n"; }
  ::chmod(path.c_str(), 0644);
  TestServer server({exec_service("plain", {path})});
  auto fd = connect_tcp_blocking(server.address("plain"));
  EXPECT_TRUE(peer_closed(fd.get()));
  EXPECT_TRUE(eventually([&] { return server.totals().stats.handler_failures == 1; }));
  bool logged = false;
  for (const auto& r : server.log().records()) {
    if (r.message.find("Permission denied") != std::string::npos) logged = true;
  }
  EXPECT_TRUE(logged);
  ::unlink(path.c_str());
}

TEST(Exec, StopSendsSigtermAndTheHandlersEnd) {
  TestServer server({exec_service("cat", {"/bin/sleep", "1000"})});
  auto a = connect_tcp_blocking(server.address("cat"));
  auto b = connect_tcp_blocking(server.address("cat"));
  EXPECT_TRUE(eventually([&] { return server.totals().stats.handlers_started == 2; }));
  server.run_in_loop([&] {
    server.server().stop_listening();
    server.server().terminate_handlers("daemon stopping");
  });
  EXPECT_TRUE(peer_closed(a.get()));
  EXPECT_TRUE(peer_closed(b.get()));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kExecExited, 2));
  for (const auto& exit : records_of(server, LogEvent::kExecExited)) {
    EXPECT_EQ(field_or(exit, "EXIT_SIGNAL"), "TERM");
    EXPECT_EQ(field_or(exit, "REASON"), "daemon stopping");
  }
  EXPECT_EQ(server.totals().open_connections, 0u);
}

TEST(Exec, AbortAfterTheDrainKillsAndReapsAHandlerIgnoringSigterm) {
  std::vector<pid_t> pids;
  {
    TestServer server({shell_service("stubborn", "trap '' TERM; echo ready; read line")});
    auto fd = connect_tcp_blocking(server.address("stubborn"));
    EXPECT_EQ(recv_exact(fd.get(), 6), "ready\n");
    server.run_in_loop([&] { server.server().terminate_handlers("daemon stopping"); });
    EXPECT_EQ(server.totals().open_connections, 1u);  // still running: SIGTERM is ignored
    server.run_in_loop([&] { server.server().abort_all("daemon stopping (drain timeout)"); });
    const LogRecord exit = only_exit(server);
    EXPECT_EQ(field_or(exit, "EXIT_SIGNAL"), "KILL");
    EXPECT_EQ(field_or(exit, "REASON"), "daemon stopping");
    pids.push_back(static_cast<pid_t>(std::stoi(field_or(exit, "PID"))));
    EXPECT_TRUE(peer_closed(fd.get()));
  }
  for (pid_t pid : pids) EXPECT_TRUE(process_gone(pid));
  EXPECT_TRUE(children_of_this_process().empty());
}

TEST(Exec, DestroyingTheServerKillsAndReapsRunningHandlers) {
  {
    TestServer server({exec_service("cat", {"/bin/cat"})});
    auto fd = connect_tcp_blocking(server.address("cat"));
    send_all(fd.get(), "x");
    ASSERT_EQ(recv_exact(fd.get(), 1), "x");
  }
  EXPECT_TRUE(children_of_this_process().empty());
}

TEST(Exec, ReloadKeepsRunningHandlersAndNewSettingsApplyToNewConnections) {
  auto svc = exec_service("svc", {"/bin/cat"});
  TestServer server({svc});
  auto old_client = connect_tcp_blocking(server.address("svc"));
  send_all(old_client.get(), "before");
  ASSERT_EQ(recv_exact(old_client.get(), 6), "before");
  svc.listen = {server.address("svc")};
  svc.command = {"/bin/echo", "new handler"};
  ASSERT_TRUE(server.reconfigure({svc}).empty());
  auto new_client = connect_tcp_blocking(server.address("svc"));
  EXPECT_EQ(recv_until_eof(new_client.get()), "new handler\n");
  send_all(old_client.get(), "after");  // the old cat still serves its client
  EXPECT_EQ(recv_exact(old_client.get(), 5), "after");
  shutdown_write(old_client.get());
  EXPECT_TRUE(peer_closed(old_client.get()));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kExecExited, 2));
}

TEST(Exec, ReloadRemovingTheServiceLetsItsHandlersFinish) {
  auto svc = exec_service("svc", {"/bin/cat"});
  auto other = make_service("echo", Mode::kEcho);
  TestServer server({svc, other});
  auto client = connect_tcp_blocking(server.address("svc"));
  send_all(client.get(), "a");
  ASSERT_EQ(recv_exact(client.get(), 1), "a");
  other.listen = {server.address("echo")};
  ASSERT_TRUE(server.reconfigure({other}).empty());
  send_all(client.get(), "b");
  EXPECT_EQ(recv_exact(client.get(), 1), "b");
  shutdown_write(client.get());
  EXPECT_TRUE(peer_closed(client.get()));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kExecExited));
}

TEST(Exec, HandlersHaveOnlyDescriptorsZeroToTwo) {
  TestServer server({exec_service("fds", {"/bin/ls", "/proc/self/fd"})});
  auto fd = connect_tcp_blocking(server.address("fds"));
  // ls's own directory descriptor is 3.
  EXPECT_EQ(recv_until_eof(fd.get()), "0\n1\n2\n3\n");
}

TEST(Exec, TenThousandConnectionsLeaveNoZombieAndNoDescriptor) {
  constexpr int kConnections = 10'000;
  constexpr int kClients = 8;
  TestServer server({exec_service("fds", {"/bin/ls", "/proc/self/fd"})});
  // The upload store's leftover scan holds a directory open on an I/O thread
  // for a moment after the start: count once it is done.
  ASSERT_TRUE(server.wait_for_io());
  const size_t fds_before = open_fds();
  std::atomic<int> next{0}, wrong{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      while (next.fetch_add(1) < kConnections) {
        auto fd = connect_tcp_blocking(server.address("fds"));
        if (recv_until_eof(fd.get()) != "0\n1\n2\n3\n") wrong.fetch_add(1);
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_TRUE(server.log().wait_for(LogEvent::kExecExited, kConnections));
  EXPECT_TRUE(eventually([&] { return server.totals().open_connections == 0; }));
  EXPECT_EQ(server.totals().stats.handlers_started, static_cast<uint64_t>(kConnections));
  EXPECT_TRUE(children_of_this_process().empty());
  EXPECT_TRUE(server.wait_for_io());
  EXPECT_EQ(open_fds(), fds_before);
}

}  // namespace
}  // namespace socketd::test
