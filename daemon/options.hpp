// Command line of the socketd executable.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace socketd {

struct Options {
  std::string config_path = "/etc/socketd/socketd.toml";
  bool check_config = false;
  bool dump_config = false;  // --dump-config: print the effective config as TOML
  bool show_version = false;
  bool show_help = false;
  int signal_reload_pid = 0;  // --signal-reload PID: reload that daemon and wait
};

// Parses argv; on a usage error returns nullopt and fills `error`.
std::optional<Options> parse_options(const std::vector<std::string>& args, std::string& error);
const char* usage_text();

}  // namespace socketd
