// systemd's fd store, played by the test's NotifySocket: socketd stores its
// listeners (FDSTORE=1, FDNAME=<service>), the next socketd adopts them from
// LISTEN_FDS, clients that connect in between wait in the accept queue, and
// what the config no longer uses leaves the store (FDSTOREREMOVE=1).
#include <signal.h>

#include <algorithm>

#include "process_fixture.hpp"

namespace socketd::test {
namespace {

class ProcessFdStore : public DaemonTest {
 protected:
  void SetUp() override { notify_.keep_stored_fds(true); }

  size_t stored_count(std::string_view name) const {
    const auto stored = notify_.stored_fds();
    return static_cast<size_t>(std::count_if(stored.begin(), stored.end(),
                                             [&](const auto& s) { return s.first == name; }));
  }
  bool store_holds(std::string_view name, size_t n) const {
    return eventually([&] { return stored_count(name) == n; }, 5s);
  }
  // Starts the next socketd (as systemd would after a restart) on the store.
  std::map<std::string, uint16_t> start_successor(DaemonProcess& next) {
    DaemonOptions o = options();
    notify_.add_stored_fds(o);
    if (!next.start_with_config(config_, o)) return {};
    if (!notify_.wait_for("READY=1")) {
      ADD_FAILURE() << "successor sent no READY=1; stderr:\n" << next.stderr_text();
      return {};
    }
    return next.wait_started();
  }
};

TEST_F(ProcessFdStore, ListenersOutliveACrashAndQueuedClientsAreServed) {
  const uint16_t port = free_tcp_port();
  auto ports = start(daemon_table() + chat_service("chat", addr(port), "success!") +
                     service("udp", "udp-log", "127.0.0.1:0"));
  ASSERT_EQ(ports["chat/tcp"], port);
  ASSERT_TRUE(store_holds("chat", 1));
  ASSERT_TRUE(store_holds("udp", 1));
  ASSERT_TRUE(store_holds("socketd.manifest", 1));

  ASSERT_TRUE(daemon_.signal(SIGKILL));
  ASSERT_TRUE(daemon_.wait_exit());
  // No socketd runs: the stored socket still takes the connection.
  Fd early = connect_port(port);
  ASSERT_TRUE(early) << "refused while no socketd ran";

  DaemonProcess next;
  auto again = start_successor(next);
  EXPECT_EQ(again["chat/tcp"], port);
  EXPECT_EQ(again["udp/udp"], ports["udp/udp"]) << "the udp socket (port 0) was not adopted";
  EXPECT_EQ(recv_exact(early.get(), 8), "success!");
  EXPECT_EQ(chat(early.get(), "after the crash"), "after the crash777");
  // Adopted, not stored twice, nothing removed.
  EXPECT_TRUE(store_holds("chat", 1));
  EXPECT_TRUE(store_holds("udp", 1));
  EXPECT_TRUE(store_holds("socketd.manifest", 1));
  EXPECT_EQ(next.stderr_text().find("no longer matches"), std::string::npos) << next.stderr_text();
  EXPECT_EQ(next.stderr_text().find("matches no configured"), std::string::npos);
}

TEST_F(ProcessFdStore, ClientsConnectingDuringTheDrainWaitForTheNextSocketd) {
  auto ports = start(daemon_table("drain_timeout = 10000") +
                     chat_service("chat", "127.0.0.1:0", "success!"));
  const uint16_t port = ports["chat/tcp"];
  ASSERT_NE(port, 0);
  ASSERT_TRUE(store_holds("chat", 1));
  Fd held = connect_port(port);  // keeps the old socketd draining
  ASSERT_EQ(recv_exact(held.get(), 8), "success!");
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  ASSERT_TRUE(notify_.wait_for("STOPPING=1"));
  // Far more than the configured backlog (5): the stopping socketd raised
  // it, so every handshake completes instead of SYNs being dropped.
  std::vector<Fd> waiting;
  for (int i = 0; i < 40; ++i) {
    waiting.push_back(connect_tcp_blocking(loopback(port), 3s));
    ASSERT_TRUE(waiting.back()) << "connect " << i << " during the drain failed";
  }
  EXPECT_EQ(chat(held.get(), "still served"), "still served777");
  held.reset();
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << describe(*status);

  DaemonProcess next;
  auto again = start_successor(next);
  EXPECT_EQ(again["chat/tcp"], port);
  for (auto& client : waiting) EXPECT_EQ(recv_exact(client.get(), 8), "success!");
  EXPECT_EQ(chat(waiting.back().get(), "x"), "x777");
}

TEST_F(ProcessFdStore, AStoredSocketThatNoLongerMatchesIsReplaced) {
  const uint16_t first = free_tcp_port();
  start(daemon_table() + chat_service("chat", addr(first), "success!"));
  ASSERT_TRUE(store_holds("chat", 1));
  ASSERT_TRUE(daemon_.signal(SIGKILL));
  ASSERT_TRUE(daemon_.wait_exit());

  const uint16_t second = free_tcp_port();
  write_config(daemon_table() + chat_service("chat", addr(second), "success!"));
  DaemonProcess next;
  auto again = start_successor(next);
  EXPECT_EQ(again["chat/tcp"], second);
  EXPECT_TRUE(next.wait_stderr("no longer matches the config"));
  // The old socket left the store (FDSTOREREMOVE), so its port is free again.
  EXPECT_TRUE(store_holds("chat", 1));
  EXPECT_TRUE(eventually([&] { return tcp_refused(first); }, 5s));
  Fd client = connect_port(second);
  ASSERT_TRUE(client);
  EXPECT_EQ(recv_exact(client.get(), 8), "success!");
}

TEST_F(ProcessFdStore, AStoredSocketForARemovedServiceIsClosedAndRemoved) {
  auto ports = start(daemon_table() + chat_service("chat", "127.0.0.1:0", "success!") +
                     service("echo", "echo", "127.0.0.1:0"));
  ASSERT_TRUE(store_holds("echo", 1));
  ASSERT_TRUE(daemon_.signal(SIGKILL));
  ASSERT_TRUE(daemon_.wait_exit());
  write_config(daemon_table() + chat_service("chat", "127.0.0.1:0", "success!"));
  DaemonProcess next;
  auto again = start_successor(next);
  EXPECT_EQ(again["chat/tcp"], ports["chat/tcp"]);
  EXPECT_TRUE(next.wait_stderr("stored socket 'echo' matches no configured service; closed"));
  EXPECT_TRUE(store_holds("echo", 0));
  EXPECT_TRUE(eventually([&] { return tcp_refused(ports["echo/tcp"]); }, 5s));
}

TEST_F(ProcessFdStore, WideningAStoredAddressOnReload) {
  // The store's copy of 127.0.0.1:P would keep 0.0.0.0:P from binding.
  const uint16_t port = free_tcp_port();
  start(daemon_table() + chat_service("chat", addr(port), "success!"));
  ASSERT_TRUE(store_holds("chat", 1));
  write_config(daemon_table() +
               chat_service("chat", "0.0.0.0:" + std::to_string(port), "success!"));
  ASSERT_TRUE(reload()) << daemon_.stderr_text();
  EXPECT_TRUE(daemon_.wait_stderr("reloaded 1 services"));
  EXPECT_TRUE(store_holds("chat", 1));
  Fd client = connect_port(port);
  ASSERT_TRUE(client);
  EXPECT_EQ(recv_exact(client.get(), 8), "success!");
}

TEST_F(ProcessFdStore, AStoredAddressWidenedWhileDownIsBound) {
  const uint16_t port = free_tcp_port();
  start(daemon_table() + chat_service("chat", addr(port), "success!"));
  ASSERT_TRUE(store_holds("chat", 1));
  ASSERT_TRUE(daemon_.signal(SIGKILL));
  ASSERT_TRUE(daemon_.wait_exit());
  write_config(daemon_table() +
               chat_service("chat", "0.0.0.0:" + std::to_string(port), "success!"));
  DaemonProcess next;
  auto again = start_successor(next);
  EXPECT_EQ(again["chat/tcp"], port) << next.stderr_text();
  EXPECT_TRUE(store_holds("chat", 1));
}

TEST_F(ProcessFdStore, ReloadRemovesDroppedServicesFromTheStore) {
  auto ports = start(daemon_table() + chat_service("chat", "127.0.0.1:0", "success!") +
                     service("echo", "echo", "127.0.0.1:0"));
  ASSERT_TRUE(store_holds("echo", 1));
  ASSERT_TRUE(store_holds("chat", 1));
  write_config(daemon_table() + chat_service("chat", "127.0.0.1:0", "success!") +
               service("banner", "banner", addr(free_tcp_port())));
  ASSERT_TRUE(reload());
  EXPECT_TRUE(store_holds("echo", 0));
  EXPECT_TRUE(store_holds("banner", 1));
  EXPECT_TRUE(store_holds("chat", 1));
  EXPECT_TRUE(eventually([&] { return tcp_refused(ports["echo/tcp"]); }, 5s));
}

}  // namespace
}  // namespace socketd::test
