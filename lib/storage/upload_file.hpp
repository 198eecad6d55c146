// An upload's file, written by the I/O threads (reactor/io_pool.hpp) so that
// the event loop never waits on the disk. The bytes of one upload go through
// at most kMaxQueuedWrites buffers of kBufferBytes on their way to the disk,
// plus the one being filled: 3 MiB per upload at most. When they are all in
// use, can_take() says so and the session stops reading its socket (the
// client's TCP window pushes back); a buffer coming back wakes it.
//
// The file's jobs (open, write + hash, commit, abandon) run one at a time and
// in order, each on whichever I/O thread is free; what a job touches on the
// disk side (storage/part_file.hpp) is owned by the file and touched by no one
// else meanwhile. Names: storage/upload_names.hpp; buffer memory:
// storage/upload_buffers.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "net/fd.hpp"
#include "service/upload.hpp"

namespace socketd {

class IoPool;

struct UploadFileOptions {
  uint64_t min_free_bytes = 0;  // refuse (ENOSPC) below this much free space
  uint64_t expected_bytes = 0;  // the declared size, checked up front; 0: unknown
  bool hash = false;            // SHA-256 of the bytes, for UploadTarget::sha256()
  // Each append goes to the disk as it is (the ack protocol acknowledges a
  // chunk once stored) instead of being gathered into kBufferBytes writes.
  bool write_each_append = false;
};

struct UploadFileLimits {
  // One write() per buffer: big enough that the per-job overhead (a thread
  // wake-up, a syscall) is lost in the copy, small enough that a few uploads
  // hold little memory.
  static constexpr size_t kBufferBytes = 1 << 20;
  static constexpr size_t kMaxQueuedWrites = 2;
  // Free-space checks (statvfs) while the file grows.
  static constexpr uint64_t kCheckEvery = 4u << 20;
  // Write-behind: every this many bytes, writeback of the new data starts and
  // the data before the previous window is waited for (sync_file_range), so
  // the fsync at commit waits for ~16 MiB instead of the whole file.
  static constexpr uint64_t kWritebackEvery = 8u << 20;
};

// A new ".NAME.part" in `dir`, created by a job: status() is kOpening until
// it exists. `wake` runs on the reactor thread after each job, never after
// abandon(). Every live ".part" holds an exclusive flock(), so leftover
// recovery (of this or another process) can tell it from a crashed upload's.
std::unique_ptr<UploadTarget> open_upload_file(IoPool& pool, std::shared_ptr<const Fd> dir,
                                               std::string name, UploadFileOptions options,
                                               Wake wake);

// A target that failed before it began (no upload directory): status() is
// kFailed with `error`, and nothing ever reaches a disk.
std::unique_ptr<UploadTarget> failed_upload_target(std::error_code error);

}  // namespace socketd
