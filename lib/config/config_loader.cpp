// The entry points: reading the files, parsing them with toml++ (through
// TextMask), the top level of each file and the includes. The services are
// loaded in service_loader.cpp, keys are described in schema.cpp, values are
// read in value_reader.cpp.
#include "config/config_loader.hpp"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <system_error>

#include "config/diagnostics.hpp"
#include "config/schema.hpp"
#include "config/service_loader.hpp"
#include "config/suggestions.hpp"
#include "config/toml_workaround.hpp"
#include "net/fd.hpp"

namespace socketd {

std::string ConfigError::to_string() const {
  // Messages are escaped where they are made; a file name (from the command
  // line or an include glob) may hold anything.
  const std::string where = config_internal::escape_controls(file);
  if (line == 0) return where + ": error: " + message;
  return where + ":" + std::to_string(line) + ":" + std::to_string(column) + ": error: " + message;
}

namespace {

using config_internal::Diagnostics;
using config_internal::Field;
using config_internal::join;
using config_internal::LoadedService;
using config_internal::quoted;
using config_internal::suggestion;

constexpr off_t kMaxConfigBytes = 16 * 1024 * 1024;
// More drop-ins than anyone writes by hand; a glob gone wrong stops here.
constexpr size_t kMaxIncludedFiles = 1024;

// One file of the configuration: its text, the parse, and its errors.
struct SourceFile {
  std::string path;
  std::string text;
  std::unique_ptr<config_internal::TextMask> mask;
  std::unique_ptr<Diagnostics> diag;
  toml::parse_result parsed;
  bool parsed_ok = false;

