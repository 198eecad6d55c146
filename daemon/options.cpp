#include "options.hpp"

namespace socketd {

const char* usage_text() {
  return "Usage: socketd [--config FILE] [--check-config] [--version] [--help]\n"
         "\n"
         "Serves the TCP/UDP services described in FILE from one edge-triggered\n"
         "epoll loop. Runs in the foreground; made for systemd (Type=notify).\n"
         "\n"
         "  -c, --config FILE   configuration (default /etc/socketd/socketd.toml)\n"
         "  -t, --check-config  validate FILE, print every error, exit 0 if valid, 1 if not\n"
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
