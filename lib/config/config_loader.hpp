// Reads a TOML file into a Config, or explains everything that is wrong with it.
// Never throws; every error carries file:line:column.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace socketd {

struct ConfigError {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  std::string message;
  // "file:line:column: error: message" (line/column omitted when unknown, e.g. file unreadable)
  std::string to_string() const;
};

struct ConfigLoad {
  std::optional<Config> config;  // set only when errors is empty
  std::vector<ConfigError> errors;
  bool ok() const { return config.has_value(); }
};

// kIgnore: 'include' is checked and recorded but no file is read (for the
// fuzzer, which must not read the file system).
enum class Includes { kRead, kIgnore };

// `text` is the main file; included files are read relative to the directory
// of `source_path`.
ConfigLoad parse_config(std::string_view text, std::string_view source_path,
                        Includes includes = Includes::kRead);
ConfigLoad load_config_file(const std::string& path);

}  // namespace socketd
