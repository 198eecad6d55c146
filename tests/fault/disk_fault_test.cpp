// The upload directory fails under a running socketd: the file system fills
// up mid-upload (ENOSPC from write()), or becomes read-only. The sender must
// get an "error: ..." reply instead of "success", the partial file must stay
// "*.incomplete" (never a finished name), and the daemon must keep serving.
// The upload directory is a small tmpfs in a private mount namespace.
#include <sys/stat.h>

#include <algorithm>

#include "fault_support.hpp"

namespace socketd::test {
namespace {

class DiskFaults : public DaemonTest {
 protected:
  void SetUp() override {
    if (!ns_.unavailable().empty()) GTEST_SKIP() << ns_.unavailable();
    ASSERT_EQ(::mkdir(mnt().c_str(), 0755), 0) << std::strerror(errno);
    const auto ec = ns_.run([&] { return mount_tmpfs(mnt(), size_); });
    if (ec == std::errc::operation_not_permitted) GTEST_SKIP() << "mount tmpfs: " << ec.message();
    ASSERT_FALSE(ec) << "mount tmpfs on " << mnt() << ": " << ec.message();
  }

  std::string mnt() const { return dir_.file("mnt"); }
  std::string uploads() const { return mnt() + "/uploads"; }

  // Upload service (with `upload_extra` keys) and a chat service, uploads in
  // the tmpfs; started from inside the namespace. Returns {upload, chat}.
  std::pair<uint16_t, uint16_t> start_in_namespace(std::string_view upload_extra = "") {
    const std::string toml = "[daemon]\nupload_dir = \"" + uploads() + "\"\n\n" +
                             service("upload", "upload", "127.0.0.1:0") +
                             std::string(upload_extra) + "\n" +
                             chat_service("chat", "127.0.0.1:0", "hi");
    auto ports = ns_.run([&] { return start(toml); });
    return {ports["upload/tcp"], ports["chat/tcp"]};
  }

  // Listings and file contents as the daemon sees them (inside the tmpfs).
  std::vector<std::string> in_uploads(bool (*keep)(const std::string&)) {
    return ns_.run([&] { return names_where(uploads(), keep); });
  }
  std::string upload_content(const std::string& name) {
    return ns_.run([&] { return read_file(uploads() + "/" + name); });
  }

  // The daemon still serves chat, and a small upload end to end, with the
  // durable acknowledgement, arriving byte-identical.
  void expect_still_serving(uint16_t upload_port, uint16_t chat_port) {
    Fd talker = connect_port(chat_port);
    ASSERT_TRUE(talker);
    EXPECT_EQ(recv_exact(talker.get(), 2), "hi");
    EXPECT_EQ(chat(talker.get(), "still there?"), "still there?777");

    const auto before = in_uploads(is_finished);
    const std::string small = "a small file\nafter the fault\n";
    Fd sender = connect_port(upload_port);
    ASSERT_TRUE(sender);
    const SendOutcome sent = classic_send_lines(sender.get(), small);
    ASSERT_FALSE(sent.refusal) << "small upload refused: '" << *sent.refusal << "'";
    ASSERT_TRUE(sent.quit_sent);
    EXPECT_EQ(recv_exact(sender.get(), 7), "success") << "no durable acknowledgement";
    const auto after = in_uploads(is_finished);
    ASSERT_EQ(after.size(), before.size() + 1);
    for (const auto& name : after) {
      if (std::find(before.begin(), before.end(), name) == before.end()) {
        EXPECT_EQ(upload_content(name), small);
      }
    }
  }

