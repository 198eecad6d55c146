// UploadStore: the upload directory. Hands out one new file per upload under a
// server-chosen name: ".NAME.part" while it is written, "NAME" once committed
// (fsync, rename, fsync of the directory), "NAME.incomplete" if abandoned.
// The file work runs on the I/O threads (storage/upload_file.hpp). A store is
// its directory's identity (device and inode), not the path's spelling.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "net/fd.hpp"
#include "net/result.hpp"
#include "storage/upload_file.hpp"

namespace socketd {

class IoPool;
class UploadStoreCheckJob;

class UploadStore {
 public:
  // Opens (creating if needed) the directory. Runs on the caller's thread:
  // done at start and reload, like reading the config file.
  static Result<std::unique_ptr<UploadStore>> open(const std::string& dir);

  // The same directory, however spelled (trailing "/", symlinks, "..").
  bool same_directory(const UploadStore& other) const {
    return device_ == other.device_ && inode_ == other.inode_;
  }

  // A new upload file; status() says when it exists or why it cannot.
  std::unique_ptr<UploadTarget> create(IoPool& pool, UploadFileOptions options, Wake wake);

  // Renames leftover ".part" files (from a crash) to "NAME.incomplete", on an
  // I/O thread; `done` then gets how many, on the reactor thread. Files a live
  // upload holds locked (this process's or another socketd's on the same
  // directory) are left alone.
  void recover(IoPool& pool, std::function<void(size_t found)> done);
  const std::string& path() const { return path_; }

  // What is at path() now, looked at on an I/O thread (stat, and open if it
  // is another directory); `done` gets it on the reactor thread.
  struct Check {
    enum class Kind { kSame, kMissing, kNotADirectory, kReplaced };
    Kind kind = Kind::kSame;
    std::error_code error;                  // kMissing: why stat failed
    bool unlinked = false;                  // the directory in use was deleted (not moved)
    std::unique_ptr<UploadStore> replaced;  // kReplaced: the directory there now
  };
  void check(IoPool& pool, std::function<void(Check)> done) const;

 private:
  friend class UploadStoreCheckJob;
  UploadStore(std::string path, std::shared_ptr<const Fd> dir, dev_t device, ino_t inode)
      : path_(std::move(path)), dir_(std::move(dir)), device_(device), inode_(inode) {}
  std::string path_;
  std::shared_ptr<const Fd> dir_;  // uploads in progress keep it open
  dev_t device_;
  ino_t inode_;
};

// The leftover scan itself (what recover() runs on an I/O thread).
size_t recover_leftovers(int dir_fd);

}  // namespace socketd
