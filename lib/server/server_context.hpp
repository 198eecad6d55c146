// ServerContext: what every service and connection of one Server shares: the
// reactor, the logger, one read buffer, the random source, the upload
// directory and the global connection count.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "log/logger.hpp"
#include "reactor/reactor.hpp"
#include "service/random_source.hpp"
#include "service/upload_store.hpp"

namespace socketd {

struct ServerContext {
  ServerContext(Reactor& r, Logger& l) : reactor(r), logger(l) {}

  Reactor& reactor;
  Logger& logger;
  UploadStore* uploads = nullptr;  // null: upload services refuse clients
  RandomSource random;
  uint32_t max_connections = 16384;
  uint32_t open_connections = 0;
  // Every read lands here first; sessions keep only what they must, so an
  // idle connection owns no buffer memory. 64 KiB: one read can hold a full
  // socket receive queue burst.
  alignas(64) std::array<char, 64 * 1024> scratch;

  // Stream uploads read in bigger bites, one read per turn (Connection keeps
  // the bytes per turn equal). Measured on the 2-vCPU VM, interleaved runs of
  // one 1 GiB upload into tmpfs: 256 KiB reads cost socketd 1.47-1.51 CPU s
  // per GiB, 2 MiB reads 0.98-1.02 s (bench/PERF-stream-upload.md).
  // Allocated when the first stream upload needs it.
  static constexpr size_t kBulkReadBytes = 2 * 1024 * 1024;
  std::span<char> bulk_scratch() {
    if (bulk_.empty()) bulk_.resize(kBulkReadBytes);
    return bulk_;
  }

 private:
  std::vector<char> bulk_;
};

}  // namespace socketd
