// UploadStore and its upload files on real files in a private temporary
// directory, with a real Reactor and IoPool: server-chosen names,
// ".NAME.part" -> "NAME" on commit, "NAME.incomplete" on abandon, recover()
// of leftovers (but not of live uploads), directory identity, hashing,
// bounded buffers, zero-copy appends, and UploadSession driving a real store.
#include "storage/upload_store.hpp"
#include "support/test_bytes.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "net/fd.hpp"
#include "reactor/io_pool.hpp"
#include "reactor/reactor.hpp"
#include "service/upload.hpp"
#include "support/session_driver.hpp"

namespace socketd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Status = UploadTarget::Status;
using test::sha256_of;

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

// A Reactor and the IoPool whose completions it delivers; run_until() turns
// the loop until a condition holds, with a deadline instead of sleeps.
// Declare it before any target: targets submit their last job (abandon) when
// destroyed, and the pool finishes every job before it goes.
class IoLoop {
 public:
  IoLoop() {
    auto reactor = Reactor::create();
    if (!reactor.ok()) {
      ADD_FAILURE() << "Reactor::create: " << reactor.error().message();
      return;
    }
    reactor_ = std::move(*reactor);
    auto pool = IoPool::create(*reactor_);
    if (!pool.ok()) {
      ADD_FAILURE() << "IoPool::create: " << pool.error().message();
      return;
    }
    pool_ = std::move(*pool);
  }
  IoPool& pool() { return *pool_; }

  [[nodiscard]] bool run_until(const std::function<bool()>& done,
                               std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      reactor_->run_once(10ms);
    }
    return true;
  }
  // Every job submitted so far has finished and reported back.
  [[nodiscard]] bool settle() {
    return run_until([this] { return pool_->outstanding() == 0; });
  }

 private:
  std::unique_ptr<Reactor> reactor_;  // outlives the pool, which is registered in it
  std::unique_ptr<IoPool> pool_;
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

void append(UploadTarget& target, std::string_view data) {
  target.append(std::span<const char>(data.data(), data.size()));
}

// Bytes that are not all alike, so a misplaced block shows.
std::string pattern_bytes(size_t n, unsigned seed = 1) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}


const std::regex kNamePattern("upload-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}");

// A new upload, created and open (or failed).
struct Upload {
  Upload(IoLoop& loop, UploadStore& store, UploadFileOptions options = {}) {
    target = store.create(loop.pool(), options, [this] { ++wakes; });
    EXPECT_TRUE(loop.run_until([this] { return target->status() != Status::kOpening; }));
  }
  int wakes = 0;
  std::unique_ptr<UploadTarget> target;
};

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
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  Upload u(loop, *store);
  ASSERT_EQ(u.target->status(), Status::kOpen) << u.target->error().message();
  EXPECT_GE(u.wakes, 1) << "the open's completion wakes the session";
  const std::string name = u.target->name();
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
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  Upload u(loop, *store);
  ASSERT_EQ(u.target->status(), Status::kOpen);
  const std::string name = u.target->name();
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    std::string line = "line " + std::to_string(i) + "\r\n";
    line.push_back(static_cast<char>(i));
    expected += line;
    ASSERT_TRUE(u.target->can_take());
    append(*u.target, line);
  }
  EXPECT_FALSE(fs::exists(tmp.path() + "/" + name)) << "not finished before commit";
  u.target->commit();
  EXPECT_EQ(u.target->status(), Status::kCommitting);
  EXPECT_FALSE(u.target->can_take());
  ASSERT_TRUE(loop.run_until([&] { return u.target->status() != Status::kCommitting; }));
  ASSERT_EQ(u.target->status(), Status::kCommitted) << u.target->error().message();
  EXPECT_EQ(u.target->name(), name);
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{name});
  EXPECT_EQ(read_file(tmp.path() + "/" + name), expected);
  EXPECT_TRUE(u.target->sha256().empty()) << "not asked to hash";
  u.target.reset();  // after commit: nothing to do
  ASSERT_TRUE(loop.settle());
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{name}) << "commit is final";
  EXPECT_EQ(read_file(tmp.path() + "/" + name), expected);
}

