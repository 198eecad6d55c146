// The metrics service of the socketd executable: what only the daemon wires
// up (reloads counted by the App, log records held back by the rate limit
// read from main's RateLimitedSink, the build version), seen through a scrape.
#include <signal.h>

#include <charconv>
#include <optional>

#include "process_fixture.hpp"

namespace socketd::test {
namespace {

std::string scrape(uint16_t port) {
  Fd fd = connect_port(port);
  if (!fd) return {};
  send_all(fd.get(), "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
  return recv_until_eof(fd.get());
}

std::optional<uint64_t> value(const std::string& response, std::string_view series) {
  const std::string prefix = "\n" + std::string(series) + " ";
  const auto at = response.find(prefix);
  if (at == std::string::npos) return std::nullopt;
  uint64_t v = 0;
  const char* begin = response.data() + at + prefix.size();
  const auto [end, ec] = std::from_chars(begin, response.data() + response.size(), v);
  if (ec != std::errc{}) return std::nullopt;
  return v;
}

class ProcessMetrics : public DaemonTest {};

TEST_F(ProcessMetrics, ReloadsAndRateLimitedLogRecordsAreCounted) {
  // One info record per connection and per close: with a limit of 1 a second,
  // a few connections in a row are held back.
  const std::string services =
      chat_service("chat", "127.0.0.1:0", "hi") + service("metrics", "metrics", "127.0.0.1:0");
  auto ports = start(daemon_table("log_rate_limit = 1") + services);
  ASSERT_EQ(ports.size(), 2u);
  const uint16_t metrics = ports["metrics/tcp"];

  std::string text = scrape(metrics);
  ASSERT_TRUE(text.starts_with("HTTP/1.1 200 OK\r\n")) << text;
  EXPECT_EQ(value(text, "socketd_reloads_total{result=\"ok\"}"), 0u) << text;
  EXPECT_EQ(value(text, "socketd_reloads_total{result=\"failed\"}"), 0u);
  EXPECT_NE(text.find("\nsocketd_build_info{version=\""), std::string::npos);
  EXPECT_GT(value(text, "socketd_start_time_seconds").value_or(0), 1'600'000'000u);

  for (int i = 0; i < 5; ++i) {
    Fd fd = connect_port(ports["chat/tcp"]);
    ASSERT_TRUE(fd);
    EXPECT_EQ(recv_exact(fd.get(), 2), "hi");
  }
  EXPECT_TRUE(eventually([&] {
    return value(scrape(metrics), "socketd_log_records_dropped_total{reason=\"rate_limit\"}")
               .value_or(0) > 0;
  }));

  write_config("[services.broken\n");
  ASSERT_TRUE(reload());
  text = scrape(metrics);
  EXPECT_EQ(value(text, "socketd_reloads_total{result=\"failed\"}"), 1u) << text;
  EXPECT_EQ(value(text, "socketd_reloads_total{result=\"ok\"}"), 0u);

  write_config(daemon_table() + services);
  ASSERT_TRUE(reload());
  text = scrape(metrics);
  EXPECT_EQ(value(text, "socketd_reloads_total{result=\"ok\"}"), 1u) << text;
  EXPECT_EQ(value(text, "socketd_reloads_total{result=\"failed\"}"), 1u);
  // Kept its name and its socket: the same counters go on.
  EXPECT_EQ(value(text, "socketd_connections_accepted_total{service=\"chat\"}"), 5u);

  ASSERT_TRUE(daemon_.signal(SIGTERM));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << describe(*status);
}

}  // namespace
}  // namespace socketd::test
