// PROXY protocol services through real loopback sockets, the test playing the
// load balancer: the header (v1, v2, IPv4, IPv6, LOCAL) split byte by byte or
// coalesced with data, the real client in the log and in allow/deny and
// max_per_source, and clients without a usable header closed and counted.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <optional>

#include "support/loopback.hpp"
#include "support/proxy_headers.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

SocketAddress addr(std::string_view text) { return *SocketAddress::parse(text); }
Cidr cidr(std::string_view text) { return *Cidr::parse(text); }

const SocketAddress kClient = addr("203.0.113.9:4242");
const SocketAddress kClient6 = addr("[2001:db8::7]:40000");

SocketAddress local_address(int fd) {
  SocketAddress a;
  ::getsockname(fd, a.get_mut(), a.size_mut());
  return a;
}

ServiceConfig proxied(std::string name, Mode mode) {
  auto s = make_service(std::move(name), mode);
  s.proxy_protocol = true;
  return s;
}

ServiceConfig proxied_chat() {
  auto chat = proxied("chat", Mode::kChat);
  chat.greeting = "hello";
  return chat;
}

bool reply_is(std::string_view reply, std::string_view message) {
  if (!reply.starts_with(message)) return false;
  const auto digits = reply.substr(message.size());
  int value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return !digits.empty() && ec == std::errc{} && end == digits.data() + digits.size() &&
         value >= 1 && value <= 1000;
}

std::optional<std::string> field(const LogRecord& record, std::string_view key) {
  for (const auto& f : record.fields) {
    if (f.key == key) return f.value;
  }
  return std::nullopt;
}

// The first record of `event` whose PEER is `peer`.
std::optional<LogRecord> record_for(TestServer& server, LogEvent event,
                                    const std::string& peer) {
  for (const auto& r : server.log().records()) {
    if (r.event == event && field(r, "PEER") == peer) return r;
  }
  return std::nullopt;
}

// The reactor has handled everything sent before this call: two round trips
// through its mailbox, since the first may be served in the same turn as (and
// before) the data's event.
void let_server_catch_up(TestServer& server) {
  server.run_in_loop([] {});
  server.run_in_loop([] {});
}

