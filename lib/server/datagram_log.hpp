// DatagramLog: what a udp-log service tells the log about its datagrams. Each
// datagram is one record while the service's log rate limit allows; beyond it
// a datagram is only counted (no escaping, formatting or allocation), and one
// summary per second says how many datagrams and bytes came from how many
// peers, and how many of them were not logged individually.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "log/logger.hpp"
#include "net/address.hpp"
#include "reactor/reactor.hpp"

namespace socketd {

// Distinct sender addresses (host and port) seen in one window, up to kLimit.
class PeerTally {
 public:
  static constexpr size_t kLimit = 1024;
  void add(const SocketAddress& peer) noexcept;
  size_t distinct() const { return distinct_; }
  bool saturated() const { return distinct_ >= kLimit; }
  void clear() noexcept;

 private:
  static constexpr size_t kSlots = 2 * kLimit;  // open addressing, at most half full
  std::array<uint64_t, kSlots> slots_{};        // 0: empty
  size_t distinct_ = 0;
};

class DatagramLog {
 public:
  DatagramLog(Reactor& reactor, Logger& logger, std::string service);
  ~DatagramLog();
  DatagramLog(const DatagramLog&) = delete;
  DatagramLog& operator=(const DatagramLog&) = delete;

  void record(std::span<const char> payload, const SocketAddress& peer) noexcept;
  // Writes the summary of the window in progress now (if it has one to write).
  void flush() noexcept;

 private:
  struct Window {
    Clock::time_point start{};
    uint64_t datagrams = 0;
    uint64_t bytes = 0;
    uint64_t not_logged = 0;
  };
  void log_one(std::span<const char> payload, const SocketAddress& peer) noexcept;
  void close_window() noexcept;

  Reactor& reactor_;
  Logger& logger_;
  const std::string service_;
  Window window_;
  bool open_ = false;
  // Once the limit said no in this window, later datagrams skip asking it.
  bool logging_ = true;
  TimerId timer_ = 0;
  PeerTally peers_;
};

// 1234567 -> "1,234,567".
std::string with_thousands(uint64_t n);

}  // namespace socketd
