#include "config/service_loader.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/schema.hpp"
#include "config/suggestions.hpp"
#include "config/value_reader.hpp"

namespace socketd::config_internal {

namespace {

bool valid_service_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// "\"banner\", \"chat\" or \"echo\"": every mode, for the message of a missing 'mode'.
std::string mode_alternatives() {
  const auto names = mode_names();
  return "\"" + join(names.first(names.size() - 1), "\", \"") + "\" or \"" +
         std::string(names.back()) + "\"";
}

std::optional<Mode> read_mode(Diagnostics& diag, const toml::table& table,
                              const std::string& service) {
  const auto* node = table.get("mode");
  if (node == nullptr) {
    diag.error(table.source(),
               "service " + quoted(service) + " has no 'mode': add mode = " + mode_alternatives());
    return std::nullopt;
  }
  const auto index = read_choice_index(diag, Field{"mode", *node}, mode_names());
  if (!index) return std::nullopt;
  return kModeTable[*index].mode;
}

void report_unknown_service_key(Diagnostics& diag, const toml::key& key, const std::string& service,
                                std::optional<Mode> mode) {
  const auto all = names_of(service_keys());
  auto hint = suggestion(key.str(), all);
  if (hint.empty()) {
    std::vector<std::string_view> valid;
    for (const auto& spec : service_keys()) {
      if (!mode || applies_to(spec, *mode)) valid.push_back(spec.name);
    }
    hint = "; valid keys" + (mode ? " for mode " + quoted(to_string(*mode)) : std::string()) +
           ": " + join(valid, ", ");
  }
  diag.error(key.source(),
             "unknown key " + quoted(key.str()) + " in service " + quoted(service) + hint);
}

// Reads every key but "mode"; returns the names of the keys whose value was rejected.
std::vector<std::string_view> apply_service_keys(Diagnostics& diag, const toml::table& table,
                                                 std::optional<Mode> mode, ServiceConfig& service) {
  std::vector<std::string_view> rejected;
  for (const auto& [key, node] : table) {
    const auto* spec = find_key(service_keys(), key.str());
    if (spec == nullptr) {
      report_unknown_service_key(diag, key, service.name, mode);
    } else if (spec->set == nullptr) {
      continue;
    } else if (mode && !applies_to(*spec, *mode)) {
      diag.error(key.source(), "key " + quoted(key.str()) + " does not apply to mode " +
                                   quoted(to_string(*mode)) + "; it is only for " +
                                   modes_text(*spec) + ": remove it or change the mode");
    } else if (!spec->set(diag, Field{key.str(), node}, service)) {
      rejected.push_back(spec->name);
    }
  }
  return rejected;
}

// Checks between keys of one service, skipped when a key involved was rejected
// or does not apply to the mode (then it has been reported already).
void check_service_consistency(Diagnostics& diag, const toml::table& table,
                               std::optional<Mode> mode, const ServiceConfig& service,
                               const std::vector<std::string_view>& rejected) {
  const auto was_rejected = [&](std::string_view name) {
    return std::find(rejected.begin(), rejected.end(), name) != rejected.end();
  };
  if (!service.proxy_protocol && !was_rejected("proxy_protocol")) {
    for (const char* key : {"proxy_header_timeout", "proxy_sources"}) {
      const auto it = table.find(key);
      if (it == table.end() || !mode || transport_of(*mode) != Transport::kTcp) continue;
      diag.error(it->first.source(), "key " + quoted(key) +
                                         " only applies with proxy_protocol = true: remove it "
                                         "or add proxy_protocol = true");
    }
  }
  if (!mode) return;
  if (*mode == Mode::kExec) {
    if (table.get("command") == nullptr) {
      diag.error(table.source(), "service " + quoted(service.name) +
                                     " has mode \"exec\" but no 'command': add command = "
                                     "[\"/absolute/path/to/handler\", \"args\"...]");
    }
    // The handler owns the socket: socketd sees no traffic to time out by.
    if (const auto it = table.find("idle_timeout"); it != table.end()) {
      diag.error(it->first.source(),
                 "key 'idle_timeout' does not apply to mode \"exec\" (the handler owns the "
                 "connection; socketd does not see its traffic): use run_timeout");
    }
  }
  if (mode_takes_key(*mode, "random_max") && service.random_min > service.random_max &&
      !was_rejected("random_min") && !was_rejected("random_max")) {
    const auto* at = table.get("random_max") ? table.get("random_max") : table.get("random_min");
    diag.error(at->source(), "'random_min' (" + std::to_string(service.random_min) +
                                 ") must not be greater than 'random_max' (" +
                                 std::to_string(service.random_max) + ")");
  }
  const auto max_line = table.find("max_line_bytes");
  if (mode_takes_key(*mode, "max_line_bytes") && service.framing == Framing::kChunk &&
      max_line != table.end() && !was_rejected("framing")) {
    diag.error(max_line->first.source(),
               "key 'max_line_bytes' only applies with framing = \"line\" (this service uses "
               "\"chunk\"): remove it or set framing = \"line\"");
  }
}

std::optional<LoadedService> load_service(Diagnostics& diag, const toml::key& name,
                                          const toml::node& node) {
  if (!valid_service_name(name.str())) {
    diag.error(name.source(), "service name " + quoted(name.str()) +
                                  " may only contain letters, digits, '_' and '-'");
  }
  const auto* table = node.as_table();
  if (table == nullptr) {
    diag.error(node.source(), "service " + quoted(name.str()) +
                                  " must be a table: write [services." + std::string(name.str()) +
                                  "] followed by its keys");
    return std::nullopt;
  }
  LoadedService loaded{ServiceConfig{}, &diag, table->source().begin, name.source().begin, {}};
  ServiceConfig& service = loaded.config;
  service.name = name.str();
  const auto mode = read_mode(diag, *table, service.name);
  if (mode) service.mode = *mode;
  const auto rejected = apply_service_keys(diag, *table, mode, service);
  check_service_consistency(diag, *table, mode, service, rejected);

  const auto* listen = table->get("listen");
  if (listen == nullptr) {
    diag.error(table->source(), "service " + quoted(service.name) +
                                    " has no 'listen': add listen = \"127.0.0.1:PORT\"");
  } else if (mode && std::find(rejected.begin(), rejected.end(), "listen") == rejected.end()) {
    if (const auto* array = listen->as_array()) {
      for (const auto& element : *array) loaded.listen_at.push_back(element.source().begin);
    } else {
      loaded.listen_at.push_back(listen->source().begin);
    }
  }
  return loaded;
}

bool is_wildcard(const SocketAddress& address) {
  const auto host = address.host();
  return host == "0.0.0.0" || host == "::";
}

const char* transport_name(Transport transport) {
  return transport == Transport::kTcp ? "TCP" : "UDP";
}

enum class Conflict { kNone, kSameAddress, kWildcardOverlap };

// One listen address of one service.
struct Binding {
  const LoadedService* service;
  size_t index;  // into config.listen
  const SocketAddress& address() const { return service->config.listen[index]; }
  Transport transport() const { return service->config.transport(); }
};

// Whether two listeners could not both bind. Port 0 never conflicts (the
// kernel picks a free port); TCP and UDP have separate port spaces.
Conflict conflict_between(const Binding& a, const Binding& b) {
  const SocketAddress& x = a.address();
  const SocketAddress& y = b.address();
  if (a.transport() != b.transport() || x.family() != y.family()) return Conflict::kNone;
  if (x.port() == 0 || x.port() != y.port()) return Conflict::kNone;
  if (x == y) return Conflict::kSameAddress;
  if (is_wildcard(x) || is_wildcard(y)) return Conflict::kWildcardOverlap;
  return Conflict::kNone;
}

// "line 12", or "conf.d/a.toml:12" when `other` is in another file than `from`.
std::string place(const LoadedService& other, const LoadedService& from, uint32_t line) {
  if (other.diag == from.diag) return "line " + std::to_string(line);
  return other.diag->file() + ":" + std::to_string(line);
}

std::string conflict_message(Conflict conflict, const Binding& later, const Binding& earlier) {
  const uint32_t earlier_line = earlier.service->listen_at[earlier.index].line;
  const std::string where = place(*earlier.service, *later.service, earlier_line);
  const bool same_service = earlier.service == later.service;
  const std::string other =
      same_service ? "this service's own " + earlier.address().to_string() + " (" + where + ")"
                   : "service " + quoted(earlier.service->config.name) + " (" +
                         earlier.address().to_string() + ", " + where + ")";
  const std::string subject =
      std::string(transport_name(later.transport())) + " address " + later.address().to_string();
  if (conflict == Conflict::kSameAddress) {
    return subject + " is already used by " + other + ": give each service its own port";
  }
  return subject + " overlaps " + other +
         ": a wildcard address takes its port on every address; use another port";
}

void check_listen_conflicts(const std::vector<LoadedService>& services) {
  std::vector<Binding> seen;
  for (const auto& service : services) {
    for (size_t k = 0; k < service.listen_at.size(); ++k) {
      const Binding binding{&service, k};
      for (const auto& earlier : seen) {
        const auto conflict = conflict_between(binding, earlier);
        if (conflict == Conflict::kNone) continue;
        service.diag->error(service.listen_at[k], conflict_message(conflict, binding, earlier));
        break;
      }
      seen.push_back(binding);
    }
  }
}

}  // namespace

void load_services(Diagnostics& diag, const toml::node& node, std::vector<LoadedService>& out) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    diag.error(node.source(),
               "'services' must be a table: write one [services.NAME] table per service");
    return;
  }
  std::vector<LoadedService> services;
  for (const auto& [name, service_node] : *table) {
    if (auto loaded = load_service(diag, name, service_node)) {
      services.push_back(std::move(*loaded));
    }
  }
  // toml++ keeps keys sorted; the daemon and the messages follow the file's order.
  std::stable_sort(services.begin(), services.end(), [](const auto& a, const auto& b) {
    return a.table_at.line != b.table_at.line ? a.table_at.line < b.table_at.line
                                              : a.table_at.column < b.table_at.column;
  });
  for (auto& loaded : services) out.push_back(std::move(loaded));
}

void check_services(std::vector<LoadedService>& services, Config& config) {
  // A name defined in two files: the later definition is the error.
  std::vector<LoadedService> unique;
  for (auto& service : services) {
    const auto first = std::find_if(unique.begin(), unique.end(), [&](const auto& u) {
      return u.config.name == service.config.name;
    });
    if (first != unique.end()) {
      service.diag->error(service.name_at,
                          "service " + quoted(service.config.name) + " is already defined at " +
                              first->diag->file() + ":" + std::to_string(first->table_at.line) +
                              ": each service is defined once across the main file and its "
                              "includes; rename or remove one");
      continue;
    }
    unique.push_back(std::move(service));
  }
  check_listen_conflicts(unique);
  for (auto& loaded : unique) config.services.push_back(std::move(loaded.config));
}

}  // namespace socketd::config_internal
