#include "server/service_runtime.hpp"

#include "server/datagram_log.hpp"
#include "service/banner.hpp"
#include "service/chat.hpp"
#include "service/echo.hpp"
#include "service/upload.hpp"

namespace socketd {

ServiceRuntime::ServiceRuntime(ServerContext& context,
                               std::shared_ptr<const ServiceSettings> settings)
    : context_(context), settings_(std::move(settings)) {}

ServiceRuntime::~ServiceRuntime() { abort_all("daemon stopped"); }

void ServiceRuntime::set_settings(std::shared_ptr<const ServiceSettings> settings) {
  settings_ = std::move(settings);
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
  if (!settings_->access.allows(peer)) {
    ++stats_.denied;
    fd.reset();
    context_.logger.log({LogLevel::kNotice, LogEvent::kLimitHit,
                         name() + ": " + peer.to_string() + " denied by allow/deny",
                         {{"SERVICE", name()}, {"PEER", peer.to_string()}, {"LIMIT", "access"}}});
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
  if (config.max_per_source != 0 && per_source_.count(peer) >= config.max_per_source) {
    refuse(std::move(fd), peer, "max_per_source", LogLevel::kWarning);
    return Admission::kRefused;
  }
  auto& logger = context_.logger;
  if (logger.enabled(LogLevel::kInfo)) {
    logger.log({LogLevel::kInfo, LogEvent::kConnectionOpened,
                name() + ": " + peer.to_string() + " connected",
                {{"SERVICE", name()}, {"PEER", peer.to_string()}}});
  }
  ++stats_.connections_total;
  ++context_.open_connections;
  per_source_.add(peer);
  auto connection = std::make_unique<Connection>(*this, settings_, std::move(fd), peer);
  connection->index = connections_.size();
  by_age_.touch(connection->age_hook(), context_.reactor.now());
  connections_.push_back(std::move(connection));
  connections_.back()->start();  // may already finish (banner): keep this last
  return Admission::kServed;
}

void ServiceRuntime::refuse(Fd fd, const SocketAddress& peer, std::string_view limit,
                            LogLevel level) {
  ++stats_.refused;
  fd.reset();  // a clean close: the client sees EOF at once, not a hang
  context_.logger.log({level, LogEvent::kLimitHit,
                       name() + ": refused " + peer.to_string() + ": " + std::string(limit) +
                           " reached",
                       {{"SERVICE", name()}, {"PEER", peer.to_string()},
                        {"LIMIT", std::string(limit)}}});
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
      break;
  }
  auto open = [this, min_free = settings.config.min_free_bytes](
                  std::error_code& ec) -> std::unique_ptr<UploadTarget> {
    if (context_.uploads == nullptr) {
      ec = std::make_error_code(std::errc::no_such_file_or_directory);
      return nullptr;
    }
    return context_.uploads->create(ec, min_free);
  };
  auto finished = [this](const UploadResult& result) {
    const bool done = result.state == UploadResult::State::kFinished;
    ++(done ? stats_.uploads_finished : stats_.uploads_incomplete);
    context_.logger.log(
        {done ? LogLevel::kInfo : LogLevel::kWarning,
         done ? LogEvent::kUploadFinished : LogEvent::kUploadIncomplete,
         name() + ": upload " + result.file + (done ? " finished, " : " incomplete, ") +
             std::to_string(result.bytes) + " bytes" +
             (result.reason.empty() ? "" : ": " + result.reason),
         {{"SERVICE", name()}, {"FILE", result.file}, {"BYTES", std::to_string(result.bytes)}}});
  };
  return std::make_unique<UploadSession>(settings.upload, open, finished);
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
  per_source_.remove(connection.peer());
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
  if (config.idle_timeout.count() > 0) {
    while (IdleHook* hook = idle_.oldest()) {
      if (hook->last_active + config.idle_timeout > now) break;
      ++stats_.timed_out;
      hook->owner->abort("idle timeout");  // unlinks the hook
    }
  }
  if (config.mode == Mode::kUpload && config.upload_timeout.count() > 0) {
    while (IdleHook* hook = by_age_.oldest()) {
      if (hook->last_active + config.upload_timeout > now) break;
      ++stats_.timed_out;
      hook->owner->abort("upload timeout");
    }
  }
}

void ServiceRuntime::abort_all(std::string_view reason) {
  while (!connections_.empty()) connections_.back()->abort(reason);
}

}  // namespace socketd
