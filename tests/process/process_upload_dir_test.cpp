// The upload directory as the processes see it: leftover recovery renames
// only ".part" files nobody holds locked (a live upload of this socketd or of
// another one on the same directory keeps its flock), a store is the
// directory's identity (a reload spelling it differently keeps it; A -> B -> A
// recovers A again; a deleted and recreated directory is picked up on reload).
//
// Recovery runs on an I/O thread and logs only when it found something, so
// each test seeds a leftover before a store opens and waits for that log line:
// it proves the recovery ran and finished, and nothing has to be waited for
// by time.
#include <fcntl.h>
#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "process_fixture.hpp"
#include "support/test_bytes.hpp"

namespace socketd::test {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMiB = 1u << 20;
constexpr size_t kUploadBytes = 3 * kMiB;



// A crashed upload's file: a ".NAME.part" nobody holds locked.
void make_leftover(const std::string& dir, const std::string& name) {
  std::ofstream out(dir + "/." + name + ".part", std::ios::binary);
  out << "bytes of an upload that was cut off by a crash\n";
}

bool exists(const std::string& path) { return fs::exists(fs::symlink_status(path)); }

// Hidden ".part" files in `dir` other than `leftover` names (".NAME.part").
std::vector<std::string> live_parts(const std::string& dir,
                                    const std::vector<std::string>& leftovers = {}) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& name : list_dir(dir)) {
    if (!name.starts_with(".") || !name.ends_with(".part")) continue;
    bool is_leftover = false;
    for (const auto& l : leftovers) is_leftover = is_leftover || name == "." + l + ".part";
    if (!is_leftover) out.push_back(name);
  }
  return out;
}

// Finished uploads: neither hidden nor "*.incomplete".
std::vector<std::string> finished(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& name : list_dir(dir)) {
    if (!name.starts_with(".") && !name.ends_with(".incomplete")) out.push_back(name);
  }
  return out;
}

std::string recovered_line(const std::string& dir, size_t n) {
  return "upload directory " + dir + ": " + std::to_string(n) +
         " interrupted upload(s) from an earlier run kept as *.incomplete";
}

// Waits for the next recovery report in `daemon`'s log after `from` and
// checks it is `dir` with `n` leftovers (any count ends the wait, so a wrong
// one fails at once and shows itself).
::testing::AssertionResult recovered(DaemonProcess& daemon, const std::string& dir, size_t n,
                                     size_t from = 0) {
  const auto line = daemon.wait_stderr(" interrupted upload(s) from an earlier run",
                                       kProcessDeadline, from);
  if (!line) return ::testing::AssertionFailure() << "no recovery report in the log";
  if (line->find(recovered_line(dir, n)) == std::string::npos) {
    return ::testing::AssertionFailure() << "recovery report '" << *line << "', expected '"
                                         << recovered_line(dir, n) << "'";
  }
  return ::testing::AssertionSuccess();
}

// One stream upload, sent in two parts so that the test can act while it is
// in progress.
class StreamUploadClient {
 public:
  explicit StreamUploadClient(std::string content) : content_(std::move(content)) {}

  // Connects, sends the header and the first `bytes` of the content.
  bool begin(uint16_t port, size_t bytes) {
    fd_ = connect_port(port);
    if (!fd_) return false;
    send_all(fd_.get(), "UPLOAD " + std::to_string(content_.size()) + "\n");
    send_all(fd_.get(), std::string_view(content_).substr(0, bytes));
    sent_ = bytes;
    return true;
  }
  // Sends the rest and returns the server's whole reply (it closes after it).
  std::string finish() {
    send_all(fd_.get(), std::string_view(content_).substr(sent_));
    sent_ = content_.size();
    return recv_until_eof(fd_.get());
  }
  std::string expected_reply() const {
    return "OK " + std::to_string(content_.size()) + " sha256=" + sha256_of(content_) + "\n";
  }
  const std::string& content() const { return content_; }

 private:
  std::string content_;
  Fd fd_;
  size_t sent_ = 0;
};

// One whole upload; the reply.
std::string upload_once(uint16_t port, std::string_view content) {
  Fd fd = connect_port(port);
  if (!fd) return "(connect failed)";
  send_all(fd.get(), "UPLOAD " + std::to_string(content.size()) + "\n");
  send_all(fd.get(), content);
  return recv_until_eof(fd.get());
}

