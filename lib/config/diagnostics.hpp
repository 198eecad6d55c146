// Diagnostics: collects every error of one config file with its place in the
// file; loading goes on after each. Messages and strings show the file's own
// characters (see TextMask). Field: one key = value of the file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config_loader.hpp"
#include "config/tomlpp.hpp"

namespace socketd::config_internal {

class TextMask;

class Diagnostics {
 public:
  // Keeps a reference to `mask`, which must outlive it.
  Diagnostics(std::string_view file, const TextMask& mask) : file_(file), mask_(mask) {}

  void error(const toml::source_position& at, std::string_view message);
  void error(const toml::source_region& at, std::string_view message) { error(at.begin, message); }
  std::string unmask(std::string_view text) const;
  size_t count() const { return errors_.size(); }
  const std::string& file() const { return file_; }

  // In file order, whatever order the checks ran in.
  std::vector<ConfigError> take_sorted();

 private:
  std::string file_;
  const TextMask& mask_;
  std::vector<ConfigError> errors_;
};

// `text` with every control character escaped, so that one message stays one
// line and cannot drive a terminal: \n, \r, \t, \0, \xHH for the other
// C0 controls and DEL, \u0085 for C1 controls and U+2028/2029. Everything
// else (printable ASCII, backslash, other UTF-8, invalid bytes) is unchanged.
std::string escape_controls(std::string_view text);

// One key = value of the file, with the key's name for messages.
struct Field {
  std::string_view key;
  const toml::node& node;
};

}  // namespace socketd::config_internal
