// The configuration file is missing or unreadable: at start socketd exits
// non-zero naming the path and the reason; at reload (SIGHUP) it keeps
// serving with the configuration in force and says why the reload failed.
// (As root a mode-000 file is still readable: directories and missing path
// components stand in for "unreadable".)
#include <sys/stat.h>
#include <unistd.h>

#include "fault_support.hpp"

namespace socketd::test {
namespace {

class ConfigFaults : public DaemonTest {
 protected:
  struct Outcome {
    std::optional<ExitStatus> status;
    std::string err;
  };
  Outcome run_with_config(const std::string& path) {
    DaemonOptions o = options();
    o.args = {"--config", path};
    Outcome out;
    std::string ignored;
    out.status = DaemonProcess::run(o, ignored, out.err);
    return out;
  }

  // Start fails: exit status 6 (EXIT_NOTCONFIGURED), and one stderr line
  // names the path and the reason.
  void expect_refused_start(const std::string& path, std::string_view reason) {
    SCOPED_TRACE(path);
    const Outcome out = run_with_config(path);
    ASSERT_TRUE(out.status) << "socketd did not exit on an unreadable config";
    EXPECT_TRUE(out.status->exited) << describe(*out.status);
    EXPECT_NE(out.status->code, 0);
    EXPECT_EQ(out.status->code, 6) << "an unusable config is EXIT_NOTCONFIGURED";
    bool named = false;
    for (const auto& line : split_lines(out.err)) {
      named = named || (line.find(path) != std::string::npos &&
                        line.find(reason) != std::string::npos);
    }
    EXPECT_TRUE(named) << "no line names " << path << " and '" << reason << "':\n" << out.err;
  }

  std::string two_chats(std::string_view hello_greeting) {
    return daemon_table() + chat_service("hello", "127.0.0.1:0", hello_greeting) +
           chat_service("chat", "127.0.0.1:0", "success!");
  }
};

TEST_F(ConfigFaults, MissingConfigAtStartExitsNamingPathAndReason) {
  expect_refused_start(dir_.file("absent.toml"), "No such file or directory");
  expect_refused_start(dir_.file("no-such-dir/socketd.toml"), "No such file or directory");
  // A dangling symlink, as left behind by a half-removed package.
  const std::string link = dir_.file("dangling.toml");
  ASSERT_EQ(::symlink(dir_.file("gone.toml").c_str(), link.c_str()), 0);
  expect_refused_start(link, "No such file or directory");
  // A path through a regular file.
  const std::string file = dir_.write("plain", "not a directory");
  expect_refused_start(file + "/socketd.toml", "Not a directory");
}

TEST_F(ConfigFaults, DirectoryInsteadOfConfigAtStartExitsNamingPathAndReason) {
  const std::string dir = dir_.file("socketd.toml");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  expect_refused_start(dir, "Is a directory");
}

TEST_F(ConfigFaults, ConfigGoneAtReloadKeepsServingTheOldConfig) {
  auto ports = start(two_chats("hello"));
  ASSERT_EQ(ports.size(), 2u);
  Fd open_client = connect_port(ports["chat/tcp"]);
  ASSERT_TRUE(open_client);
  EXPECT_EQ(recv_exact(open_client.get(), 8), "success!");

  auto serves_old_config = [&] {
    Fd hello = connect_port(ports["hello/tcp"]);
    EXPECT_TRUE(hello);
    if (!hello) return;
    EXPECT_EQ(recv_exact(hello.get(), 5), "hello");
    EXPECT_EQ(chat(hello.get(), "new client"), "new client777");
    EXPECT_EQ(chat(open_client.get(), "open client"), "open client777");
  };
  auto expect_reload_failed = [&](std::string_view reason) {
    SCOPED_TRACE(reason);
    const size_t mark = daemon_.stderr_size();
    ASSERT_TRUE(reload()) << "no RELOADING=1 / READY=1 around the failed reload";
    auto failed = daemon_.wait_stderr("reload failed", kProcessDeadline, mark);
    ASSERT_TRUE(failed) << daemon_.stderr_text();
    EXPECT_NE(failed->find(config_), std::string::npos) << *failed;
    EXPECT_NE(failed->find(reason), std::string::npos) << *failed;
    EXPECT_NE(failed->find("previous configuration still in force"), std::string::npos)
        << *failed;
    auto status = notify_.wait_for("STATUS=");
    ASSERT_TRUE(status);
    EXPECT_NE(status->find("reload failed"), std::string::npos) << *status;
    ASSERT_TRUE(daemon_.running());
    serves_old_config();
  };

  // Renamed away (an editor's save, a package upgrade in progress...).
  const std::string aside = dir_.file("socketd.toml.aside");
  ASSERT_EQ(::rename(config_.c_str(), aside.c_str()), 0);
  expect_reload_failed("No such file or directory");

  // A directory where the file was.
  ASSERT_EQ(::mkdir(config_.c_str(), 0755), 0);
  expect_reload_failed("Is a directory");
  ASSERT_EQ(::rmdir(config_.c_str()), 0);

  // Back, and changed: the next reload applies it.
  ASSERT_EQ(::rename(aside.c_str(), config_.c_str()), 0);
  write_config(two_chats("hello again"));
  const size_t mark = daemon_.stderr_size();
  ASSERT_TRUE(reload());
  EXPECT_TRUE(daemon_.wait_stderr("reloaded 2 services", kProcessDeadline, mark))
      << daemon_.stderr_text();
  Fd hello = connect_port(ports["hello/tcp"]);
  ASSERT_TRUE(hello);
  EXPECT_EQ(recv_exact(hello.get(), 11), "hello again");
  EXPECT_EQ(chat(open_client.get(), "still open"), "still open777");
}

}  // namespace
}  // namespace socketd::test