TEST(UploadStoreTest, AbandonKeepsTheBytesUnderAnIncompleteName) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  Upload u(loop, *store);
  const std::string name = u.target->name();
  append(*u.target, "half an upl");
  const int wakes = u.wakes;
  u.target->abandon();
  EXPECT_EQ(u.target->name(), name + ".incomplete");
  ASSERT_TRUE(loop.settle());
  EXPECT_EQ(u.wakes, wakes) << "no wakes after abandon";
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{name + ".incomplete"});
  EXPECT_EQ(read_file(tmp.path() + "/" + name + ".incomplete"), "half an upl");
  u.target->abandon();
  ASSERT_TRUE(loop.settle());
  EXPECT_EQ(u.target->name(), name + ".incomplete") << "a second abandon changes nothing";
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{name + ".incomplete"});
}

TEST(UploadStoreTest, AbandonWhileOpeningKeepsTheBytesToo) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  auto target = store->create(loop.pool(), {}, [] {});
  append(*target, "early bytes");  // kept until the file exists
  target->abandon();
  ASSERT_TRUE(loop.settle());
  const std::string name = target->name();
  EXPECT_TRUE(name.ends_with(".incomplete")) << name;
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{name});
  EXPECT_EQ(read_file(tmp.path() + "/" + name), "early bytes");
}

TEST(UploadStoreTest, DestroyingAnUncommittedTargetLeavesItIncomplete) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  Upload u(loop, *store);
  const std::string name = u.target->name();
  append(*u.target, "data");
  u.target.reset();
  ASSERT_TRUE(loop.settle());
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{name + ".incomplete"});
  EXPECT_EQ(read_file(tmp.path() + "/" + name + ".incomplete"), "data");
}

TEST(UploadStoreTest, EveryUploadGetsItsOwnNewFile) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  std::vector<std::unique_ptr<UploadTarget>> targets;
  for (int i = 0; i < 64; ++i) {
    targets.push_back(store->create(loop.pool(), {}, [] {}));
    append(*targets.back(), "upload " + std::to_string(i));
  }
  ASSERT_TRUE(loop.run_until([&] {
    for (const auto& t : targets) {
      if (t->status() == Status::kOpening) return false;
    }
    return true;
  }));
  std::set<std::string> names;
  for (const auto& t : targets) {
    ASSERT_EQ(t->status(), Status::kOpen) << t->error().message();
    names.insert(t->name());
  }
  EXPECT_EQ(names.size(), 64u) << "no two uploads share a name";
  EXPECT_EQ(list(tmp.path()).size(), 64u);
  for (auto& t : targets) t->commit();
  ASSERT_TRUE(loop.settle());
  for (size_t i = 0; i < targets.size(); ++i) {
    ASSERT_EQ(targets[i]->status(), Status::kCommitted) << targets[i]->error().message();
    EXPECT_EQ(read_file(tmp.path() + "/" + targets[i]->name()), "upload " + std::to_string(i))
        << "no upload was written into another's file";
  }
}

TEST(UploadStoreTest, CreateReportsAnErrorWhenTheDirectoryIsGone) {
  TempDir tmp;
  IoLoop loop;
  const std::string dir = tmp.path() + "/gone";
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  ASSERT_EQ(::rmdir(dir.c_str()), 0);
  Upload u(loop, *store);
  EXPECT_EQ(u.target->status(), Status::kFailed);
  EXPECT_TRUE(u.target->error());
  EXPECT_GE(u.wakes, 1) << "the failure wakes the session";
  u.target->abandon();
  ASSERT_TRUE(loop.settle());
}

TEST(UploadStoreTest, FreeSpaceFloor) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  Upload refused(loop, *store, UploadFileOptions{.min_free_bytes = UINT64_MAX});
  EXPECT_EQ(refused.target->status(), Status::kFailed);
  EXPECT_EQ(refused.target->error(), std::make_error_code(std::errc::no_space_on_device));
  Upload too_big(loop, *store, UploadFileOptions{.expected_bytes = UINT64_MAX});
  EXPECT_EQ(too_big.target->error(), std::make_error_code(std::errc::no_space_on_device))
      << "the declared size counts against the free space";
  EXPECT_TRUE(list(tmp.path()).empty()) << "nothing is created below the floor";
  Upload accepted(loop, *store, UploadFileOptions{.min_free_bytes = 1, .expected_bytes = 4});
  ASSERT_EQ(accepted.target->status(), Status::kOpen) << accepted.target->error().message();
  append(*accepted.target, "fits");
  accepted.target->commit();
  ASSERT_TRUE(loop.settle());
  EXPECT_EQ(accepted.target->status(), Status::kCommitted);
  EXPECT_EQ(read_file(tmp.path() + "/" + accepted.target->name()), "fits");
}

