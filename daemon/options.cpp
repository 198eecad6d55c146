#include "options.hpp"

#include <charconv>

namespace socketd {

const char* usage_text() {
  return "Usage: socketd [--config FILE] [--check-config] [--dump-config] [--version] [--help]\n"
         "       socketd --signal-reload PID\n"
         "\n"
         "Serves the TCP/UDP services described in FILE from one edge-triggered\n"
         "epoll loop. Runs in the foreground; made for systemd (Type=notify).\n"
         "\n"
         "  -c, --config FILE   configuration (default /etc/socketd/socketd.toml)\n"
         "  -t, --check-config  validate FILE, print every error, exit 0 if valid, 6 if not\n"
         "  -T, --dump-config   validate FILE and print the effective configuration (every\n"
         "                      default filled in, includes inline) as TOML socketd reads\n"
         "  --signal-reload PID send SIGHUP to the socketd with that PID and wait until it\n"
         "                      has applied or refused the file (exit 0/1); for ExecReload=\n"
         "  -V, --version       print the version and exit\n"
         "  -h, --help          print this help and exit\n"
         "\n"
         "Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads FILE.\n"
         "See socketd(8) and socketd.toml(5).\n";
}

std::optional<Options> parse_options(const std::vector<std::string>& args, std::string& error) {
  Options options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-c" || arg == "--config") {
      if (i + 1 >= args.size()) {
        error = arg + " needs a file name";
        return std::nullopt;
      }
      options.config_path = args[++i];
    } else if (arg.starts_with("--config=")) {
      options.config_path = arg.substr(9);
    } else if (arg == "--signal-reload") {
      int pid = 0;
      const std::string value = i + 1 < args.size() ? args[++i] : "";
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), pid);
      if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || pid <= 0) {
        error = "--signal-reload needs the daemon's PID";
        return std::nullopt;
      }
      options.signal_reload_pid = pid;
    } else if (arg == "-T" || arg == "--dump-config") {
      options.dump_config = true;
    } else if (arg == "-t" || arg == "--check-config") {
      options.check_config = true;
    } else if (arg == "-V" || arg == "--version") {
      options.show_version = true;
    } else if (arg == "-h" || arg == "--help") {
      options.show_help = true;
    } else {
      error = "unknown argument '" + arg + "'";
      return std::nullopt;
    }
  }
  return options;
}

}  // namespace socketd
