// The streaming upload protocol through real loopback sockets: large files
// arrive byte-identical with the right checksum, other clients are served
// meanwhile, refusals come before any data, cut-off uploads stay incomplete.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>
#include <future>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "net/socket.hpp"
#include "support/loopback.hpp"
#include "support/test_bytes.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}



// Reads up to and including the first "\n" (the server sends one line).
std::string recv_line(int fd) {
  std::string line;
  while (!line.ends_with('\n')) {
    std::string part = recv_once(fd, 256);
    if (part.empty()) break;
    line += part;
  }
  return line;
}

std::vector<std::string> files_ending(const TestServer& server, std::string_view suffix) {
  std::vector<std::string> out;
  for (const auto& f : server.upload_files()) {
    if (f.ends_with(suffix)) out.push_back(f);
  }
  return out;
}

ServiceConfig stream_service(uint64_t max_bytes = 1ull << 30) {
  auto s = make_service("stream", Mode::kStreamUpload);
  s.max_upload_bytes = max_bytes;
  s.min_free_bytes = 0;
  return s;
}

TEST(StreamUpload, SixtyFourMegabyteFileArrivesByteIdenticalWithItsChecksum) {
  TestServer server({stream_service()});
  const std::string data = random_bytes(64u << 20, 7);
  auto fd = connect_tcp_blocking(server.address("stream"));
  send_all(fd.get(), "UPLOAD " + std::to_string(data.size()) + "\n");
  send_all(fd.get(), data);
  ::shutdown(fd.get(), SHUT_WR);  // allowed: the reply still comes
  EXPECT_EQ(recv_line(fd.get()),
            "OK " + std::to_string(data.size()) + " sha256=" + sha256_of(data) + "\n");
  EXPECT_TRUE(peer_closed(fd.get()));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kUploadFinished));
  const auto files = server.upload_files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(files[0].starts_with("upload-")) << files[0];
  EXPECT_FALSE(files[0].ends_with(".incomplete"));
  EXPECT_TRUE(read_file(server.upload_dir() + "/" + files[0]) == data);
}

TEST(StreamUpload, ConcurrentUploadsDoNotStopAChatClient) {
  auto chat = make_service("chat", Mode::kChat);
  chat.greeting = "hello";
  TestServer server({stream_service(), chat});
  constexpr int kUploads = 3;
  constexpr size_t kSize = 16u << 20;
  std::promise<void> chat_done;
  std::shared_future<void> chat_done_future = chat_done.get_future().share();
  std::vector<std::future<std::string>> uploads;
  std::vector<std::string> contents;
  std::vector<std::promise<void>> halfway(kUploads);
  for (int i = 0; i < kUploads; ++i) contents.push_back(random_bytes(kSize, 100 + i));
  for (int i = 0; i < kUploads; ++i) {
    uploads.push_back(std::async(std::launch::async, [&, i] {
      auto fd = connect_tcp_blocking(server.address("stream"));
      const std::string& data = contents[i];
      send_all(fd.get(), "UPLOAD " + std::to_string(kSize) + "\n");
      send_all(fd.get(), std::string_view(data).substr(0, kSize / 2));
      halfway[i].set_value();
      // Every upload stays open until the chat client has been served.
      chat_done_future.wait();
      send_all(fd.get(), std::string_view(data).substr(kSize / 2));
      return recv_line(fd.get());
    }));
  }
  for (auto& h : halfway) h.get_future().wait();
  auto client = connect_tcp_blocking(server.address("chat"));
  ASSERT_EQ(recv_once(client.get()), "hello");
  for (int i = 0; i < 20; ++i) {
    const std::string message = "ping" + std::to_string(i);
    send_all(client.get(), message);
    const std::string reply = recv_once(client.get());
    ASSERT_TRUE(reply.starts_with(message) && reply.size() > message.size()) << reply;
  }
  EXPECT_EQ(server.totals().open_connections, static_cast<uint64_t>(kUploads + 1));
  chat_done.set_value();
  for (int i = 0; i < kUploads; ++i) {
    EXPECT_EQ(uploads[i].get(),
              "OK " + std::to_string(kSize) + " sha256=" + sha256_of(contents[i]) + "\n");
  }
  ASSERT_TRUE(server.log().wait_for(LogEvent::kUploadFinished, kUploads));
  std::set<std::string> stored;
  for (const auto& f : server.upload_files()) {
    stored.insert(read_file(server.upload_dir() + "/" + f));
  }
  EXPECT_EQ(stored, std::set<std::string>(contents.begin(), contents.end()));
}

