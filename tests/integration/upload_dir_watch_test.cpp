// The upload directory deleted and recreated under a running Server: the
// watch's check runs on an I/O thread and its completion on the loop (this is
// the suite ThreadSanitizer runs), the warning names the directory, and the
// recreated directory takes uploads again without a reload.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/loopback.hpp"
#include "support/test_bytes.hpp"
#include "support/test_server.hpp"

namespace socketd::test {
namespace {

namespace fs = std::filesystem;

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool logged(TestServer& server, std::string_view text) {
  return eventually([&] {
    for (const auto& r : server.log().records()) {
      if (r.message.find(text) != std::string::npos) return true;
    }
    return false;
  });
}

TEST(UploadDirWatch, DeletedDirectoryIsReportedAndTheRecreatedOneTakesUploads) {
  auto service = make_service("stream", Mode::kStreamUpload);
  service.min_free_bytes = 0;
  TestServer server({service});
  const std::string dir = server.upload_dir();
  ASSERT_TRUE(fs::is_directory(dir));

  fs::remove_all(dir);
  ASSERT_TRUE(logged(server, "upload directory " + dir + " is gone"));
  EXPECT_FALSE(fs::exists(dir)) << "recreated by socketd";
  fs::create_directory(dir);
  ASSERT_TRUE(logged(server, "upload directory " + dir + " exists again"));

  const std::string data = random_bytes(4096, 3);
  auto fd = connect_tcp_blocking(server.address("stream"));
  send_all(fd.get(), "UPLOAD " + std::to_string(data.size()) + "\n");
  send_all(fd.get(), data);
  EXPECT_EQ(recv_until_eof(fd.get()), "OK 4096 sha256=" + sha256_of(data) + "\n");
  ASSERT_TRUE(server.log().wait_for(LogEvent::kUploadFinished));
  const auto files = server.upload_files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(contents(dir + "/" + files[0]) == data);
}

}  // namespace
}  // namespace socketd::test
