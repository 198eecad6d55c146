// Clients that reset (SO_LINGER 0) at the worst moment: in the middle of a
// chat message, while the daemon is still writing a large reply to them, and
// in the middle of an upload. Only that client is affected: the others are
// served, the half upload is kept as "*.incomplete", no descriptor leaks.
#include <fcntl.h>
#include <poll.h>

#include "fault_support.hpp"

namespace socketd::test {
namespace {

std::string peer_of(int fd) { return "127.0.0.1:" + std::to_string(local_port(fd)); }

// The daemon's record of closing `peer` on `service`:
// "SERVICE: PEER REASON (in N B, out M B, T ms)".
std::optional<std::string> closed_line(DaemonProcess& daemon, std::string_view service,
                                       const std::string& peer) {
  const std::string head = std::string(service) + ": " + peer + " ";
  std::optional<std::string> found;
  eventually([&] {
    for (const auto& line : split_lines(daemon.stderr_text())) {
      if (line.find(head) != std::string::npos && line.find(" (in ") != std::string::npos) {
        found = line;
        return true;
      }
    }
    return false;
  });
  return found;
}

class ClientFaults : public DaemonTest {
 protected:
  std::string uploads() const { return dir_.file("uploads"); }
};

TEST_F(ClientFaults, ChatClientResetMidMessageLeavesOthersServed) {
  auto ports = start(daemon_table() +
                     "[services.lines]\nmode = \"chat\"\nlisten = \"127.0.0.1:0\"\n"
                     "greeting = \"hi\"\nrandom_min = 777\nrandom_max = 777\n"
                     "framing = \"line\"\n\n" +
                     chat_service("chunks", "127.0.0.1:0", "hi"));
  const uint16_t lines = ports["lines/tcp"];
  const uint16_t chunks = ports["chunks/tcp"];
  ASSERT_NE(lines, 0);
  ASSERT_NE(chunks, 0);
  const size_t idle_fds = steady_open_fds(daemon_.pid());

  Fd other = connect_port(lines);
  ASSERT_TRUE(other);
  EXPECT_EQ(recv_exact(other.get(), 2), "hi");
  send_all(other.get(), "before\n");
  EXPECT_EQ(recv_exact(other.get(), 11), "before\n777\n");

  // Half a line, then RST.
  std::string half_peer;
  {
    Fd victim = connect_port(lines);
    ASSERT_TRUE(victim);
    EXPECT_EQ(recv_exact(victim.get(), 2), "hi");
    send_all(victim.get(), "half a mess");
    half_peer = peer_of(victim.get());
    reset_connection(victim);
  }
  EXPECT_TRUE(closed_line(daemon_, "lines", half_peer)) << "the reset connection was never closed";

  // A client that streams a large message without reading the echo, so the
  // daemon is blocked on writing to it (backpressure) when it resets.
  std::string big_peer;
  {
    Fd victim = connect_port(chunks);
    ASSERT_TRUE(victim);
    EXPECT_EQ(recv_exact(victim.get(), 2), "hi");
    ASSERT_EQ(::fcntl(victim.get(), F_SETFL, O_NONBLOCK), 0);
    const std::string block(64u << 10, 'x');
    size_t sent = 0;
    for (;;) {  // until our send buffer is full: the daemon stopped reading
      const ssize_t n = ::send(victim.get(), block.data(), block.size(), MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EAGAIN) {
        pollfd p{victim.get(), POLLOUT, 0};
        if (::poll(&p, 1, 500) == 0) break;  // nothing moves: the daemon pauses us
        continue;
      }
      FAIL() << "send: " << std::strerror(errno);
    }
    EXPECT_GT(sent, 256u << 10) << "the daemon stopped reading before its high-water mark";
    big_peer = peer_of(victim.get());
    reset_connection(victim);
  }
  EXPECT_TRUE(closed_line(daemon_, "chunks", big_peer)) << "the reset connection was never closed";

  ASSERT_TRUE(daemon_.running());
  send_all(other.get(), "after\n");
  EXPECT_EQ(recv_exact(other.get(), 10), "after\n777\n");
  for (uint16_t port : {lines, chunks}) {
    Fd fresh = connect_port(port);
    ASSERT_TRUE(fresh);
    EXPECT_EQ(recv_exact(fresh.get(), 2), "hi");
  }
  other.reset();
  EXPECT_TRUE(eventually([&] { return steady_open_fds(daemon_.pid()) == idle_fds; }))
      << "descriptors leaked: " << describe_fds(daemon_.pid()) << "; " << idle_fds
      << " when idle";
}

TEST_F(ClientFaults, UploadClientResetMidUploadIsKeptIncompleteOthersFinish) {
  const uint16_t port =
      start(daemon_table() + service("upload", "upload", "127.0.0.1:0"))["upload/tcp"];
  ASSERT_NE(port, 0);
  const std::string others_file = lines_of(64u << 10, 100, "other");
  const std::string victims_file = lines_of(64u << 10, 100, "victim");
  const auto others_lines = split_lines(others_file);
  const auto victims_lines = split_lines(victims_file);

  // The other upload, half way through.
  Fd other = connect_port(port);
  ASSERT_TRUE(other);
  const size_t other_half = others_lines.size() / 2 * 100;
  ASSERT_FALSE(classic_send_lines(other.get(), others_file.substr(0, other_half), false).refusal);

  // The victim: 20 lines acknowledged, a 21st in flight, then RST.
  constexpr size_t kAcked = 20;
  std::string victim_peer;
  {
    Fd victim = connect_port(port);
    ASSERT_TRUE(victim);
    const SendOutcome sent =
        classic_send_lines(victim.get(), victims_file.substr(0, kAcked * 100), false);
    ASSERT_FALSE(sent.refusal);
    ASSERT_EQ(sent.acked_lines, kAcked);
    send_all(victim.get(), victims_lines[kAcked]);
    victim_peer = peer_of(victim.get());
    reset_connection(victim);
  }
  auto closed = daemon_.wait_stderr(" incomplete, ");
  ASSERT_TRUE(closed) << "the reset upload was not recorded as incomplete";

  // The other upload goes on to its durable end.
  const SendOutcome rest = classic_send_lines(other.get(), others_file.substr(other_half));
  ASSERT_FALSE(rest.refusal) << *rest.refusal;
  ASSERT_TRUE(rest.quit_sent);
  EXPECT_EQ(recv_exact(other.get(), 7), "success");

  const auto finished = names_where(uploads(), is_finished);
  const auto incomplete = names_where(uploads(), is_incomplete);
  EXPECT_TRUE(names_where(uploads(), is_part).empty());
  ASSERT_EQ(finished.size(), 1u);
  ASSERT_EQ(incomplete.size(), 1u);
  EXPECT_TRUE(read_file(uploads() + "/" + finished[0]) == others_file)
      << "the other upload was damaged";
  const std::string kept = read_file(uploads() + "/" + incomplete[0]);
  EXPECT_GE(kept.size(), kAcked * 100) << "acknowledged lines are missing";
  EXPECT_LE(kept.size(), (kAcked + 1) * 100);
  EXPECT_TRUE(victims_file.compare(0, kept.size(), kept) == 0) << "kept bytes differ";
  EXPECT_NE(closed->find(incomplete[0]), std::string::npos) << *closed;
  EXPECT_TRUE(daemon_.running());
}

}  // namespace
}  // namespace socketd::test
