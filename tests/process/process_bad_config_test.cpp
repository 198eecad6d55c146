// A config that is wrong never starts the daemon: exit status 6
// (EXIT_NOTCONFIGURED), every error on stderr as file:line:column, no
// READY=1, and nothing left listening.
#include "process_fixture.hpp"

namespace socketd::test {
namespace {

class ProcessBadConfig : public DaemonTest {
 protected:
  // Runs the daemon on `toml` and expects it to refuse to start.
  void expect_refused(std::string_view toml) {
    write_config(toml);
    ASSERT_TRUE(daemon_.start_with_config(config_, options()));
    auto status = daemon_.wait_exit();
    ASSERT_TRUE(status.has_value()) << "socketd started on a bad config";
    EXPECT_TRUE(status->exited) << describe(*status);
    EXPECT_EQ(status->code, 6) << describe(*status);
    daemon_.wait_output_closed();
    for (const auto& m : notify_.messages()) {
      EXPECT_FALSE(NotifySocket::has_line(m, "READY=1")) << m;
    }
  }
  // "<config path>:line:column: error: "
  std::string at(int line, int column) const {
    return config_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": error: ";
  }
  bool stderr_has(std::string_view text) const {
    return daemon_.stderr_text().find(text) != std::string::npos;
  }
};

TEST_F(ProcessBadConfig, SyntaxErrorIsReportedWithItsLocation) {
  const uint16_t port = free_tcp_port();
  expect_refused("[daemon]\n"
                 "log_level = \"info\"\n"
                 "\n"
                 "[services.hello\n"  // line 4: the header is never closed
                 "mode = \"chat\"\n"
                 "listen = \"" + addr(port) + "\"\n");
  EXPECT_TRUE(stderr_has(at(4, 16))) << daemon_.stderr_text();
  EXPECT_TRUE(stderr_has("1 error(s) in " + config_ + "; not started")) << daemon_.stderr_text();
  EXPECT_TRUE(tcp_refused(port));
}

TEST_F(ProcessBadConfig, UnknownKeyIsReportedWithItsLocation) {
  const uint16_t port = free_tcp_port();
  expect_refused("[services.hello]\n"
                 "mode = \"chat\"\n"
                 "listen = \"" + addr(port) + "\"\n"
                 "backlg = 5\n");  // line 4, column 1
  EXPECT_TRUE(stderr_has(at(4, 1) + "unknown key 'backlg'")) << daemon_.stderr_text();
  EXPECT_TRUE(tcp_refused(port));
}

TEST_F(ProcessBadConfig, DuplicateListenIsReportedAtTheSecondValue) {
  const uint16_t port = free_tcp_port();
  expect_refused(service("a", "chat", addr(port)) +  // lines 1-3
                 service("b", "echo", addr(port)));  // listen on line 7, value at column 10
  EXPECT_TRUE(stderr_has(at(7, 10))) << daemon_.stderr_text();
  EXPECT_TRUE(stderr_has("already used by service 'a'")) << daemon_.stderr_text();
  EXPECT_TRUE(tcp_refused(port));
}

TEST_F(ProcessBadConfig, EveryErrorIsReportedNotJustTheFirst) {
  const uint16_t port = free_tcp_port();
  expect_refused("[services.a]\n"
                 "mode = \"chat\"\n"
                 "listen = \"" + addr(port) + "\"\n"
                 "backlg = 5\n"                       // line 4
                 "\n"
                 "[services.b]\n"
                 "mode = \"echo\"\n"
                 "listen = \"" + addr(port) + "\"\n"  // line 8
                 "greeting = \"x\"\n");               // line 9
  EXPECT_TRUE(stderr_has(at(4, 1) + "unknown key 'backlg'")) << daemon_.stderr_text();
  EXPECT_TRUE(stderr_has(at(8, 10))) << daemon_.stderr_text();
  EXPECT_TRUE(stderr_has(at(9, 1) + "key 'greeting' does not apply")) << daemon_.stderr_text();
  EXPECT_TRUE(stderr_has("3 error(s) in " + config_)) << daemon_.stderr_text();
  EXPECT_TRUE(tcp_refused(port));
}

TEST_F(ProcessBadConfig, MissingFileIsNotConfigured) {
  config_ = dir_.file("does-not-exist.toml");
  ASSERT_TRUE(daemon_.start_with_config(config_, options()));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 6);
  daemon_.wait_output_closed();
  EXPECT_TRUE(stderr_has(config_ + ": error: cannot read config")) << daemon_.stderr_text();
}

}  // namespace
}  // namespace socketd::test
