// Every rule of the wire protocols (README.md, "Services and their wire
// protocols"), through real loopback sockets, the way the classic clients use
// them (one send per message, one recv(1024) per reply).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <charconv>
#include <thread>

#include "support/loopback.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

// Splits a chunk-framing chat reply into the echoed message and the number.
bool reply_is(std::string_view reply, std::string_view message, int64_t min = 1,
              int64_t max = 1000) {
  if (!reply.starts_with(message)) return false;
  const auto digits = reply.substr(message.size());
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return !digits.empty() && ec == std::errc{} && end == digits.data() + digits.size() &&
         value >= min && value <= max;
}

std::vector<ServiceConfig> classic_services() {
  auto hello = make_service("hello", Mode::kChat);
  hello.greeting = "hello";
  auto chat = make_service("chat", Mode::kChat);
  chat.greeting = "success!";
  auto banner = make_service("banner", Mode::kBanner);
  auto lines = make_service("lines", Mode::kChat);
  lines.framing = Framing::kLine;
  lines.greeting = "hi\n";
  auto echo = make_service("echo", Mode::kEcho);
  auto udp = make_service("udp", Mode::kUdpLog);
  auto upload = make_service("upload", Mode::kUpload);
  return {hello, chat, banner, lines, echo, udp, upload};
}

class ClassicServices : public ::testing::Test {
 protected:
  TestServer server_{classic_services()};
};

TEST_F(ClassicServices, BannerSendsMessageThenFin) {
  auto fd = connect_tcp_blocking(server_.address("banner"));
  EXPECT_EQ(recv_until_eof(fd.get()), "success!");  // EOF, not a reset
}

TEST_F(ClassicServices, OneShotClientReadsTheGreeting) {
  auto fd = connect_tcp_blocking(server_.address("chat"));
  EXPECT_EQ(recv_once(fd.get()), "success!");
}

TEST_F(ClassicServices, InteractiveClientGetsEchoAndRandomNumber) {
  auto fd = connect_tcp_blocking(server_.address("chat"));
  ASSERT_EQ(recv_once(fd.get()), "success!");
  for (std::string_view message : {"hello there", "a", "with newline\n", "123"}) {
    send_all(fd.get(), message);
    const std::string reply = recv_once(fd.get());
    EXPECT_TRUE(reply_is(reply, message)) << reply;
  }
  send_all(fd.get(), "exit");
  EXPECT_TRUE(peer_closed(fd.get()));
}

TEST_F(ClassicServices, ThreadedServerClientIsGreetedWithHello) {
  auto fd = connect_tcp_blocking(server_.address("hello"));
  ASSERT_EQ(recv_once(fd.get()), "hello");
  send_all(fd.get(), "ping");
  EXPECT_TRUE(reply_is(recv_once(fd.get()), "ping"));
}

TEST_F(ClassicServices, ExitWordIgnoresOneTrailingNewline) {
  for (std::string_view word : {"exit\n", "exit\r\n"}) {
    auto fd = connect_tcp_blocking(server_.address("chat"));
    ASSERT_EQ(recv_once(fd.get()), "success!");
    send_all(fd.get(), word);
    EXPECT_TRUE(peer_closed(fd.get())) << word;
  }
  auto fd = connect_tcp_blocking(server_.address("chat"));
  ASSERT_EQ(recv_once(fd.get()), "success!");
  send_all(fd.get(), "exit now");
  EXPECT_TRUE(reply_is(recv_once(fd.get()), "exit now"));
}

TEST_F(ClassicServices, RandomNumbersVary) {
  auto fd = connect_tcp_blocking(server_.address("chat"));
  ASSERT_EQ(recv_once(fd.get()), "success!");
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    send_all(fd.get(), "x");
    seen.insert(recv_once(fd.get()));
  }
  EXPECT_GT(seen.size(), 10u);
}

TEST_F(ClassicServices, LineFramingHandlesPipeliningAndSplitMessages) {
  auto fd = connect_tcp_blocking(server_.address("lines"));
  ASSERT_EQ(recv_exact(fd.get(), 3), "hi\n");
  send_all(fd.get(), "one\ntwo\nthr");  // two whole messages and half of a third
  send_all(fd.get(), "ee\n");
  std::string got;
  while (std::count(got.begin(), got.end(), '\n') < 6) {
    const std::string part = recv_once(fd.get());
    ASSERT_FALSE(part.empty());
    got += part;
  }
  std::vector<std::string> lines;
  for (size_t start = 0, nl; (nl = got.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(got.substr(start, nl - start));
  }
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "one");
  EXPECT_TRUE(reply_is(lines[1], ""));
  EXPECT_EQ(lines[2], "two");
  EXPECT_EQ(lines[4], "three");
  send_all(fd.get(), "exit\n");
  EXPECT_TRUE(peer_closed(fd.get()));
}