class ProcessUploadDir : public DaemonTest {
 protected:
  std::string dir_a() const { return dir_.file("uploads-a"); }
  std::string dir_b() const { return dir_.file("uploads-b"); }

  static std::string config_for(const std::string& upload_dir) {
    return "[daemon]\nupload_dir = \"" + upload_dir + "\"\n\n" +
           service("up", "stream-upload", "127.0.0.1:0");
  }

  // Starts on `upload_dir` with a seeded leftover and waits until the start's
  // recovery has kept it: nothing the test puts there later was seen by it.
  uint16_t start_recovered(const std::string& upload_dir) {
    fs::create_directories(upload_dir);
    make_leftover(upload_dir, "seed-start");
    const uint16_t port = start(config_for(upload_dir))["up/tcp"];
    if (port == 0) return 0;
    const auto seen = recovered(daemon_, upload_dir, 1);
    if (!seen) {
      ADD_FAILURE() << "the start's recovery: " << seen.message();
      return 0;
    }
    EXPECT_TRUE(exists(upload_dir + "/seed-start.incomplete"));
    return port;
  }

  // Waits for the one ".part" of the upload in progress (not a leftover).
  std::string wait_live_part(const std::string& dir, const std::vector<std::string>& leftovers) {
    if (!eventually([&] { return live_parts(dir, leftovers).size() == 1; })) {
      ADD_FAILURE() << "no .part for the upload in progress in " << dir;
      return {};
    }
    return live_parts(dir, leftovers)[0];
  }

  void expect_finished_file(const std::string& dir, const std::string& content) {
    const auto names = finished(dir);
    ASSERT_EQ(names.size(), 1u) << "finished uploads in " << dir;
    const std::string got = read_file(dir + "/" + names[0]);
    EXPECT_EQ(got.size(), content.size());
    EXPECT_TRUE(got == content) << "the stored file differs from what was sent";
  }

  void TearDown() override {
    DaemonTest::TearDown();
    if (HasFailure() && other_.pid() > 0) {
      std::cerr << "---- second socketd stderr ----\n"
                << other_.stderr_text() << "-------------------------------\n";
    }
  }

  DaemonProcess other_;
  NotifySocket other_notify_;
};

TEST_F(ProcessUploadDir, TwoInstancesShareOneDirectory) {
  const std::string dir = dir_a();
  const uint16_t port_a = start_recovered(dir);
  ASSERT_NE(port_a, 0);

  StreamUploadClient upload(random_bytes(kUploadBytes, 1));
  ASSERT_TRUE(upload.begin(port_a, kMiB));
  const std::string part = wait_live_part(dir, {});
  ASSERT_FALSE(part.empty());
  make_leftover(dir, "upload-old");

  // B: another socketd on the same directory, another port.
  const std::string config_b = dir_.write("b.toml", config_for(dir));
  DaemonOptions options_b = options();
  options_b.env.erase("NOTIFY_SOCKET");
  options_b.env.insert(other_notify_.env());
  ASSERT_TRUE(other_.start_with_config(config_b, options_b));
  ASSERT_TRUE(other_notify_.wait_for("READY=1"));
  const uint16_t port_b = other_.wait_started()["up/tcp"];
  ASSERT_NE(port_b, 0);
  EXPECT_NE(port_b, port_a);
  // Only the unlocked leftover: A's live ".part" is held locked.
  EXPECT_TRUE(recovered(other_, dir, 1));

  EXPECT_TRUE(exists(dir + "/upload-old.incomplete"));
  EXPECT_FALSE(exists(dir + "/.upload-old.part"));
  EXPECT_TRUE(exists(dir + "/" + part)) << "B's recovery took A's live upload";
  const std::string name = part.substr(1, part.size() - 1 - std::string_view(".part").size());
  EXPECT_FALSE(exists(dir + "/" + name + ".incomplete")) << "B's recovery took A's live upload";

  EXPECT_EQ(upload.finish(), upload.expected_reply());
  EXPECT_FALSE(exists(dir + "/" + part));
  expect_finished_file(dir, upload.content());
  EXPECT_TRUE(exists(dir + "/" + name)) << "the finished file is not the live upload's";

  ASSERT_TRUE(other_.signal(SIGTERM));
  auto status = other_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << describe(*status);
}

