// A full accept queue is no longer silent: the kernel's drops at a listener
// are counted in the service's stats and reported in one warning that names
// the service and the 'backlog' key. The queue is made to overflow by a
// listener that stops accepting (max_connection_rate pauses it).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "support/loopback.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

std::string field_of(const LogRecord& record, std::string_view key) {
  for (const auto& f : record.fields) {
    if (f.key == key) return f.value;
  }
  return "";
}

TEST(ListenOverflow, DropsAtAFullAcceptQueueAreCountedAndReported) {
  auto echo = make_service("echo", Mode::kEcho);
  echo.backlog = 1;
  echo.max_connection_rate = 1;
  echo.rate_pause = std::chrono::minutes(10);  // stops accepting after the first
  TestServer server({echo});
  const auto to = server.address("echo");
  std::vector<Fd> clients;
  for (int i = 0; i < 12; ++i) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    ::connect(fd.get(), to.get(), to.size());  // EINPROGRESS; a dropped SYN is retried
    clients.push_back(std::move(fd));
  }
  ASSERT_TRUE(eventually([&] { return server.totals().stats.listen_overflows > 0; },
                         std::chrono::milliseconds(10'000)))
      << "no drops counted";
  auto is_overflow = [](const LogRecord& r) {
    return r.event == LogEvent::kLimitHit && field_of(r, "LIMIT") == "backlog";
  };
  ASSERT_TRUE(eventually([&] {
    for (const auto& r : server.log().records()) {
      if (is_overflow(r)) return true;
    }
    return false;
  }));
  for (const auto& r : server.log().records()) {
    if (!is_overflow(r)) continue;
    EXPECT_EQ(r.level, LogLevel::kWarning);
    EXPECT_EQ(field_of(r, "SERVICE"), "echo");
    EXPECT_EQ(field_of(r, "LISTEN"), to.to_string());
    EXPECT_GT(std::stoul(field_of(r, "DROPPED")), 0u);
    EXPECT_NE(r.message.find("echo: accept queue of " + to.to_string() + " full"),
              std::string::npos)
        << r.message;
    EXPECT_NE(r.message.find("(backlog = 1)"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("Raise 'backlog' in [services.echo]"), std::string::npos);
    break;
  }
}

}  // namespace
}  // namespace socketd::test
