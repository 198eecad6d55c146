// Live reload on SIGHUP: all or nothing. A moved port serves at once, the old
// one stops, open connections live on; a bad file or an address that cannot
// be bound leaves the running configuration fully in force.
#include <signal.h>

#include <regex>

#include "process_fixture.hpp"

namespace socketd::test {
namespace {

class ProcessReload : public DaemonTest {
 protected:
  std::string two_services(std::string_view hello_listen, std::string_view chat_listen) const {
    return daemon_table() + chat_service("hello", hello_listen, "hello") +
           chat_service("chat", chat_listen, "success!");
  }
  static bool greets(uint16_t port, std::string_view greeting) {
    Fd fd = connect_port(port);
    return fd && recv_exact(fd.get(), greeting.size()) == greeting;
  }
};

TEST_F(ProcessReload, MovedPortServesOldPortRefusesOpenConnectionKeepsWorking) {
  auto ports = start(two_services("127.0.0.1:0", "127.0.0.1:0"));
  ASSERT_EQ(ports.size(), 2u);
  const uint16_t old_port = ports["chat/tcp"];

  Fd before = connect_port(old_port);
  ASSERT_TRUE(before);
  EXPECT_EQ(recv_exact(before.get(), 8), "success!");
  EXPECT_EQ(chat(before.get(), "one"), "one777");

  const uint16_t new_port = free_tcp_port();
  // hello keeps its configured "127.0.0.1:0", so it keeps its socket.
  write_config(two_services("127.0.0.1:0", addr(new_port)));
  const size_t mark = daemon_.stderr_size();
  ASSERT_TRUE(reload()) << daemon_.stderr_text();
  EXPECT_TRUE(daemon_.wait_stderr("reloaded 2 services", kProcessDeadline, mark));

  EXPECT_TRUE(greets(new_port, "success!"));
  EXPECT_TRUE(tcp_refused(old_port)) << "the old port still accepts after the reload";
  EXPECT_TRUE(greets(ports["hello/tcp"], "hello")) << "an unchanged service stopped serving";

  // The connection opened before the reload is served to its end.
  EXPECT_EQ(chat(before.get(), "two"), "two777");
  EXPECT_EQ(chat(before.get(), "three"), "three777");
  send_all(before.get(), "exit");
  EXPECT_TRUE(peer_closed(before.get()));

  ASSERT_TRUE(daemon_.signal(SIGTERM));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << describe(*status);
}

TEST_F(ProcessReload, ChangedSettingsApplyToNewConnections) {
  auto ports = start(two_services("127.0.0.1:0", "127.0.0.1:0"));
  ASSERT_EQ(ports.size(), 2u);
  Fd before = connect_port(ports["hello/tcp"]);
  ASSERT_TRUE(before);
  EXPECT_EQ(recv_exact(before.get(), 5), "hello");

  write_config(daemon_table() + chat_service("hello", "127.0.0.1:0", "hi there") +
               chat_service("chat", "127.0.0.1:0", "success!"));
  ASSERT_TRUE(reload());
  EXPECT_TRUE(greets(ports["hello/tcp"], "hi there"));
  EXPECT_TRUE(greets(ports["chat/tcp"], "success!"));
  EXPECT_EQ(chat(before.get(), "old"), "old777");
}

// Two services that both say port 0 must each keep their own socket when the
// other one moves or goes away: a service whose table did not change must not
// change port.
TEST_F(ProcessReload, UnchangedServiceKeepsItsSocketWhenAnotherMoves) {
  auto ports = start(two_services("127.0.0.1:0", "127.0.0.1:0"));
  ASSERT_EQ(ports.size(), 2u);
  const uint16_t moved = free_tcp_port();
  write_config(two_services(addr(moved), "127.0.0.1:0"));  // only hello changes
  ASSERT_TRUE(reload());
  EXPECT_TRUE(greets(moved, "hello"));
  EXPECT_TRUE(greets(ports["chat/tcp"], "success!")) << "chat lost its port in a reload that "
                                                        "did not touch it";
  EXPECT_TRUE(tcp_refused(ports["hello/tcp"])) << "hello's old port still accepts";
}

TEST_F(ProcessReload, UnchangedServiceKeepsItsSocketWhenAnotherIsRemoved) {
  auto ports = start(two_services("127.0.0.1:0", "127.0.0.1:0"));
  ASSERT_EQ(ports.size(), 2u);
  write_config(daemon_table() + chat_service("chat", "127.0.0.1:0", "success!"));  // hello removed
  ASSERT_TRUE(reload());
  EXPECT_TRUE(greets(ports["chat/tcp"], "success!")) << "chat lost its port in a reload that "
                                                        "did not touch it";
  EXPECT_TRUE(tcp_refused(ports["hello/tcp"])) << "the removed service's port still accepts";
}

TEST_F(ProcessReload, InvalidFileLeavesTheOldConfigInForce) {
  auto ports = start(two_services("127.0.0.1:0", "127.0.0.1:0"));
  ASSERT_EQ(ports.size(), 2u);
  Fd before = connect_port(ports["chat/tcp"]);
  ASSERT_TRUE(before);
  EXPECT_EQ(recv_exact(before.get(), 8), "success!");

  const uint16_t unused = free_tcp_port();
  write_config(daemon_table() + chat_service("hello", addr(unused), "hello") +
               "[services.chat]\n"    // line 11 (3 [daemon] + 7 hello lines before)
               "mode = \"chat\"\n"
               "listen = \"127.0.0.1:0\"\n"
               "greting = \"typo\"\n");  // line 14, column 1
  const size_t mark = daemon_.stderr_size();
  ASSERT_TRUE(reload());
  auto failed = daemon_.wait_stderr("reload failed", kProcessDeadline, mark);
  ASSERT_TRUE(failed) << daemon_.stderr_text();
  EXPECT_NE(failed->find("previous configuration still in force"), std::string::npos) << *failed;
  EXPECT_TRUE(daemon_.wait_stderr(config_ + ":14:1: error: unknown key 'greting'",
                                  kProcessDeadline, mark));

  EXPECT_TRUE(greets(ports["hello/tcp"], "hello"));
  EXPECT_TRUE(greets(ports["chat/tcp"], "success!"));
  EXPECT_TRUE(tcp_refused(unused)) << "part of a rejected config was applied";
  EXPECT_EQ(chat(before.get(), "still"), "still777");

  // A syntax error, too.
  write_config("[services.hello\n");
  const size_t mark2 = daemon_.stderr_size();
  ASSERT_TRUE(reload());
  auto line = daemon_.wait_stderr(": error: ", kProcessDeadline, mark2);
  ASSERT_TRUE(line);
  EXPECT_TRUE(std::regex_search(*line, std::regex(R"(socketd\.toml:1:[0-9]+: error: )"))) << *line;
  EXPECT_TRUE(daemon_.wait_stderr("reload failed", kProcessDeadline, mark2));
  EXPECT_TRUE(greets(ports["hello/tcp"], "hello"));

  // And a good file afterwards is applied normally.
  write_config(two_services("127.0.0.1:0", "127.0.0.1:0"));
  const size_t mark3 = daemon_.stderr_size();
  ASSERT_TRUE(reload());
  EXPECT_TRUE(daemon_.wait_stderr("reloaded 2 services", kProcessDeadline, mark3));
}

TEST_F(ProcessReload, UnbindableAddressFailsTheWholeReload) {
  auto ports = start(two_services("127.0.0.1:0", "127.0.0.1:0"));
  ASSERT_EQ(ports.size(), 2u);
  Fd occupied = listen_tcp_loopback();  // held by the test for the whole reload
  ASSERT_TRUE(occupied);
  const uint16_t busy = local_port(occupied.get());
  const uint16_t free_port = free_tcp_port();

  // hello would move to a free port, chat to the occupied one: neither may happen.
  write_config(two_services(addr(free_port), addr(busy)));
  const size_t mark = daemon_.stderr_size();
  ASSERT_TRUE(reload());
  auto why = daemon_.wait_stderr("cannot listen on " + addr(busy), kProcessDeadline, mark);
  ASSERT_TRUE(why) << daemon_.stderr_text();
  EXPECT_NE(why->find("service 'chat'"), std::string::npos) << *why;
  EXPECT_TRUE(daemon_.wait_stderr("reload failed", kProcessDeadline, mark));

  EXPECT_TRUE(greets(ports["hello/tcp"], "hello"));
  EXPECT_TRUE(greets(ports["chat/tcp"], "success!"));
  EXPECT_TRUE(tcp_refused(free_port)) << "hello moved although the reload failed";
}

TEST_F(ProcessReload, RemovedServiceStopsListeningButFinishesItsConnections) {
  auto ports = start(two_services("127.0.0.1:0", "127.0.0.1:0"));
  ASSERT_EQ(ports.size(), 2u);
  Fd before = connect_port(ports["chat/tcp"]);
  ASSERT_TRUE(before);
  EXPECT_EQ(recv_exact(before.get(), 8), "success!");

  write_config(daemon_table() + chat_service("hello", "127.0.0.1:0", "hello"));
  ASSERT_TRUE(reload());
  EXPECT_TRUE(tcp_refused(ports["chat/tcp"]));
  EXPECT_EQ(chat(before.get(), "after"), "after777");
  send_all(before.get(), "exit");
  EXPECT_TRUE(peer_closed(before.get()));
}

// Opening a service to every address on the port it already serves
// (127.0.0.1:P -> 0.0.0.0:P) is a plain config change; the only process that
// holds P is socketd itself, for the very service being changed.
TEST_F(ProcessReload, WideningTheAddressOnTheSamePortSucceeds) {
  const uint16_t port = free_tcp_port();
  auto ports = start(two_services(addr(port), "127.0.0.1:0"));
  ASSERT_EQ(ports["hello/tcp"], port);
  write_config(two_services("0.0.0.0:" + std::to_string(port), "127.0.0.1:0"));
  const size_t mark = daemon_.stderr_size();
  ASSERT_TRUE(reload());
  EXPECT_TRUE(daemon_.wait_stderr("reloaded 2 services", 2s, mark))
      << "socketd conflicts with its own listener";
  EXPECT_TRUE(greets(port, "hello"));
}

// A service configured with port 0 and then pinned to the port it got (the
// obvious way to keep that port): again socketd would only conflict with
// itself.
TEST_F(ProcessReload, PinningThePortAServiceAlreadyHoldsSucceeds) {
  auto ports = start(two_services("127.0.0.1:0", "127.0.0.1:0"));
  ASSERT_EQ(ports.size(), 2u);
  write_config(two_services(addr(ports["hello/tcp"]), "127.0.0.1:0"));
  const size_t mark = daemon_.stderr_size();
  ASSERT_TRUE(reload());
  EXPECT_TRUE(daemon_.wait_stderr("reloaded 2 services", 2s, mark))
      << "socketd conflicts with its own listener";
  EXPECT_TRUE(greets(ports["hello/tcp"], "hello"));
}

}  // namespace
}  // namespace socketd::test
