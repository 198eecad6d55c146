// The command line: --check-config, --version, --help and usage errors, with
// the exit codes of daemon(7): 0 ok, 6 invalid file (EXIT_NOTCONFIGURED, as at
// start), 2 usage.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>

#include "process_fixture.hpp"

namespace socketd::test {
namespace {

struct Run {
  std::optional<ExitStatus> status;
  std::string out;
  std::string err;
  int code() const { return status && status->exited ? status->code : -1; }
};

Run run(std::vector<std::string> args) {
  Run r;
  DaemonOptions options;
  options.args = std::move(args);
  r.status = DaemonProcess::run(options, r.out, r.err);
  return r;
}

// The version CMake's project() declares, e.g. "0.1.0".
std::string project_version() {
  const std::string cmake = read_file(std::string(SOCKETD_SOURCE_DIR) + "/CMakeLists.txt");
  std::smatch m;
  if (!std::regex_search(cmake, m, std::regex(R"(project\(socketd\s+VERSION\s+([0-9.]+))"))) {
    return "";
  }
  return m[1];
}

TEST(ProcessCommandLine, CheckConfigAcceptsTheShippedConfig) {
  const std::string path = std::string(SOCKETD_SOURCE_DIR) + "/config/socketd.toml";
  for (const char* flag : {"--check-config", "-t"}) {
    auto r = run({flag, "--config", path});
    EXPECT_EQ(r.code(), 0) << flag << "\n" << r.err;
    EXPECT_NE(r.out.find(path + ": configuration OK (4 services)"), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "");
  }
}

TEST(ProcessCommandLine, CheckConfigRejectsABadFileWithTheLocation) {
  TempDir dir;
  const std::string path = dir.write("bad.toml",
                                     "[services.hello]\n"
                                     "mode = \"chat\"\n"
                                     "listen = \"127.0.0.1:0\"\n"
                                     "greting = \"hello\"\n");
  auto r = run({"--check-config", "--config=" + path});
  EXPECT_EQ(r.code(), 6) << r.err;
  EXPECT_NE(r.err.find(path + ":4:1: error: unknown key 'greting'"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("configuration OK"), std::string::npos) << r.out;

  const std::string syntax = dir.write("syntax.toml", "[services.x]\nmode = \"chat\"\nlisten = \n");
  r = run({"-t", "-c", syntax});
  EXPECT_EQ(r.code(), 6) << r.err;
  EXPECT_TRUE(std::regex_search(r.err, std::regex(syntax + R"(:3:[0-9]+: error: )"))) << r.err;
}

TEST(ProcessCommandLine, CheckConfigDoesNotBind) {
  // Checking a config that names a port in use must still say "OK": it
  // validates the file, it does not start services.
  Fd held = listen_tcp_loopback();
  TempDir dir;
  const std::string path =
      dir.write("in-use.toml", service("hello", "echo", addr(local_port(held.get()))));
  auto r = run({"--check-config", "--config", path});
  EXPECT_EQ(r.code(), 0) << r.err;
}

TEST(ProcessCommandLine, VersionPrintsTheProjectVersion) {
  const std::string version = project_version();
  ASSERT_FALSE(version.empty());
  for (const char* flag : {"--version", "-V"}) {
    auto r = run({flag});
    EXPECT_EQ(r.code(), 0) << flag;
    EXPECT_EQ(r.out, "socketd " + version + "\n");
  }
}

TEST(ProcessCommandLine, HelpPrintsUsageAndExitsZero) {
  for (const char* flag : {"--help", "-h"}) {
    auto r = run({flag});
    EXPECT_EQ(r.code(), 0) << flag;
    EXPECT_EQ(r.out.rfind("Usage: socketd", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("--check-config"), std::string::npos);
    EXPECT_EQ(r.err, "");
  }
}

TEST(ProcessCommandLine, UsageErrorsExitTwo) {
  auto r = run({"--bogus"});
  EXPECT_EQ(r.code(), 2);
  EXPECT_NE(r.err.find("unknown argument '--bogus'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Usage: socketd"), std::string::npos) << r.err;

  r = run({"--config"});
  EXPECT_EQ(r.code(), 2);
  EXPECT_NE(r.err.find("--config needs a file name"), std::string::npos) << r.err;
}

// `--upgrade PID` of a process that would die of SIGUSR2 (a socketd from
// before upgrades, or no socketd at all) does not signal it.
TEST(ProcessCommandLine, UpgradeRefusesAProcessThatDoesNotTakeSigusr2) {
  sigset_t mask;
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, nullptr, &mask), 0);
  ASSERT_FALSE(sigismember(&mask, SIGUSR2));  // the child inherits the mask
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGUSR2, SIG_DFL);
    for (;;) ::pause();
  }
  auto r = run({"--upgrade", std::to_string(child)});
  EXPECT_EQ(r.code(), 1);
  EXPECT_NE(r.err.find("cannot be upgraded in place"), std::string::npos) << r.err;
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, WNOHANG), 0) << "the process was signalled";
  ::kill(child, SIGKILL);
  ::waitpid(child, &status, 0);
}

}  // namespace
}  // namespace socketd::test