  SourceFile(std::string file, std::string contents)
      : path(std::move(file)),
        text(std::move(contents)),
        mask(std::make_unique<config_internal::TextMask>(text)),
        diag(std::make_unique<Diagnostics>(path, *mask)),
        parsed(toml::parse(mask->masked(), path)) {
    parsed_ok = static_cast<bool>(parsed);
    if (!parsed_ok) diag->error(parsed.error().source(), std::string(parsed.error().description()));
  }
};

// Where each [daemon] key was set first, so a drop-in cannot silently
// override the main file (or another drop-in).
using DaemonKeysSet = std::map<std::string, std::string, std::less<>>;

void load_daemon(Diagnostics& diag, const toml::node& node, DaemonConfig& daemon,
                 DaemonKeysSet& set) {
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
    const std::string here = diag.file() + ":" + std::to_string(key.source().begin.line);
    const auto [it, first] = set.emplace(std::string(key.str()), here);
    if (!first) {
      diag.error(key.source(), "[daemon] " + quoted(key.str()) + " is already set at " +
                                   it->second +
                                   ": set each key once across the main file and "
                                   "its includes");
      continue;
    }
    spec->set(diag, Field{key.str(), value}, daemon);
  }
}

// An include pattern and where it was written.
struct Include {
  std::string pattern;
  toml::source_position at;
};

std::vector<Include> read_includes(Diagnostics& diag, const toml::node& node) {
  std::vector<Include> out;
  auto one = [&](const toml::node& element) {
    const auto* text = element.as_string();
    if (text == nullptr || text->get().empty()) {
      diag.error(element.source(),
                 "'include' must be a file name or glob such as \"conf.d/*.toml\", or an array "
                 "of them");
      return;
    }
    std::string pattern = diag.unmask(text->get());
    if (pattern.find('\0') != std::string::npos) {
      diag.error(element.source(), "'include' must not contain a NUL character");
      return;
    }
    out.push_back({std::move(pattern), element.source().begin});
  };
  if (const auto* array = node.as_array()) {
    for (const auto& element : *array) one(element);
  } else {
    one(node);
  }
  return out;
}

void load_root(Diagnostics& diag, const toml::table& root, Config& config,
               DaemonKeysSet& daemon_set, std::vector<LoadedService>& services,
               std::vector<Include>* includes) {
  constexpr std::string_view kSections[] = {"daemon", "services", "include"};
  for (const auto& [key, node] : root) {
    if (key.str() == "daemon") {
      load_daemon(diag, node, config.daemon, daemon_set);
    } else if (key.str() == "services") {
      config_internal::load_services(diag, node, services);
    } else if (key.str() == "include" && includes != nullptr) {
      *includes = read_includes(diag, node);
    } else if (key.str() == "include") {
      diag.error(key.source(), "'include' is only read in the main file (" + config.source +
                                   "): list this pattern there");
    } else {
      auto hint = suggestion(key.str(), kSections);
      if (hint.empty()) {
        hint = "; the file has only 'include', [daemon] and [services.NAME] tables";
      }
      diag.error(key.source(), std::string(node.is_table() ? "unknown table " : "unknown key ") +
                                   quoted(key.str()) + hint);
    }
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

std::string directory_of(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  return slash == 0 ? "/" : std::string(path.substr(0, slash));
}

// glob(3) reports unreadable directories through a callback without user
// data; config loading runs on one thread at a time.
thread_local std::string glob_error;

int on_glob_error(const char* path, int error) {
  // A directory that does not exist is no match (an empty or absent conf.d/).
  if (error != ENOENT && error != ENOTDIR && glob_error.empty()) {
    glob_error = std::string(path) + ": " + std::strerror(error);
  }
  return 0;  // go on with the rest
}

bool has_glob_characters(std::string_view pattern) {
  return pattern.find_first_of("*?[") != std::string_view::npos;
}

// The files one include pattern names, sorted (glob(3) sorts by name).
std::vector<std::string> expand(Diagnostics& diag, const Include& include,
                                const std::string& base) {
  const std::string pattern =
      include.pattern.front() == '/' ? include.pattern : base + "/" + include.pattern;
  if (!has_glob_characters(include.pattern)) return {pattern};  // must exist: read_file says
  glob_t matches{};
  glob_error.clear();
  const int rc = ::glob(pattern.c_str(), 0, on_glob_error, &matches);
  std::vector<std::string> files;
  if (rc == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) files.emplace_back(matches.gl_pathv[i]);
  } else if (rc == GLOB_NOSPACE) {
    glob_error = "out of memory";
  }
  // No match is fine (an empty conf.d/); a directory that cannot be read is not.
  if (!glob_error.empty()) {
    diag.error(include.at, "include " + quoted(include.pattern) + ": cannot read " + glob_error);
  }
  ::globfree(&matches);
  return files;
}

}  // namespace

ConfigLoad parse_config(std::string_view text, std::string_view source_path,
                        Includes read_includes_from) {
  std::vector<std::unique_ptr<SourceFile>> files;
  files.push_back(std::make_unique<SourceFile>(std::string(source_path), std::string(text)));
  SourceFile& main = *files.front();
  if (!main.parsed_ok) return ConfigLoad{std::nullopt, main.diag->take_sorted()};

  Config config;
  config.source = source_path;
  DaemonKeysSet daemon_set;
  std::vector<LoadedService> services;
  std::vector<Include> includes;
  load_root(*main.diag, main.parsed.table(), config, daemon_set, services, &includes);

  const std::string base = directory_of(source_path);
  std::vector<std::string> seen{std::string(source_path)};
  for (const auto& include : includes) {
    config.include.push_back(include.pattern);
    if (read_includes_from == Includes::kIgnore) continue;
    for (auto& path : expand(*main.diag, include, base)) {
      if (std::find(seen.begin(), seen.end(), path) != seen.end()) continue;  // read once
      if (seen.size() > kMaxIncludedFiles) {
        main.diag->error(include.at, "include " + quoted(include.pattern) + ": more than " +
                                         std::to_string(kMaxIncludedFiles) + " files included");
        break;
      }
      seen.push_back(path);
      std::string contents;
      if (const auto ec = read_file(path, contents)) {
        main.diag->error(include.at, "include " + quoted(include.pattern) + ": cannot read " +
                                         path + ": " + ec.message());
        continue;
      }
      files.push_back(std::make_unique<SourceFile>(path, std::move(contents)));
      SourceFile& file = *files.back();
      if (file.parsed_ok) {
        load_root(*file.diag, file.parsed.table(), config, daemon_set, services, nullptr);
      }
    }
  }

  const bool none = services.empty();
  config_internal::check_services(services, config);
  if (none && main.diag->count() == 0) {
    const auto* node = main.parsed.table().get("services");
    main.diag->error(node ? node->source() : main.parsed.table().source(),
                     "no services configured: add at least one [services.NAME] table with "
                     "'mode' and 'listen'" +
                         std::string(includes.empty() ? "" : " (here or in an included file)"));
  }
  std::vector<ConfigError> errors;
  for (auto& file : files) {
    config.files.push_back(file->path);
    for (auto& error : file->diag->take_sorted()) errors.push_back(std::move(error));
  }
  if (!errors.empty()) return ConfigLoad{std::nullopt, std::move(errors)};
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
