// The entry points: reading the file, parsing it with toml++ (through
// TextMask), and the top level of the file. The services are loaded in
// service_loader.cpp, keys are described in schema.cpp, values are read in
// value_reader.cpp.
#include "config/config_loader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "config/diagnostics.hpp"
#include "config/schema.hpp"
#include "config/service_loader.hpp"
#include "config/suggestions.hpp"
#include "config/toml_workaround.hpp"
#include "net/fd.hpp"

namespace socketd {

std::string ConfigError::to_string() const {
  if (line == 0) return file + ": error: " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": error: " + message;
}

namespace {

using config_internal::Diagnostics;
using config_internal::Field;
using config_internal::join;
using config_internal::quoted;
using config_internal::suggestion;

constexpr off_t kMaxConfigBytes = 16 * 1024 * 1024;

void load_daemon(Diagnostics& diag, const toml::node& node, DaemonConfig& daemon) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    diag.error(node.source(), "'daemon' must be a table: write [daemon] followed by its keys");
    return;
  }
  const auto keys = config_internal::daemon_keys();
  const auto names = config_internal::names_of(keys);
  for (const auto& [key, value] : *table) {
    const auto* spec = config_internal::find_key(keys, key.str());
    if (spec == nullptr) {
      auto hint = suggestion(key.str(), names);
      if (hint.empty()) hint = "; valid keys: " + join(names, ", ");
      diag.error(key.source(), "unknown key " + quoted(key.str()) + " in [daemon]" + hint);
      continue;
    }
    spec->set(diag, Field{key.str(), value}, daemon);
  }
}

void load_root(Diagnostics& diag, const toml::table& root, Config& config) {
  constexpr std::string_view kSections[] = {"daemon", "services"};
  for (const auto& [key, node] : root) {
    if (key.str() == "daemon") {
      load_daemon(diag, node, config.daemon);
    } else if (key.str() == "services") {
      config_internal::load_services(diag, node, config);
    } else {
      auto hint = suggestion(key.str(), kSections);
      if (hint.empty()) hint = "; the file has only [daemon] and [services.NAME] tables";
      diag.error(key.source(), std::string(node.is_table() ? "unknown table " : "unknown key ") +
                                   quoted(key.str()) + hint);
    }
  }
  const auto* services = root.get("services");
  const bool none = services == nullptr || (services->is_table() && services->as_table()->empty());
  if (none) {
    diag.error(services ? services->source() : root.source(),
               "no services configured: add at least one [services.NAME] table with 'mode' and "
               "'listen'");
  }
}

// Reads the whole file, or says why not (errno value).
std::error_code read_file(const std::string& path, std::string& out) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {errno, std::system_category()};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return {errno, std::system_category()};
  if (S_ISDIR(st.st_mode)) return std::make_error_code(std::errc::is_a_directory);
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {errno, std::system_category()};
    if (n == 0) return {};
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > static_cast<size_t>(kMaxConfigBytes)) {
      return std::make_error_code(std::errc::file_too_large);
    }
  }
}

}  // namespace

ConfigLoad parse_config(std::string_view text, std::string_view source_path) {
  const config_internal::TextMask mask(text);
  Diagnostics diag(source_path, mask);
  auto parsed = toml::parse(mask.masked(), source_path);
  if (!parsed) {
    diag.error(parsed.error().source(), std::string(parsed.error().description()));
    return ConfigLoad{std::nullopt, diag.take_sorted()};
  }
  Config config;
  config.source = source_path;
  load_root(diag, parsed.table(), config);
  if (diag.count() != 0) return ConfigLoad{std::nullopt, diag.take_sorted()};
  return ConfigLoad{std::move(config), {}};
}

ConfigLoad load_config_file(const std::string& path) {
  std::string text;
  if (const auto ec = read_file(path, text)) {
    return ConfigLoad{std::nullopt,
                      {ConfigError{path, 0, 0, "cannot read config: " + ec.message()}}};
  }
  return parse_config(text, path);
}

}  // namespace socketd