bool nothing_received_yet(int fd) {
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

TEST(ProxyProtocol, HeaderSentByteByByteThenTheGreetingAndTheChat) {
  TestServer server({proxied_chat()});
  auto fd = connect_tcp_blocking(server.address("chat"));
  const std::string header = proxy_v1(kClient, server.address("chat"));
  for (char c : header) {
    EXPECT_TRUE(nothing_received_yet(fd.get())) << "greeting before the header was complete";
    send_all(fd.get(), std::string_view(&c, 1));
    let_server_catch_up(server);
  }
  EXPECT_EQ(recv_exact(fd.get(), 5), "hello");
  send_all(fd.get(), "hi there");
  EXPECT_TRUE(reply_is(recv_once(fd.get()), "hi there"));
  send_all(fd.get(), "exit");
  EXPECT_TRUE(peer_closed(fd.get()));

  ASSERT_TRUE(server.log().wait_for(LogEvent::kConnectionClosed));
  const std::string proxy = local_address(fd.get()).to_string();
  const auto opened = record_for(server, LogEvent::kConnectionOpened, kClient.to_string());
  ASSERT_TRUE(opened);
  EXPECT_EQ(field(*opened, "PROXY"), proxy);
  EXPECT_EQ(opened->message, "chat: 203.0.113.9:4242 connected via " + proxy);
  const auto closed = record_for(server, LogEvent::kConnectionClosed, kClient.to_string());
  ASSERT_TRUE(closed);
  EXPECT_EQ(field(*closed, "PROXY"), proxy);
  EXPECT_EQ(server.totals().stats.proxy_errors, 0u);
}

TEST(ProxyProtocol, HeaderAndFirstMessageInOneSegmentV2) {
  TestServer server({proxied_chat()});
  auto fd = connect_tcp_blocking(server.address("chat"));
  // Chunk framing: the bytes after the header are exactly one message.
  send_all(fd.get(), proxy_v2(kClient, server.address("chat")) + "ping");
  EXPECT_EQ(recv_exact(fd.get(), 5), "hello");
  EXPECT_TRUE(reply_is(recv_once(fd.get()), "ping"));
  EXPECT_TRUE(record_for(server, LogEvent::kConnectionOpened, kClient.to_string()));
}

TEST(ProxyProtocol, Ipv6ClientsInV1AndV2) {
  TestServer server({proxied("echo", Mode::kEcho)});
  const auto to = server.address("echo");
  const auto v6_server = addr("[2001:db8::1]:8889");
  for (const std::string& header : {proxy_v1(kClient6, v6_server), proxy_v2(kClient6, v6_server)}) {
    auto fd = connect_tcp_blocking(to);
    send_all(fd.get(), header + "x");
    EXPECT_EQ(recv_exact(fd.get(), 1), "x");
  }
  EXPECT_TRUE(server.log().wait_for(LogEvent::kConnectionOpened, 2));
  size_t from_v6 = 0;
  for (const auto& r : server.log().records()) {
    from_v6 += r.event == LogEvent::kConnectionOpened && field(r, "PEER") == "[2001:db8::7]:40000";
  }
  EXPECT_EQ(from_v6, 2u);
}

TEST(ProxyProtocol, LocalAndUnknownKeepTheSocketsOwnPeer) {
  TestServer server({proxied("echo", Mode::kEcho)});
  const auto to = server.address("echo");
  for (const std::string& header :
       {proxy_v2(kClient, to, ProxyCommand::kLocal), std::string("PROXY UNKNOWN\r\n")}) {
    auto fd = connect_tcp_blocking(to);
    send_all(fd.get(), header + "ok");
    EXPECT_EQ(recv_exact(fd.get(), 2), "ok");
    const auto opened =
        record_for(server, LogEvent::kConnectionOpened, local_address(fd.get()).to_string());
    ASSERT_TRUE(opened);
    EXPECT_FALSE(field(*opened, "PROXY"));
  }
}

void expect_closed_for_header(TestServer& server, std::string_view reason_part) {
  ASSERT_TRUE(server.log().wait_for(LogEvent::kConnectionClosed));
  const auto records = server.log().records();
  bool found = false;
  for (const auto& r : records) {
    if (r.event != LogEvent::kConnectionClosed) continue;
    found = true;
    EXPECT_EQ(r.level, LogLevel::kNotice);
    EXPECT_NE(field(r, "REASON").value_or("").find(reason_part), std::string::npos) << r.message;
    EXPECT_FALSE(field(r, "PROXY"));
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(server.log().count(LogEvent::kConnectionOpened), 0u);
  EXPECT_EQ(server.totals().stats.proxy_errors, 1u);
  EXPECT_TRUE(eventually([&] { return server.totals().open_connections == 0; }));
}

TEST(ProxyProtocol, ClassicClientWithoutHeaderIsClosedWithoutGreeting) {
  TestServer server({proxied_chat()});
  auto fd = connect_tcp_blocking(server.address("chat"));
  send_all(fd.get(), "hello");
  EXPECT_TRUE(peer_closed(fd.get()));  // EOF first: no greeting came
  expect_closed_for_header(server, "bad PROXY header: not a PROXY protocol header");
}

TEST(ProxyProtocol, MalformedV1LineIsClosed) {
  TestServer server({proxied_chat()});
  auto fd = connect_tcp_blocking(server.address("chat"));
  send_all(fd.get(), "PROXY TCP4 203.0.113.300 127.0.0.1 4242 8889\r\nhi");
  EXPECT_TRUE(peer_closed(fd.get()));
  expect_closed_for_header(server, "invalid IPv4 address");
}

TEST(ProxyProtocol, ClientClosingMidHeaderIsCounted) {
  TestServer server({proxied_chat()});
  auto fd = connect_tcp_blocking(server.address("chat"));
  send_all(fd.get(), "PROXY TCP4 203.0.113.9");
  ::shutdown(fd.get(), SHUT_WR);
  EXPECT_TRUE(peer_closed(fd.get()));
  expect_closed_for_header(server, "closed before sending a complete PROXY header");
}

TEST(ProxyProtocol, SilentClientIsClosedAfterTheHeaderTimeout) {
  auto chat = proxied_chat();
  chat.proxy_header_timeout = std::chrono::milliseconds(200);
  TestServer server({chat});
  auto fd = connect_tcp_blocking(server.address("chat"));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(peer_closed(fd.get()));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
  expect_closed_for_header(server, "sent no PROXY header within proxy_header_timeout");
}

TEST(ProxyProtocol, AllowDenyJudgesTheRealClientNotTheProxy) {
  auto echo = proxied("echo", Mode::kEcho);
  echo.deny = {cidr("127.0.0.0/8"), cidr("203.0.113.0/24")};  // the proxy itself is on 127/8
  TestServer server({echo});
  const auto to = server.address("echo");

  auto served = connect_tcp_blocking(to);
  send_all(served.get(), proxy_v1(addr("198.51.100.4:1000"), to) + "in");
  EXPECT_EQ(recv_exact(served.get(), 2), "in");

  auto denied = connect_tcp_blocking(to);
  send_all(denied.get(), proxy_v2(kClient, to) + "out");
  EXPECT_TRUE(peer_closed(denied.get()));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kLimitHit));
  const auto hit = record_for(server, LogEvent::kLimitHit, kClient.to_string());
  ASSERT_TRUE(hit);
  EXPECT_EQ(field(*hit, "LIMIT"), "access");
  EXPECT_EQ(field(*hit, "PROXY"), local_address(denied.get()).to_string());
  EXPECT_EQ(server.totals().stats.denied, 1u);
  EXPECT_FALSE(record_for(server, LogEvent::kConnectionClosed, kClient.to_string()));
}

