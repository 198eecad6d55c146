// socketd: loads the config, wires the systemd glue into the App and runs the
// reactor until a graceful stop. Exit codes follow daemon(7)/LSB: 0 clean
// stop, 1 generic failure (and an invalid file with --check-config),
// 2 usage error, 6 (EXIT_NOTCONFIGURED) config invalid at start.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "app/app.hpp"
#include "config/config_loader.hpp"
#include "options.hpp"
#include "reactor/signal_source.hpp"
#include "systemd_glue.hpp"

#ifndef SOCKETD_VERSION
#define SOCKETD_VERSION "unknown"
#endif

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitNotConfigured = 6;

int run(const socketd::Options& options) {
  using namespace socketd;
  // Blocked before anything else so they only ever arrive through signalfd.
  if (auto ec = block_signals({SIGTERM, SIGINT, SIGHUP})) {
    std::fprintf(stderr, "socketd: cannot block signals: %s\n", ec.message().c_str());
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);

  auto load = load_config_file(options.config_path);
  for (const auto& error : load.errors) std::fprintf(stderr, "%s\n", error.to_string().c_str());
  if (!load.ok()) {
    std::fprintf(stderr, "socketd: %zu error(s) in %s; not started\n", load.errors.size(),
                 options.config_path.c_str());
    return kExitNotConfigured;
  }

  StderrSink stderr_sink;
  JournalSink journal_sink;
  LogSink& sink = stderr_is_journal() ? static_cast<LogSink&>(journal_sink) : stderr_sink;
  Logger logger(sink, load.config->daemon.log_level);

  auto reactor = Reactor::create();
  if (!reactor) {
    std::fprintf(stderr, "socketd: cannot create epoll set: %s\n",
                 reactor.error().message().c_str());
    return 1;
  }
  SdNotifier notifier;
  App app(**reactor, logger, notifier,
          {.config_path = options.config_path, .watchdog_interval = watchdog_interval()});
  auto signals = SignalSource::create(**reactor, {SIGTERM, SIGINT, SIGHUP},
                                      [&app](int signo) { app.on_signal(signo); });
  if (!signals) {
    std::fprintf(stderr, "socketd: cannot create signalfd: %s\n",
                 signals.error().message().c_str());
    return 1;
  }
  std::vector<std::string> problems;
  InheritedSockets inherited = inherited_sockets(problems);
  for (const auto& p : problems) logger.log(LogLevel::kWarning, p);
  if (!app.start(*load.config, &inherited)) return 1;
  for (const auto& [name, fd] : inherited) {
    logger.log(LogLevel::kWarning, "inherited socket '" + name +
                                       "' matches no configured service; closed");
  }
  inherited.clear();
  (*reactor)->run();
  logger.log(LogLevel::kNotice, "socketd stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string error;
  auto options = socketd::parse_options(std::vector<std::string>(argv + 1, argv + argc), error);
  if (!options) {
    std::fprintf(stderr, "socketd: %s\n%s", error.c_str(), socketd::usage_text());
    return kExitUsage;
  }
  if (options->show_help) {
    std::fputs(socketd::usage_text(), stdout);
    return 0;
  }
  if (options->show_version) {
    std::printf("socketd %s\n", SOCKETD_VERSION);
    return 0;
  }
  if (options->check_config) {
    auto load = socketd::load_config_file(options->config_path);
    for (const auto& e : load.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    if (!load.ok()) return 1;
    std::printf("%s: configuration OK (%zu services)\n", options->config_path.c_str(),
                load.config->services.size());
    return 0;
  }
  return run(*options);
}
