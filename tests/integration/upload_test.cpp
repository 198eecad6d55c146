// The ack upload protocol end to end: byte-identical files, one file per
// connection, incomplete uploads marked as such.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "support/loopback.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// What the classic file sender does: a line, wait for "success", next line,
// then "quit". Returns false if a reply was not exactly "success".
bool classic_send(int fd, const std::vector<std::string>& lines) {
  for (const auto& line : lines) {
    send_all(fd, line);
    if (recv_once(fd) != "success") return false;
  }
  send_all(fd, "quit");
  return true;
}

std::vector<std::string> random_lines(size_t total_bytes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> length(1, 1000);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<std::string> lines;
  size_t size = 0;
  while (size < total_bytes) {
    std::string line(length(rng), '\0');
    for (auto& c : line) {
      c = static_cast<char>(byte(rng));
      if (c == '\n') c = ' ';
    }
    line.back() = '\n';
    size += line.size();
    lines.push_back(std::move(line));
  }
  return lines;
}

class Upload : public ::testing::Test {
 protected:
  TestServer server_{{make_service("upload", Mode::kUpload)}};
};

TEST_F(Upload, FiftyMegabyteFileArrivesByteIdentical) {
  const auto lines = random_lines(50u << 20, 1);
  std::string expected;
  for (const auto& l : lines) expected += l;
  auto fd = connect_tcp_blocking(server_.address("upload"));
  ASSERT_TRUE(classic_send(fd.get(), lines));
  EXPECT_EQ(recv_once(fd.get()), "success");  // the durable acknowledgement
  EXPECT_TRUE(peer_closed(fd.get()));
  const auto files = server_.upload_files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(files[0].starts_with("upload-"));
  EXPECT_EQ(files[0].find(".incomplete"), std::string::npos);
  const std::string got = read_file(server_.upload_dir() + "/" + files[0]);
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);
  ASSERT_TRUE(server_.log().wait_for(LogEvent::kUploadFinished));
}

TEST_F(Upload, EachConnectionGetsItsOwnFile) {
  std::vector<Fd> clients;
  for (int i = 0; i < 5; ++i) clients.push_back(connect_tcp_blocking(server_.address("upload")));
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < clients.size(); ++i) {
      send_all(clients[i].get(), "client " + std::to_string(i) + " line\n");
      ASSERT_EQ(recv_once(clients[i].get()), "success");
    }
  }
  for (auto& c : clients) {
    send_all(c.get(), "quit");
    ASSERT_EQ(recv_once(c.get()), "success");
  }
  const auto files = server_.upload_files();
  ASSERT_EQ(files.size(), 5u);
  std::set<std::string> contents;
  for (const auto& f : files) contents.insert(read_file(server_.upload_dir() + "/" + f));
  EXPECT_EQ(contents.size(), 5u);
  EXPECT_TRUE(contents.contains("client 3 line\nclient 3 line\nclient 3 line\n"));
}

TEST_F(Upload, DroppedConnectionLeavesAnIncompleteFile) {
  {
    auto fd = connect_tcp_blocking(server_.address("upload"));
    ASSERT_TRUE(classic_send(fd.get(), {"first\n", "second\n"}) || true);
  }
  // classic_send sent "quit" too; do a real cut-off upload:
  auto fd = connect_tcp_blocking(server_.address("upload"));
  send_all(fd.get(), "partial data\n");
  ASSERT_EQ(recv_once(fd.get()), "success");
  fd.reset();
  ASSERT_TRUE(server_.log().wait_for(LogEvent::kUploadIncomplete));
  ASSERT_TRUE(server_.wait_for_io());
  std::vector<std::string> incomplete;
  for (const auto& f : server_.upload_files()) {
    if (f.ends_with(".incomplete")) incomplete.push_back(f);
    EXPECT_FALSE(f.ends_with(".part")) << f;
  }
  ASSERT_EQ(incomplete.size(), 1u);
  EXPECT_EQ(read_file(server_.upload_dir() + "/" + incomplete[0]), "partial data\n");
}

TEST_F(Upload, ResetMidUploadIsKeptAsIncomplete) {
  auto fd = connect_tcp_blocking(server_.address("upload"));
  send_all(fd.get(), "some bytes");
  ASSERT_EQ(recv_once(fd.get()), "success");
  linger hard{1, 0};  // close with RST
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  fd.reset();
  ASSERT_TRUE(server_.log().wait_for(LogEvent::kUploadIncomplete));
  ASSERT_TRUE(server_.wait_for_io());
  const auto files = server_.upload_files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(files[0].ends_with(".incomplete"));
}

}  // namespace
}  // namespace socketd::test
