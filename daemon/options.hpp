// Command line of the socketd executable.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace socketd {

struct Options {
  std::string config_path = "/etc/socketd/socketd.toml";
  bool check_config = false;
  bool show_version = false;
  bool show_help = false;
};

// Parses argv; on a usage error returns nullopt and fills `error`.
std::optional<Options> parse_options(const std::vector<std::string>& args, std::string& error);
const char* usage_text();

}  // namespace socketd
