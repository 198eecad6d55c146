// The metrics service over real sockets: traffic, then a scrape whose
// counters equal that traffic; counters that survive a reload keeping the
// service's name; 404, 405, oversized requests, allow/deny and the request
// timeout.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <charconv>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "support/loopback.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

constexpr std::string_view kGet = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

ServiceConfig metrics_service() {
  return make_service("metrics", Mode::kMetrics);
}

// Sends `request` to the metrics service and returns the whole answer.
std::string ask(TestServer& server, std::string_view request) {
  auto fd = connect_tcp_blocking(server.address("metrics"));
  send_all(fd.get(), request);
  return recv_until_eof(fd.get());
}

std::string body_of(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

// The value of the sample `series` (name and labels exactly as written).
std::optional<uint64_t> value(const std::string& exposition, std::string_view series) {
  const std::string prefix = "\n" + std::string(series) + " ";
  const auto at = ("\n" + exposition).find(prefix);
  if (at == std::string::npos) return std::nullopt;
  const char* begin = exposition.data() + at + prefix.size() - 1;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(begin, exposition.data() + exposition.size(), v);
  if (ec != std::errc{} || (*end != '\n')) return std::nullopt;
  return v;
}

std::optional<uint64_t> scrape(TestServer& server, std::string_view series) {
  return value(body_of(ask(server, kGet)), series);
}

TEST(Metrics, CountersEqualTheTraffic) {
  auto echo = make_service("echo", Mode::kEcho);
  auto udp = make_service("udp", Mode::kUdpLog);
  auto upload = make_service("upload", Mode::kUpload);
  auto denied = make_service("denied", Mode::kEcho);
  denied.allow = {*Cidr::parse("10.0.0.0/8")};
  TestServer server({echo, udp, upload, denied, metrics_service()});

  // Echo: 3 clients, 1000 bytes each, all echoed.
  for (int i = 0; i < 3; ++i) {
    auto fd = connect_tcp_blocking(server.address("echo"));
    const std::string payload(1000, static_cast<char>('a' + i));
    send_all(fd.get(), payload);
    ASSERT_EQ(recv_exact(fd.get(), payload.size()), payload);
  }
  // UDP: 7 datagrams of 10 bytes.
  auto u = udp_socket();
  const auto to = server.address("udp");
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(::sendto(u.get(), "0123456789", 10, 0, to.get(), to.size()), 10);
  }
  // Upload: two chunks and the end word; the durable ack says it is finished.
  {
    auto fd = connect_tcp_blocking(server.address("upload"));
    for (std::string_view chunk : {"first line\n", "second\n"}) {
      send_all(fd.get(), chunk);
      ASSERT_EQ(recv_once(fd.get()), "success");
    }
    send_all(fd.get(), "quit");
    ASSERT_EQ(recv_once(fd.get()), "success");
  }
  // A refused client: allow/deny.
  {
    auto fd = connect_tcp_blocking(server.address("denied"));
    ASSERT_TRUE(peer_closed(fd.get()));
  }

  std::string body;
  ASSERT_TRUE(eventually([&] {
    body = body_of(ask(server, kGet));
    return value(body, "socketd_datagrams_received_total{service=\"udp\"}") == 7u &&
           value(body, "socketd_connections_open{service=\"echo\"}") == 0u;
  })) << body;
  EXPECT_EQ(value(body, "socketd_connections_accepted_total{service=\"echo\"}"), 3u);
  EXPECT_EQ(value(body, "socketd_bytes_received_total{service=\"echo\"}"), 3000u);
  EXPECT_EQ(value(body, "socketd_bytes_sent_total{service=\"echo\"}"), 3000u);
  EXPECT_EQ(value(body, "socketd_datagrams_dropped_total{service=\"udp\"}"), 0u);
  EXPECT_EQ(value(body, "socketd_uploads_total{service=\"upload\",outcome=\"finished\"}"), 1u);
  EXPECT_EQ(value(body, "socketd_uploads_total{service=\"upload\",outcome=\"incomplete\"}"), 0u);
  EXPECT_EQ(value(body, "socketd_upload_bytes_total{service=\"upload\"}"), 18u);
  EXPECT_EQ(value(body, "socketd_bytes_received_total{service=\"upload\"}"), 22u);
  EXPECT_EQ(value(body, "socketd_bytes_sent_total{service=\"upload\"}"), 21u);
  EXPECT_EQ(
      value(body, "socketd_connections_refused_total{service=\"denied\",reason=\"allow_deny\"}"),
      1u);
  EXPECT_EQ(value(body, "socketd_connections_accepted_total{service=\"denied\"}"), 0u);
  // This scrape's own connection is open and counted.
  EXPECT_EQ(value(body, "socketd_connections_open{service=\"metrics\"}"), 1u);
  EXPECT_GT(value(body, "socketd_loop_iteration_seconds_count").value_or(0), 0u);
  EXPECT_EQ(value(body, "socketd_build_info{version=\"" SOCKETD_TEST_VERSION "\"}"), 1u);
}

TEST(Metrics, ByteCountersMoveWhileTheConnectionIsOpen) {
  TestServer server({make_service("echo", Mode::kEcho), metrics_service()});
  auto fd = connect_tcp_blocking(server.address("echo"));
  send_all(fd.get(), "12345");
  ASSERT_EQ(recv_exact(fd.get(), 5), "12345");
  EXPECT_EQ(scrape(server, "socketd_bytes_received_total{service=\"echo\"}"), 5u);
  EXPECT_EQ(scrape(server, "socketd_bytes_sent_total{service=\"echo\"}"), 5u);
  EXPECT_EQ(scrape(server, "socketd_connections_open{service=\"echo\"}"), 1u);
}

