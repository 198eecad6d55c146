// ServerContext: what every service and connection of one Server shares: the
// reactor, the I/O threads, the logger, one read buffer, the random source,
// the upload directory and the global connection count.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

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
  // Output queued for clients, all connections together ([daemon] max_output_bytes).
  uint64_t queued_output = 0;
  uint64_t max_output_bytes = 256u << 20;
  // Set by the Server: called (at most once a turn matters) when queued_output
  // went over max_output_bytes; cuts the largest queues after this event.
  std::function<void()> output_over_cap;
  // Set by the Server: writes the metrics exposition (metrics services).
  std::function<void(std::string&)> render_metrics;
  // Every read lands here first; sessions keep only what they must, so an
  // idle connection owns no buffer memory. 64 KiB: one read can hold a full
  // socket receive queue burst.
  alignas(64) std::array<char, 64 * 1024> scratch;

  // Bulk reads (straight into upload buffers) of all connections together in
  // one turn: with 60 uploads at 256 KiB each a turn would copy 15 MiB before
  // a chat client is answered; at 1 MiB the others wait well under a
  // millisecond, and uploads cut off go on next turn (the ready list).
  static constexpr size_t kTurnBulkBytes = 1 << 20;
  // Takes up to `want` bytes of this turn's bulk budget; 0 when it is spent.
  size_t take_bulk(size_t want) {
    if (bulk_turn_ != reactor.now()) {
      bulk_turn_ = reactor.now();
      bulk_left_ = kTurnBulkBytes;
    }
    const size_t n = want < bulk_left_ ? want : bulk_left_;
    bulk_left_ -= n;
    return n;
  }
  void return_bulk(size_t unused) { bulk_left_ += unused; }

 private:
  Clock::time_point bulk_turn_{};
  size_t bulk_left_ = 0;
};

}  // namespace socketd
