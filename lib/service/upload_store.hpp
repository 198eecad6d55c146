// UploadStore: the upload directory. Hands out one new file per upload under a
// server-chosen name: ".NAME.part" while it is written, "NAME" once committed
// (fsync, rename, fsync of the directory), "NAME.incomplete" if abandoned.
#pragma once

#include <memory>
#include <string>
#include <system_error>

#include "net/fd.hpp"
#include "net/result.hpp"
#include "service/upload.hpp"

namespace socketd {

class UploadStore {
 public:
  // Opens (creating if needed) the directory.
  static Result<std::unique_ptr<UploadStore>> open(const std::string& dir);

  // Fails with ENOSPC while the file system has less than `min_free_bytes`
  // (plus `expected_bytes`, when the upload's size is known) available; the
  // target then keeps checking `min_free_bytes` as it grows.
  std::unique_ptr<UploadTarget> create(std::error_code& ec, uint64_t min_free_bytes = 0,
                                       uint64_t expected_bytes = 0);
  bool has_room(uint64_t min_free_bytes) const;
  // Renames leftover ".part" files (from a crash) to "NAME.incomplete".
  // Returns how many were found.
  size_t recover();
  const std::string& path() const { return path_; }

 private:
  UploadStore(std::string path, std::shared_ptr<const Fd> dir)
      : path_(std::move(path)), dir_(std::move(dir)) {}
  std::string path_;
  std::shared_ptr<const Fd> dir_;  // uploads in progress keep it open
};

}  // namespace socketd
