#include "storage/upload_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "reactor/io_pool.hpp"
#include "storage/upload_names.hpp"

namespace socketd {
namespace {

std::error_code mkdir_p(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      const std::string prefix = path.substr(0, i);
      if (::mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST) return errno_code();
    }
  }
  return {};
}

class RecoverJob final : public IoJob {
 public:
  RecoverJob(std::shared_ptr<const Fd> dir, std::function<void(size_t)> done)
      : dir_(std::move(dir)), done_(std::move(done)) {}
  void run() noexcept override { found_ = recover_leftovers(dir_->get()); }
  void done() noexcept override {
    if (done_) done_(found_);
  }

 private:
  std::shared_ptr<const Fd> dir_;
  std::function<void(size_t)> done_;
  size_t found_ = 0;
};

}  // namespace

// Runs stat(2) and open(2) on a path that may sit on a slow or dead disk: an
// I/O job. It never creates the directory (see UploadDirWatch).
class UploadStoreCheckJob final : public IoJob {
 public:
  UploadStoreCheckJob(std::string path, std::shared_ptr<const Fd> dir, dev_t device, ino_t inode,
                      std::function<void(UploadStore::Check)> done)
      : path_(std::move(path)),
        dir_(std::move(dir)),
        device_(device),
        inode_(inode),
        done_(std::move(done)) {}
  void run() noexcept override {
    using Kind = UploadStore::Check::Kind;
    struct stat st {};
    if (::fstat(dir_->get(), &st) == 0 && st.st_nlink == 0) result_.unlinked = true;
    if (::stat(path_.c_str(), &st) != 0) {
      result_.kind = Kind::kMissing;
      result_.error = errno_code();
      return;
    }
    if (!S_ISDIR(st.st_mode)) {
      result_.kind = Kind::kNotADirectory;
      return;
    }
    if (st.st_dev == device_ && st.st_ino == inode_) return;  // kSame
    Fd fd(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::fstat(fd.get(), &st) != 0) {
      result_.kind = Kind::kMissing;  // gone again between stat and open
      result_.error = errno_code();
      return;
    }
    result_.kind = Kind::kReplaced;
    result_.replaced = std::unique_ptr<UploadStore>(
        new UploadStore(path_, std::make_shared<const Fd>(std::move(fd)), st.st_dev, st.st_ino));
  }
  void done() noexcept override {
    if (done_) done_(std::move(result_));
  }

 private:
  std::string path_;
  std::shared_ptr<const Fd> dir_;
  dev_t device_;
  ino_t inode_;
  std::function<void(UploadStore::Check)> done_;
  UploadStore::Check result_;
};

void UploadStore::check(IoPool& pool, std::function<void(Check)> done) const {
  pool.submit(std::make_unique<UploadStoreCheckJob>(path_, dir_, device_, inode_, std::move(done)));
}

Result<std::unique_ptr<UploadStore>> UploadStore::open(const std::string& dir) {
  if (auto ec = mkdir_p(dir)) return ec;
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return errno_code();
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return errno_code();
  return std::unique_ptr<UploadStore>(
      new UploadStore(dir, std::make_shared<const Fd>(std::move(fd)), st.st_dev, st.st_ino));
}

std::unique_ptr<UploadTarget> UploadStore::create(IoPool& pool, UploadFileOptions options,
                                                  Wake wake) {
  return open_upload_file(pool, dir_, new_upload_name(), options, std::move(wake));
}

void UploadStore::recover(IoPool& pool, std::function<void(size_t)> done) {
  pool.submit(std::make_unique<RecoverJob>(dir_, std::move(done)));
}

size_t recover_leftovers(int dir_fd) {
  // A fresh descriptor: a dup() would share (and exhaust) the read position.
  const int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return 0;
  }
  size_t found = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view file = entry->d_name;
    if (!file.starts_with('.') || !file.ends_with(kPartSuffix) ||
        file.size() <= 1 + kPartSuffix.size()) {
      continue;
    }
    // A live upload holds an exclusive flock on its ".part" for as long as it
    // writes it: only a file nobody holds is a leftover.
    Fd part(::openat(dir_fd, std::string(file).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!part || ::flock(part.get(), LOCK_EX | LOCK_NB) != 0) continue;
    const std::string name(file.substr(1, file.size() - 1 - kPartSuffix.size()));
    const std::string target = name + std::string(kIncompleteSuffix);
    if (::renameat(dir_fd, std::string(file).c_str(), dir_fd, target.c_str()) == 0) ++found;
  }
  ::closedir(dir);
  if (found > 0) ::fsync(dir_fd);
  return found;
}

}  // namespace socketd
