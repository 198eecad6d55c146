#include "app/app.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "app/reload_report.hpp"
#include "config/config_loader.hpp"

namespace socketd {

std::string resolve_upload_dir(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* state = std::getenv("STATE_DIRECTORY"); state != nullptr && *state != '\0') {
    const std::string_view dirs = state;  // may list several, ':'-separated
    return std::string(dirs.substr(0, dirs.find(':')));
  }
  return "uploads";
}

App::App(Reactor& reactor, Logger& logger, Notifier& notifier, AppOptions options)
    : reactor_(reactor),
      logger_(logger),
      notifier_(notifier),
      options_(std::move(options)),
      server_(reactor, logger) {
  server_.set_fd_store_release([this](const std::string& service) {
    notifier_.remove_stored_fds(service);
    stored_.erase(service);  // the next sync_fd_store stores what is kept
  });
}

// Jobs may still be queued (a reload, a report): they finish while the App
// is whole; stopping_ makes their completions change nothing.
App::~App() {
  stopping_ = true;
  server_.drain_io();
}

// Reads the config file and opens the upload directory on an I/O thread.
class App::ReloadJob final : public IoJob {
 public:
  ReloadJob(App& app, std::string path) : app_(app), path_(std::move(path)) {}
  void run() noexcept override { input_ = read_reload_input(path_); }
  void done() noexcept override { app_.finish_reload(std::move(input_), started_); }

 private:
  App& app_;
  const std::string path_;
  const Clock::time_point started_ = Clock::now();
  ReloadInput input_;
};

// Writes the reload report on an I/O thread.
class App::ReportJob final : public IoJob {
 public:
  ReportJob(App& app, std::string path, ReloadReport report)
      : app_(app), path_(std::move(path)), report_(std::move(report)) {}
  void run() noexcept override { error_ = write_reload_report(path_, report_); }
  void done() noexcept override {
    if (error_) app_.report_failed(path_, error_);
    app_.reload_settled();
  }

 private:
  App& app_;
  const std::string path_;
  const ReloadReport report_;
  std::error_code error_;
};

namespace {

// Opens the upload directory `config` names, if any of its services uploads
// (blocking: mkdir, open, fstat). Returns why it cannot be used, or "".
std::string open_upload_store(const Config& config, std::unique_ptr<UploadStore>& store) {
  const bool has_upload = std::any_of(config.services.begin(), config.services.end(),
                                      [](const auto& s) { return is_upload(s.mode); });
  if (!has_upload) return {};
  const std::string dir = resolve_upload_dir(config.daemon.upload_dir);
  auto opened = UploadStore::open(dir);
  if (!opened) {
    return "cannot use upload directory " + dir + ": " + opened.error().message() +
           " (create it or set [daemon] upload_dir)";
  }
  store = std::move(*opened);
  return {};
}

}  // namespace

App::ReloadInput App::read_reload_input(const std::string& config_path) {
  ReloadInput input;
  input.load = load_config_file(config_path);
  if (input.load.ok()) input.store_error = open_upload_store(*input.load.config, input.store);
  return input;
}

void App::apply_logging(const Config& config) {
  logger_.set_level(config.daemon.log_level);
  if (options_.log_limiter != nullptr) options_.log_limiter->set_limit(config.daemon.log_rate_limit);
}

