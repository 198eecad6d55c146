#include "config/exec_keys.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>

#include "config/suggestions.hpp"
#include "config/value_reader.hpp"

namespace socketd::config_internal {

namespace {

// Set by socketd for every handler; the environment table may not override them.
constexpr std::array<std::string_view, 6> kReservedVariables = {
    "PROTO", "TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP", "TCPLOCALPORT", "SOCKETD_SERVICE"};

bool valid_variable_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (const char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Why `path` cannot be run as a handler, or empty if it can (as far as a
// check now can tell: the file may still change before a connection comes).
std::string handler_problem(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return "must be an absolute path (no shell and no PATH search is involved)";
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::string("cannot be used: ") + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "is not a regular file";
  // access() judges by the real ids, which are socketd's own: the handler
  // runs with them unless user/group say otherwise.
  if (::access(path.c_str(), X_OK) != 0 || (st.st_mode & 0111) == 0) {
    return "is not executable (chmod +x it, or fix its owner and mode)";
  }
  return {};
}

bool need_root(Diagnostics& diag, const Field& field) {
  if (::geteuid() == 0) return true;
  diag.error(field.node.source(),
             quoted(field.key) + " needs socketd to run as root (it runs as uid " +
                 std::to_string(::geteuid()) +
                 "), since only root can switch a handler to another identity: remove it and "
                 "let the handler run as socketd's own user");
  return false;
}

}  // namespace

bool set_command(Diagnostics& diag, const Field& field, ServiceConfig& service) {
  const auto* array = field.node.as_array();
  if (array == nullptr || array->empty()) {
    diag.error(field.node.source(),
               quoted(field.key) +
                   " must be a non-empty array of strings: the handler's absolute path, then its "
                   "arguments, such as [\"/usr/lib/foo/handler\", \"--flag\"]");
    return false;
  }
  std::vector<std::string> argv;
  bool ok = true;
  for (const auto& element : *array) {
    const auto* text = element.as_string();
    if (text == nullptr) {
      diag.error(element.source(), quoted(field.key) + " entries must be strings");
      ok = false;
      continue;
    }
    std::string value = diag.unmask(text->get());
    if (value.find('\0') != std::string::npos) {
      diag.error(element.source(), quoted(field.key) + " entries must not contain a NUL character");
      ok = false;
      continue;
    }
    if (argv.empty()) {
      if (const auto problem = handler_problem(value); !problem.empty()) {
        diag.error(element.source(), "handler " + quoted(value) + " " + problem);
        ok = false;
      }
    }
    argv.push_back(std::move(value));
  }
  if (!ok) return false;
  service.command = std::move(argv);
  return true;
}

bool set_environment(Diagnostics& diag, const Field& field, ServiceConfig& service) {
  const auto* table = field.node.as_table();
  if (table == nullptr) {
    diag.error(field.node.source(),
               quoted(field.key) +
                   " must be a table of strings, such as "
                   "environment = { LANG = \"C.UTF-8\", PATH = \"/usr/bin:/bin\" }");
    return false;
  }
  std::vector<std::pair<std::string, std::string>> vars;
  bool ok = true;
  for (const auto& [key, node] : *table) {
    const std::string name(key.str());
    const auto* text = node.as_string();
    if (!valid_variable_name(name)) {
      diag.error(key.source(), "environment variable name " + quoted(name) +
                                   " may only contain letters, digits and '_' and must not start "
                                   "with a digit");
      ok = false;
    } else if (std::find(kReservedVariables.begin(), kReservedVariables.end(), name) !=
               kReservedVariables.end()) {
      diag.error(key.source(), "environment variable " + quoted(name) +
                                   " is set by socketd for each connection; remove it");
      ok = false;
    } else if (text == nullptr) {
      diag.error(node.source(), "environment variable " + quoted(name) + " must be a string");
      ok = false;
    } else {
      std::string value = diag.unmask(text->get());
      if (value.find('\0') != std::string::npos) {
        diag.error(node.source(),
                   "environment variable " + quoted(name) + " must not contain a NUL character");
        ok = false;
        continue;
      }
      vars.emplace_back(name, std::move(value));
    }
  }
  if (!ok) return false;
  // toml++ keeps keys sorted: the environment comes out in name order.
  service.environment = std::move(vars);
  return true;
}

bool set_user(Diagnostics& diag, const Field& field, ServiceConfig& service) {
  const auto name = read_word(diag, field);
  if (!name || !need_root(diag, field)) return false;
  // getpwnam may ask NSS (nss-systemd, LDAP): it runs where config files are
  // read (start, --check-config, reload), never per connection.
  const passwd* pw = ::getpwnam(name->c_str());
  if (pw == nullptr) {
    diag.error(field.node.source(), "user " + quoted(*name) + " does not exist");
    return false;
  }
  service.user = *name;
  service.uid = pw->pw_uid;
  if (service.gid < 0) service.gid = pw->pw_gid;  // group = ... wins, wherever it is written
  return true;
}

bool set_group(Diagnostics& diag, const Field& field, ServiceConfig& service) {
  const auto name = read_word(diag, field);
  if (!name || !need_root(diag, field)) return false;
  const group* gr = ::getgrnam(name->c_str());
  if (gr == nullptr) {
    diag.error(field.node.source(), "group " + quoted(*name) + " does not exist");
    return false;
  }
  service.group = *name;
  service.gid = gr->gr_gid;
  return true;
}

}  // namespace socketd::config_internal
