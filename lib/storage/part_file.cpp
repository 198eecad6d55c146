#include "storage/part_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "net/result.hpp"
#include "storage/upload_names.hpp"

namespace socketd {
namespace {

using Limits = UploadFileLimits;

bool has_room_at(int fd, uint64_t min_free_bytes) {
  if (min_free_bytes == 0) return true;
  struct statvfs st {};
  if (::fstatvfs(fd, &st) != 0) return true;  // cannot tell: let write() decide
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize >= min_free_bytes;
}

}  // namespace

std::error_code PartFile::open(std::string& name) noexcept {
  const uint64_t needed = options_.expected_bytes > UINT64_MAX - options_.min_free_bytes
                              ? UINT64_MAX
                              : options_.min_free_bytes + options_.expected_bytes;
  if (!has_room_at(dir_->get(), needed)) return std::make_error_code(std::errc::no_space_on_device);
  std::error_code ec;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (attempt > 0) name_ = new_upload_name();
    const std::string part = part_name(name_);
    Fd file(::openat(dir_->get(), part.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640));
    if (!file) {
      ec = errno_code();
      if (errno == EEXIST) continue;
      return ec;
    }
    // The lock marks the file live. Another process's leftover recovery may
    // have taken it between openat and flock (then it holds the lock, or has
    // renamed the file away): try again under a new name.
    struct stat ours {
    }, named{};
    if (::flock(file.get(), LOCK_EX | LOCK_NB) != 0 || ::fstat(file.get(), &ours) != 0 ||
        ::fstatat(dir_->get(), part.c_str(), &named, AT_SYMLINK_NOFOLLOW) != 0 ||
        ours.st_ino != named.st_ino || ours.st_dev != named.st_dev) {
      ec = std::make_error_code(std::errc::device_or_resource_busy);
      continue;
    }
    file_ = std::move(file);
    if (options_.hash) hash_.emplace();
    name = name_;
    return {};
  }
  return ec;
}

std::error_code PartFile::write(std::span<const char> bytes) noexcept {
  since_check_ += bytes.size();
  if (since_check_ >= Limits::kCheckEvery) {
    since_check_ = 0;
    if (!has_room_at(file_.get(), options_.min_free_bytes)) {
      return std::make_error_code(std::errc::no_space_on_device);
    }
  }
  if (hash_) hash_->update(bytes);
  while (!bytes.empty()) {
    const ssize_t n = ::write(file_.get(), bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_code();
    }
    bytes = bytes.subspan(static_cast<size_t>(n));
    written_ += static_cast<uint64_t>(n);
  }
  if (written_ - writeback_from_ >= Limits::kWritebackEvery) {
    // No-ops on tmpfs, which has no writeback.
    ::sync_file_range(file_.get(), static_cast<off_t>(writeback_from_),
                      static_cast<off_t>(written_ - writeback_from_), SYNC_FILE_RANGE_WRITE);
    if (waited_to_ < previous_window_) {
      ::sync_file_range(
          file_.get(), static_cast<off_t>(waited_to_),
          static_cast<off_t>(previous_window_ - waited_to_),
          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      waited_to_ = previous_window_;
    }
    previous_window_ = writeback_from_;
    writeback_from_ = written_;
  }
  return {};
}

std::error_code PartFile::commit(std::string& digest) noexcept {
  if (::fsync(file_.get()) != 0) return errno_code();
  if (::renameat(dir_->get(), part_name(name_).c_str(), dir_->get(), name_.c_str()) != 0) {
    return errno_code();
  }
  renamed_ = true;
  file_.reset();
  // The rename is only durable once the directory itself is on disk.
  if (::fsync(dir_->get()) != 0) return errno_code();
  if (hash_) digest = hash_->hex_digest();
  return {};
}

void PartFile::abandon() noexcept {
  if (!file_ && !renamed_) return;  // never created
  // No fsync: an incomplete upload need not survive a crash (recovery would
  // find its ".part" then), and fsync is what stalled everyone.
  const std::string from = renamed_ ? name_ : part_name(name_);
  const std::string to = name_ + std::string(kIncompleteSuffix);
  ::renameat(dir_->get(), from.c_str(), dir_->get(), to.c_str());
  file_.reset();
}

}  // namespace socketd