TEST(Metrics, CountersSurviveAReloadThatKeepsTheName) {
  auto echo = make_service("echo", Mode::kEcho);
  TestServer server({echo, metrics_service()});
  auto talk = [&](std::string_view bytes) {
    auto fd = connect_tcp_blocking(server.address("echo"));
    send_all(fd.get(), bytes);
    ASSERT_EQ(recv_exact(fd.get(), bytes.size()), bytes);
  };
  talk("before");
  EXPECT_EQ(scrape(server, "socketd_connections_accepted_total{service=\"metrics\"}"), 1u);
  // Same name, other settings and another socket; plus a new service.
  echo.max_per_source = 100;
  echo.listen = {*SocketAddress::parse("127.0.0.2:0")};
  ASSERT_TRUE(
      server.reconfigure({echo, make_service("other", Mode::kEcho), metrics_service()}).empty());
  talk("after!");
  const std::string body = body_of(ask(server, kGet));
  EXPECT_EQ(value(body, "socketd_connections_accepted_total{service=\"echo\"}"), 2u) << body;
  EXPECT_EQ(value(body, "socketd_bytes_received_total{service=\"echo\"}"), 12u);
  EXPECT_EQ(value(body, "socketd_connections_accepted_total{service=\"other\"}"), 0u);
  // The metrics service itself was kept: this is its second connection.
  EXPECT_EQ(value(body, "socketd_connections_accepted_total{service=\"metrics\"}"), 2u);

  // Removed, then added again under the same name: it goes on counting.
  ASSERT_TRUE(server.reconfigure({metrics_service()}).empty());
  EXPECT_EQ(scrape(server, "socketd_bytes_received_total{service=\"echo\"}"), std::nullopt);
  ASSERT_TRUE(server.reconfigure({echo, metrics_service()}).empty());
  EXPECT_EQ(scrape(server, "socketd_bytes_received_total{service=\"echo\"}"), 12u);
}

TEST(Metrics, DatagramsTheKernelDroppedAreCounted) {
  auto udp = make_service("udp", Mode::kUdpLog);
  udp.receive_buffer = 0;  // the kernel's default: a flood overruns it
  TestServer server({udp, metrics_service()});
  // Hold the loop so nothing reads the socket while the flood arrives.
  std::promise<void> blocked;
  std::promise<void> release;
  std::thread holder([&] {
    server.run_in_loop([&] {
      blocked.set_value();
      release.get_future().wait();
    });
  });
  blocked.get_future().wait();
  auto u = udp_socket();
  const auto to = server.address("udp");
  const std::string payload(1000, 'x');
  constexpr int kFlood = 5000;  // 5 MB, far above rmem_default
  for (int i = 0; i < kFlood; ++i) {
    ASSERT_EQ(::sendto(u.get(), payload.data(), payload.size(), 0, to.get(), to.size()),
              static_cast<ssize_t>(payload.size()));
  }
  release.set_value();
  holder.join();
  // The drop count travels with the datagrams queued after the drops: one more.
  std::string body;
  ASSERT_TRUE(eventually([&] {
    return value(body_of(ask(server, kGet)), "socketd_datagrams_received_total{service=\"udp\"}")
               .value_or(0) > 0;
  }));
  ASSERT_EQ(::sendto(u.get(), "last", 4, 0, to.get(), to.size()), 4);
  ASSERT_TRUE(eventually([&] {
    body = body_of(ask(server, kGet));
    const auto received = value(body, "socketd_datagrams_received_total{service=\"udp\"}");
    const auto dropped = value(body, "socketd_datagrams_dropped_total{service=\"udp\"}");
    return received && dropped && *received + *dropped == kFlood + 1;
  })) << body;
  EXPECT_GT(value(body, "socketd_datagrams_dropped_total{service=\"udp\"}").value_or(0), 0u);
}

TEST(Metrics, OtherPathsMethodsAndBadRequests) {
  auto metrics = metrics_service();
  metrics.max_request_bytes = 256;
  TestServer server({metrics});
  EXPECT_TRUE(ask(server, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 404 "));
  const std::string post = ask(server, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(post.starts_with("HTTP/1.1 405 ")) << post;
  EXPECT_NE(post.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_TRUE(ask(server, "BLAH\r\n\r\n").starts_with("HTTP/1.1 400 "));
  const std::string big =
      "GET /metrics HTTP/1.1\r\nHost: x\r\nCookie: " + std::string(1000, 'c') + "\r\n\r\n";
  EXPECT_TRUE(ask(server, big).starts_with("HTTP/1.1 431 "));
  const std::string head = ask(server, "HEAD /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n"));  // no body
}

TEST(Metrics, ARequestThatNeverCompletesIsClosedAtTheTimeout) {
  auto metrics = metrics_service();
  metrics.request_timeout = std::chrono::milliseconds(200);
  TestServer server({metrics});
  auto fd = connect_tcp_blocking(server.address("metrics"));
  send_all(fd.get(), "GET /metrics HTTP/1.1\r\nHost: x\r\n");  // no blank line
  EXPECT_EQ(recv_until_eof(fd.get()), "");                     // closed without an answer
  const std::string body = body_of(ask(server, kGet));
  EXPECT_EQ(value(body, "socketd_connections_accepted_total{service=\"metrics\"}"), 2u) << body;
}

TEST(Metrics, AllowDenyAppliesToTheMetricsService) {
  auto metrics = metrics_service();
  metrics.deny = {*Cidr::parse("127.0.0.0/8")};
  TestServer server({metrics});
  auto fd = connect_tcp_blocking(server.address("metrics"));
  send_all(fd.get(), kGet);
  EXPECT_EQ(recv_until_eof(fd.get()), "");
}

}  // namespace
}  // namespace socketd::test
