// UploadStore on real files in a private temporary directory: server-chosen
// names, ".NAME.part" -> "NAME" on commit, "NAME.incomplete" on abandon,
// recover() of leftovers, unique names, and UploadSession driving a real store.
#include "service/upload_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "service/upload.hpp"

namespace socketd {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/socketd-store-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::set<std::string> list(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

std::unique_ptr<UploadStore> open_store(const std::string& dir) {
  auto store = UploadStore::open(dir);
  EXPECT_TRUE(store.ok()) << store.error().message();
  return store.ok() ? std::move(*store) : nullptr;
}

std::error_code append(UploadTarget& target, std::string_view data) {
  return target.append(std::span<const char>(data.data(), data.size()));
}

const std::regex kNamePattern("upload-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}");

TEST(UploadStoreTest, OpenCreatesMissingDirectoriesPrivately) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/a/b/uploads";
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->path(), dir);
  ASSERT_TRUE(fs::is_directory(dir));
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u) << "the upload directory is not world-accessible";
}

TEST(UploadStoreTest, OpenAnExistingDirectory) {
  TempDir tmp;
  write_file(fs::path(tmp.path()) / "keep", "x");
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(read_file(fs::path(tmp.path()) / "keep"), "x");
}

TEST(UploadStoreTest, OpenFailsWhenThePathIsAFile) {
  TempDir tmp;
  const std::string file = tmp.path() + "/plain";
  write_file(file, "x");
  auto store = UploadStore::open(file);
  EXPECT_FALSE(store.ok());
  EXPECT_TRUE(store.error());
  auto below = UploadStore::open(file + "/sub");
  EXPECT_FALSE(below.ok());
}

TEST(UploadStoreTest, CreateMakesAHiddenPartFileWithAServerChosenName) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  std::error_code ec;
  auto target = store->create(ec);
  ASSERT_TRUE(target) << ec.message();
  const std::string name = target->name();
  EXPECT_TRUE(std::regex_match(name, kNamePattern)) << name;
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{"." + name + ".part"});
  struct stat st {};
  ASSERT_EQ(::stat((tmp.path() + "/." + name + ".part").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0007, 0u) << "uploads are not world-readable";
  EXPECT_EQ(st.st_size, 0);
}

TEST(UploadStoreTest, CommitRenamesToTheFinalNameWithIdenticalBytes) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  std::error_code ec;
  auto target = store->create(ec);
  ASSERT_TRUE(target);
  const std::string name = target->name();
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    std::string line = "line " + std::to_string(i) + "\r\n";
    line.push_back(static_cast<char>(i));
    expected += line;
    ASSERT_FALSE(append(*target, line));
  }
  EXPECT_FALSE(fs::exists(tmp.path() + "/" + name)) << "not finished before commit";
  ASSERT_FALSE(target->commit());
  EXPECT_EQ(target->name(), name);
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{name});
  EXPECT_EQ(read_file(tmp.path() + "/" + name), expected);
  target->abandon();  // after commit: nothing to do
  target.reset();
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{name}) << "commit is final";
  EXPECT_EQ(read_file(tmp.path() + "/" + name), expected);
}

TEST(UploadStoreTest, AbandonKeepsTheBytesUnderAnIncompleteName) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  std::error_code ec;
  auto target = store->create(ec);
  ASSERT_TRUE(target);
  const std::string name = target->name();
  ASSERT_FALSE(append(*target, "half an upl"));
  target->abandon();
  EXPECT_EQ(target->name(), name + ".incomplete");
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{name + ".incomplete"});
  EXPECT_EQ(read_file(tmp.path() + "/" + name + ".incomplete"), "half an upl");
  target->abandon();
  EXPECT_EQ(target->name(), name + ".incomplete") << "a second abandon changes nothing";
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{name + ".incomplete"});
}

TEST(UploadStoreTest, DestroyingAnUncommittedTargetLeavesItIncomplete) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  std::error_code ec;
  auto target = store->create(ec);
  ASSERT_TRUE(target);
  const std::string name = target->name();
  ASSERT_FALSE(append(*target, "data"));
  target.reset();
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{name + ".incomplete"});
  EXPECT_EQ(read_file(tmp.path() + "/" + name + ".incomplete"), "data");
}

TEST(UploadStoreTest, EveryUploadGetsItsOwnNewFile) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  std::vector<std::unique_ptr<UploadTarget>> targets;
  std::set<std::string> names;
  for (int i = 0; i < 64; ++i) {
    std::error_code ec;
    auto target = store->create(ec);
    ASSERT_TRUE(target) << ec.message();
    ASSERT_FALSE(append(*target, "upload " + std::to_string(i)));
    names.insert(target->name());
    targets.push_back(std::move(target));
  }
  EXPECT_EQ(names.size(), 64u) << "no two uploads share a name";
  EXPECT_EQ(list(tmp.path()).size(), 64u);
  for (size_t i = 0; i < targets.size(); ++i) {
    ASSERT_FALSE(targets[i]->commit());
    EXPECT_EQ(read_file(tmp.path() + "/" + targets[i]->name()), "upload " + std::to_string(i))
        << "no upload was written into another's file";
  }
}

TEST(UploadStoreTest, CreateReportsAnErrorWhenTheDirectoryIsGone) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/gone";
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  ASSERT_EQ(::rmdir(dir.c_str()), 0);
  std::error_code ec;
  auto target = store->create(ec);
  EXPECT_EQ(target, nullptr);
  EXPECT_TRUE(ec);
}