TEST(StreamUpload, OversizeIsRefusedBeforeAnyDataAndLeavesNoFile) {
  TestServer server({stream_service(1000)});
  auto fd = connect_tcp_blocking(server.address("stream"));
  send_all(fd.get(), "UPLOAD 1001\n");
  EXPECT_EQ(recv_line(fd.get()),
            "ERROR size 1001 exceeds max_upload_bytes (1000); send a smaller file\n");
  EXPECT_TRUE(peer_closed(fd.get()));
  EXPECT_TRUE(server.upload_files().empty());
}

TEST(StreamUpload, NotEnoughFreeSpaceForTheDeclaredSizeIsRefusedUpFront) {
  auto service = stream_service(0);
  TestServer server({service});
  // More than any test machine has free: refused before any byte is sent.
  auto fd = connect_tcp_blocking(server.address("stream"));
  send_all(fd.get(), "UPLOAD " + std::to_string(1ull << 62) + "\n");
  EXPECT_EQ(recv_line(fd.get()), "ERROR not enough free disk space for " +
                                     std::to_string(1ull << 62) +
                                     " bytes; try again later or send a smaller file\n");
  EXPECT_TRUE(server.upload_files().empty());
}

// The records name the client; a refusal says why it was refused.
const LogRecord* find_record(const std::vector<LogRecord>& records, LogEvent event) {
  for (const auto& r : records) {
    if (r.event == event) return &r;
  }
  return nullptr;
}
std::string field_of(const LogRecord& record, std::string_view key) {
  for (const auto& f : record.fields) {
    if (f.key == key) return f.value;
  }
  return "(none)";
}

TEST(StreamUpload, RefusedHeaderIsLoggedWithPeerAndReason) {
  TestServer server({stream_service(1000)});
  auto fd = connect_tcp_blocking(server.address("stream"));
  auto local = local_address(fd.get());
  ASSERT_TRUE(local);
  send_all(fd.get(), "UPLOAD 1001\n");
  EXPECT_TRUE(recv_line(fd.get()).starts_with("ERROR size 1001"));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kUploadRefused));
  const auto records = server.log().records();
  const LogRecord* r = find_record(records, LogEvent::kUploadRefused);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->level, LogLevel::kNotice);
  EXPECT_EQ(field_of(*r, "PEER"), local->to_string());
  EXPECT_EQ(field_of(*r, "REASON"),
            "size 1001 exceeds max_upload_bytes (1000); send a smaller file");
  EXPECT_NE(r->message.find("from " + local->to_string() + " refused: size 1001"),
            std::string::npos)
      << r->message;
  EXPECT_EQ(server.totals().stats.uploads_refused, 1u);
}

TEST(StreamUpload, FinishedAndIncompleteRecordsNameThePeer) {
  TestServer server({stream_service()});
  std::string finished_peer, cut_peer;
  {
    auto fd = connect_tcp_blocking(server.address("stream"));
    finished_peer = local_address(fd.get())->to_string();
    send_all(fd.get(), "UPLOAD 5\nhello");
    EXPECT_TRUE(recv_line(fd.get()).starts_with("OK 5 "));
  }
  {
    auto fd = connect_tcp_blocking(server.address("stream"));
    cut_peer = local_address(fd.get())->to_string();
    send_all(fd.get(), "UPLOAD 50\nhello");
  }
  ASSERT_TRUE(server.log().wait_for(LogEvent::kUploadFinished));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kUploadIncomplete));
  const auto records = server.log().records();
  const LogRecord* done = find_record(records, LogEvent::kUploadFinished);
  const LogRecord* cut = find_record(records, LogEvent::kUploadIncomplete);
  EXPECT_EQ(field_of(*done, "PEER"), finished_peer);
  EXPECT_TRUE(done->message.ends_with(" (from " + finished_peer + ")")) << done->message;
  EXPECT_EQ(field_of(*cut, "PEER"), cut_peer);
  EXPECT_TRUE(cut->message.ends_with(" (from " + cut_peer + ")")) << cut->message;
  ASSERT_TRUE(server.wait_for_io());
}

TEST(StreamUpload, BadHeaderIsAnsweredWithWhatToSend) {
  TestServer server({stream_service()});
  auto fd = connect_tcp_blocking(server.address("stream"));
  send_all(fd.get(), "PUT /etc/passwd\n");
  EXPECT_EQ(recv_line(fd.get()),
            "ERROR bad header: send \"UPLOAD <size>\\n\" first, the size in decimal bytes\n");
  EXPECT_TRUE(peer_closed(fd.get()));
  EXPECT_TRUE(server.upload_files().empty());
}

