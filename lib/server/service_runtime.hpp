// ServiceRuntime: one configured service while it runs: its current settings,
// its open connections (owned here), idle bookkeeping and counters. Listeners
// are separate (they can move between runtimes on reload); a runtime whose
// service was removed lives on until its last connection ends.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/admission_policy.hpp"
#include "server/connection.hpp"
#include "server/idle_list.hpp"
#include "server/server_context.hpp"
#include "server/service_settings.hpp"
#include "service/upload.hpp"

namespace socketd {

class DatagramLog;

enum class Admission { kServed, kRefused, kRateExceeded };

// One service's counters. The Server keeps one per service name for its whole
// life, so they survive reloads (and a service removed and added again goes
// on counting); the runtime and its connections and listener add to it.
// Plain integers: only the reactor thread touches them.
struct ServiceStats {
  uint64_t open = 0;  // connections open now (a gauge)
  uint64_t connections_total = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t uploads_finished = 0;
  uint64_t uploads_incomplete = 0;
  uint64_t datagrams = 0;
  uint64_t refused = 0;  // over a connection limit or the rate
  uint64_t denied = 0;   // by allow/deny
  uint64_t timed_out = 0;  // idle or upload timeout
  uint64_t proxy_errors = 0;  // closed for a bad, missing or late PROXY header
  uint64_t output_cut = 0;    // closed: [daemon] max_output_bytes, largest queue first
  // Connection attempts the kernel dropped because an accept queue was full
  // (metrics: socketd_listen_overflows_total{service}).
  uint64_t listen_overflows = 0;
  uint64_t refused_by[std::size(kRefusalLabels)] = {};  // refused + denied, by reason
  uint64_t uploads_refused = 0;    // the upload could not start (no file was made)
  uint64_t upload_bytes = 0;       // stored by finished and incomplete uploads
  uint64_t datagrams_dropped = 0;  // by the kernel, queue full (SO_RXQ_OVFL)
  uint64_t handlers_started = 0;   // exec
  uint64_t handler_failures = 0;   // exec: the handler could not be started
};

class ServiceRuntime {
 public:
  // `stats` outlives the runtime (the Server's block for this service name).
  ServiceRuntime(ServerContext& context, std::shared_ptr<const ServiceSettings> settings,
                 ServiceStats& stats);
  ~ServiceRuntime();
  ServiceRuntime(const ServiceRuntime&) = delete;
  ServiceRuntime& operator=(const ServiceRuntime&) = delete;

  const std::string& name() const { return settings_->config.name; }
  const ServiceSettings& settings() const { return *settings_; }
  void set_settings(std::shared_ptr<const ServiceSettings> settings);
  ServerContext& context() { return context_; }
  ServiceStats& stats() { return stats_; }
  const ServiceStats& stats() const { return stats_; }
  size_t open_connections() const { return connections_.size(); }

  // A new client from this service's listener: admitted within the limits, or
  // closed at once. kRateExceeded: the listener should pause (rate_pause).
  // With proxy_protocol the peer is the load balancer: only the limits that
  // do not judge the client are applied here (plus proxy_sources); the rest
  // waits for admit().
  Admission accept(Fd fd, const SocketAddress& peer);
  // For a Connection whose PROXY header named its client (connection.peer())
  // or said the proxy speaks for itself: allow/deny and max_per_source by
  // that address. false: refused, logged and counted; the caller closes.
  bool admit(Connection& connection);
  // How long the listener pauses after Admission::kRateExceeded.
  std::chrono::milliseconds rate_pause() const {
    return admission_.rate_pause(context_.reactor.now());
  }
  void on_datagram(std::span<const char> payload, const SocketAddress& peer);

  // For Connection: a new session of the service's mode. `peer` is the client
  // (after a PROXY header, the one it named): the upload records name it.
  std::unique_ptr<Session> make_session(const ServiceSettings& settings, const SocketAddress& peer);
  void touch(Connection& connection) { idle_.touch(connection.idle_hook(), context_.reactor.now()); }
  void on_closed(Connection& connection);
  // exec: max_instances (refused: logged and counted here), a handler
  // started, could not start (logged here), exited.
  bool exec_admit(Connection& connection);
  void exec_started(Connection& connection);
  void exec_failed(Connection& connection, const std::string& command, std::error_code error);
  void exec_exited(Connection& connection);
  size_t running_handlers() const { return running_handlers_; }
  // exec: SIGTERM to every running handler (daemon stop; drain_timeout then
  // ends with abort_all, which kills and reaps what is left).
  void terminate_handlers(std::string_view why);

  // Closes connections idle longer than idle_timeout, and uploads older than upload_timeout.
  void sweep(Clock::time_point now);
  void abort_all(std::string_view reason);
  // Like abort_all, but each connection closes as a graceful close does (FIN).
  void close_all(std::string_view reason);

  // Hand-over across a re-exec: appends a record for every connection that
  // can be handed over and closes the others now with `reason` (uploads:
  // their jobs keep the bytes as ".incomplete").
  void save(std::vector<handover::ConnectionRecord>& out, std::string_view reason);
  // A client handed over by the previous socketd: served on from where it
  // stopped. False (the caller closes `fd`) with `error` if it does not fit.
  bool adopt(Fd& fd, const handover::ConnectionRecord& record, std::string& error);
  // After the last adopt(): puts the idle and age lists back in time order.
  void reorder_timers();

  // Appends every connection with output queued (for max_output_bytes).
  void collect_queued(std::vector<Connection*>& out) const;

 private:
  struct Makers;  // mode -> maker, beside the mode table's order
  // One per TCP mode, listed in Makers (service_runtime.cpp).
  std::unique_ptr<Session> make_banner(const ServiceSettings& settings, const SocketAddress& peer);
  std::unique_ptr<Session> make_chat(const ServiceSettings& settings, const SocketAddress& peer);
  std::unique_ptr<Session> make_echo(const ServiceSettings& settings, const SocketAddress& peer);
  std::unique_ptr<Session> make_upload(const ServiceSettings& settings, const SocketAddress& peer);
  std::unique_ptr<Session> make_stream_upload(const ServiceSettings& settings,
                                              const SocketAddress& peer);
  std::unique_ptr<Session> make_metrics(const ServiceSettings& settings, const SocketAddress& peer);
  // What both upload modes share: opening a file, logging its end or that it
  // never started (both records name the client, `peer`).
  std::function<std::unique_ptr<UploadTarget>(uint64_t size, bool stream, Wake wake)> upload_opener(
      const ServiceSettings& settings);
  std::function<void(const UploadResult&)> upload_finisher(const SocketAddress& peer);
  std::function<void(std::string_view reason)> upload_refuser(const SocketAddress& peer);

  // Counts and logs a refusal (why, whom, through which balancer).
  void refused(Refusal refusal, const SocketAddress& client, const SocketAddress* proxy);
  void opened(const SocketAddress& client, const SocketAddress* proxy);
  // Counts and logs the outcome of one upload of `peer`.
  void upload_ended(const UploadResult& result, const SocketAddress& peer);

  ServerContext& context_;
  std::shared_ptr<const ServiceSettings> settings_;
  std::vector<std::unique_ptr<Connection>> connections_;
  IdleList idle_;
  IdleList by_age_;  // oldest connection first: upload_timeout
  IdleList awaiting_header_;  // PROXY header not yet read; ordered by deadline
  AdmissionPolicy admission_;
  ServiceStats& stats_;
  size_t running_handlers_ = 0;                // exec
  std::unique_ptr<DatagramLog> datagram_log_;  // udp-log only, made on the first datagram
};

}  // namespace socketd