bool App::start(const Config& config, InheritedSockets* inherited, handover::State* handed_over,
                std::vector<int> connection_fds) {
  apply_logging(config);
  // Nothing is served yet: the upload directory is opened right here.
  std::unique_ptr<UploadStore> store;
  if (const std::string error = open_upload_store(config, store); !error.empty()) {
    logger_.log(LogLevel::kError, error);
    return false;
  }
  server_.use_upload_store(std::move(store));
  if (inherited != nullptr) {
    // What the previous socketd left in the fd store; whatever of it is not
    // adopted is removed from the store below.
    for (const auto& socket : *inherited) {
      if (socket.stored) stored_[socket.name].insert(socket_inode(socket.fd.get()));
    }
    stored_[std::string(kFdStoreManifestName)];
  }
  const auto errors = server_.apply(config, inherited);
  for (const auto& error : errors) logger_.log(LogLevel::kError, error);
  if (!errors.empty()) return false;
  config_ = config;
  sync_fd_store();
  if (handed_over != nullptr) {
    // Count on from the previous socketd's reports: `--signal-reload` waits
    // for a generation above the last one it saw.
    if (!options_.reload_report_path.empty()) {
      reload_generation_ = read_reload_report(options_.reload_report_path).generation;
    }
    const size_t offered = handed_over->connections.size();
    server_.adopt_state(*handed_over, std::move(connection_fds));
    last_reload_ = "upgraded in place; took over " + std::to_string(server_.open_connections()) +
                   " of " + std::to_string(offered) + " connection(s)";
  }
  std::string where;
  for (const auto& l : server_.listeners()) {
    where += (where.empty() ? "" : ", ") + l.service + " " +
             (l.transport == Transport::kTcp ? "tcp " : "udp ") + l.address.to_string();
  }
  logger_.log({LogLevel::kNotice, LogEvent::kStarted, "socketd started: " + where,
               {{"CONFIG", config.source}}});
  reload_in_flight_ = true;  // a SIGHUP now waits until the first report is written
  report_reload(true);
  notifier_.ready();
  notifier_.status(status_line());
  schedule_status();
  schedule_watchdog();
  schedule_log_tick();
  return true;
}

void App::reload() {
  if (stopping_) return;
  if (reload_in_flight_) {
    reload_queued_ = true;  // once this one is reported
    return;
  }
  reload_in_flight_ = true;
  notifier_.reloading();
  auto job = std::make_unique<ReloadJob>(*this, options_.config_path);
  if (IoPool* pool = server_.io_pool()) {
    pool->submit(std::move(job));
  } else {  // no I/O threads (they failed to start): do it here
    job->run();
    job->done();
  }
}

void App::finish_reload(ReloadInput input, Clock::time_point started) {
  if (stopping_) {  // a stop came first: the running config stays to the end
    last_reload_ = "reload abandoned: the daemon is stopping";
    report_reload(false);
    return;
  }
  std::vector<std::string> errors;
  for (const auto& e : input.load.errors) errors.push_back(e.to_string());
  if (!input.store_error.empty()) errors.push_back(input.store_error);
  if (errors.empty()) errors = server_.apply(*input.load.config);
  // The same directory however spelled ("dir/", A -> B -> A keeps B's store
  // until then) stays in use; a directory deleted and made again is a new one.
  if (errors.empty() && input.store && !server_.uses_upload_store(*input.store)) {
    server_.use_upload_store(std::move(input.store));
  }
  sync_fd_store();  // even a failed reload may have re-created a socket
  if (!errors.empty()) {
    for (const auto& error : errors) {
      logger_.log({LogLevel::kError, LogEvent::kReloadFailed, error,
                   {{"CONFIG", options_.config_path}}});
    }
    last_reload_ = "reload failed: " + errors.front() +
                   (errors.size() > 1 ? " (+" + std::to_string(errors.size() - 1) + " more)" : "") +
                   "; previous configuration still in force";
    logger_.log({LogLevel::kError, LogEvent::kReloadFailed, last_reload_,
                 {{"CONFIG", options_.config_path}}});
  } else {
    config_ = std::move(*input.load.config);
    apply_logging(config_);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
    last_reload_ = "reloaded " + std::to_string(config_.services.size()) + " services in " +
                   std::to_string(us.count()) + " us";
    logger_.log({LogLevel::kNotice, LogEvent::kReloaded, last_reload_,
                 {{"CONFIG", options_.config_path}}});
  }
  server_.metrics().count_reload(errors.empty());
  report_reload(errors.empty());
  notifier_.ready();
  notifier_.status(status_line());
}

