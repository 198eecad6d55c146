// socketd-bench: a load generator for socketd and other socket servers. See
// bench/README.md for modes, options, output and exit status.
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "endpoint.hpp"
#include "options.hpp"
#include "report.hpp"
#include "run_result.hpp"
#include "tcp_runner.hpp"
#include "udp_runner.hpp"

#ifndef SOCKETD_BENCH_VERSION
#define SOCKETD_BENCH_VERSION "unknown"
#endif

namespace socketd::bench {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitSetup = 3;
// epoll, signalfd, stdio and a little slack besides the connections.
constexpr rlim_t kSpareFds = 16;

// Lifts the soft fd limit to the hard one; returns the limit now in force.
rlim_t raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

int setup_error(const std::string& message) {
  std::fprintf(stderr, "socketd-bench: %s\n", message.c_str());
  return kExitSetup;
}

int run(const Options& options) {
  const rlim_t fd_limit = raise_fd_limit();
  if (options.connections + kSpareFds > fd_limit) {
    return setup_error(std::to_string(options.connections) + " connections need " +
                       std::to_string(options.connections + kSpareFds) +
                       " file descriptors but the limit is " + std::to_string(fd_limit) +
                       "; run several socketd-bench processes (with --source for more " +
                       "local addresses) or raise the hard limit");
  }
  std::string error;
  const auto target = Endpoint::resolve(options.host, options.port, error);
  if (!target) return setup_error(error);
  std::vector<Endpoint> sources;
  for (const std::string& source : options.sources) {
    auto endpoint = Endpoint::resolve(source, 0, error);
    if (!endpoint) return setup_error("--source: " + error);
    if (endpoint->family() != target->family()) {
      return setup_error("--source " + source + " is not the target's address family");
    }
    sources.push_back(*endpoint);
  }
  // Open loop sends on timers; the default 50 us timer slack would make every
  // send late by up to that much, and the lateness would count as latency.
  if (options.rate) ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

  RunResult result;
  if (options.mode == Mode::kUdp) {
    UdpRunner runner(options, *target);
    if (!runner.prepare(error)) return setup_error(error);
    result = runner.run();
  } else {
    TcpRunner runner(options, *target, std::move(sources));
    if (!runner.prepare(error)) return setup_error(error);
    result = runner.run();
  }

  const Report report(options, target->to_string(), result);
  if (options.json) {
    report.print_json(stdout);
  } else {
    report.print_table(stdout);
  }
  if (!options.hgrm_path.empty()) {
    std::FILE* file = std::fopen(options.hgrm_path.c_str(), "w");
    bool written = file != nullptr;
    if (file != nullptr) {
      result.stats.latency().write_hgrm(file, 1e6);
      written = std::fclose(file) == 0;
    }
    if (!written) {
      std::fprintf(stderr, "socketd-bench: cannot write %s: %s\n", options.hgrm_path.c_str(),
                   std::strerror(errno));
      return kExitSetup;
    }
  }
  return report.exit_code();
}

}  // namespace
}  // namespace socketd::bench

int main(int argc, char** argv) {
  using namespace socketd::bench;
  const ParseResult parsed = parse_options(argc, argv);
  if (std::holds_alternative<HelpRequested>(parsed)) {
    std::fputs(usage_text(), stdout);
    return 0;
  }
  if (std::holds_alternative<VersionRequested>(parsed)) {
    std::printf("socketd-bench %s\n", SOCKETD_BENCH_VERSION);
    return 0;
  }
  if (const auto* usage = std::get_if<UsageError>(&parsed)) {
    std::fprintf(stderr, "socketd-bench: %s\nTry 'socketd-bench --help'.\n",
                 usage->message.c_str());
    return kExitUsage;
  }
  return run(std::get<Options>(parsed));
}