TEST(ProxyProtocol, MaxPerSourceCountsRealClients) {
  auto echo = proxied("echo", Mode::kEcho);
  echo.max_per_source = 1;
  TestServer server({echo});
  const auto to = server.address("echo");
  const auto other = addr("198.51.100.4:1000");

  auto a = connect_tcp_blocking(to);
  send_all(a.get(), proxy_v1(kClient, to) + "a");
  ASSERT_EQ(recv_exact(a.get(), 1), "a");
  auto b = connect_tcp_blocking(to);  // same proxy address, another client: served
  send_all(b.get(), proxy_v2(other, to) + "b");
  ASSERT_EQ(recv_exact(b.get(), 1), "b");
  auto again = connect_tcp_blocking(to);  // kClient's second connection: refused
  send_all(again.get(), proxy_v2(addr("203.0.113.9:4243"), to) + "c");
  EXPECT_TRUE(peer_closed(again.get()));
  EXPECT_EQ(server.totals().stats.refused, 1u);

  a.reset();
  ASSERT_TRUE(eventually([&] { return server.totals().open_connections == 1; }));
  auto later = connect_tcp_blocking(to);
  send_all(later.get(), proxy_v1(kClient, to) + "d");
  EXPECT_EQ(recv_exact(later.get(), 1), "d");
}

TEST(ProxyProtocol, ProxySourcesRefuseOtherPeersBeforeReading) {
  auto listed = proxied("listed", Mode::kEcho);
  listed.proxy_sources = {cidr("127.0.0.0/8")};
  auto elsewhere = proxied("elsewhere", Mode::kEcho);
  elsewhere.proxy_sources = {cidr("10.0.0.0/8")};
  TestServer server({listed, elsewhere});

  auto ok = connect_tcp_blocking(server.address("listed"));
  send_all(ok.get(), proxy_v1(kClient, server.address("listed")) + "y");
  EXPECT_EQ(recv_exact(ok.get(), 1), "y");

  auto refused = connect_tcp_blocking(server.address("elsewhere"));
  EXPECT_TRUE(peer_closed(refused.get()));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kLimitHit));
  const auto hit = record_for(server, LogEvent::kLimitHit,
                              local_address(refused.get()).to_string());
  ASSERT_TRUE(hit);
  EXPECT_EQ(field(*hit, "LIMIT"), "proxy_sources");
  EXPECT_EQ(server.totals().stats.denied, 1u);
}

TEST(ProxyProtocol, ReloadChangesNewConnectionsOnly) {
  TestServer server({proxied("echo", Mode::kEcho)});
  const auto to = server.address("echo");
  auto waiting = connect_tcp_blocking(to);
  let_server_catch_up(server);  // accepted under proxy_protocol = true
  ASSERT_TRUE(server.reconfigure({make_service("echo", Mode::kEcho)}).empty());
  ASSERT_EQ(server.address("echo"), to);

  auto plain = connect_tcp_blocking(to);
  send_all(plain.get(), "plain");
  EXPECT_EQ(recv_exact(plain.get(), 5), "plain");
  send_all(waiting.get(), proxy_v2(kClient, to) + "proxied");
  EXPECT_EQ(recv_exact(waiting.get(), 7), "proxied");
  EXPECT_TRUE(record_for(server, LogEvent::kConnectionOpened, kClient.to_string()));
}

TEST(ProxyProtocol, UploadThroughTheProxyArrivesWhole) {
  TestServer server({proxied("upload", Mode::kUpload)});
  auto fd = connect_tcp_blocking(server.address("upload"));
  send_all(fd.get(), proxy_v2(kClient, server.address("upload")) + "line one\n");
  EXPECT_EQ(recv_exact(fd.get(), 7), "success");
  send_all(fd.get(), "quit");
  EXPECT_EQ(recv_exact(fd.get(), 7), "success");
  ASSERT_TRUE(server.log().wait_for(LogEvent::kUploadFinished));
  const auto files = server.upload_files();
  ASSERT_EQ(files.size(), 1u);
  std::ifstream file(server.upload_dir() + "/" + files[0], std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(file), {}), "line one\n");
}

}  // namespace
}  // namespace socketd::test