void App::sync_fd_store() {
  const std::string manifest(kFdStoreManifestName);
  std::map<std::string, std::map<uint64_t, int>> want;
  for (const auto& l : server_.listener_fds()) {
    if (!l.activated && l.inode != 0) want[l.service].emplace(l.inode, l.fd);
  }
  bool changed = false;
  for (auto it = stored_.begin(); it != stored_.end();) {
    auto w = want.find(it->first);
    bool same = w != want.end() && w->second.size() == it->second.size();
    if (same) {
      for (const auto& [inode, fd] : w->second) same = same && it->second.count(inode) != 0;
    }
    if (same || it->first == manifest) {
      ++it;
      continue;
    }
    // FDSTOREREMOVE drops every fd of the name; the ones kept are stored again below.
    notifier_.remove_stored_fds(it->first);
    it = stored_.erase(it);
    changed = true;
  }
  std::set<uint64_t> all;
  for (const auto& [name, fds] : want) {
    for (const auto& [inode, fd] : fds) all.insert(inode);
    if (stored_.count(name) != 0) continue;
    for (const auto& [inode, fd] : fds) {
      notifier_.store_fd(name, fd);
      stored_[name].insert(inode);
    }
    changed = true;
  }
  if (!changed && stored_.count(manifest) != 0 && !stored_[manifest].empty()) return;
  auto memfd = make_fd_store_manifest(all);
  if (!memfd) {
    logger_.log(LogLevel::kWarning,
                "cannot write the fd store manifest: " + memfd.error().message() +
                    "; after a restart the stored listeners are taken "
                    "for socket-activated ones");
    return;
  }
  notifier_.remove_stored_fds(manifest);
  notifier_.store_fd(manifest, memfd->get());
  stored_[manifest] = {1};  // stored; its own inode does not matter
}

void App::report_reload(bool ok) {
  ++reload_generation_;
  ReloadReport report{.generation = reload_generation_, .ok = ok, .message = last_reload_};
  if (options_.reload_report_path.empty()) {
    reload_settled();
    return;
  }
  IoPool* pool = server_.io_pool();
  if (pool == nullptr) {  // no I/O threads (they failed to start): write it here
    if (auto ec = write_reload_report(options_.reload_report_path, report)) {
      report_failed(options_.reload_report_path, ec);
    }
    reload_settled();
    return;
  }
  pool->submit(std::make_unique<ReportJob>(*this, options_.reload_report_path, std::move(report)));
}

void App::report_failed(const std::string& path, std::error_code ec) {
  // `socketd --signal-reload` (ExecReload=) waits for this file: say why it
  // will time out instead of leaving the operator to guess.
  logger_.log(LogLevel::kWarning, "cannot write the reload report " + path + ": " + ec.message() +
                                      "; `systemctl reload` will not see the outcome "
                                      "(check RuntimeDirectory=)");
}

void App::reload_settled() {
  // One report at a time, in order: the next reload starts only now.
  reload_in_flight_ = false;
  if (reload_queued_ && !stopping_) {
    reload_queued_ = false;
    reload();
  }
}

void App::stop() {
  if (stopping_) return;
  stopping_ = true;
  notifier_.stopping();
  // systemd's fd store keeps the sockets: clients that connect from now on
  // wait in the accept queue for the next socketd (after a restart or a
  // crash) instead of being refused; `systemctl stop` closes them for good.
  server_.stop_listening(/*handoff=*/true);
  // exec handlers get SIGTERM now and the rest of drain_timeout to exit;
  // abort_all() at its end SIGKILLs and reaps whatever still runs.
  server_.terminate_handlers("daemon stopping");
  logger_.log({LogLevel::kNotice, LogEvent::kStopping,
               "stopping: no longer accepting; " + std::to_string(server_.open_connections()) +
                   " connection(s) may finish within " +
                   std::to_string(config_.daemon.drain_timeout.count()) + " ms",
               {}});
  // The counters as they stand when listening ends: the last word on them.
  notifier_.status(status_line());
  drain_timer_ = reactor_.add_timer(config_.daemon.drain_timeout, [this] {
    drain_timer_ = 0;
    server_.abort_all("daemon stopping (drain timeout)");
    reactor_.stop();
  });
  check_drained();
}

void App::check_drained() {
  drain_poll_ = 0;
  if (server_.open_connections() == 0) {
    if (drain_timer_ != 0) reactor_.cancel_timer(drain_timer_);
    drain_timer_ = 0;
    reactor_.stop();
    return;
  }
  // sd_notify can block on a slow supervisor: at most one STATUS= a second.
  if (reactor_.now() - last_drain_status_ >= std::chrono::seconds(1)) {
    last_drain_status_ = reactor_.now();
    notifier_.status(status_line());
  }
  drain_poll_ = reactor_.add_timer(std::chrono::milliseconds(20), [this] { check_drained(); });
}