  // After a refused upload: exactly one "*.incomplete" holding a prefix of
  // what was sent (at least every acknowledged byte), nothing finished, no
  // ".part" left behind. Returns its name.
  std::string expect_kept_incomplete(const std::string& sent, size_t acked_bytes) {
    EXPECT_TRUE(eventually([&] { return in_uploads(is_incomplete).size() == 1; }))
        << "no single *.incomplete in " << uploads();
    EXPECT_TRUE(in_uploads(is_finished).empty()) << "a broken upload is presented as finished";
    EXPECT_TRUE(in_uploads(is_part).empty());
    const auto incomplete = in_uploads(is_incomplete);
    if (incomplete.size() != 1) return {};
    const std::string kept = upload_content(incomplete[0]);
    EXPECT_GE(kept.size(), acked_bytes) << "acknowledged bytes are missing";
    EXPECT_TRUE(sent.compare(0, kept.size(), kept) == 0) << "kept bytes are not what was sent";
    return incomplete[0];
  }

  MountNamespace ns_;
  std::string size_ = "1m";
};

TEST_F(DiskFaults, DiskFullMidUploadRepliesErrorKeepsIncompleteAndServes) {
  // min_free_bytes = 0: no free-space floor, so ENOSPC comes from write().
  const auto [upload_port, chat_port] = start_in_namespace("min_free_bytes = 0\n");
  ASSERT_NE(upload_port, 0);
  ASSERT_NE(chat_port, 0);

  const std::string content = lines_of(2u << 20, 1000, "disk-full");  // twice the tmpfs
  Fd sender = connect_port(upload_port);
  ASSERT_TRUE(sender);
  const SendOutcome sent = classic_send_lines(sender.get(), content);
  ASSERT_TRUE(sent.refusal) << "2 MiB acknowledged on a 1 MiB file system";
  EXPECT_TRUE(sent.refusal->starts_with("error: ")) << "'" << *sent.refusal << "'";
  EXPECT_NE(sent.refusal->find("No space left on device"), std::string::npos) << *sent.refusal;
  EXPECT_FALSE(sent.quit_sent);
  EXPECT_GT(sent.acked_bytes, 0u);
  EXPECT_LE(sent.acked_bytes, 1u << 20);
  EXPECT_TRUE(peer_closed(sender.get())) << "the refused upload's connection stays open";

  const std::string kept = expect_kept_incomplete(content, sent.acked_bytes);
  EXPECT_TRUE(daemon_.wait_stderr("upload " + kept + " incomplete, "));
  EXPECT_TRUE(daemon_.wait_stderr("No space left on device"));
  ASSERT_TRUE(daemon_.running());

  // Make room and use the daemon again.
  ASSERT_EQ(ns_.run([&] { return ::unlink((uploads() + "/" + kept).c_str()); }), 0);
  expect_still_serving(upload_port, chat_port);
  EXPECT_TRUE(daemon_.running());
}

class DiskFilledByOthers : public DiskFaults {
 protected:
  // Room enough for the default free-space floor (64 MiB) at the start.
  DiskFilledByOthers() { size_ = "80m"; }