TEST_F(ClassicServices, EchoReturnsEveryByte) {
  auto fd = connect_tcp_blocking(server_.address("echo"));
  std::string payload;
  for (int i = 0; i < 300000; ++i) payload.push_back(static_cast<char>(i * 7));
  std::thread writer([&] { send_all(fd.get(), payload); });
  const std::string back = recv_exact(fd.get(), payload.size());
  writer.join();
  EXPECT_TRUE(back == payload);
}

TEST_F(ClassicServices, HalfClosedClientStillGetsItsReply) {
  auto fd = connect_tcp_blocking(server_.address("echo"));
  send_all(fd.get(), "last words");
  ::shutdown(fd.get(), SHUT_WR);
  EXPECT_EQ(recv_exact(fd.get(), 10), "last words");
  EXPECT_TRUE(peer_closed(fd.get())) << "the server never saw the FIN";
}

// The server skips the read that would only say EAGAIN after a short read,
// unless the peer's FIN is already reported. Here the FIN comes behind more
// data than one event's read budget takes (often already queued when the
// budget runs out, so the FIN has to be remembered across turns).
TEST_F(ClassicServices, FinBehindMoreThanOneReadBudgetOfDataIsStillSeen) {
  auto fd = connect_tcp_blocking(server_.address("echo"));
  std::string payload;
  for (int i = 0; i < 3 * 1024 * 1024; ++i) payload.push_back(static_cast<char>(i * 13 + 1));
  std::thread writer([&] {
    send_all(fd.get(), payload);
    ::shutdown(fd.get(), SHUT_WR);
  });
  const std::string back = recv_exact(fd.get(), payload.size());
  writer.join();
  EXPECT_EQ(back.size(), payload.size());
  EXPECT_TRUE(back == payload);
  EXPECT_TRUE(peer_closed(fd.get())) << "the server never saw the FIN";
}

TEST_F(ClassicServices, ManySmallMessagesInARowAreAllEchoed) {
  auto fd = connect_tcp_blocking(server_.address("echo"));
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    const std::string m = "m" + std::to_string(i) + ";";
    send_all(fd.get(), m);
    expected += m;
  }
  EXPECT_EQ(recv_exact(fd.get(), expected.size()), expected);
}

TEST_F(ClassicServices, UdpDatagramsAreLoggedWithSenderAndEscapedPayload) {
  auto sock = udp_socket();
  const auto to = server_.address("udp");
  for (std::string_view payload : {std::string_view("hello"), std::string_view("exit"),
                                   std::string_view("evil\nFAKE RECORD\x1b[31m", 21)}) {
    ASSERT_EQ(::sendto(sock.get(), payload.data(), payload.size(), 0, to.get(), to.size()),
              static_cast<ssize_t>(payload.size()));
  }
  ASSERT_TRUE(server_.log().wait_for(LogEvent::kDatagram, 3));
  std::vector<LogRecord> datagrams;
  for (auto& r : server_.log().records()) {
    if (r.event == LogEvent::kDatagram) datagrams.push_back(r);
  }
  auto field = [](const LogRecord& r, std::string_view key) {
    for (const auto& f : r.fields) {
      if (f.key == key) return f.value;
    }
    return std::string();
  };
  EXPECT_EQ(field(datagrams[0], "PAYLOAD"), "hello");
  EXPECT_EQ(field(datagrams[0], "BYTES"), "5");
  EXPECT_TRUE(field(datagrams[0], "PEER").starts_with("127.0.0.1:"));
  EXPECT_EQ(field(datagrams[1], "PAYLOAD"), "exit");
  EXPECT_EQ(field(datagrams[2], "PAYLOAD"), "evil\\nFAKE RECORD\\x1b[31m");
  EXPECT_EQ(datagrams[2].message.find('\n'), std::string::npos);
}

TEST_F(ClassicServices, ConnectionRecordsCarryPeerBytesAndDuration) {
  {
    auto fd = connect_tcp_blocking(server_.address("echo"));
    send_all(fd.get(), "12345");
    ASSERT_EQ(recv_exact(fd.get(), 5), "12345");
  }
  ASSERT_TRUE(server_.log().wait_for(LogEvent::kConnectionClosed));
  for (const auto& r : server_.log().records()) {
    if (r.event != LogEvent::kConnectionClosed) continue;
    std::map<std::string, std::string> f;
    for (const auto& field : r.fields) f[std::string(field.key)] = field.value;
    EXPECT_EQ(f["SERVICE"], "echo");
    EXPECT_EQ(f["BYTES_IN"], "5");
    EXPECT_EQ(f["BYTES_OUT"], "5");
    EXPECT_TRUE(f.contains("DURATION_MS"));
    EXPECT_TRUE(f["PEER"].starts_with("127.0.0.1:"));
  }
  EXPECT_EQ(server_.log().count(LogEvent::kConnectionOpened), 1u);
}

}  // namespace
}  // namespace socketd::test