// recover(), waited for; the count it reported.
size_t recover(IoLoop& loop, UploadStore& store) {
  std::optional<size_t> found;
  store.recover(loop.pool(), [&](size_t n) { found = n; });
  EXPECT_TRUE(loop.run_until([&] { return found.has_value(); }));
  return found.value_or(SIZE_MAX);
}

TEST(UploadStoreTest, RecoverRenamesLeftoverPartFilesToIncomplete) {
  TempDir tmp;
  IoLoop loop;
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
  EXPECT_EQ(recover(loop, *store), 2u);
  EXPECT_EQ(list(tmp.path()),
            (std::set<std::string>{"upload-a.incomplete", "upload-b.incomplete", "finished",
                                   "old.incomplete", "x.part", ".part", "..part", ".hidden"}));
  EXPECT_EQ(read_file(dir / "upload-a.incomplete"), "aaa");
  EXPECT_EQ(read_file(dir / "upload-b.incomplete"), "bbbb");
  EXPECT_EQ(read_file(dir / "finished"), "done");
  EXPECT_EQ(recover(loop, *store), 0u) << "idempotent";
}

TEST(UploadStoreTest, RecoverCalledAgainFindsNewLeftovers) {
  TempDir tmp;
  IoLoop loop;
  const fs::path dir = tmp.path();
  write_file(dir / ".first.part", "1");
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(recover(loop, *store), 1u);
  write_file(dir / ".second.part", "2");
  EXPECT_EQ(recover(loop, *store), 1u) << "each call scans the whole directory";
  EXPECT_TRUE(fs::exists(dir / "second.incomplete"));
  EXPECT_FALSE(fs::exists(dir / ".second.part"));
}

TEST(UploadStoreTest, RecoverOnAnEmptyDirectoryFindsNothing) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(recover(loop, *store), 0u);
  EXPECT_TRUE(list(tmp.path()).empty());
}

TEST(UploadStoreTest, RecoverAfterACrashMidUpload) {
  TempDir tmp;
  IoLoop loop;
  const std::string written = pattern_bytes(UploadFileLimits::kBufferBytes);
  {
    auto store = open_store(tmp.path());
    ASSERT_TRUE(store);
    Upload u(loop, *store);
    const std::string name = u.target->name();
    append(*u.target, written);  // one full buffer: written at once
    ASSERT_TRUE(loop.settle());
    // A crash: the process dies with the file still ".part" (and no longer
    // locked). Simulate by copying it aside before the target abandons it.
    fs::copy_file(tmp.path() + "/." + name + ".part", tmp.path() + "/.crashed.part");
    u.target.reset();
    ASSERT_TRUE(loop.settle());
  }
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(recover(loop, *store), 1u);
  EXPECT_EQ(read_file(tmp.path() + "/crashed.incomplete"), written);
}

TEST(UploadStoreTest, RecoverLeavesALiveUploadAloneAndItStillCommits) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  write_file(fs::path(tmp.path()) / ".upload-crashed.part", "left over");
  Upload u(loop, *store);
  ASSERT_EQ(u.target->status(), Status::kOpen);
  const std::string name = u.target->name();
  append(*u.target, "live ");
  EXPECT_EQ(recover(loop, *store), 1u) << "only the leftover";
  EXPECT_TRUE(fs::exists(tmp.path() + "/." + name + ".part")) << "the live upload is untouched";
  EXPECT_TRUE(fs::exists(tmp.path() + "/upload-crashed.incomplete"));
  // A second store on the same directory (another socketd) leaves it alone too.
  auto other = open_store(tmp.path() + "/");
  ASSERT_TRUE(other);
  EXPECT_EQ(recover(loop, *other), 0u);
  append(*u.target, "upload");
  u.target->commit();
  ASSERT_TRUE(loop.settle());
  ASSERT_EQ(u.target->status(), Status::kCommitted) << u.target->error().message();
  EXPECT_EQ(read_file(tmp.path() + "/" + name), "live upload");
  EXPECT_FALSE(fs::exists(tmp.path() + "/." + name + ".part"));
}

