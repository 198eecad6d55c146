// udp-log under a flood: past [daemon] log_rate_limit the datagrams are
// counted, not logged one by one, and a per-second summary accounts for every
// one of them (datagrams, bytes, distinct senders, not logged individually).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "server/datagram_log.hpp"
#include "support/loopback.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

std::string field(const LogRecord& record, std::string_view key) {
  for (const auto& f : record.fields) {
    if (f.key == key) return f.value;
  }
  return {};
}

uint64_t number(const LogRecord& record, std::string_view key) {
  const std::string text = field(record, key);
  return text.empty() ? 0 : std::stoull(text);
}

void send_datagrams(int fd, const SocketAddress& to, size_t count, size_t size) {
  const std::string payload(size, 'x');
  for (size_t i = 0; i < count; ++i) {
    ASSERT_EQ(::sendto(fd, payload.data(), payload.size(), 0, to.get(), to.size()),
              static_cast<ssize_t>(payload.size()));
  }
}

// Individually logged datagrams plus those the summaries say were not.
struct Accounted {
  uint64_t logged = 0;
  uint64_t not_logged = 0;
  std::vector<LogRecord> summaries;
};

Accounted account(const CaptureSink& log) {
  Accounted a;
  for (const auto& r : log.records()) {
    if (r.event == LogEvent::kDatagram) ++a.logged;
    if (r.event == LogEvent::kDatagramSummary) {
      a.not_logged += number(r, "NOT_LOGGED");
      a.summaries.push_back(r);
    }
  }
  return a;
}

class UdpLog : public ::testing::Test {
 protected:
  static constexpr uint32_t kLimit = 10;
  static constexpr size_t kPerSocket = 150;
  static constexpr size_t kSize = 64;

  UdpLog() { server_.limit_log(kLimit); }
  TestServer server_{{make_service("udp", Mode::kUdpLog)}};
};

TEST_F(UdpLog, FloodBeyondTheLimitIsSummarisedAndEveryDatagramIsAccountedFor) {
  auto a = udp_socket();
  auto b = udp_socket();
  const auto to = server_.address("udp");
  send_datagrams(a.get(), to, kPerSocket, kSize);
  send_datagrams(b.get(), to, kPerSocket, kSize);
  const uint64_t total = 2 * kPerSocket;

  ASSERT_TRUE(eventually([&] { return server_.totals().stats.datagrams == total; }));
  EXPECT_EQ(server_.totals().stats.bytes_in, total * kSize);
  // The summary comes when the window closes, a second after it opened.
  ASSERT_TRUE(eventually([&] {
    const auto acc = account(server_.log());
    return acc.logged + acc.not_logged == total;
  }));
  const auto acc = account(server_.log());
  ASSERT_FALSE(acc.summaries.empty());
  // At most kLimit per window got a record of their own, and at least the first kLimit.
  EXPECT_GE(acc.logged, kLimit);
  EXPECT_LE(acc.logged, kLimit * acc.summaries.size());
  uint64_t summarised = 0;
  for (const auto& s : acc.summaries) {
    const uint64_t datagrams = number(s, "DATAGRAMS");
    summarised += datagrams;
    EXPECT_EQ(field(s, "SERVICE"), "udp");
    EXPECT_EQ(number(s, "BYTES"), datagrams * kSize) << s.message;
    EXPECT_GE(number(s, "PEERS"), 1u) << s.message;
    EXPECT_LE(number(s, "PEERS"), 2u) << s.message;
    EXPECT_GT(number(s, "NOT_LOGGED"), 0u) << s.message;
    EXPECT_LE(number(s, "NOT_LOGGED"), datagrams) << s.message;
    EXPECT_EQ(s.level, LogLevel::kInfo);
    EXPECT_NE(s.message.find("udp: " + with_thousands(datagrams) + " datagrams"),
              std::string::npos)
        << s.message;
    const uint64_t bytes = datagrams * kSize;  // under 1 MB here: "N B" or "N.N kB"
    EXPECT_NE(s.message.find(" datagrams, " + (bytes < 1000 ? std::to_string(bytes) + " B from"
                                                             : std::to_string(bytes / 1000) + ".")),
              std::string::npos)
        << s.message;
    EXPECT_NE(s.message.find(with_thousands(number(s, "NOT_LOGGED")) +
                             " not logged individually"),
              std::string::npos)
        << s.message;
  }
  EXPECT_LE(summarised, total);
  // Datagrams never show up as the generic "N log records suppressed".
  for (const auto& r : server_.log().records()) {
    EXPECT_NE(field(r, "LIMIT"), "log_rate_limit") << r.message;
  }
}

