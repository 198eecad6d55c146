// Drop-in files, listen arrays and --dump-config through the socketd
// executable: a reload re-reads every included file (a new drop-in serves, a
// broken one is refused with its own file:line:column), one service answers
// on IPv4 and IPv6, and --dump-config prints TOML that --dump-config reads
// back to the same text.
#include <signal.h>

#include <filesystem>

#include "process_fixture.hpp"

namespace socketd::test {
namespace {

class ProcessInclude : public DaemonTest {
 protected:
  std::string main_file() const {
    return "include = \"conf.d/*.toml\"\n" + daemon_table() +
           chat_service("hello", "127.0.0.1:0", "hello");
  }
  static bool greets(uint16_t port, std::string_view greeting) {
    Fd fd = connect_port(port);
    return fd && recv_exact(fd.get(), greeting.size()) == greeting;
  }
};

TEST_F(ProcessInclude, ReloadReadsNewAndChangedDropIns) {
  dir_.write("conf.d/10-a.toml", chat_service("a", "127.0.0.1:0", "from-a"));
  auto ports = start(main_file());
  ASSERT_EQ(ports.size(), 2u) << daemon_.stderr_text();
  EXPECT_TRUE(greets(ports["a/tcp"], "from-a"));

  const uint16_t port = free_tcp_port();
  dir_.write("conf.d/20-b.toml", chat_service("b", addr(port), "from-b"));
  size_t mark = daemon_.stderr_size();
  ASSERT_TRUE(reload());
  EXPECT_TRUE(daemon_.wait_stderr("reloaded 3 services", kProcessDeadline, mark))
      << daemon_.stderr_text();
  EXPECT_TRUE(greets(port, "from-b"));

  // A broken drop-in: the reload is refused, naming that file, and b serves on.
  const std::string broken =
      dir_.write("conf.d/20-b.toml", chat_service("b", addr(port), "from-b") + "grting = 1\n");
  mark = daemon_.stderr_size();
  ASSERT_TRUE(reload());
  EXPECT_TRUE(
      daemon_.wait_stderr(broken + ":8:1: error: unknown key 'grting'", kProcessDeadline, mark))
      << daemon_.stderr_text();
  EXPECT_TRUE(greets(port, "from-b"));
}

TEST_F(ProcessInclude, OneServiceListensOnIpv4AndIpv6) {
  const uint16_t port = free_tcp_port();
  auto ports = start(daemon_table() + "[services.echo]\nmode = \"echo\"\nlisten = [\"" +
                     addr(port) + "\", \"[::1]:" + std::to_string(port) + "\"]\n");
  ASSERT_FALSE(ports.empty()) << daemon_.stderr_text();
  for (const char* host : {"127.0.0.1", "::1"}) {
    SCOPED_TRACE(host);
    auto to = SocketAddress::parse(std::string(host[0] == ':' ? "[::1]" : host) + ":" +
                                   std::to_string(port));
    ASSERT_TRUE(to);
    Fd fd = connect_tcp_blocking(*to, 5s);
    ASSERT_TRUE(fd);
    send_all(fd.get(), "ping");
    EXPECT_EQ(recv_exact(fd.get(), 4), "ping");
  }
  EXPECT_TRUE(daemon_.wait_stderr("echo tcp [::1]:" + std::to_string(port)));
}

TEST(ProcessDumpConfig, PrintsTomlThatReadsBackToTheSameDump) {
  TempDir dir;
  dir.write("conf.d/b.toml", "[services.b]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n");
  const std::string main =
      dir.write("socketd.toml",
                "include = \"conf.d/*.toml\"\n[services.a]\nmode = \"chat\"\n"
                "listen = [\"127.0.0.1:0\", \"[::1]:0\"]\ngreeting = \"hi\"\n");
  DaemonOptions options;
  options.args = {"--dump-config", "--config", main};
  std::string first, err;
  auto status = DaemonProcess::run(options, first, err);
  ASSERT_TRUE(status && status->clean()) << err;
  EXPECT_EQ(err, "");
  EXPECT_NE(first.find("[services.b]"), std::string::npos) << first;
  EXPECT_NE(first.find("backlog = 5\n"), std::string::npos) << first;

  const std::string dumped = dir.write("dumped.toml", first);
  options.args = {"-T", "-c", dumped};
  std::string second;
  status = DaemonProcess::run(options, second, err);
  ASSERT_TRUE(status && status->clean()) << err;
  EXPECT_EQ(second, first);

  // An invalid file: the errors, exit 1, nothing on stdout.
  const std::string bad = dir.write("bad.toml", "[services.x]\nmode = \"chat\"\n");
  options.args = {"--dump-config", "--config", bad};
  std::string out;
  status = DaemonProcess::run(options, out, err);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 6);  // as --check-config
  EXPECT_EQ(out, "");
  EXPECT_NE(err.find(bad + ":1:1: error: service 'x' has no 'listen'"), std::string::npos) << err;
}

}  // namespace
}  // namespace socketd::test
