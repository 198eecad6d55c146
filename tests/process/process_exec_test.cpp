// exec mode seen from outside the daemon: --check-config names a bad handler
// with its location; under a supervisor's environment (NOTIFY_SOCKET) the
// handler inherits nothing; SIGTERM stops handlers (SIGTERM, then SIGKILL at
// drain_timeout) and the daemon exits 0 with none left; SIGHUP keeps running
// handlers and gives new connections the new command.
#include <signal.h>

#include "process_fixture.hpp"

namespace socketd::test {
namespace {

std::string exec_service(std::string_view name, std::string_view command_array,
                         std::string_view extra = "") {
  return "[services." + std::string(name) + "]\nmode = \"exec\"\nlisten = \"127.0.0.1:0\"\n" +
         "command = " + std::string(command_array) + "\n" + std::string(extra) + "\n";
}

class ProcessExec : public DaemonTest {};

TEST_F(ProcessExec, CheckConfigNamesAMissingHandlerWithItsLocation) {
  const std::string path = write_config(exec_service("h", R"(["/nonexistent/handler", "--flag"])"));
  DaemonOptions options;
  options.args = {"--check-config", "--config", path};
  std::string out, err;
  const auto status = DaemonProcess::run(options, out, err);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 6) << err;  // LSB "program is not configured", as for any bad file
  EXPECT_NE(err.find(path + ":4:12: error: handler '/nonexistent/handler' cannot be used: No such "
                            "file or directory"),
            std::string::npos)
      << err;
}

TEST_F(ProcessExec, TheHandlerInheritsNothingFromTheSupervisor) {
  auto ports = start(daemon_table() + exec_service("env", R"(["/usr/bin/env"])"));
  ASSERT_EQ(ports.size(), 1u);
  Fd client = connect_port(ports["env/tcp"]);
  const std::string env = recv_until_eof(client.get());
  EXPECT_NE(env.find("PROTO=TCP\n"), std::string::npos) << env;
  EXPECT_NE(env.find("SOCKETD_SERVICE=env\n"), std::string::npos) << env;
  // socketd itself runs with NOTIFY_SOCKET set (the fixture's); none of it reaches the handler.
  for (const char* leaked : {"NOTIFY_SOCKET", "LISTEN_", "WATCHDOG_", "PATH=", "HOME="}) {
    EXPECT_EQ(env.find(leaked), std::string::npos) << leaked << " in:\n" << env;
  }
  EXPECT_TRUE(daemon_.wait_stderr("handler /usr/bin/env["));
}

TEST_F(ProcessExec, StopTerminatesRunningHandlersAndExitsZero) {
  auto ports = start(daemon_table() +
                     exec_service("slow", R"(["/bin/sh", "-c", "echo ready; exec sleep 1000"])"));
  ASSERT_EQ(ports.size(), 1u);
  Fd a = connect_port(ports["slow/tcp"]);
  Fd b = connect_port(ports["slow/tcp"]);
  EXPECT_EQ(recv_exact(a.get(), 6), "ready\n");
  EXPECT_EQ(recv_exact(b.get(), 6), "ready\n");
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  EXPECT_TRUE(peer_closed(a.get()));
  EXPECT_TRUE(peer_closed(b.get()));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << describe(*status);
  const std::string log = daemon_.stderr_text();
  size_t killed = 0;
  for (size_t at = 0; (at = log.find("killed by SIGTERM", at)) != std::string::npos; ++at) ++killed;
  EXPECT_EQ(killed, 2u) << log;
  EXPECT_NE(log.find("ended by daemon stopping"), std::string::npos) << log;
}

TEST_F(ProcessExec, AHandlerIgnoringSigtermIsKilledAtTheDrainTimeout) {
  auto ports = start(
      daemon_table("drain_timeout = \"300ms\"\n") +
      exec_service("stubborn", R"(["/bin/sh", "-c", "trap '' TERM; echo ready; read line"])"));
  ASSERT_EQ(ports.size(), 1u);
  Fd a = connect_port(ports["stubborn/tcp"]);
  EXPECT_EQ(recv_exact(a.get(), 6), "ready\n");
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << describe(*status);
  EXPECT_TRUE(peer_closed(a.get()));
  const std::string log = daemon_.stderr_text();
  EXPECT_NE(log.find("killed by SIGKILL"), std::string::npos) << log;
}

TEST_F(ProcessExec, ReloadKeepsRunningHandlersAndNewConnectionsGetTheNewCommand) {
  const std::string head = daemon_table();
  auto ports = start(head + exec_service("svc", R"(["/bin/cat"])"));
  ASSERT_EQ(ports.size(), 1u);
  Fd old_client = connect_port(ports["svc/tcp"]);
  send_all(old_client.get(), "before");
  ASSERT_EQ(recv_exact(old_client.get(), 6), "before");
  write_config(head + "[services.svc]\nmode = \"exec\"\nlisten = \"" + addr(ports["svc/tcp"]) +
               "\"\ncommand = [\"/bin/echo\", \"new handler\"]\n");
  ASSERT_TRUE(reload());
  Fd new_client = connect_port(ports["svc/tcp"]);
  EXPECT_EQ(recv_until_eof(new_client.get()), "new handler\n");
  send_all(old_client.get(), "after");
  EXPECT_EQ(recv_exact(old_client.get(), 5), "after");
  ::shutdown(old_client.get(), SHUT_WR);
  EXPECT_TRUE(peer_closed(old_client.get()));
}

}  // namespace
}  // namespace socketd::test