TEST_F(ProcessUploadDir, ReloadWithTheSameDirectorySpelledDifferently) {
  const std::string dir = dir_a();
  const uint16_t port = start_recovered(dir);
  ASSERT_NE(port, 0);

  StreamUploadClient upload(random_bytes(kUploadBytes, 2));
  ASSERT_TRUE(upload.begin(port, kMiB));
  const std::string part = wait_live_part(dir, {});
  ASSERT_FALSE(part.empty());
  make_leftover(dir, "upload-old");

  write_config(config_for(dir + "/"));
  const size_t mark = daemon_.stderr_size();
  ASSERT_TRUE(reload()) << daemon_.stderr_text();
  EXPECT_TRUE(daemon_.wait_stderr("reloaded 1 services", kProcessDeadline, mark));

  // The rest of the upload (writes, fsync, rename) goes through the I/O
  // threads after any recovery the reload would have started: by the reply,
  // such a recovery (a scan of three names) would long be done.
  EXPECT_EQ(upload.finish(), upload.expected_reply());
  expect_finished_file(dir, upload.content());
  EXPECT_TRUE(exists(dir + "/.upload-old.part")) << "the reload ran a recovery: a new store";
  EXPECT_FALSE(exists(dir + "/upload-old.incomplete"));
  EXPECT_EQ(daemon_.stderr_text().find("interrupted upload", mark), std::string::npos);

  // New uploads go to the same directory.
  const std::string more = random_bytes(1000, 3);
  EXPECT_EQ(upload_once(port, more), "OK 1000 sha256=" + sha256_of(more) + "\n");
  EXPECT_EQ(finished(dir).size(), 2u);
}

TEST_F(ProcessUploadDir, ReloadAToBToA) {
  const std::string a = dir_a();
  const std::string b = dir_b();
  const uint16_t port = start_recovered(a);
  ASSERT_NE(port, 0);

  StreamUploadClient upload(random_bytes(kUploadBytes, 4));
  ASSERT_TRUE(upload.begin(port, kMiB));
  const std::string part = wait_live_part(a, {});
  ASSERT_FALSE(part.empty());

  // To B: a new store, recovered (the seed says when that is done).
  fs::create_directories(b);
  make_leftover(b, "seed-b");
  write_config(config_for(b));
  size_t mark = daemon_.stderr_size();
  ASSERT_TRUE(reload()) << daemon_.stderr_text();
  ASSERT_TRUE(recovered(daemon_, b, 1, mark));
  EXPECT_TRUE(exists(b + "/seed-b.incomplete"));

  // Back to A: a new store for A again, so A is recovered again; the live
  // upload holds its ".part" locked and is left alone.
  make_leftover(a, "upload-old");
  write_config(config_for(a));
  mark = daemon_.stderr_size();
  ASSERT_TRUE(reload()) << daemon_.stderr_text();
  EXPECT_TRUE(recovered(daemon_, a, 1, mark));
  EXPECT_TRUE(exists(a + "/upload-old.incomplete"));
  EXPECT_FALSE(exists(a + "/.upload-old.part"));
  EXPECT_TRUE(exists(a + "/" + part)) << "the recovery took the live upload";

  EXPECT_EQ(upload.finish(), upload.expected_reply());
  expect_finished_file(a, upload.content());
  EXPECT_TRUE(finished(b).empty()) << "the upload begun in A ended up in B";
  EXPECT_TRUE(live_parts(a).empty());
  EXPECT_TRUE(live_parts(b).empty());
}