TEST(StreamUpload, ClosingEarlyKeepsExactlyWhatArrivedAsIncomplete) {
  TestServer server({stream_service()});
  const std::string part = random_bytes(100'000, 3);
  {
    auto fd = connect_tcp_blocking(server.address("stream"));
    send_all(fd.get(), "UPLOAD 1000000\n");
    send_all(fd.get(), part);
  }
  ASSERT_TRUE(server.log().wait_for(LogEvent::kUploadIncomplete));
  ASSERT_TRUE(server.wait_for_io());
  const auto incomplete = files_ending(server, ".incomplete");
  ASSERT_EQ(incomplete.size(), 1u);
  EXPECT_EQ(server.upload_files().size(), 1u);
  const std::string path = server.upload_dir() + "/" + incomplete[0];
  EXPECT_TRUE(read_file(path) == part);
}

TEST(StreamUpload, HalfCloseBeforeTheEndIsAnsweredWithWhatArrived) {
  TestServer server({stream_service()});
  auto fd = connect_tcp_blocking(server.address("stream"));
  send_all(fd.get(), "UPLOAD 20\n0123456789");
  ::shutdown(fd.get(), SHUT_WR);
  EXPECT_EQ(recv_line(fd.get()), "ERROR connection ended after 10 of 20 bytes\n");
  EXPECT_TRUE(peer_closed(fd.get()));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kUploadIncomplete));
  ASSERT_TRUE(server.wait_for_io());
  EXPECT_EQ(files_ending(server, ".incomplete").size(), 1u);
}

TEST(StreamUpload, ExtraBytesAreAnErrorNotAFinishedUpload) {
  TestServer server({stream_service()});
  auto fd = connect_tcp_blocking(server.address("stream"));
  send_all(fd.get(), "UPLOAD 4\nabcdef");
  EXPECT_EQ(recv_line(fd.get()), "ERROR more than the declared 4 bytes received\n");
  ASSERT_TRUE(server.log().wait_for(LogEvent::kUploadIncomplete));
  ASSERT_TRUE(server.wait_for_io());
  EXPECT_TRUE(files_ending(server, ".incomplete").size() == 1u);
}

// A body is read in batches (SO_RCVLOWAT, StreamUploadSession::kInputBatch):
// a client that trickles bytes below one batch is still sending, not idle.
TEST(StreamUpload, ASlowSenderBelowOneBatchIsNotIdle) {
  auto service = stream_service();
  service.idle_timeout = std::chrono::milliseconds(200);
  TestServer server({service});
  const std::string data = random_bytes(64 << 10, 5);
  auto fd = connect_tcp_blocking(server.address("stream"));
  send_all(fd.get(), "UPLOAD " + std::to_string(data.size()) + "\n");
  // 1 KiB every 25 ms for 1 s: five idle timeouts, all below one batch.
  constexpr size_t kTrickle = 40 << 10;
  for (size_t at = 0; at < kTrickle; at += 1024) {
    send_all(fd.get(), std::string_view(data).substr(at, 1024));
    std::this_thread::sleep_for(std::chrono::milliseconds(25));  // the pace under test
  }
  send_all(fd.get(), std::string_view(data).substr(kTrickle));
  EXPECT_EQ(recv_line(fd.get()),
            "OK " + std::to_string(data.size()) + " sha256=" + sha256_of(data) + "\n");
}

// ... and one whose bytes stopped coming, below one batch, is idle.
TEST(StreamUpload, ASenderThatStopsBelowOneBatchTimesOut) {
  auto service = stream_service();
  service.idle_timeout = std::chrono::milliseconds(200);
  TestServer server({service});
  auto fd = connect_tcp_blocking(server.address("stream"));
  send_all(fd.get(), "UPLOAD 1000000\n");
  send_all(fd.get(), random_bytes(10'000, 6));
  EXPECT_TRUE(peer_closed(fd.get()));
  ASSERT_TRUE(server.log().wait_for(LogEvent::kUploadIncomplete));
  ASSERT_TRUE(server.wait_for_io());
  const auto incomplete = files_ending(server, ".incomplete");
  ASSERT_EQ(incomplete.size(), 1u);
  EXPECT_EQ(read_file(server.upload_dir() + "/" + incomplete[0]).size(), 10'000u);
}

}  // namespace
}  // namespace socketd::test
