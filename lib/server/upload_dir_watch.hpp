// UploadDirWatch: notices when the upload directory is deleted, moved away or
// replaced while socketd runs. Every kInterval an I/O job looks at the path
// (UploadStore::check: stat, never on the loop); a directory that is gone gets
// one warning naming it and what to do, and a directory found at the path
// again (recreated, or another one renamed into place) is handed to
// `adopt`, so uploads work again without a restart or reload.
//
// It never creates the directory itself: an upload directory that is a mount
// point of an unmounted disk must not be recreated on the disk below it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "log/logger.hpp"
#include "reactor/io_pool.hpp"
#include "reactor/reactor.hpp"
#include "storage/upload_store.hpp"

namespace socketd {

class UploadDirWatch {
 public:
  static constexpr std::chrono::seconds kInterval{2};

  UploadDirWatch(Reactor& reactor, IoPool& pool, Logger& logger,
                 std::function<void(std::unique_ptr<UploadStore>)> adopt);
  ~UploadDirWatch();
  UploadDirWatch(const UploadDirWatch&) = delete;
  UploadDirWatch& operator=(const UploadDirWatch&) = delete;

  // Watches `store` (the one uploads go to now) from now on; it must outlive
  // the watch or the next watch() call (the previous one may already be gone).
  void watch(const UploadStore& store);

 private:
  void schedule();
  void checked(UploadStore::Check check, uint64_t generation);

  Reactor& reactor_;
  IoPool& pool_;
  Logger& logger_;
  std::function<void(std::unique_ptr<UploadStore>)> adopt_;
  const UploadStore* store_ = nullptr;  // the Server's current store
  std::string path_;                    // its path
  TimerId timer_ = 0;
  bool in_flight_ = false;
  bool reported_gone_ = false;
  uint64_t generation_ = 0;  // one per watch(): a check of an earlier store is ignored
  // A check job's completion finds out through this whether the watch still exists.
  std::shared_ptr<UploadDirWatch*> self_;
};

}  // namespace socketd