TEST_F(ProcessUploadDir, DeletedAndRecreatedDirectoryIsPickedUpOnReload) {
  const std::string dir = dir_a();
  const uint16_t port = start_recovered(dir);
  ASSERT_NE(port, 0);

  fs::remove_all(dir);
  ASSERT_FALSE(exists(dir));
  {
    // Only the header: the refusal must not be lost to a reset caused by
    // unread data.
    Fd fd = connect_port(port);
    ASSERT_TRUE(fd);
    send_all(fd.get(), "UPLOAD 5\n");
    const std::string reply = recv_until_eof(fd.get());
    EXPECT_TRUE(reply.starts_with("ERROR ") && reply.ends_with("\n"))
        << "reply to an upload into a deleted directory: '" << reply << "'";
  }
  EXPECT_FALSE(exists(dir)) << "recreated before the reload";

  const size_t mark = daemon_.stderr_size();
  ASSERT_TRUE(reload()) << daemon_.stderr_text();
  EXPECT_TRUE(daemon_.wait_stderr("reloaded 1 services", kProcessDeadline, mark));
  EXPECT_TRUE(fs::is_directory(dir)) << "the reload did not recreate the upload directory";

  const std::string content = random_bytes(5000, 5);
  EXPECT_EQ(upload_once(port, content), "OK 5000 sha256=" + sha256_of(content) + "\n");
  expect_finished_file(dir, content);
}

// Without a reload: socketd notices the directory is gone (an I/O job looks
// every 2 s), says which one and what to do, and takes it up once it exists
// again. It does not make it itself (an unmounted mount point must stay empty).
TEST_F(ProcessUploadDir, DeletedDirectoryIsReportedAndPickedUpWhenRecreated) {
  const std::string dir = dir_a();
  const uint16_t port = start_recovered(dir);
  ASSERT_NE(port, 0);

  const size_t mark = daemon_.stderr_size();
  fs::remove_all(dir);
  const auto hint =
      daemon_.wait_stderr("upload directory " + dir + " is gone", kProcessDeadline, mark);
  ASSERT_TRUE(hint) << "no hint that the upload directory is gone";
  EXPECT_NE(hint->find("mkdir -p " + dir), std::string::npos) << *hint;
  EXPECT_NE(hint->find("reload"), std::string::npos) << *hint;
  EXPECT_NE(hint->find("new uploads fail"), std::string::npos) << *hint;
  {
    Fd fd = connect_port(port);
    ASSERT_TRUE(fd);
    send_all(fd.get(), "UPLOAD 5\n");
    const std::string reply = recv_until_eof(fd.get());
    EXPECT_TRUE(reply.starts_with("ERROR "))
        << "reply while the directory is gone: '" << reply << "'";
  }
  EXPECT_FALSE(exists(dir)) << "socketd recreated the directory on its own";

  const size_t before_mkdir = daemon_.stderr_size();
  fs::create_directory(dir);
  ASSERT_TRUE(daemon_.wait_stderr("upload directory " + dir + " exists again", kProcessDeadline,
                                  before_mkdir))
      << "the recreated directory was not picked up";
  const std::string content = random_bytes(5000, 6);
  EXPECT_EQ(upload_once(port, content), "OK 5000 sha256=" + sha256_of(content) + "\n");
  expect_finished_file(dir, content);
  EXPECT_EQ(daemon_.stderr_text().find("reloaded", mark), std::string::npos)
      << "picked up by a reload, not by the watch";
  // Reported once, not at every check.
  const std::string log = daemon_.stderr_text();
  EXPECT_EQ(log.find(" is gone", log.find(" is gone", mark) + 1), std::string::npos);
}

// Another directory put in its place (atomically, RENAME_EXCHANGE): new
// uploads go to the directory now at the configured path.
TEST_F(ProcessUploadDir, ReplacedDirectoryIsTakenUp) {
  const std::string dir = dir_a();
  const uint16_t port = start_recovered(dir);
  ASSERT_NE(port, 0);
  const std::string other = dir_b();
  fs::create_directories(other);

  const size_t mark = daemon_.stderr_size();
  ASSERT_EQ(::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, other.c_str(), RENAME_EXCHANGE), 0)
      << std::strerror(errno);
  ASSERT_TRUE(
      daemon_.wait_stderr("upload directory " + dir + " was replaced", kProcessDeadline, mark))
      << "the replacement was not noticed";
  const std::string content = random_bytes(7000, 7);
  EXPECT_EQ(upload_once(port, content), "OK 7000 sha256=" + sha256_of(content) + "\n");
  expect_finished_file(dir, content);
  EXPECT_EQ(finished(other).size(), 0u) << "the upload went into the old directory";
}

}  // namespace
}  // namespace socketd::test
