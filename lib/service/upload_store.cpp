#include "service/upload_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

namespace socketd {
namespace {

constexpr std::string_view kPartSuffix = ".part";
constexpr std::string_view kIncompleteSuffix = ".incomplete";

std::string part_name(const std::string& name) { return "." + name + std::string(kPartSuffix); }

// "upload-20261125T144553Z-9f86d081884c7d65": sortable by time, unguessable.
std::string new_upload_name() {
  static std::mt19937_64 engine{std::random_device{}()};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "upload-%04d%02d%02dT%02d%02d%02dZ-%016llx", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<unsigned long long>(engine()));
  return buf;
}

std::error_code mkdir_p(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      const std::string prefix = path.substr(0, i);
      if (::mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST) return errno_code();
    }
  }
  return {};
}

bool has_room_at(int fd, uint64_t min_free_bytes) {
  if (min_free_bytes == 0) return true;
  struct statvfs st{};
  if (::fstatvfs(fd, &st) != 0) return true;  // cannot tell: let write() decide
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize >= min_free_bytes;
}

class FileTarget final : public UploadTarget {
 public:
  static constexpr uint64_t kCheckEvery = 4u << 20;  // free-space check interval
  // Write-behind: every this many bytes, writeback of the new data starts
  // and the data before the previous window is waited for (sync_file_range).
  // At most ~2 windows are ever dirty, so the fsync in commit() waits for
  // ~16 MiB instead of the whole file (300 ms for 1 GiB on this VM's disk),
  // and a disk slower than the network throttles the upload in short steps.
  // Both run on the event loop: many short stalls instead of one long one.
  static constexpr uint64_t kWritebackEvery = 8u << 20;

  FileTarget(std::shared_ptr<const Fd> dir, std::string name, Fd file, uint64_t min_free_bytes)
      : dir_(std::move(dir)), name_(std::move(name)), file_(std::move(file)),
        min_free_(min_free_bytes) {}
  ~FileTarget() override {
    if (file_) abandon();
  }

  std::error_code append(std::span<const char> bytes) override {
    since_check_ += bytes.size();
    if (since_check_ >= kCheckEvery) {
      since_check_ = 0;
      if (!has_room_at(file_.get(), min_free_)) return std::make_error_code(std::errc::no_space_on_device);
    }
    while (!bytes.empty()) {
      const ssize_t n = ::write(file_.get(), bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_code();
      }
      bytes = bytes.subspan(static_cast<size_t>(n));
      written_ += static_cast<uint64_t>(n);
    }
    if (written_ - writeback_from_ >= kWritebackEvery) {
      // No-ops on tmpfs, which has no writeback.
      ::sync_file_range(file_.get(), static_cast<off_t>(writeback_from_),
                        static_cast<off_t>(written_ - writeback_from_), SYNC_FILE_RANGE_WRITE);
      if (waited_to_ < previous_window_) {
        ::sync_file_range(file_.get(), static_cast<off_t>(waited_to_),
                          static_cast<off_t>(previous_window_ - waited_to_),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                              SYNC_FILE_RANGE_WAIT_AFTER);
        waited_to_ = previous_window_;
      }
      previous_window_ = writeback_from_;
      writeback_from_ = written_;
    }
    return {};
  }


  std::error_code commit() override {
    if (::fsync(file_.get()) != 0) return errno_code();
    if (::renameat(dir_->get(), part_name(name_).c_str(), dir_->get(), name_.c_str()) != 0) return errno_code();
    file_.reset();
    // The rename is only durable once the directory itself is on disk.
    if (::fsync(dir_->get()) != 0) return errno_code();
    return {};
  }

  void abandon() override {
    if (!file_) return;
    ::fsync(file_.get());
    const std::string incomplete = name_ + std::string(kIncompleteSuffix);
    ::renameat(dir_->get(), part_name(name_).c_str(), dir_->get(), incomplete.c_str());
    file_.reset();
    ::fsync(dir_->get());
    name_ = incomplete;
  }

  const std::string& name() const override { return name_; }

 private:
  // Shared with the store: a reload may replace the store while uploads run.
  std::shared_ptr<const Fd> dir_;
  std::string name_;
  Fd file_;
  uint64_t min_free_;
  uint64_t since_check_ = 0;
  uint64_t written_ = 0;
  uint64_t writeback_from_ = 0;   // start of the data not yet handed to writeback
  uint64_t previous_window_ = 0;  // start of the window handed over last time
  uint64_t waited_to_ = 0;        // everything before this has been written
};

}  // namespace

Result<std::unique_ptr<UploadStore>> UploadStore::open(const std::string& dir) {
  if (auto ec = mkdir_p(dir)) return ec;
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return errno_code();
  return std::unique_ptr<UploadStore>(
      new UploadStore(dir, std::make_shared<const Fd>(std::move(fd))));
}

bool UploadStore::has_room(uint64_t min_free_bytes) const {
  return has_room_at(dir_->get(), min_free_bytes);
}

std::unique_ptr<UploadTarget> UploadStore::create(std::error_code& ec, uint64_t min_free_bytes,
                                                  uint64_t expected_bytes) {
  const uint64_t needed = expected_bytes > UINT64_MAX - min_free_bytes
                              ? UINT64_MAX
                              : min_free_bytes + expected_bytes;
  if (!has_room(needed)) {
    ec = std::make_error_code(std::errc::no_space_on_device);
    return nullptr;
  }
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::string name = new_upload_name();
    Fd file(::openat(dir_->get(), part_name(name).c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640));
    if (file) {
      return std::make_unique<FileTarget>(dir_, std::move(name), std::move(file),
                                          min_free_bytes);
    }
    if (errno != EEXIST) break;
  }
  ec = errno_code();
  return nullptr;
}

size_t UploadStore::recover() {
  // A fresh descriptor: a dup() would share (and exhaust) dir_'s read position.
  const int fd = ::openat(dir_->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
    const std::string name(file.substr(1, file.size() - 1 - kPartSuffix.size()));
    const std::string target = name + std::string(kIncompleteSuffix);
    if (::renameat(dir_->get(), std::string(file).c_str(), dir_->get(), target.c_str()) == 0) {
      ++found;
    }
  }
  ::closedir(dir);
  if (found > 0) ::fsync(dir_->get());
  return found;
}

}  // namespace socketd
