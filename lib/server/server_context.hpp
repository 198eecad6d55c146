// ServerContext: what every service and connection of one Server shares: the
// reactor, the I/O threads, the logger, one read buffer, the random source,
// the upload directory and the global connection count.
#pragma once

#include <array>
#include <cstdint>

#include "log/logger.hpp"
#include "reactor/io_pool.hpp"
#include "reactor/reactor.hpp"
#include "service/random_source.hpp"
#include "storage/upload_store.hpp"

namespace socketd {

struct ServerContext {
  ServerContext(Reactor& r, Logger& l) : reactor(r), logger(l) {}

  Reactor& reactor;
  Logger& logger;
  IoPool* io = nullptr;            // null: upload services refuse clients
  UploadStore* uploads = nullptr;  // null: upload services refuse clients
  RandomSource random;
  uint32_t max_connections = 16384;
  uint32_t open_connections = 0;
  // Every read lands here first; sessions keep only what they must, so an
  // idle connection owns no buffer memory. 64 KiB: one read can hold a full
  // socket receive queue burst.
  alignas(64) std::array<char, 64 * 1024> scratch;
};

}  // namespace socketd