TEST(UploadStoreTest, RecoverSkipsAPartFileLockedByAnotherOpenFile) {
  TempDir tmp;
  IoLoop loop;
  const fs::path part = fs::path(tmp.path()) / ".upload-elsewhere.part";
  write_file(part, "another process writes this");
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  {
    Fd held(::open(part.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(held);
    ASSERT_EQ(::flock(held.get(), LOCK_EX | LOCK_NB), 0);
    EXPECT_EQ(recover(loop, *store), 0u);
    EXPECT_TRUE(fs::exists(part)) << "a locked .part is a live upload";
  }
  EXPECT_EQ(recover(loop, *store), 1u) << "once its holder is gone it is a leftover";
  EXPECT_EQ(read_file(fs::path(tmp.path()) / "upload-elsewhere.incomplete"),
            "another process writes this");
}

TEST(UploadStoreTest, SameDirectoryIsTheDirectoryNotItsSpelling) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/uploads";
  auto a = open_store(dir);
  auto slash = open_store(dir + "/");
  auto dotted = open_store(tmp.path() + "/./uploads/../uploads");
  ASSERT_EQ(::symlink(dir.c_str(), (tmp.path() + "/link").c_str()), 0);
  auto linked = open_store(tmp.path() + "/link");
  auto other = open_store(tmp.path() + "/other");
  ASSERT_TRUE(a && slash && dotted && linked && other);
  EXPECT_TRUE(a->same_directory(*a));
  EXPECT_TRUE(a->same_directory(*slash));
  EXPECT_TRUE(a->same_directory(*dotted));
  EXPECT_TRUE(a->same_directory(*linked));
  EXPECT_TRUE(linked->same_directory(*a));
  EXPECT_FALSE(a->same_directory(*other));
  EXPECT_FALSE(other->same_directory(*a));

  // Deleted and created again under the same path: another directory (the
  // old store still holds the old one open, so its inode is not reused).
  ASSERT_EQ(::rmdir(dir.c_str()), 0);
  auto recreated = open_store(dir);
  ASSERT_TRUE(recreated);
  EXPECT_FALSE(a->same_directory(*recreated));
  EXPECT_FALSE(recreated->same_directory(*slash));
}

TEST(UploadStoreTest, AHashingUploadReportsTheSha256OfItsBytes) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  // More than two buffers, in pieces that do not line up with them.
  const std::string data = pattern_bytes(2 * UploadFileLimits::kBufferBytes + 12345, 7);
  Upload u(loop, *store, UploadFileOptions{.expected_bytes = data.size(), .hash = true});
  ASSERT_EQ(u.target->status(), Status::kOpen);
  for (size_t at = 0; at < data.size(); at += 100003) {
    ASSERT_TRUE(loop.run_until([&] { return u.target->can_take(); }));
    append(*u.target, std::string_view(data).substr(at, 100003));
  }
  u.target->commit();
  ASSERT_TRUE(loop.run_until([&] { return u.target->status() != Status::kCommitting; }));
  ASSERT_EQ(u.target->status(), Status::kCommitted) << u.target->error().message();
  EXPECT_EQ(u.target->sha256(), sha256_of(data));
  EXPECT_EQ(read_file(tmp.path() + "/" + u.target->name()), data);
}

TEST(UploadStoreTest, BuffersAreBoundedWhileWritesArePending) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  Upload u(loop, *store);
  ASSERT_EQ(u.target->status(), Status::kOpen);
  const size_t piece = 256 << 10;
  const uint64_t bound = (UploadFileLimits::kMaxQueuedWrites + 1) * UploadFileLimits::kBufferBytes;
  const std::string data = pattern_bytes(5 * UploadFileLimits::kBufferBytes, 3);
  size_t at = 0;
  // Without turning the loop no write can report back: the target must say
  // "full" before it holds more than its buffers.
  while (u.target->can_take() && at < data.size()) {
    append(*u.target, std::string_view(data).substr(at, piece));
    at += piece;
  }
  EXPECT_FALSE(u.target->can_take()) << "appended " << at << " bytes without pushing back";
  EXPECT_LE(at, bound);
  const int wakes = u.wakes;
  ASSERT_TRUE(loop.run_until([&] { return u.target->can_take(); }))
      << "a finished write gives a buffer back";
  EXPECT_GT(u.wakes, wakes) << "and wakes the session";
  // The rest, well over 3 MiB in all, waiting whenever the target is full.
  int full = 1;
  while (at < data.size()) {
    if (!u.target->can_take()) {
      ++full;
      ASSERT_TRUE(loop.run_until([&] { return u.target->can_take(); }));
    }
    append(*u.target, std::string_view(data).substr(at, piece));
    at += piece;
  }
  EXPECT_GE(full, 2);
  u.target->commit();
  ASSERT_TRUE(loop.settle());
  ASSERT_EQ(u.target->status(), Status::kCommitted) << u.target->error().message();
  EXPECT_EQ(read_file(tmp.path() + "/" + u.target->name()), data);
}

