// Uploads through the process, as the classic file sender does them: one
// line per send(), wait for "success", then "quit" without reading. The file
// must arrive byte-identical; a sender killed mid-way leaves *.incomplete.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "process_fixture.hpp"
#include "support/classic_sender.hpp"

namespace socketd::test {
namespace {

// What a finished upload is called: not hidden (".NAME.part") and not
// "NAME.incomplete".
bool finished_name(const std::string& name) {
  return !name.starts_with(".") && !name.ends_with(".incomplete");
}

std::vector<std::string> with_suffix(const std::string& dir, std::string_view suffix) {
  std::vector<std::string> out;
  for (const auto& name : list_dir(dir)) {
    if (name.ends_with(suffix)) out.push_back(name);
  }
  return out;
}

std::vector<std::string> finished(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& name : list_dir(dir)) {
    if (finished_name(name)) out.push_back(name);
  }
  return out;
}

// The classic sender (support/classic_sender.hpp). Returns false if an ack
// was not exactly "success".
bool classic_send(int fd, std::string_view content) {
  const SendOutcome out = classic_send_lines(fd, content);
  if (out.refusal) {
    ADD_FAILURE() << "ack after " << out.acked_lines << " lines: '" << *out.refusal << "'";
    return false;
  }
  return out.quit_sent;
}

std::string sample_file() {
  std::string text;
  text += "first line\n";
  text += "\n";  // an empty line is one byte: "\n"
  text += "windows line ending\r\n";
  text += "tabs\tand spaces   \n";
  text += "utf-8: \xc3\xa9\xc3\xa0\xe2\x82\xac\n";
  text += "quit is only special alone: quit\n";
  text += "success\n";
  for (int i = 0; i < 300; ++i) {
    text += "line " + std::to_string(i) + ": " + std::string(static_cast<size_t>(i % 200), 'x') + "\n";
  }
  text += std::string(900, 'L') + "\n";  // long, but within one recv(1024) of the sender
  text += "last line without a newline";
  return text;
}

class ProcessUpload : public DaemonTest {
 protected:
  std::string uploads() const { return dir_.file("uploads"); }
  uint16_t start_upload() {
    auto ports = start(daemon_table() + service("upload", "upload", "127.0.0.1:0"));
    return ports["upload/tcp"];
  }
};

TEST_F(ProcessUpload, ClassicSenderArrivesByteIdentical) {
  const uint16_t port = start_upload();
  ASSERT_NE(port, 0);
  const std::string content = sample_file();
  {
    Fd sender = connect_port(port);
    ASSERT_TRUE(sender);
    ASSERT_TRUE(classic_send(sender.get(), content));
  }  // and exit without reading the durable acknowledgement

  ASSERT_TRUE(eventually([&] { return finished(uploads()).size() == 1; }))
      << "no finished upload in " << uploads() << "; stderr:\n" << daemon_.stderr_text();
  const auto names = finished(uploads());
  const std::string got = read_file(uploads() + "/" + names[0]);
  EXPECT_EQ(got.size(), content.size());
  EXPECT_TRUE(got == content) << "upload differs from what was sent";
  EXPECT_TRUE(with_suffix(uploads(), ".incomplete").empty());
  EXPECT_TRUE(daemon_.wait_stderr("upload: upload " + names[0] + " finished, " +
                                  std::to_string(content.size()) + " bytes"));
}

TEST_F(ProcessUpload, EachConnectionIsItsOwnFile) {
  const uint16_t port = start_upload();
  ASSERT_NE(port, 0);
  const std::vector<std::string> contents = {"one\n", "two\ntwo\n", "three\nthree\nthree\n"};
  for (const auto& c : contents) {
    Fd sender = connect_port(port);
    ASSERT_TRUE(sender);
    ASSERT_TRUE(classic_send(sender.get(), c));
    // A tool that cares waits for the durable acknowledgement.
    EXPECT_EQ(recv_exact(sender.get(), 7), "success");
  }
  const auto names = finished(uploads());
  ASSERT_EQ(names.size(), 3u);
  std::vector<std::string> got;
  for (const auto& n : names) got.push_back(read_file(uploads() + "/" + n));
  std::sort(got.begin(), got.end());
  auto want = contents;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

TEST_F(ProcessUpload, KilledSenderLeavesAnIncompleteFile) {
  const uint16_t port = start_upload();
  ASSERT_NE(port, 0);
  Fd sender = connect_port(port);
  ASSERT_TRUE(sender);
  // Everything the sender process needs is prepared before fork: it only
  // makes syscalls afterwards (this test process has threads).
  const std::string line = "a line the sender repeats until it is killed\n";
  const int fd = sender.get();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char ack[1024];
    for (;;) {
      if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) < 0) ::_exit(1);
      if (::recv(fd, ack, sizeof ack, 0) <= 0) ::_exit(1);
    }
  }
  sender = Fd();  // the child holds the only descriptor now

  // Let it get some way into the upload.
  const bool underway = eventually([&] {
    for (const auto& name : with_suffix(uploads(), ".part")) {
      if (read_file(uploads() + "/" + name).size() >= 20 * line.size()) return true;
    }
    return false;
  });
  ::kill(child, SIGKILL);
  int raw = 0;
  ASSERT_EQ(::waitpid(child, &raw, 0), child);
  ASSERT_TRUE(underway) << "the upload never started: " << daemon_.stderr_text();

  ASSERT_TRUE(eventually([&] { return with_suffix(uploads(), ".incomplete").size() == 1; }))
      << "no *.incomplete after the sender died";
  EXPECT_TRUE(finished(uploads()).empty()) << "a broken upload is presented as finished";
  EXPECT_TRUE(with_suffix(uploads(), ".part").empty());
  const auto name = with_suffix(uploads(), ".incomplete")[0];
  const std::string kept = read_file(uploads() + "/" + name);
  EXPECT_GE(kept.size(), 20 * line.size());
  EXPECT_EQ(kept.size() % line.size(), 0u) << "only whole lines were acknowledged and sent";
  EXPECT_TRUE(daemon_.wait_stderr(" incomplete, "));
}

TEST_F(ProcessUpload, OpenUploadIsKeptIncompleteWhenTheDaemonStops) {
  const uint16_t port = start(daemon_table("drain_timeout = \"200ms\"\n") +
                              service("upload", "upload", "127.0.0.1:0"))["upload/tcp"];
  ASSERT_NE(port, 0);
  Fd sender = connect_port(port);
  ASSERT_TRUE(sender);
  send_all(sender.get(), "half of a file\n");
  EXPECT_EQ(recv_once(sender.get()), "success");
  ASSERT_TRUE(daemon_.signal(SIGTERM));
  auto status = daemon_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << describe(*status);
  EXPECT_TRUE(finished(uploads()).empty());
  const auto incomplete = with_suffix(uploads(), ".incomplete");
  ASSERT_EQ(incomplete.size(), 1u);
  EXPECT_EQ(read_file(uploads() + "/" + incomplete[0]), "half of a file\n");
}

}  // namespace
}  // namespace socketd::test
