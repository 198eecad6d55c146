#include "app/app.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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
      server_(reactor, logger) {}

App::~App() = default;

std::unique_ptr<UploadStore> App::prepare_upload_store(const Config& config,
                                                      std::string& error) {
  const bool has_upload = std::any_of(config.services.begin(), config.services.end(),
                                      [](const auto& s) { return is_upload(s.mode); });
  if (!has_upload) return nullptr;
  const std::string dir = resolve_upload_dir(config.daemon.upload_dir);
  auto store = UploadStore::open(dir);
  if (!store) {
    error = "cannot use upload directory " + dir + ": " + store.error().message() +
            " (create it or set [daemon] upload_dir)";
    return nullptr;
  }
  // The same directory however spelled ("dir/", A -> B -> A keeps B's store
  // until then); a directory deleted and made again is a new one.
  if (uploads_ && uploads_->same_directory(**store)) return nullptr;
  return std::move(*store);
}

void App::use_upload_store(std::unique_ptr<UploadStore> store) {
  if (!store) return;
  // Uploads in progress keep the old directory open (UploadStore shares it).
  uploads_ = std::move(store);
  server_.set_upload_store(uploads_.get());
  IoPool* pool = server_.io_pool();
  if (pool == nullptr) return;
  // In the background; live uploads (ours, or another socketd's on the same
  // directory) hold their ".part" locked and are left alone.
  uploads_->recover(*pool, [&logger = logger_, dir = uploads_->path()](size_t leftovers) {
    if (leftovers == 0) return;
    logger.log(LogLevel::kWarning, "upload directory " + dir + ": " + std::to_string(leftovers) +
                                       " interrupted upload(s) from an earlier run kept as "
                                       "*.incomplete");
  });
}

void App::apply_logging(const Config& config) {
  logger_.set_level(config.daemon.log_level);
  if (options_.log_limiter != nullptr) options_.log_limiter->set_limit(config.daemon.log_rate_limit);
}

bool App::start(const Config& config, InheritedSockets* inherited) {
  apply_logging(config);
  std::string store_error;
  auto store = prepare_upload_store(config, store_error);
  if (!store_error.empty()) {
    logger_.log(LogLevel::kError, store_error);
    return false;
  }
  use_upload_store(std::move(store));
  const auto errors = server_.apply(config, inherited);
  for (const auto& error : errors) logger_.log(LogLevel::kError, error);
  if (!errors.empty()) return false;
  config_ = config;
  std::string where;
  for (const auto& l : server_.listeners()) {
    where += (where.empty() ? "" : ", ") + l.service + " " +
             (l.transport == Transport::kTcp ? "tcp " : "udp ") + l.address.to_string();
  }
  logger_.log({LogLevel::kNotice, LogEvent::kStarted, "socketd started: " + where,
               {{"CONFIG", config.source}}});
  report_reload(true);
  notifier_.ready();
  notifier_.status(status_line());
  schedule_status();
  schedule_watchdog();
  schedule_log_tick();
  return true;
}

bool App::reload() {
  if (stopping_) return false;
  notifier_.reloading();
  const auto t0 = Clock::now();
  auto load = load_config_file(options_.config_path);
  std::vector<std::string> errors;
  for (const auto& e : load.errors) errors.push_back(e.to_string());
  std::unique_ptr<UploadStore> store;
  if (load.ok()) {
    std::string store_error;
    store = prepare_upload_store(*load.config, store_error);
    if (!store_error.empty()) errors.push_back(store_error);
  }
  if (load.ok() && errors.empty()) errors = server_.apply(*load.config);
  if (errors.empty()) use_upload_store(std::move(store));  // only once the reload holds
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
    config_ = *load.config;
    apply_logging(config_);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
    last_reload_ = "reloaded " + std::to_string(config_.services.size()) + " services in " +
                   std::to_string(us.count()) + " us";
    logger_.log({LogLevel::kNotice, LogEvent::kReloaded, last_reload_,
                 {{"CONFIG", options_.config_path}}});
  }
  report_reload(errors.empty());
  notifier_.ready();
  notifier_.status(status_line());
  return errors.empty();
}

void App::report_reload(bool ok) {
  ++reload_generation_;
  if (options_.reload_report_path.empty()) return;
  const std::string tmp = options_.reload_report_path + ".tmp";
  const std::string text =
      std::to_string(reload_generation_) + (ok ? " ok " : " failed ") + last_reload_ + "\n";
  bool written = false;
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    written = std::fputs(text.c_str(), f) >= 0;
    written = std::fclose(f) == 0 && written;
  }
  if (!written || std::rename(tmp.c_str(), options_.reload_report_path.c_str()) != 0) {
    // `socketd --signal-reload` (ExecReload=) waits for this file: say why it
    // will time out instead of leaving the operator to guess.
    logger_.log(LogLevel::kWarning, "cannot write the reload report " +
                                        options_.reload_report_path + ": " +
                                        std::strerror(errno) +
                                        "; `systemctl reload` will not see the outcome "
                                        "(check RuntimeDirectory=)");
  }
}

void App::stop() {
  if (stopping_) return;
  stopping_ = true;
  notifier_.stopping();
  server_.stop_listening();
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

void App::on_signal(int signo) {
  if (signo == SIGHUP) {
    reload();
  } else {
    stop();
  }
}

std::string App::status_line() const {
  const auto t = server_.totals();
  std::string s = stopping_ ? "Stopping: " : "";
  s += std::to_string(t.open_connections) + " open, " +
       std::to_string(t.stats.connections_total) + " total connections; " +
       std::to_string(t.stats.bytes_in) + " B in, " + std::to_string(t.stats.bytes_out) +
       " B out; uploads " + std::to_string(t.stats.uploads_finished) + " finished, " +
       std::to_string(t.stats.uploads_incomplete) + " incomplete; " +
       std::to_string(t.stats.datagrams) + " datagrams; " + std::to_string(t.stats.refused) +
       " refused, " + std::to_string(t.stats.denied) + " denied, " +
       std::to_string(t.stats.timed_out) + " timed out; " +
       (t.stats.proxy_errors != 0
            ? std::to_string(t.stats.proxy_errors) + " bad PROXY headers; "
            : std::string()) +
       (t.stats.handler_failures != 0
            ? std::to_string(t.stats.handler_failures) + " handlers failed to start; "
            : std::string()) +
       (t.stats.output_cut != 0
            ? std::to_string(t.stats.output_cut) + " cut at max_output_bytes; "
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
