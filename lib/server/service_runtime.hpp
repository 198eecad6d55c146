// ServiceRuntime: one configured service while it runs: its current settings,
// its open connections (owned here), idle bookkeeping and counters. Listeners
// are separate (they can move between runtimes on reload); a runtime whose
// service was removed lives on until its last connection ends.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "server/connection.hpp"
#include "server/idle_list.hpp"
#include "server/server_context.hpp"
#include "server/service_settings.hpp"

namespace socketd {

struct ServiceStats {
  uint64_t connections_total = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t uploads_finished = 0;
  uint64_t uploads_incomplete = 0;
  uint64_t datagrams = 0;
  uint64_t refused = 0;  // over a connection limit
};

class ServiceRuntime {
 public:
  ServiceRuntime(ServerContext& context, std::shared_ptr<const ServiceSettings> settings);
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
  // closed at once.
  void accept(Fd fd, const SocketAddress& peer);
  void on_datagram(std::span<const char> payload, const SocketAddress& peer);

  // For Connection.
  std::unique_ptr<Session> make_session(const ServiceSettings& settings);
  void touch(Connection& connection) { idle_.touch(connection.idle_hook(), context_.reactor.now()); }
  void on_closed(Connection& connection);

  // Closes connections idle for longer than the idle timeout they were accepted under.
  void sweep_idle(Clock::time_point now);
  void abort_all(std::string_view reason);

 private:
  void refuse(Fd fd, const SocketAddress& peer, std::string_view limit);

  ServerContext& context_;
  std::shared_ptr<const ServiceSettings> settings_;
  std::vector<std::unique_ptr<Connection>> connections_;
  IdleList idle_;
  ServiceStats stats_;
};

}  // namespace socketd
