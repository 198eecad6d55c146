// App: the daemon's life cycle on one reactor: start from a config, reload it
// on SIGHUP (all or nothing), stop gracefully on SIGTERM (stop accepting,
// drain up to drain_timeout, then close the rest), and keep the supervisor
// informed (ready, reloading, stopping, status, watchdog).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "app/notifier.hpp"
#include "config/config.hpp"
#include "log/logger.hpp"
#include "log/rate_limited_sink.hpp"
#include "reactor/reactor.hpp"
#include "server/server.hpp"
#include "storage/upload_store.hpp"

namespace socketd {

struct AppOptions {
  std::string config_path;
  std::chrono::milliseconds status_interval{5000};
  std::chrono::milliseconds watchdog_interval{0};  // 0: no watchdog pings
  // If set, every reload outcome is written here as "GENERATION ok|failed MESSAGE"
  // (atomically), so `socketd --signal-reload` can wait for it.
  std::string reload_report_path;
  RateLimitedSink* log_limiter = nullptr;  // follows [daemon] log_rate_limit
};

class App {
 public:
  App(Reactor& reactor, Logger& logger, Notifier& notifier, AppOptions options);
  ~App();

  // Binds every listener of `config` (adopting inherited sockets by name) and
  // reports READY=1. On failure logs why and returns false.
  bool start(const Config& config, InheritedSockets* inherited = nullptr);
  // Re-reads the config file; a bad file or an address that cannot be bound
  // leaves the running configuration fully in force.
  bool reload();
  // Graceful stop; the reactor stops once drained or at the drain timeout.
  void stop();
  // SIGTERM/SIGINT start the graceful stop; a second one during the drain
  // ends it at once (stop_now); SIGHUP reloads.
  void on_signal(int signo);

  Server& server() { return server_; }
  const std::string& last_reload() const { return last_reload_; }
  std::string status_line() const;

 private:
  // A store for the config's upload directory if it differs from the current
  // one (null if unchanged or unused); `error` says why it cannot be used.
  std::unique_ptr<UploadStore> prepare_upload_store(const Config& config, std::string& error);
  void use_upload_store(std::unique_ptr<UploadStore> store);
  void schedule_status();
  void schedule_watchdog();
  void schedule_log_tick();
  void check_drained();
  void stop_now(int signo);
  void report_reload(bool ok);
  void apply_logging(const Config& config);

  Reactor& reactor_;
  Logger& logger_;
  Notifier& notifier_;
  AppOptions options_;
  Server server_;
  std::unique_ptr<UploadStore> uploads_;
  Config config_;
  std::string last_reload_ = "none";
  uint64_t reload_generation_ = 0;
  bool stopping_ = false;
  TimerId drain_timer_ = 0;
  TimerId drain_poll_ = 0;
  Clock::time_point last_drain_status_{};
};

// Where uploads go when the config leaves upload_dir empty.
std::string resolve_upload_dir(const std::string& configured);

}  // namespace socketd