TEST(UploadStoreTest, FreeSpaceFloor) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->has_room(0)) << "0: no floor";
  EXPECT_TRUE(store->has_room(1));
  EXPECT_FALSE(store->has_room(UINT64_MAX));
  std::error_code ec;
  auto refused = store->create(ec, UINT64_MAX);
  EXPECT_EQ(refused, nullptr);
  EXPECT_EQ(ec, std::make_error_code(std::errc::no_space_on_device));
  EXPECT_TRUE(list(tmp.path()).empty()) << "nothing is created below the floor";
  ec.clear();
  auto accepted = store->create(ec, 1);
  ASSERT_TRUE(accepted) << ec.message();
  EXPECT_FALSE(append(*accepted, "fits"));
  EXPECT_FALSE(accepted->commit());
}

TEST(UploadStoreTest, RecoverRenamesLeftoverPartFilesToIncomplete) {
  TempDir tmp;
  const fs::path dir = tmp.path();
  write_file(dir / ".upload-a.part", "aaa");
  write_file(dir / ".upload-b.part", "bbbb");
  write_file(dir / "finished", "done");
  write_file(dir / "old.incomplete", "old");
  write_file(dir / "x.part", "not hidden: not ours");
  write_file(dir / ".part", "no name");
  write_file(dir / "..part", "empty name");
  write_file(dir / ".hidden", "h");
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->recover(), 2u);
  EXPECT_EQ(list(tmp.path()),
            (std::set<std::string>{"upload-a.incomplete", "upload-b.incomplete", "finished",
                                   "old.incomplete", "x.part", ".part", "..part", ".hidden"}));
  EXPECT_EQ(read_file(dir / "upload-a.incomplete"), "aaa");
  EXPECT_EQ(read_file(dir / "upload-b.incomplete"), "bbbb");
  EXPECT_EQ(read_file(dir / "finished"), "done");
  EXPECT_EQ(store->recover(), 0u) << "idempotent";
}

TEST(UploadStoreTest, RecoverCalledAgainFindsNewLeftovers) {
  TempDir tmp;
  const fs::path dir = tmp.path();
  write_file(dir / ".first.part", "1");
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->recover(), 1u);
  write_file(dir / ".second.part", "2");
  EXPECT_EQ(store->recover(), 1u) << "each call scans the whole directory";
  EXPECT_TRUE(fs::exists(dir / "second.incomplete"));
  EXPECT_FALSE(fs::exists(dir / ".second.part"));
}

TEST(UploadStoreTest, RecoverOnAnEmptyDirectoryFindsNothing) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->recover(), 0u);
  EXPECT_TRUE(list(tmp.path()).empty());
}

TEST(UploadStoreTest, RecoverAfterACrashMidUpload) {
  TempDir tmp;
  std::string name;
  {
    auto store = open_store(tmp.path());
    ASSERT_TRUE(store);
    std::error_code ec;
    auto target = store->create(ec);
    ASSERT_TRUE(target);
    name = target->name();
    ASSERT_FALSE(append(*target, "interrupted"));
    // A crash: the process dies with the file still ".part". Simulate by
    // copying it aside before the target's destructor abandons it.
    fs::copy_file(tmp.path() + "/." + name + ".part", tmp.path() + "/.crashed.part");
  }
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->recover(), 1u);
  EXPECT_EQ(read_file(tmp.path() + "/crashed.incomplete"), "interrupted");
}

// UploadSession and UploadStore together, as a connection uses them.
class Recording final : public Reply {
 public:
  void send(std::string_view first, std::string_view second) override {
    bytes.append(first).append(second);
  }
  void close() override { ++close_calls; }
  std::string bytes;
  int close_calls = 0;
};

struct SessionOnStore {
  explicit SessionOnStore(UploadStore& store)
      : session(
            options, [&store](std::error_code& ec) { return store.create(ec); },
            [this](const UploadResult& r) { results.push_back(r); }) {}
  void feed(std::string_view piece) {
    session.on_data(std::span<const char>(piece.data(), piece.size()), reply);
  }
  UploadOptions options;
  std::vector<UploadResult> results;
  Recording reply;
  UploadSession session;
};

TEST(UploadStoreTest, SessionFinishedUploadIsAByteIdenticalFinalFile) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  const std::string file = std::string("one\ntwo\r\n\0three", 15);
  SessionOnStore s(*store);
  for (size_t i = 0; i < file.size(); i += 4) s.feed(std::string_view(file).substr(i, 4));
  s.feed("quit");
  s.session.on_close();
  ASSERT_EQ(s.results.size(), 1u);
  EXPECT_EQ(s.results[0].state, UploadResult::State::kFinished);
  EXPECT_EQ(s.results[0].bytes, file.size());
  EXPECT_TRUE(std::regex_match(s.results[0].file, kNamePattern)) << s.results[0].file;
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{s.results[0].file});
  EXPECT_EQ(read_file(tmp.path() + "/" + s.results[0].file), file);
}

TEST(UploadStoreTest, SessionClosedBeforeEndWordLeavesOnlyAnIncompleteFile) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  SessionOnStore s(*store);
  s.feed("some ");
  s.feed("bytes");
  s.session.on_eof(s.reply);
  s.session.on_close();
  ASSERT_EQ(s.results.size(), 1u);
  EXPECT_EQ(s.results[0].state, UploadResult::State::kIncomplete);
  EXPECT_TRUE(s.results[0].file.ends_with(".incomplete")) << s.results[0].file;
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{s.results[0].file});
  EXPECT_EQ(read_file(tmp.path() + "/" + s.results[0].file), "some bytes");
}

TEST(UploadStoreTest, SessionWithoutDataLeavesNothingBehind) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  {
    SessionOnStore s(*store);
    s.session.on_eof(s.reply);
    s.session.on_close();
    EXPECT_TRUE(s.results.empty());
  }
  EXPECT_TRUE(list(tmp.path()).empty());
}

}  // namespace
}  // namespace socketd
