#include "server/datagram_log.hpp"

#include <netinet/in.h>

#include <cstdio>
#include <cstring>

#include "service/escape.hpp"

namespace socketd {
namespace {

constexpr auto kWindow = std::chrono::seconds(1);

uint64_t mix(uint64_t x) {  // splitmix64's finaliser: spreads keys over the slots
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Never 0 (the empty slot). IPv4 keys are exact; IPv6 keys a 64-bit hash.
uint64_t key_of(const SocketAddress& peer) {
  if (peer.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(peer.get());
    return (uint64_t{1} << 48) | (uint64_t{in->sin_addr.s_addr} << 16) | in->sin_port;
  }
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the whole address
  const auto* bytes = reinterpret_cast<const unsigned char*>(peer.get());
  for (socklen_t i = 0; i < peer.size(); ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  return h | 1;
}

// "390 B", "12.3 kB", "32.0 MB", "1.2 GB".
std::string byte_count(uint64_t bytes) {
  if (bytes < 1000) return std::to_string(bytes) + " B";
  const auto value = static_cast<double>(bytes);
  char text[32];
  if (bytes < 1'000'000) {
    std::snprintf(text, sizeof text, "%.1f kB", value / 1e3);
  } else if (bytes < 1'000'000'000) {
    std::snprintf(text, sizeof text, "%.1f MB", value / 1e6);
  } else {
    std::snprintf(text, sizeof text, "%.1f GB", value / 1e9);
  }
  return text;
}

}  // namespace

std::string with_thousands(uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void PeerTally::add(const SocketAddress& peer) noexcept {
  if (saturated()) return;
  const uint64_t key = key_of(peer);
  for (size_t i = mix(key) % kSlots;; i = (i + 1) % kSlots) {
    if (slots_[i] == key) return;
    if (slots_[i] == 0) {
      slots_[i] = key;
      ++distinct_;
      return;
    }
  }
}

void PeerTally::clear() noexcept {
  if (distinct_ == 0) return;
  slots_.fill(0);
  distinct_ = 0;
}

DatagramLog::DatagramLog(Reactor& reactor, Logger& logger, std::string service)
    : reactor_(reactor), logger_(logger), service_(std::move(service)) {}

DatagramLog::~DatagramLog() { flush(); }  // a removed service still reports its last window

void DatagramLog::record(std::span<const char> payload, const SocketAddress& peer) noexcept {
  if (!logger_.enabled(LogLevel::kInfo)) return;  // neither records nor summaries to write
  if (!open_) {
    open_ = true;
    logging_ = true;
    window_ = Window{reactor_.now()};
    timer_ = reactor_.add_timer(std::chrono::duration_cast<std::chrono::milliseconds>(kWindow),
                                [this] {
                                  timer_ = 0;
                                  close_window();
                                });
  }
  ++window_.datagrams;
  window_.bytes += payload.size();
  peers_.add(peer);
  // Decided before the record is built: beyond the limit a datagram costs a
  // few counters, not an escape and a formatted record thrown away.
  if (logging_ && !logger_.admits(LogLevel::kInfo, service_)) logging_ = false;
  if (!logging_) {
    ++window_.not_logged;
    return;
  }
  log_one(payload, peer);
}

void DatagramLog::log_one(std::span<const char> payload, const SocketAddress& peer) noexcept {
  std::string text = escape_payload(payload);
  std::string from = peer.to_string();
  std::string bytes = std::to_string(payload.size());
  logger_.log({LogLevel::kInfo, LogEvent::kDatagram,
               service_ + ": datagram from " + from + " (" + bytes + " bytes): " + text,
               {{"SERVICE", service_},
                {"PEER", std::move(from)},
                {"BYTES", std::move(bytes)},
                {"PAYLOAD", std::move(text)}}});
}

void DatagramLog::flush() noexcept {
  if (timer_ != 0) reactor_.cancel_timer(timer_);
  timer_ = 0;
  close_window();
}

void DatagramLog::close_window() noexcept {
  if (!open_) return;
  open_ = false;
  const Window w = window_;
  const size_t peers = peers_.distinct();
  const bool saturated = peers_.saturated();
  peers_.clear();
  // Every datagram of the window was logged on its own: nothing to add.
  if (w.not_logged == 0) return;
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(reactor_.now() - w.start).count();
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f s", static_cast<double>(ms) / 1000.0);
  const std::string peers_text =
      (saturated ? "at least " : "") + with_thousands(peers) + (peers == 1 ? " peer" : " peers");
  logger_.log({LogLevel::kInfo, LogEvent::kDatagramSummary,
               service_ + ": " + with_thousands(w.datagrams) + " datagrams, " +
                   byte_count(w.bytes) + " from " + peers_text + " in the last " + seconds +
                   "; " + with_thousands(w.not_logged) +
                   " not logged individually (over [daemon] log_rate_limit)",
               {{"SERVICE", service_},
                {"DATAGRAMS", std::to_string(w.datagrams)},
                {"BYTES", std::to_string(w.bytes)},
                {"PEERS", std::to_string(peers)},
                {"NOT_LOGGED", std::to_string(w.not_logged)},
                {"WINDOW_MS", std::to_string(ms)}}});
}

}  // namespace socketd
