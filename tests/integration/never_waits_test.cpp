// The loop never waits on the disk and never holds unbounded memory: with
// every I/O thread stuck (a disk that does not answer), chat clients are served
// as usual, a stream upload's buffers stay within their bound (socketd stops
// reading it), and once the disk answers the upload completes intact. Clients
// that never read cannot make socketd hold more than [daemon] max_output_bytes.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "reactor/io_pool.hpp"
#include "storage/upload_buffers.hpp"
#include "storage/upload_file.hpp"
#include "support/loopback.hpp"
#include "support/test_bytes.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

// Holds an I/O thread until released: the disk "hangs".
class Gate {
 public:
  void release() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return open_; });
  }
  void entered() {
    {
      std::lock_guard lock(mutex_);
      ++inside_;
    }
    cv_.notify_all();
  }
  bool wait_inside(int n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return inside_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
  int inside_ = 0;
};

class StuckJob final : public IoJob {
 public:
  explicit StuckJob(Gate& gate) : gate_(gate) {}
  void run() noexcept override {
    gate_.entered();
    gate_.wait();
  }
  void done() noexcept override {}

 private:
  Gate& gate_;
};



TEST(NeverWaits, StuckDiskStallsOnlyItsUploadWithBoundedMemory) {
  auto chat = make_service("chat", Mode::kChat);
  chat.greeting = "hi";
  TestServer server({make_service("stream", Mode::kStreamUpload), chat});
  Gate gate;
  server.run_in_loop([&] {
    for (unsigned i = 0; i < IoPool::kDefaultThreads; ++i) {
      server.server().io_pool()->submit(std::make_unique<StuckJob>(gate));
    }
  });
  ASSERT_TRUE(gate.wait_inside(static_cast<int>(IoPool::kDefaultThreads)));

  const std::string data = random_bytes(48u << 20, 42);
  // 200 ms without progress on a blocking send = socketd stopped reading us.
  auto up = connect_tcp_blocking(server.address("stream"), std::chrono::milliseconds(200));
  const std::string header = "UPLOAD " + std::to_string(data.size()) + "\n";
  send_all(up.get(), header);
  size_t pushed = 0;
  while (pushed < data.size()) {
    const ssize_t n = ::send(up.get(), data.data() + pushed,
                             std::min<size_t>(data.size() - pushed, 1 << 20), MSG_NOSIGNAL);
    if (n <= 0) break;  // EAGAIN after the timeout: the window is shut
    pushed += static_cast<size_t>(n);
  }
  ASSERT_LT(pushed, data.size()) << "socketd kept reading an upload its disk cannot take";

  // Only what fits in one upload's buffers is held in memory.
  uint64_t held = 0;
  server.run_in_loop([&] { held = upload_buffer_bytes(); });
  const uint64_t bound = (UploadFileLimits::kMaxQueuedWrites + 1) * UploadFileLimits::kBufferBytes;
  EXPECT_LE(held, bound) << "bytes buffered for one upload while its disk hangs";

  // Meanwhile every other client is served at once.
  auto c = connect_tcp_blocking(server.address("chat"), std::chrono::milliseconds(2000));
  ASSERT_EQ(recv_once(c.get()), "hi");
  for (int i = 0; i < 100; ++i) {
    send_all(c.get(), "ping\n");
    const std::string reply = recv_once(c.get());
    ASSERT_TRUE(reply.starts_with("ping\n")) << "round trip " << i << ": " << reply;
  }

  // The disk answers again: the upload goes on and finishes intact.
  gate.release();
  timeval patient{10, 0};
  ::setsockopt(up.get(), SOL_SOCKET, SO_SNDTIMEO, &patient, sizeof patient);
  ::setsockopt(up.get(), SOL_SOCKET, SO_RCVTIMEO, &patient, sizeof patient);
  send_all(up.get(), std::string_view(data).substr(pushed));
  std::string reply;
  while (!reply.ends_with('\n')) {
    std::string part = recv_once(up.get(), 256);
    if (part.empty()) break;
    reply += part;
  }
  EXPECT_EQ(reply, "OK " + std::to_string(data.size()) + " sha256=" + sha256_of(data) + "\n");
}

TEST(NeverWaits, ClientsThatNeverReadAreCutAtTheDaemonWideOutputCap) {
  DaemonConfig daemon;
  daemon.max_output_bytes = 1u << 20;
  TestServer server({make_service("echo", Mode::kEcho)}, daemon);
  // Eight echo clients that send and never read: each fills its kernel
  // buffers, then socketd's queue up to the high-water mark (256 KiB).
  std::vector<Fd> hogs;
  const std::string block(256 * 1024, 'x');
  for (int i = 0; i < 8; ++i) {
    hogs.push_back(connect_tcp_blocking(server.address("echo"), std::chrono::milliseconds(200)));
    int small = 4096;
    ::setsockopt(hogs.back().get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    size_t pushed = 0;
    while (pushed < (64u << 20)) {
      const ssize_t n = ::send(hogs.back().get(), block.data(), block.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      pushed += static_cast<size_t>(n);
    }
  }
  ASSERT_TRUE(eventually([&] { return server.totals().stats.output_cut > 0; }))
      << "8 connections at the high-water mark exceed a 1 MiB cap: the largest must be cut";
  uint64_t queued = 0;
  server.run_in_loop([&] { queued = server.server().context().queued_output; });
  EXPECT_LE(queued, daemon.max_output_bytes);
  EXPECT_TRUE(eventually([&] {
    for (const auto& r : server.log().records()) {
      if (r.message.find("max_output_bytes") != std::string::npos) return true;
    }
    return false;
  }));
  // A client that reads is served as before.
  auto ok = connect_tcp_blocking(server.address("echo"));
  send_all(ok.get(), "hello");
  EXPECT_EQ(recv_exact(ok.get(), 5), "hello");
}

}  // namespace
}  // namespace socketd::test
