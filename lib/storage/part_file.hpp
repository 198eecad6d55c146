// PartFile: the disk side of one upload's file. It creates ".NAME.part" in the
// upload directory under an exclusive flock(), writes it with write-behind and
// free-space checks, then renames it into place (commit) or to
// "NAME.incomplete" (abandon). Every call blocks on the file system: only the
// upload's running job on an I/O thread calls it (storage/upload_file.cpp),
// one call at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include "net/fd.hpp"
#include "service/sha256.hpp"
#include "storage/upload_file.hpp"

namespace socketd {

class PartFile {
 public:
  PartFile(std::shared_ptr<const Fd> dir, std::string name, const UploadFileOptions& options)
      : dir_(std::move(dir)), name_(std::move(name)), options_(options) {}

  // Creates the file; on a name collision under a new name, stored in `name`.
  std::error_code open(std::string& name) noexcept;
  std::error_code write(std::span<const char> bytes) noexcept;
  // fsync, rename to the final name, fsync of the directory; `digest` is the
  // SHA-256 if options.hash.
  std::error_code commit(std::string& digest) noexcept;
  // Renames what exists (".part", or the final name after a commit that failed
  // late) to ".incomplete"; nothing if the file was never created.
  void abandon() noexcept;

 private:
  const std::shared_ptr<const Fd> dir_;  // shared with the store and the other uploads
  Fd file_;
  std::string name_;  // final name
  const UploadFileOptions options_;
  bool renamed_ = false;
  std::optional<Sha256> hash_;
  uint64_t since_check_ = 0;
  uint64_t written_ = 0;
  uint64_t writeback_from_ = 0;   // start of the data not yet handed to writeback
  uint64_t previous_window_ = 0;  // start of the window handed over last time
  uint64_t waited_to_ = 0;        // everything before this has been written
};

}  // namespace socketd