TEST(UploadStoreTest, ZeroCopyAppendsOfTheWriteSpaceStoreTheRightBytes) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  Upload u(loop, *store);
  ASSERT_EQ(u.target->status(), Status::kOpen);
  const std::string data = pattern_bytes(UploadFileLimits::kBufferBytes * 5 / 2, 5);
  size_t at = 0;
  int spaces = 0;
  while (at < data.size()) {
    ASSERT_TRUE(loop.run_until([&] { return u.target->can_take(); }));
    // As a read would: at most what the space offers, here 70001 at a time.
    const std::span<char> space = u.target->write_space(70001);
    ASSERT_FALSE(space.empty());
    ASSERT_LE(space.size(), 70001u);
    ++spaces;
    const size_t n = std::min(space.size(), data.size() - at);
    std::memcpy(space.data(), data.data() + at, n);
    u.target->append(space.first(n));
    at += n;
  }
  EXPECT_GT(spaces, 30);
  u.target->commit();
  ASSERT_TRUE(loop.settle());
  ASSERT_EQ(u.target->status(), Status::kCommitted) << u.target->error().message();
  EXPECT_EQ(read_file(tmp.path() + "/" + u.target->name()), data);
}

// UploadSession and UploadStore together, as a connection uses them: reads
// only while the session accepts input, wakes forwarded to on_wake().
struct SessionOnStore {
  SessionOnStore(IoLoop& io, UploadStore& store)
      : loop(io),
        session(
            options,
            // As the runtime opens them: each chunk is written at once, since
            // its ack waits for it to be stored.
            [&store, &io](Wake wake) {
              return store.create(io.pool(), {.write_each_append = true}, std::move(wake));
            },
            [this](const UploadResult& r) { results.push_back(r); }) {
    reply.wake_session = &session;
  }
  void feed(std::string_view piece) {
    ASSERT_TRUE(loop.run_until([this] { return session.accepts_input(); }));
    session.on_data(std::span<const char>(piece.data(), piece.size()), reply);
  }
  IoLoop& loop;
  UploadOptions options;
  std::vector<UploadResult> results;
  test::RecordingReply reply;
  UploadSession session;
};

TEST(UploadStoreTest, SessionFinishedUploadIsAByteIdenticalFinalFile) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  const std::string file = std::string("one\ntwo\r\n\0three", 15);
  SessionOnStore s(loop, *store);
  for (size_t i = 0; i < file.size(); i += 4) s.feed(std::string_view(file).substr(i, 4));
  s.feed("quit");
  ASSERT_TRUE(loop.run_until([&] { return s.reply.close_calls > 0; }));
  s.session.on_close();
  std::string acks;
  for (size_t i = 0; i < (file.size() + 3) / 4 + 1; ++i) acks += "success";
  EXPECT_EQ(s.reply.bytes, acks) << "one per chunk, the last once durable";
  ASSERT_EQ(s.results.size(), 1u);
  EXPECT_EQ(s.results[0].state, UploadResult::State::kFinished);
  EXPECT_EQ(s.results[0].bytes, file.size());
  EXPECT_TRUE(std::regex_match(s.results[0].file, kNamePattern)) << s.results[0].file;
  ASSERT_TRUE(loop.settle());
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{s.results[0].file});
  EXPECT_EQ(read_file(tmp.path() + "/" + s.results[0].file), file);
}

TEST(UploadStoreTest, SessionClosedBeforeEndWordLeavesOnlyAnIncompleteFile) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  SessionOnStore s(loop, *store);
  s.feed("some ");
  s.feed("bytes");
  s.session.on_eof(s.reply);
  s.session.on_close();
  ASSERT_EQ(s.results.size(), 1u);
  EXPECT_EQ(s.results[0].state, UploadResult::State::kIncomplete);
  EXPECT_TRUE(s.results[0].file.ends_with(".incomplete")) << s.results[0].file;
  ASSERT_TRUE(loop.settle());
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{s.results[0].file});
  EXPECT_EQ(read_file(tmp.path() + "/" + s.results[0].file), "some bytes");
}

TEST(UploadStoreTest, SessionWithoutDataLeavesNothingBehind) {
  TempDir tmp;
  IoLoop loop;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  {
    SessionOnStore s(loop, *store);
    s.session.on_eof(s.reply);
    s.session.on_close();
    EXPECT_TRUE(s.results.empty());
  }
  ASSERT_TRUE(loop.settle());
  EXPECT_TRUE(list(tmp.path()).empty());
}

}  // namespace
}  // namespace socketd
