// AdmissionPolicy: who may connect to one service. Judges a client against
// allow/deny, proxy_sources, the connection caps, max_per_source and
// max_connection_rate, and keeps what those need (per-source counts, the
// rate window). It only says why it refused (a Refusal); the service logs and
// counts, so every refusal is reported the same way.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "net/address.hpp"
#include "reactor/timer_queue.hpp"
#include "server/service_settings.hpp"

namespace socketd {

enum class Refusal {
  kAccess,                // allow/deny
  kProxySources,          // a proxy_protocol service, and the peer is no listed balancer
  kRate,                  // max_connection_rate; the listener pauses for rate_pause
  kDaemonMaxConnections,  // [daemon] max_connections
  kMaxConnections,        // the service's max_connections
  kMaxPerSource,          // max_per_source
  kMaxInstances,          // exec: max_instances handlers already running
};

// allow/deny and proxy_sources deny (counted as denied, logged as notices);
// the rest are limits (refused, warnings).
bool is_denial(Refusal refusal);
// A short stable name: "allow_deny", "proxy", "rate", "max_connections",
// "max_per_source", "max_instances" (metrics labels; both connection caps are
// "max_connections").
std::string_view refusal_label(Refusal refusal);

// The reason labels of socketd_connections_refused_total, in counter order:
// every refusal_label() and "fd_exhausted" (accept failed for want of file
// descriptors; the client was closed at once).
inline constexpr std::string_view kRefusalLabels[] = {
    "allow_deny", "max_connections", "max_per_source", "rate",
    "proxy",      "fd_exhausted",    "max_instances"};
inline constexpr size_t kRefusalFdExhausted = 5;
// Index of refusal_label(refusal) in kRefusalLabels.
size_t refusal_index(Refusal refusal);

// Open connections per client address (for max_per_source), keyed by the
// address bytes (an IPv4-mapped IPv6 peer counts as its IPv4 address).
class PeerCounts {
 public:
  uint32_t count(const SocketAddress& peer) const;
  void add(const SocketAddress& peer) { ++counts_[key(peer)]; }
  void remove(const SocketAddress& peer);

 private:
  struct Key {
    std::array<unsigned char, 16> bytes{};  // IPv4 in the first 4
    bool v6 = false;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  static Key key(const SocketAddress& peer);
  std::unordered_map<Key, uint32_t, KeyHash> counts_;
};

class AdmissionPolicy {
 public:
  struct Load {
    size_t service_open;   // this service's open connections
    uint32_t daemon_open;  // all services'
    uint32_t daemon_max;   // [daemon] max_connections
  };

  explicit AdmissionPolicy(std::shared_ptr<const ServiceSettings> settings)
      : settings_(std::move(settings)) {}
  void set_settings(std::shared_ptr<const ServiceSettings> settings) {
    settings_ = std::move(settings);
  }

  // A new connection from `peer` (the socket's own peer). With
  // proxy_protocol the peer is the load balancer: only proxy_sources and the
  // limits that do not judge the client apply here; the client is judged by
  // check_client() once its PROXY header names it.
  std::optional<Refusal> check_accept(const SocketAddress& peer, Clock::time_point now, Load load);
  // allow/deny and max_per_source for the client a PROXY header named.
  std::optional<Refusal> check_client(const SocketAddress& client) const;

  // exec: whether one more handler may start, `running` being this
  // service's (old settings' handlers count too). Checked last, once every
  // other limit has admitted the client, just before the spawn.
  std::optional<Refusal> check_instances(size_t running) const;
  // The client counts towards max_per_source from now until closed().
  void opened(const SocketAddress& client) { per_source_.add(client); }
  void closed(const SocketAddress& client) { per_source_.remove(client); }

  // After a kRate refusal: how long the listener pauses. rate_pause, or
  // longer if the rate allows no connection before then, so the clients that
  // waited in the backlog meanwhile are not refused in turn.
  std::chrono::milliseconds rate_pause(Clock::time_point now) const;

  // What the journal's SOCKETD_LIMIT says for `refusal` and what the log line
  // names as the limit reached (with the values in force).
  std::string limit_text(Refusal refusal) const;

 private:
  bool over_rate(Clock::time_point now);

  std::shared_ptr<const ServiceSettings> settings_;
  PeerCounts per_source_;
  // max_connection_rate: when the bucket is next empty (see over_rate()).
  Clock::time_point rate_tat_{};
};

}  // namespace socketd
