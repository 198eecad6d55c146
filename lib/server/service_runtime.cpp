#include "server/service_runtime.hpp"

#include <algorithm>
#include <cstring>

#include "server/datagram_log.hpp"
#include "server/proxy_field.hpp"
#include "service/banner.hpp"
#include "service/chat.hpp"
#include "service/echo.hpp"
#include "service/escape.hpp"
#include "service/metrics_session.hpp"
#include "service/stream_upload.hpp"
#include "service/upload.hpp"

namespace socketd {

ServiceRuntime::ServiceRuntime(ServerContext& context,
                               std::shared_ptr<const ServiceSettings> settings, ServiceStats& stats)
    : context_(context), settings_(settings), admission_(std::move(settings)), stats_(stats) {}

ServiceRuntime::~ServiceRuntime() { abort_all("daemon stopped"); }

void ServiceRuntime::set_settings(std::shared_ptr<const ServiceSettings> settings) {
  settings_ = settings;
  admission_.set_settings(std::move(settings));
}

Admission ServiceRuntime::accept(Fd fd, const SocketAddress& peer) {
  const auto now = context_.reactor.now();
  const auto refusal = admission_.check_accept(
      peer, now,
      {.service_open = connections_.size(),
       .daemon_open = context_.open_connections,
       .daemon_max = context_.max_connections});
  if (refusal) {
    fd.reset();  // a clean close: the client sees EOF at once, not a hang
    refused(*refusal, peer, nullptr);
    return *refusal == Refusal::kRate ? Admission::kRateExceeded : Admission::kRefused;
  }
  const auto& config = settings_->config;
  ++stats_.connections_total;
  ++stats_.open;
  ++context_.open_connections;
  auto connection = std::make_unique<Connection>(*this, settings_, std::move(fd), peer);
  if (config.proxy_protocol) {
    // Deadlines, not accept times: a reload may change the timeout, and each
    // connection keeps the one it was accepted under.
    awaiting_header_.touch(*connection->header_hook(), now + config.proxy_header_timeout);
  } else {
    opened(peer, nullptr);
    admission_.opened(peer);
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
  if (const auto refusal = admission_.check_client(client)) {
    refused(*refusal, client, connection.proxy());
    return false;
  }
  opened(client, connection.proxy());
  admission_.opened(client);
  return true;
}

void ServiceRuntime::opened(const SocketAddress& client, const SocketAddress* proxy) {
  auto& logger = context_.logger;
  if (!logger.enabled(LogLevel::kInfo)) return;
  std::string peer = client.to_string();
  LogRecord record{LogLevel::kInfo, LogEvent::kConnectionOpened, name() + ": " + peer + " connected",
                   {{"SERVICE", name()}, {"PEER", std::move(peer)}}};
  add_proxy_field(record, proxy);
  logger.log(record);
}

void ServiceRuntime::refused(Refusal refusal, const SocketAddress& client,
                             const SocketAddress* proxy) {
  const bool denial = is_denial(refusal);
  ++(denial ? stats_.denied : stats_.refused);
  ++stats_.refused_by[refusal_index(refusal)];
  const std::string limit = admission_.limit_text(refusal);
  std::string peer = client.to_string();
  std::string message = name() + ": ";
  if (refusal == Refusal::kAccess) {
    message += peer + " denied by allow/deny";
  } else if (refusal == Refusal::kProxySources) {
    message += peer +
               " denied: not in proxy_sources (this service expects PROXY headers, so only the "
               "load balancers listed there may connect)";
  } else {
    message += "refused " + peer + ": " + limit + " reached";
  }
  LogRecord record{denial ? LogLevel::kNotice : LogLevel::kWarning, LogEvent::kLimitHit,
                   std::move(message),
                   {{"SERVICE", name()}, {"PEER", std::move(peer)}, {"LIMIT", limit}}};
  add_proxy_field(record, proxy, ViaStyle::kParenthesised);
  context_.logger.log(record);
}

namespace {

using SessionMaker = std::unique_ptr<Session> (ServiceRuntime::*)(const ServiceSettings&,
                                                                  const SocketAddress&);
struct ModeSessions {
  Mode mode;
  // nullptr: the mode has no sessions (UDP: no connections; exec: a handler
  // process serves each connection, see Connection::begin_exec).
  SessionMaker make;
};
}  // namespace

// The server-side half of kModeTable (config/mode_table.hpp), in its order.
// A nested type, so that it may name the private makers.
struct ServiceRuntime::Makers {
  static constexpr ModeSessions kTable[] = {
      {Mode::kBanner, &ServiceRuntime::make_banner},
      {Mode::kChat, &ServiceRuntime::make_chat},
      {Mode::kEcho, &ServiceRuntime::make_echo},
      {Mode::kUdpLog, nullptr},
      {Mode::kUpload, &ServiceRuntime::make_upload},
      {Mode::kStreamUpload, &ServiceRuntime::make_stream_upload},
      {Mode::kMetrics, &ServiceRuntime::make_metrics},
      {Mode::kExec, nullptr},
  };
  static constexpr bool in_step() {
    if (std::size(kTable) != std::size(kModeTable)) return false;
    for (size_t i = 0; i < std::size(kTable); ++i) {
      // (Not checked here: `make` is null exactly for UDP and exec modes. Comparing
      // member pointers is no constant expression under -fsanitize=undefined;
      // a TCP mode without a maker fails its integration tests at once.)
      if (kTable[i].mode != kModeTable[i].mode) return false;
    }
    return true;
  }
};

std::unique_ptr<Session> ServiceRuntime::make_session(const ServiceSettings& settings,
                                                      const SocketAddress& peer) {
  static_assert(Makers::in_step(), "one session maker per TCP mode, in kModeTable's order");
  const SessionMaker make = Makers::kTable[static_cast<size_t>(settings.config.mode)].make;
  return make != nullptr ? (this->*make)(settings, peer) : nullptr;
}

std::unique_ptr<Session> ServiceRuntime::make_banner(const ServiceSettings& settings,
                                                     const SocketAddress&) {
  return std::make_unique<BannerSession>(settings.config.message);
}

std::unique_ptr<Session> ServiceRuntime::make_chat(const ServiceSettings& settings,
                                                   const SocketAddress&) {
  return std::make_unique<ChatSession>(settings.chat, context_.random);
}

std::unique_ptr<Session> ServiceRuntime::make_echo(const ServiceSettings&, const SocketAddress&) {
  return std::make_unique<EchoSession>();
}

std::unique_ptr<Session> ServiceRuntime::make_upload(const ServiceSettings& settings,
                                                     const SocketAddress& peer) {
  return std::make_unique<UploadSession>(
      settings.upload,
      [open = upload_opener(settings)](Wake wake) { return open(0, false, std::move(wake)); },
      upload_finisher(peer), upload_refuser(peer));
}

std::unique_ptr<Session> ServiceRuntime::make_stream_upload(const ServiceSettings& settings,
                                                            const SocketAddress& peer) {
  return std::make_unique<StreamUploadSession>(
      settings.upload,
      [open = upload_opener(settings)](uint64_t size, Wake wake) {
        return open(size, true, std::move(wake));
      },
      upload_finisher(peer), upload_refuser(peer));
}

std::unique_ptr<Session> ServiceRuntime::make_metrics(const ServiceSettings& settings,
                                                      const SocketAddress&) {
  return std::make_unique<MetricsSession>(settings.metrics, context_.render_metrics);
}

std::function<std::unique_ptr<UploadTarget>(uint64_t, bool, Wake)> ServiceRuntime::upload_opener(
    const ServiceSettings& settings) {
  return [this, min_free = settings.config.min_free_bytes](
             uint64_t size, bool stream, Wake wake) -> std::unique_ptr<UploadTarget> {
    if (context_.uploads == nullptr || context_.io == nullptr) {
      return failed_upload_target(std::make_error_code(std::errc::no_such_file_or_directory));
    }
    // The ack protocol acknowledges each chunk once stored: write it at once.
    // A stream upload is acknowledged once, at the end: gather big writes.
    return context_.uploads->create(*context_.io,
                                    {.min_free_bytes = min_free,
                                     .expected_bytes = size,
                                     .hash = stream,
                                     .write_each_append = !stream},
                                    std::move(wake));
  };
}

std::function<void(const UploadResult&)> ServiceRuntime::upload_finisher(
    const SocketAddress& peer) {
  return [this, peer](const UploadResult& result) { upload_ended(result, peer); };
}

void ServiceRuntime::upload_ended(const UploadResult& result, const SocketAddress& peer) {
  const bool done = result.state == UploadResult::State::kFinished;
  ++(done ? stats_.uploads_finished : stats_.uploads_incomplete);
  stats_.upload_bytes += result.bytes;
  std::string from = peer.to_string();
  LogRecord record{done ? LogLevel::kInfo : LogLevel::kWarning,
                   done ? LogEvent::kUploadFinished : LogEvent::kUploadIncomplete,
                   name() + ": upload " + result.file + (done ? " finished, " : " incomplete, ") +
                       std::to_string(result.bytes) + " bytes" +
                       (result.sha256.empty() ? "" : ", sha256 " + result.sha256) +
                       (result.reason.empty() ? "" : ": " + result.reason) + " (from " + from + ")",
                   {{"SERVICE", name()},
                    {"PEER", std::move(from)},
                    {"FILE", result.file},
                    {"BYTES", std::to_string(result.bytes)}}};
  if (!result.reason.empty()) record.fields.push_back({"REASON", result.reason});
  context_.logger.log(record);
}

std::function<void(std::string_view)> ServiceRuntime::upload_refuser(const SocketAddress& peer) {
  // Nothing was stored: counted, and logged with the client and the reason it
  // was told. The client's mistake or a limit, not the daemon's: a notice.
  return [this, peer](std::string_view reason) {
    ++stats_.uploads_refused;
    std::string from = peer.to_string();
    context_.logger.log(
        {LogLevel::kNotice,
         LogEvent::kUploadRefused,
         name() + ": upload from " + from + " refused: " + std::string(reason),
         {{"SERVICE", name()}, {"PEER", std::move(from)}, {"REASON", std::string(reason)}}});
  };
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
  if (connection.admitted()) admission_.closed(connection.peer());
  --context_.open_connections;
  --stats_.open;
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

bool ServiceRuntime::exec_admit(Connection& connection) {
  if (const auto refusal = admission_.check_instances(running_handlers_)) {
    refused(*refusal, connection.peer(), connection.proxy());
    return false;
  }
  return true;
}

void ServiceRuntime::exec_started(Connection& connection) {
  ++running_handlers_;
  ++stats_.handlers_started;
  // Its traffic goes past socketd: nothing to measure idleness by
  // (run_timeout bounds a handler instead).
  idle_.unlink(connection.idle_hook());
}

void ServiceRuntime::exec_failed(Connection& connection, const std::string& command,
                                 std::error_code error) {
  ++stats_.handler_failures;
  std::string peer = connection.peer().to_string();
  context_.logger.log({LogLevel::kError,
                       LogEvent::kGeneric,
                       name() + ": cannot run handler " + command + " for " + peer + ": " +
                           error.message() +
                           " (connection closed; check 'command' with socketd --check-config)",
                       {{"SERVICE", name()}, {"PEER", std::move(peer)}, {"COMMAND", command}}});
}

void ServiceRuntime::exec_exited(Connection& /*connection*/) {
  --running_handlers_;
}

void ServiceRuntime::terminate_handlers(std::string_view why) {
  for (auto& connection : connections_) {
    connection->terminate_handler(why, std::chrono::milliseconds(0));
  }
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
      if (hook->owner->input_grew_unread()) {
        // Sending, below its SO_RCVLOWAT batch (a slow bulk stream): not idle.
        idle_.touch(*hook, now);
        continue;
      }
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
  if (config.mode == Mode::kMetrics) {
    // A metrics connection lives for one request: from its accept on.
    while (IdleHook* hook = by_age_.oldest()) {
      if (hook->last_active + config.request_timeout > now) break;
      ++stats_.timed_out;
      hook->owner->abort("request timeout");
    }
  }
}

void ServiceRuntime::collect_queued(std::vector<Connection*>& out) const {
  for (const auto& connection : connections_) {
    if (connection->queued_output() > 0) out.push_back(connection.get());
  }
}

void ServiceRuntime::save(std::vector<handover::ConnectionRecord>& out, std::string_view reason) {
  std::vector<Connection*> left;
  for (const auto& connection : connections_) {
    handover::ConnectionRecord record;
    if (connection->save(record)) {
      record.service = name();
      out.push_back(std::move(record));
    } else {
      left.push_back(connection.get());
    }
  }
  // Graceful: an upload whose request is still unread must see FIN, not RST.
  for (Connection* connection : left) connection->close_now(reason);
}

bool ServiceRuntime::adopt(Fd& fd, const handover::ConnectionRecord& record, std::string& error) {
  using handover::SessionKind;
  const Mode mode = settings_->config.mode;
  const bool fits = record.kind == SessionKind::kProxyPending
                        ? settings_->config.proxy_protocol
                        : (record.kind == SessionKind::kChat && mode == Mode::kChat) ||
                              (record.kind == SessionKind::kEcho && mode == Mode::kEcho);
  if (!fits) {
    error = "the service's mode or proxy_protocol changed";
    return false;  // before a session of another mode (an upload's file) is made
  }
  auto connection = std::make_unique<Connection>(*this, settings_, std::move(fd), record.peer);
  if (!connection->restore(record, error)) return false;  // never registered: closes with it
  const auto now = context_.reactor.now();
  ++context_.open_connections;
  ++stats_.open;
  if (IdleHook* hook = connection->header_hook(); hook != nullptr && !connection->admitted()) {
    awaiting_header_.touch(*hook, now + settings_->config.proxy_header_timeout);
  } else {
    admission_.opened(connection->peer());
  }
  connection->index = connections_.size();
  // The timers go on where the previous socketd left them (idle_timeout,
  // upload_timeout); reorder_timers() sorts the lists once all are adopted.
  constexpr uint64_t kMaxCarriedMs = 1ull << 40;  // no overflow below now()
  const auto idle = std::chrono::milliseconds(std::min(record.idle_ms, kMaxCarriedMs));
  const auto age = std::chrono::milliseconds(std::min(record.age_ms, kMaxCarriedMs));
  idle_.touch(connection->idle_hook(), now - idle);
  by_age_.touch(connection->age_hook(), now - age);
  connections_.push_back(std::move(connection));
  connections_.back()->resume();
  return true;
}

void ServiceRuntime::reorder_timers() {
  // The sweeps stop at the first hook that has not expired: each list must
  // be in last_active order, oldest first. Touching every hook again in that
  // order rebuilds it (stable: equal times keep their order).
  std::vector<IdleHook*> hooks;
  for (IdleList* list : {&idle_, &by_age_}) {
    hooks.clear();
    for (IdleHook* hook = list->oldest(); hook != nullptr; hook = hook->next) hooks.push_back(hook);
    std::stable_sort(hooks.begin(), hooks.end(), [](const IdleHook* a, const IdleHook* b) {
      return a->last_active < b->last_active;
    });
    for (IdleHook* hook : hooks) list->touch(*hook, hook->last_active);
  }
}

void ServiceRuntime::close_all(std::string_view reason) {
  while (!connections_.empty()) connections_.back()->close_now(reason);
}

void ServiceRuntime::abort_all(std::string_view reason) {
  while (!connections_.empty()) connections_.back()->abort(reason);
}

}  // namespace socketd