TEST_F(UdpLog, SummariesCountDistinctSenders) {
  auto a = udp_socket();
  auto b = udp_socket();
  const auto to = server_.address("udp");
  // Alternating, so whichever window closes first saw both senders.
  for (size_t i = 0; i < kPerSocket; ++i) {
    send_datagrams(a.get(), to, 1, kSize);
    send_datagrams(b.get(), to, 1, kSize);
  }
  ASSERT_TRUE(server_.log().wait_for(LogEvent::kDatagramSummary));
  // A summary needs more than kLimit datagrams in its window: a run of the
  // alternating sequence that long holds both senders.
  const auto acc = account(server_.log());
  ASSERT_FALSE(acc.summaries.empty());
  for (const auto& s : acc.summaries) {
    EXPECT_GT(number(s, "DATAGRAMS"), kLimit) << s.message;
    EXPECT_EQ(number(s, "PEERS"), 2u) << s.message;
    EXPECT_NE(s.message.find("from 2 peers"), std::string::npos) << s.message;
  }
}

// SO_RCVBUF of this process's UDP socket bound to `port`, as asked for (the
// kernel reports twice the value); 0 if there is none.
uint32_t receive_buffer_of_port(uint16_t port) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM) continue;
    sockaddr_storage address{};
    len = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len) != 0) continue;
    if (SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&address), len).port() != port) {
      continue;
    }
    int value = 0;
    len = sizeof value;
    if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, &len) != 0) return 0;
    return static_cast<uint32_t>(value) / 2;
  }
  return 0;
}

uint32_t proc_value(const char* path) {
  std::ifstream in(path);
  uint64_t value = 0;
  in >> value;
  return static_cast<uint32_t>(value);
}

TEST(UdpReceiveBuffer, IsGrownToTheConfiguredSizeAndAgainOnReload) {
  // Sizes the kernel grants without privileges: above the default, up to the cap.
  const uint32_t initial = proc_value("/proc/sys/net/core/rmem_default");
  const uint32_t cap = proc_value("/proc/sys/net/core/rmem_max");
  if (cap < initial + 8192) GTEST_SKIP() << "net.core.rmem_max leaves no room above the default";
  auto service = make_service("udp", Mode::kUdpLog);
  service.receive_buffer = initial + 4096;
  TestServer server({service});
  const uint16_t port = server.port("udp");
  EXPECT_GE(receive_buffer_of_port(port), initial + 4096);
  // A reload keeps the socket and grows its buffer.
  service.listen = {server.address("udp")};
  service.receive_buffer = cap;
  ASSERT_TRUE(server.reconfigure({service}).empty());
  ASSERT_EQ(server.port("udp"), port);
  EXPECT_GE(receive_buffer_of_port(port), cap);
}

TEST(WithThousands, GroupsDigitsByThree) {
  EXPECT_EQ(with_thousands(0), "0");
  EXPECT_EQ(with_thousands(999), "999");
  EXPECT_EQ(with_thousands(1000), "1,000");
  EXPECT_EQ(with_thousands(499000), "499,000");
  EXPECT_EQ(with_thousands(1234567), "1,234,567");
}

TEST(PeerTally, CountsDistinctAddressesAndPorts) {
  PeerTally tally;
  const auto a = *SocketAddress::parse("127.0.0.1:1000");
  const auto b = *SocketAddress::parse("127.0.0.1:1001");
  const auto c = *SocketAddress::parse("[::1]:1000");
  for (int i = 0; i < 3; ++i) {
    tally.add(a);
    tally.add(b);
    tally.add(c);
  }
  EXPECT_EQ(tally.distinct(), 3u);
  tally.clear();
  EXPECT_EQ(tally.distinct(), 0u);
  for (uint16_t port = 1; port <= PeerTally::kLimit + 10; ++port) {
    tally.add(*SocketAddress::parse("10.0.0.1:" + std::to_string(port)));
  }
  EXPECT_EQ(tally.distinct(), PeerTally::kLimit);
  EXPECT_TRUE(tally.saturated());
}

}  // namespace
}  // namespace socketd::test
