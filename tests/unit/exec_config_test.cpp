// The keys of mode "exec" as the loader reads and checks them: the command's
// path against the file system, the environment table, the keys that do not
// apply, and where each error points (line:column).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "config/config_loader.hpp"

namespace socketd {
namespace {

ConfigLoad parse(std::string_view text) {
  return parse_config(text, "test.toml");
}

std::string exec_service(std::string_view keys) {
  return "[services.h]\nmode = \"exec\"\nlisten = \"127.0.0.1:0\"\n" + std::string(keys);
}

::testing::AssertionResult only_error_at(std::string_view text, uint32_t line, uint32_t column,
                                         std::string_view message) {
  const auto load = parse(text);
  if (load.errors.size() != 1) {
    auto failure = ::testing::AssertionFailure() << load.errors.size() << " errors:";
    for (const auto& e : load.errors) failure << "\n" << e.to_string();
    return failure;
  }
  const auto& error = load.errors.front();
  if (error.line == line && error.column == column &&
      error.message.find(message) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "got \"" << error.to_string() << "\", expected " << line
                                       << ":" << column << " and \"" << message << "\"";
}

TEST(ExecConfig, ReadsCommandEnvironmentAndLimits) {
  const auto load =
      parse(exec_service("command = [\"/bin/cat\", \"-u\"]\nenvironment = { LANG = \"C.UTF-8\", "
                         "PATH = \"/usr/bin\" }\n"
                         "max_instances = 50\nrun_timeout = \"30s\"\nkill_grace = \"2s\"\n"));
  ASSERT_TRUE(load.ok()) << (load.errors.empty() ? "" : load.errors.front().to_string());
  const auto& s = load.config->services.at(0);
  EXPECT_EQ(s.mode, Mode::kExec);
  EXPECT_EQ(s.command, (std::vector<std::string>{"/bin/cat", "-u"}));
  ASSERT_EQ(s.environment.size(), 2u);
  EXPECT_EQ(s.environment[0], (std::pair<std::string, std::string>{"LANG", "C.UTF-8"}));
  EXPECT_EQ(s.environment[1], (std::pair<std::string, std::string>{"PATH", "/usr/bin"}));
  EXPECT_EQ(s.max_instances, 50u);
  EXPECT_EQ(s.run_timeout, std::chrono::seconds(30));
  EXPECT_EQ(s.kill_grace, std::chrono::seconds(2));
  EXPECT_EQ(s.uid, -1);
}

TEST(ExecConfig, DefaultsAreNoInstanceCapNoRunTimeoutAndFiveSecondsOfGrace) {
  const auto load = parse(exec_service("command = [\"/bin/cat\"]\n"));
  ASSERT_TRUE(load.ok());
  const auto& s = load.config->services.at(0);
  EXPECT_EQ(s.max_instances, 0u);
  EXPECT_EQ(s.run_timeout.count(), 0);
  EXPECT_EQ(s.kill_grace, std::chrono::seconds(5));
}

TEST(ExecConfig, MissingCommandIsAnErrorAtTheTable) {
  EXPECT_TRUE(only_error_at(exec_service(""), 1, 1, "has mode \"exec\" but no 'command'"));
}

TEST(ExecConfig, HandlerThatDoesNotExistIsAnErrorAtTheElement) {
  EXPECT_TRUE(only_error_at(exec_service("command = [\"/nonexistent/handler\", \"x\"]\n"), 4, 12,
                            "handler '/nonexistent/handler' cannot be used: No such file"));
}

TEST(ExecConfig, RelativeHandlerPathIsRefused) {
  EXPECT_TRUE(
      only_error_at(exec_service("command = [\"cat\"]\n"), 4, 12, "must be an absolute path"));
}

TEST(ExecConfig, HandlerThatIsNotExecutableIsRefused) {
  const std::string path = ::testing::TempDir() + "socketd-exec-config-plain";
  { std::ofstream(path) << "#!/bin/sh\n"; }
  ::chmod(path.c_str(), 0644);
  EXPECT_TRUE(
      only_error_at(exec_service("command = [\"" + path + "\"]\n"), 4, 12, "is not executable"));
  ::unlink(path.c_str());
}

TEST(ExecConfig, ADirectoryIsNotAHandler) {
  EXPECT_TRUE(only_error_at(exec_service("command = [\"/usr\"]\n"), 4, 12, "not a regular file"));
}

TEST(ExecConfig, CommandMustBeANonEmptyArrayOfStrings) {
  EXPECT_TRUE(only_error_at(exec_service("command = \"/bin/cat\"\n"), 4, 11,
                            "must be a non-empty array of strings"));
  EXPECT_TRUE(
      only_error_at(exec_service("command = []\n"), 4, 11, "must be a non-empty array of strings"));
  EXPECT_TRUE(only_error_at(exec_service("command = [\"/bin/cat\", 3]\n"), 4, 24,
                            "entries must be strings"));
}

TEST(ExecConfig, EnvironmentMayNotSetWhatSocketdSets) {
  EXPECT_TRUE(only_error_at(
      exec_service("command = [\"/bin/cat\"]\nenvironment = { TCPREMOTEIP = \"1.2.3.4\" }\n"), 5,
      17, "is set by socketd for each connection"));
}

TEST(ExecConfig, EnvironmentNamesAndValuesAreChecked) {
  EXPECT_TRUE(
      only_error_at(exec_service("command = [\"/bin/cat\"]\nenvironment = { \"A-B\" = \"x\" }\n"),
                    5, 17, "may only contain letters, digits and '_'"));
  EXPECT_TRUE(only_error_at(exec_service("command = [\"/bin/cat\"]\nenvironment = { A = 1 }\n"), 5,
                            21, "must be a string"));
  EXPECT_TRUE(only_error_at(exec_service("command = [\"/bin/cat\"]\nenvironment = [\"A=1\"]\n"), 5,
                            15, "must be a table of strings"));
}

TEST(ExecConfig, IdleTimeoutDoesNotApply) {
  EXPECT_TRUE(only_error_at(exec_service("command = [\"/bin/cat\"]\nidle_timeout = 5\n"), 5, 1,
                            "use run_timeout"));
}

TEST(ExecConfig, ExecKeysDoNotApplyToOtherModes) {
  EXPECT_TRUE(only_error_at(
      "[services.e]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\ncommand = [\"/bin/cat\"]\n", 4, 1,
      "key 'command' does not apply to mode 'echo'"));
}

TEST(ExecConfig, UnknownUserIsAnErrorOrNeedsRoot) {
  const auto load = parse(exec_service("command = [\"/bin/cat\"]\nuser = \"no-such-user-here\"\n"));
  ASSERT_EQ(load.errors.size(), 1u);
  const auto& error = load.errors.front();
  EXPECT_EQ(error.line, 5u);
  EXPECT_EQ(error.column, 8u);
  // As root: the name must resolve; otherwise: only root may switch users.
  EXPECT_TRUE(
      error.message.find(::geteuid() == 0 ? "does not exist" : "needs socketd to run as root") !=
      std::string::npos)
      << error.to_string();
}

TEST(ExecConfig, UserAndGroupResolveWhenRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "user/group need root";
  const auto load =
      parse(exec_service("command = [\"/bin/cat\"]\nuser = \"nobody\"\ngroup = \"nogroup\"\n"));
  ASSERT_TRUE(load.ok()) << load.errors.front().to_string();
  const auto& s = load.config->services.at(0);
  EXPECT_EQ(s.uid, 65534);
  EXPECT_EQ(s.gid, 65534);
}

}  // namespace
}  // namespace socketd
