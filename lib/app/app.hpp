// App: the daemon's life cycle on one reactor: start from a config, reload it
// on SIGHUP (all or nothing; the file reading and the upload directory's
// opening run as an I/O job, so the loop never waits on a file system), stop gracefully on SIGTERM
// (stop accepting, drain up to drain_timeout, then close the rest), and keep the supervisor
// informed (ready, reloading, stopping, status, watchdog).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "app/notifier.hpp"
#include "config/config.hpp"
#include "config/config_loader.hpp"
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
  // Session-keeping upgrade (SIGUSR2): replaces this process with a new
  // socketd that takes `state` (lib/handover) and the descriptors `fds`.
  // Returns only if that failed, with the reason. Unset: no upgrades.
  std::function<std::string(const std::string& state, const std::vector<int>& fds)> exec_successor =
      {};
};

class App {
 public:
  App(Reactor& reactor, Logger& logger, Notifier& notifier, AppOptions options);
  ~App();

  // Binds every listener of `config` (adopting inherited sockets by name) and
  // reports READY=1. On failure logs why and returns false.
  // After an upgrade (SIGUSR2), `handed_over` is the previous socketd's state
  // and `connection_fds` the descriptors of its connections.
  bool start(const Config& config, InheritedSockets* inherited = nullptr,
             handover::State* handed_over = nullptr, std::vector<int> connection_fds = {});
  // Starts re-reading the config file: the file is read and the upload
  // directory opened by an I/O job; back on the loop the new config is
  // applied (all or nothing: a bad file or an address that cannot be bound
  // leaves the running configuration fully in force), then the outcome is
  // logged, reported (reload report, READY=1). A SIGHUP while a reload is
  // under way queues one more, run once the first has been reported.
  void reload();
  bool reloading() const { return reload_in_flight_; }
  // Graceful stop; the reactor stops once drained or at the drain timeout.
  void stop();
  // Session-keeping upgrade: hands listeners, connections and counters to a
  // new socketd in this same process (see AppOptions::exec_successor).
  // Returns only if it failed; this socketd then serves on.
  void upgrade();
  // In a socketd started by upgrade(): the report says what was taken over.
  void set_last_reload(std::string text) { last_reload_ = std::move(text); }
  // SIGTERM/SIGINT start the graceful stop; a second one during the drain
  // ends it at once (stop_now); SIGHUP reloads.
  void on_signal(int signo);

  Server& server() { return server_; }
  const Config& config() const { return config_; }
  const std::string& last_reload() const { return last_reload_; }
  std::string status_line() const;

 private:
  class ReloadJob;
  class ReportJob;
  // What a reload's job read: the config, and a store for its upload
  // directory (null when no service uploads, or `store_error` says why not).
  struct ReloadInput {
    ConfigLoad load;
    std::unique_ptr<UploadStore> store;
    std::string store_error;
  };
  // Blocking: reads the file and opens the upload directory (a job's run()).
  static ReloadInput read_reload_input(const std::string& config_path);
  // Back on the loop: applies `input` (or keeps the running config).
  void finish_reload(ReloadInput input, Clock::time_point started);
  // The report has been written: the reload is over.
  void reload_settled();
  void schedule_status();
  void schedule_watchdog();
  void schedule_log_tick();
  void check_drained();
  void stop_now(int signo);
  // Writes the reload report (an I/O job when there are I/O threads), then
  // runs reload_settled().
  void report_reload(bool ok);
  void report_failed(const std::string& path, std::error_code ec);
  void apply_logging(const Config& config);
  // Makes systemd's fd store hold exactly the current listeners (those not
  // from a socket unit), by service name, plus the manifest naming them.
  void sync_fd_store();

  Reactor& reactor_;
  Logger& logger_;
  Notifier& notifier_;
  AppOptions options_;
  Server server_;
  Config config_;
  std::string last_reload_ = "none";
  uint64_t reload_generation_ = 0;
  // What systemd's fd store holds: inodes by FDNAME (service name).
  std::map<std::string, std::set<uint64_t>> stored_;
  bool reload_in_flight_ = false;  // from SIGHUP until its report is written
  bool reload_queued_ = false;     // another SIGHUP came meanwhile
  bool stopping_ = false;
  TimerId drain_timer_ = 0;
  TimerId drain_poll_ = 0;
  Clock::time_point last_drain_status_{};
};

// Where uploads go when the config leaves upload_dir empty.
std::string resolve_upload_dir(const std::string& configured);

}  // namespace socketd