  // Another writer takes every free block (on the namespace thread).
  std::error_code fill(const std::string& path) {
    Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!f) return last_error();
    const std::string block(1u << 20, 'F');
    for (;;) {
      const ssize_t n = ::write(f.get(), block.data(), block.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno == ENOSPC ? std::error_code{} : last_error();
    }
  }
};

TEST_F(DiskFilledByOthers, DiskFilledMidUploadRepliesErrorKeepsIncompleteAndServes) {
  // The default configuration: the free-space floor passes when the upload
  // starts, then another writer fills the disk and write() meets ENOSPC.
  const auto [upload_port, chat_port] = start_in_namespace();
  ASSERT_NE(upload_port, 0);
  ASSERT_NE(chat_port, 0);
  const std::string content = lines_of(1u << 20, 1000, "filled");
  const size_t half = 200 * 1000;  // whole lines
  Fd sender = connect_port(upload_port);
  ASSERT_TRUE(sender);
  const SendOutcome first = classic_send_lines(sender.get(), content.substr(0, half), false);
  ASSERT_FALSE(first.refusal) << "refused before the disk filled: '" << *first.refusal << "'";

  const std::string filler = mnt() + "/filler";
  const auto ec = ns_.run([&] { return fill(filler); });
  ASSERT_FALSE(ec) << "filling the tmpfs: " << ec.message();

  const SendOutcome rest = classic_send_lines(sender.get(), content.substr(half));
  ASSERT_TRUE(rest.refusal) << "every line acknowledged on a full file system";
  EXPECT_TRUE(rest.refusal->starts_with("error: ")) << "'" << *rest.refusal << "'";
  EXPECT_NE(rest.refusal->find("No space left on device"), std::string::npos) << *rest.refusal;
  EXPECT_FALSE(rest.quit_sent);
  EXPECT_TRUE(peer_closed(sender.get())) << "the refused upload's connection stays open";

  const std::string kept = expect_kept_incomplete(content, half + rest.acked_bytes);
  EXPECT_TRUE(daemon_.wait_stderr("upload " + kept + " incomplete, "));
  ASSERT_TRUE(daemon_.running());

  ASSERT_EQ(ns_.run([&] { return ::unlink(filler.c_str()); }), 0);
  ASSERT_EQ(ns_.run([&] { return ::unlink((uploads() + "/" + kept).c_str()); }), 0);
  expect_still_serving(upload_port, chat_port);
  EXPECT_TRUE(daemon_.running());
}

class ReadOnlyUploads : public DiskFaults {
 protected:
  // Room enough for the default free-space floor: the failure must be EROFS.
  ReadOnlyUploads() { size_ = "128m"; }
};

TEST_F(ReadOnlyUploads, ReadOnlyUploadDirRepliesErrorAndServes) {
  const auto [upload_port, chat_port] = start_in_namespace();
  ASSERT_NE(upload_port, 0);
  ASSERT_NE(chat_port, 0);
  {
    Fd sender = connect_port(upload_port);
    ASSERT_TRUE(sender);
    const SendOutcome sent = classic_send_lines(sender.get(), "while writable\n");
    ASSERT_FALSE(sent.refusal) << *sent.refusal;
    EXPECT_EQ(recv_exact(sender.get(), 7), "success");
  }
  const auto files_before = ns_.run([&] { return list_dir(uploads()); });
  ASSERT_EQ(files_before.size(), 1u);

  // Read-only under the running daemon (which holds the directory open).
  auto ec = ns_.run([&] { return remount(mnt(), true); });
  ASSERT_FALSE(ec) << "read-only remount: " << ec.message();
  ASSERT_NE(ns_.run([&] { return ::access(uploads().c_str(), W_OK); }), 0)
      << "still writable after the read-only remount";

  for (int attempt = 0; attempt < 2; ++attempt) {  // and a second client likewise
    Fd sender = connect_port(upload_port);
    ASSERT_TRUE(sender);
    const SendOutcome sent = classic_send_lines(sender.get(), "first line\nsecond line\n");
    ASSERT_TRUE(sent.refusal) << "upload acknowledged on a read-only file system";
    EXPECT_TRUE(sent.refusal->starts_with("error: ")) << "'" << *sent.refusal << "'";
    EXPECT_NE(sent.refusal->find("Read-only file system"), std::string::npos) << *sent.refusal;
    EXPECT_EQ(sent.acked_bytes, 0u);
    EXPECT_TRUE(peer_closed(sender.get())) << "the refused upload's connection stays open";
  }
  EXPECT_EQ(ns_.run([&] { return list_dir(uploads()); }), files_before);
  ASSERT_TRUE(daemon_.running());

  Fd talker = connect_port(chat_port);
  ASSERT_TRUE(talker);
  EXPECT_EQ(recv_exact(talker.get(), 2), "hi");
  EXPECT_EQ(chat(talker.get(), "read-only disk"), "read-only disk777");

  // Writable again: uploads work again, without a restart.
  ec = ns_.run([&] { return remount(mnt(), false); });
  ASSERT_FALSE(ec) << "read-write remount: " << ec.message();
  expect_still_serving(upload_port, chat_port);
}

}  // namespace
}  // namespace socketd::test