void App::upgrade() {
  if (stopping_) return;
  if (!options_.exec_successor) {
    logger_.log(LogLevel::kWarning, "SIGUSR2 (upgrade) ignored: not supported here");
    return;
  }
  notifier_.reloading();
  handover::State state = server_.save_state();
  // Connections that could not be handed over (uploads) were closed above;
  // their last jobs keep the bytes as ".incomplete" before the exec ends the
  // I/O threads.
  server_.drain_io();
  std::vector<int> fds;
  for (const auto& l : state.listeners) fds.push_back(l.fd);
  for (const auto& c : state.connections) fds.push_back(c.fd);
  const std::string bytes = handover::encode(state);
  logger_.log(LogLevel::kNotice, "upgrading: handing " + std::to_string(state.listeners.size()) +
                                     " listener(s) and " +
                                     std::to_string(state.connections.size()) +
                                     " connection(s) to a new socketd in this process (" +
                                     std::to_string(bytes.size()) + " bytes of state)");
  const std::string error = options_.exec_successor(bytes, fds);
  last_reload_ = "upgrade failed: " + error + "; the old socketd serves on";
  logger_.log(LogLevel::kError, last_reload_);
  report_reload(false);
  notifier_.ready();
  notifier_.status(status_line());
}

void App::on_signal(int signo) {
  if (signo == SIGUSR2) {
    upgrade();
  } else if (signo == SIGHUP) {
    reload();
  } else if (stopping_) {
    stop_now(signo);
  } else {
    stop();
  }
}

void App::stop_now(int signo) {
  // A second SIGTERM/SIGINT (Ctrl-C twice): the operator will not wait out
  // drain_timeout. Uploads cut off here are kept as ".incomplete".
  if (drain_timer_ != 0) reactor_.cancel_timer(drain_timer_);
  if (drain_poll_ != 0) reactor_.cancel_timer(drain_poll_);
  drain_timer_ = drain_poll_ = 0;
  const size_t open = server_.open_connections();
  logger_.log({LogLevel::kNotice,
               LogEvent::kStopping,
               std::string("second ") + (signo == SIGINT ? "SIGINT" : "SIGTERM") +
                   " while draining: stopping at once, closing " + std::to_string(open) +
                   " connection(s)",
               {}});
  server_.abort_all("daemon stopping (second signal)");
  reactor_.stop();
}

std::string App::status_line() const {
  const auto t = server_.totals();
  std::string s = stopping_ ? "Stopping: " : "";
  s += std::to_string(t.open_connections) + " open, " + std::to_string(t.stats.connections_total) +
       " total connections; " + std::to_string(t.stats.bytes_in) + " B in, " +
       std::to_string(t.stats.bytes_out) + " B out; uploads " +
       std::to_string(t.stats.uploads_finished) + " finished, " +
       std::to_string(t.stats.uploads_incomplete) + " incomplete; " +
       std::to_string(t.stats.datagrams) + " datagrams; " + std::to_string(t.stats.refused) +
       " refused, " + std::to_string(t.stats.denied) + " denied, " +
       std::to_string(t.stats.timed_out) + " timed out; " +
       (t.stats.proxy_errors != 0 ? std::to_string(t.stats.proxy_errors) + " bad PROXY headers; "
                                  : std::string()) +
       (t.stats.handler_failures != 0
            ? std::to_string(t.stats.handler_failures) + " handlers failed to start; "
            : std::string()) +
       (t.stats.listen_overflows != 0
            ? std::to_string(t.stats.listen_overflows) +
                  " dropped by the kernel at full accept queues (raise backlog); "
            : std::string()) +
       (t.stats.output_cut != 0 ? std::to_string(t.stats.output_cut) + " cut at max_output_bytes; "
                                : std::string()) +
       "last reload: " + last_reload_;
  return s;
}

void App::schedule_status() {
  reactor_.add_timer(options_.status_interval, [this] {
    notifier_.status(status_line());
    schedule_status();
  });
}

void App::schedule_log_tick() {
  reactor_.add_timer(std::chrono::seconds(1), [this] {
    logger_.tick();
    schedule_log_tick();
  });
}

void App::schedule_watchdog() {
  if (options_.watchdog_interval.count() <= 0) return;
  notifier_.watchdog();
  reactor_.add_timer(options_.watchdog_interval, [this] { schedule_watchdog(); });
}

}  // namespace socketd
