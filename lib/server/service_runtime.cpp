#include "server/service_runtime.hpp"

#include <cstring>

#include "server/datagram_log.hpp"
#include "service/banner.hpp"
#include "service/chat.hpp"
#include "service/echo.hpp"
#include "service/escape.hpp"
#include "service/stream_upload.hpp"
#include "service/upload.hpp"

namespace socketd {

ServiceRuntime::ServiceRuntime(ServerContext& context,
                               std::shared_ptr<const ServiceSettings> settings)
    : context_(context), settings_(std::move(settings)) {}

ServiceRuntime::~ServiceRuntime() { abort_all("daemon stopped"); }

void ServiceRuntime::set_settings(std::shared_ptr<const ServiceSettings> settings) {
  settings_ = std::move(settings);
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

bool ServiceRuntime::over_rate(Clock::time_point now) {
  const uint32_t rate = settings_->config.max_connection_rate;
  if (rate == 0) return false;
  if (now - rate_window_ >= std::chrono::seconds(1)) {
    rate_window_ = now;
    rate_count_ = 0;
  }
  return ++rate_count_ > rate;
}

Admission ServiceRuntime::accept(Fd fd, const SocketAddress& peer) {
  const auto& config = settings_->config;
  const bool proxied = config.proxy_protocol;
  if (proxied && !settings_->proxy_sources.allows(peer)) {
    ++stats_.denied;
    fd.reset();
    log_refusal(peer, nullptr, "proxy_sources", LogLevel::kNotice);
    return Admission::kRefused;
  }
  if (!proxied && !client_allowed(peer, nullptr)) {
    fd.reset();
    return Admission::kRefused;
  }
  if (over_rate(context_.reactor.now())) {
    // Like xinetd's cps: pause, then start counting afresh once resumed.
    rate_window_ = context_.reactor.now() + config.rate_pause;
    rate_count_ = 0;
    refuse(std::move(fd), peer,
           "max_connection_rate (" + std::to_string(config.max_connection_rate) +
               "/s); listener paused for " + std::to_string(config.rate_pause.count()) + " ms",
           LogLevel::kWarning);
    return Admission::kRateExceeded;
  }
  if (context_.open_connections >= context_.max_connections) {
    refuse(std::move(fd), peer, "[daemon] max_connections", LogLevel::kWarning);
    return Admission::kRefused;
  }
  if (config.max_connections != 0 && connections_.size() >= config.max_connections) {
    refuse(std::move(fd), peer, "max_connections", LogLevel::kWarning);
    return Admission::kRefused;
  }
  if (!proxied && !client_within_per_source(peer, nullptr)) {
    fd.reset();
    return Admission::kRefused;
  }
  const auto now = context_.reactor.now();
  ++stats_.connections_total;
  ++context_.open_connections;
  auto connection = std::make_unique<Connection>(*this, settings_, std::move(fd), peer);
  if (proxied) {
    // Deadlines, not accept times: a reload may change the timeout, and each
    // connection keeps the one it was accepted under.
    awaiting_header_.touch(*connection->header_hook(), now + config.proxy_header_timeout);
  } else {
    opened(peer, nullptr);
    per_source_.add(peer);
  }
  connection->index = connections_.size();
  by_age_.touch(connection->age_hook(), now);
  connections_.push_back(std::move(connection));
  connections_.back()->start();  // may already finish (banner): keep this last
  return Admission::kServed;
}

bool ServiceRuntime::admit(Connection& connection) {
  awaiting_header_.unlink(*connection.header_hook());
  const SocketAddress& client = connection.peer();
  if (!client_allowed(client, connection.proxy()) ||
      !client_within_per_source(client, connection.proxy())) {
    return false;
  }
  opened(client, connection.proxy());
  per_source_.add(client);
  return true;
}

bool ServiceRuntime::client_allowed(const SocketAddress& client, const SocketAddress* proxy) {
  if (settings_->access.allows(client)) return true;
  ++stats_.denied;
  log_refusal(client, proxy, "allow/deny", LogLevel::kNotice);
  return false;
}

bool ServiceRuntime::client_within_per_source(const SocketAddress& client,
                                              const SocketAddress* proxy) {
  const uint32_t limit = settings_->config.max_per_source;
  if (limit == 0 || per_source_.count(client) < limit) return true;
  ++stats_.refused;
  log_refusal(client, proxy, "max_per_source", LogLevel::kWarning);
  return false;
}

void ServiceRuntime::opened(const SocketAddress& client, const SocketAddress* proxy) {
  auto& logger = context_.logger;
  if (!logger.enabled(LogLevel::kInfo)) return;
  std::string peer = client.to_string();
  LogRecord record{LogLevel::kInfo, LogEvent::kConnectionOpened, name() + ": " + peer + " connected",
                   {{"SERVICE", name()}, {"PEER", std::move(peer)}}};
  if (proxy != nullptr) {
    std::string via = proxy->to_string();
    record.message += " via " + via;
    record.fields.push_back({"PROXY", std::move(via)});
  }
  logger.log(record);
}

void ServiceRuntime::refuse(Fd fd, const SocketAddress& peer, std::string_view limit,
                            LogLevel level) {
  ++stats_.refused;
  fd.reset();  // a clean close: the client sees EOF at once, not a hang
  log_refusal(peer, nullptr, limit, level);
}

void ServiceRuntime::log_refusal(const SocketAddress& peer, const SocketAddress* proxy,
                                 std::string_view limit, LogLevel level) {
  const bool access = limit == "allow/deny";
  std::string client = peer.to_string();
  std::string message = name() + ": ";
  if (access) {
    message += client + " denied by allow/deny";
  } else if (limit == "proxy_sources") {
    message += client +
               " denied: not in proxy_sources (this service expects PROXY headers, so only the "
               "load balancers listed there may connect)";
  } else {
    message += "refused " + client + ": " + std::string(limit) + " reached";
  }
  LogRecord record{level, LogEvent::kLimitHit, std::move(message),
                   {{"SERVICE", name()},
                    {"PEER", std::move(client)},
                    {"LIMIT", access ? std::string("access") : std::string(limit)}}};
  if (proxy != nullptr) {
    std::string via = proxy->to_string();
    record.message += " (via " + via + ")";
    record.fields.push_back({"PROXY", std::move(via)});
  }
  context_.logger.log(record);
}

std::unique_ptr<Session> ServiceRuntime::make_session(const ServiceSettings& settings) {
  switch (settings.config.mode) {
    case Mode::kBanner:
      return std::make_unique<BannerSession>(settings.config.message);
    case Mode::kChat:
      return std::make_unique<ChatSession>(settings.chat, context_.random);
    case Mode::kEcho:
    case Mode::kUdpLog:
      return std::make_unique<EchoSession>();
    case Mode::kUpload:
    case Mode::kStreamUpload:
      break;
  }
  auto open = [this, min_free = settings.config.min_free_bytes](
                  uint64_t size, bool hash, Wake wake) -> std::unique_ptr<UploadTarget> {
    if (context_.uploads == nullptr || context_.io == nullptr) {
      return failed_upload_target(std::make_error_code(std::errc::no_such_file_or_directory));
    }
    // The ack protocol acknowledges each chunk once stored: write it at once.
    // A stream upload is acknowledged once, at the end: gather big writes.
    return context_.uploads->create(*context_.io,
                                    {.min_free_bytes = min_free,
                                     .expected_bytes = size,
                                     .hash = hash,
                                     .write_each_append = !hash},
                                    std::move(wake));
  };
  auto finished = [this](const UploadResult& result) {
    const bool done = result.state == UploadResult::State::kFinished;
    ++(done ? stats_.uploads_finished : stats_.uploads_incomplete);
    context_.logger.log(
        {done ? LogLevel::kInfo : LogLevel::kWarning,
         done ? LogEvent::kUploadFinished : LogEvent::kUploadIncomplete,
         name() + ": upload " + result.file + (done ? " finished, " : " incomplete, ") +
             std::to_string(result.bytes) + " bytes" +
             (result.sha256.empty() ? "" : ", sha256 " + result.sha256) +
             (result.reason.empty() ? "" : ": " + result.reason),
         {{"SERVICE", name()}, {"FILE", result.file}, {"BYTES", std::to_string(result.bytes)}}});
  };
  if (settings.config.mode == Mode::kStreamUpload) {
    return std::make_unique<StreamUploadSession>(
        settings.upload,
        [open](uint64_t size, Wake wake) { return open(size, true, std::move(wake)); }, finished);
  }
  return std::make_unique<UploadSession>(
      settings.upload, [open](Wake wake) { return open(0, false, std::move(wake)); }, finished);
}

void ServiceRuntime::on_datagram(std::span<const char> payload, const SocketAddress& peer) {
  ++stats_.datagrams;
  stats_.bytes_in += payload.size();
  if (!datagram_log_) {
    datagram_log_ = std::make_unique<DatagramLog>(context_.reactor, context_.logger, name());
  }
  datagram_log_->record(payload, peer);
}

void ServiceRuntime::on_closed(Connection& connection) {
  idle_.unlink(connection.idle_hook());
  by_age_.unlink(connection.age_hook());
  if (IdleHook* hook = connection.header_hook()) awaiting_header_.unlink(*hook);
  if (connection.admitted()) per_source_.remove(connection.peer());
  --context_.open_connections;
  // Swap-remove keeps the table dense; the reactor destroys the connection
  // after this turn, since events for it may still be queued.
  const size_t i = connection.index;
  std::unique_ptr<Connection> gone = std::move(connections_[i]);
  if (i + 1 != connections_.size()) {
    connections_[i] = std::move(connections_.back());
    connections_[i]->index = i;
  }
  connections_.pop_back();
  context_.reactor.retire(std::move(gone));
}

void ServiceRuntime::sweep(Clock::time_point now) {
  const auto& config = settings_->config;
  while (IdleHook* hook = awaiting_header_.oldest()) {
    if (hook->last_active > now) break;  // last_active holds the deadline
    ++stats_.proxy_errors;
    hook->owner->abort("sent no PROXY header within proxy_header_timeout");
  }
  if (config.idle_timeout.count() > 0) {
    while (IdleHook* hook = idle_.oldest()) {
      if (hook->last_active + config.idle_timeout > now) break;
      ++stats_.timed_out;
      hook->owner->abort("idle timeout");  // unlinks the hook
    }
  }
  if (is_upload(config.mode) && config.upload_timeout.count() > 0) {
    while (IdleHook* hook = by_age_.oldest()) {
      if (hook->last_active + config.upload_timeout > now) break;
      ++stats_.timed_out;
      hook->owner->abort("upload timeout");
    }
  }
}

void ServiceRuntime::collect_queued(std::vector<Connection*>& out) const {
  for (const auto& connection : connections_) {
    if (connection->queued_output() > 0) out.push_back(connection.get());
  }
}

void ServiceRuntime::abort_all(std::string_view reason) {
  while (!connections_.empty()) connections_.back()->abort(reason);
}

}  // namespace socketd
