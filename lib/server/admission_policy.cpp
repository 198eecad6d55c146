#include "server/admission_policy.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace socketd {

bool is_denial(Refusal refusal) {
  return refusal == Refusal::kAccess || refusal == Refusal::kProxySources;
}

size_t refusal_index(Refusal refusal) {
  switch (refusal) {
    case Refusal::kAccess:
      return 0;
    case Refusal::kDaemonMaxConnections:
    case Refusal::kMaxConnections:
      return 1;
    case Refusal::kMaxPerSource:
      return 2;
    case Refusal::kRate:
      return 3;
    case Refusal::kProxySources:
      return 4;
    case Refusal::kMaxInstances:
      return 6;
  }
  return 0;
}

std::string_view refusal_label(Refusal refusal) {
  switch (refusal) {
    case Refusal::kAccess: return "allow_deny";
    case Refusal::kProxySources: return "proxy";
    case Refusal::kRate: return "rate";
    case Refusal::kDaemonMaxConnections:
    case Refusal::kMaxConnections: return "max_connections";
    case Refusal::kMaxPerSource: return "max_per_source";
    case Refusal::kMaxInstances:
      return "max_instances";
  }
  return "unknown";
}

PeerCounts::Key PeerCounts::key(const SocketAddress& peer) {
  Key k;
  if (peer.family() == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6*>(peer.get())->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      std::memcpy(k.bytes.data(), a.s6_addr + 12, 4);
    } else {
      std::memcpy(k.bytes.data(), a.s6_addr, 16);
      k.v6 = true;
    }
  } else if (peer.family() == AF_INET) {
    std::memcpy(k.bytes.data(), &reinterpret_cast<const sockaddr_in*>(peer.get())->sin_addr, 4);
  }
  return k;
}

size_t PeerCounts::KeyHash::operator()(const Key& k) const noexcept {
  uint64_t a, b;
  std::memcpy(&a, k.bytes.data(), 8);
  std::memcpy(&b, k.bytes.data() + 8, 8);
  return std::hash<uint64_t>{}((a * 0x9e3779b97f4a7c15ull) ^ b ^ k.v6);
}

uint32_t PeerCounts::count(const SocketAddress& peer) const {
  const auto it = counts_.find(key(peer));
  return it == counts_.end() ? 0 : it->second;
}

void PeerCounts::remove(const SocketAddress& peer) {
  const auto it = counts_.find(key(peer));
  if (it != counts_.end() && --it->second == 0) counts_.erase(it);
}

bool AdmissionPolicy::over_rate(Clock::time_point now) {
  const uint32_t rate = settings_->config.max_connection_rate;
  if (rate == 0) return false;
  // GCRA (a token bucket held as one time point): each connection moves the
  // theoretical arrival time on by 1 s / rate; a connection that would put it
  // more than a second ahead of now is over the rate. Bursts of up to `rate`,
  // and `rate` per second in the long run, however long the listener pauses.
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) / rate;
  const auto next = std::max(rate_tat_, now) + interval;
  if (next - now > std::chrono::seconds(1)) return true;
  rate_tat_ = next;
  return false;
}

std::chrono::milliseconds AdmissionPolicy::rate_pause(Clock::time_point now) const {
  const auto& config = settings_->config;
  if (config.max_connection_rate == 0) return config.rate_pause;
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) /
                        config.max_connection_rate;
  // The next connection fits once rate_tat_ + interval - now <= 1 s.
  const auto until_room = rate_tat_ + interval - std::chrono::seconds(1) - now;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(until_room);
  return std::max(config.rate_pause, wait);
}

std::optional<Refusal> AdmissionPolicy::check_accept(const SocketAddress& peer,
                                                     Clock::time_point now, Load load) {
  const auto& config = settings_->config;
  const bool proxied = config.proxy_protocol;
  if (proxied && !settings_->proxy_sources.allows(peer)) return Refusal::kProxySources;
  if (!proxied && !settings_->access.allows(peer)) return Refusal::kAccess;
  // Like xinetd's cps the listener then pauses for rate_pause; unlike it, the
  // count does not start afresh after the pause (that let through `rate`
  // per rate_pause plus burst, 100/s for 50/s and 500ms).
  if (over_rate(now)) return Refusal::kRate;
  if (load.daemon_open >= load.daemon_max) return Refusal::kDaemonMaxConnections;
  if (config.max_connections != 0 && load.service_open >= config.max_connections) {
    return Refusal::kMaxConnections;
  }
  if (!proxied) {
    const uint32_t limit = config.max_per_source;
    if (limit != 0 && per_source_.count(peer) >= limit) return Refusal::kMaxPerSource;
  }
  return std::nullopt;
}

std::optional<Refusal> AdmissionPolicy::check_client(const SocketAddress& client) const {
  if (!settings_->access.allows(client)) return Refusal::kAccess;
  const uint32_t limit = settings_->config.max_per_source;
  if (limit != 0 && per_source_.count(client) >= limit) return Refusal::kMaxPerSource;
  return std::nullopt;
}

std::optional<Refusal> AdmissionPolicy::check_instances(size_t running) const {
  const uint32_t limit = settings_->config.max_instances;
  if (limit != 0 && running >= limit) return Refusal::kMaxInstances;
  return std::nullopt;
}

std::string AdmissionPolicy::limit_text(Refusal refusal) const {
  const auto& config = settings_->config;
  switch (refusal) {
    case Refusal::kAccess: return "access";
    case Refusal::kProxySources: return "proxy_sources";
    case Refusal::kRate:
      return "max_connection_rate (" + std::to_string(config.max_connection_rate) +
             "/s); listener paused for " + std::to_string(config.rate_pause.count()) + " ms";
    case Refusal::kDaemonMaxConnections: return "[daemon] max_connections";
    case Refusal::kMaxConnections: return "max_connections";
    case Refusal::kMaxPerSource: return "max_per_source";
    case Refusal::kMaxInstances:
      return "max_instances (" + std::to_string(config.max_instances) + ")";
  }
  return "unknown";
}

}  // namespace socketd
