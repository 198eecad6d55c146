#include "config/config_dump.hpp"

#include <chrono>

#include "config/schema.hpp"

namespace socketd {
namespace {

// A TOML basic string: quotes, backslashes and control characters escaped,
// everything else (UTF-8 included) as is.
std::string toml_string(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

// The largest unit that states the duration exactly: "10s", "5m", "250ms".
std::string duration(std::chrono::milliseconds ms) {
  const auto n = ms.count();
  if (n != 0 && n % 3'600'000 == 0) return "\"" + std::to_string(n / 3'600'000) + "h\"";
  if (n != 0 && n % 60'000 == 0) return "\"" + std::to_string(n / 60'000) + "m\"";
  if (n % 1000 == 0) return "\"" + std::to_string(n / 1000) + "s\"";
  return "\"" + std::to_string(n) + "ms\"";
}

std::string boolean(bool value) {
  return value ? "true" : "false";
}

std::string cidrs(const std::vector<Cidr>& list) {
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) {
    out += (i == 0 ? "" : ", ") + toml_string(list[i].to_string());
  }
  return out + "]";
}

std::string listen(const std::vector<SocketAddress>& addresses) {
  if (addresses.size() == 1) return toml_string(addresses[0].to_string());
  std::string out = "[";
  for (size_t i = 0; i < addresses.size(); ++i) {
    out += (i == 0 ? "" : ", ") + toml_string(addresses[i].to_string());
  }
  return out + "]";
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kNotice:
      return "notice";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "info";
}

// Keys the loader accepts only together with another value.
bool shown(const ServiceConfig& service, std::string_view key) {
  if (key == "proxy_header_timeout" || key == "proxy_sources") return service.proxy_protocol;
  if (key == "max_line_bytes") return service.framing == Framing::kLine;
  if (key == "idle_timeout") return service.mode != Mode::kExec;
  if (key == "user") return !service.user.empty();
  if (key == "group") return !service.group.empty();
  return true;
}

// A service name that is not a bare TOML key never loads; quoting costs nothing.
std::string table_key(std::string_view name) {
  const bool bare = !name.empty() && name.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789_-") == std::string_view::npos;
  return bare ? std::string(name) : toml_string(name);
}

}  // namespace

std::optional<std::string> dump_service_value(const ServiceConfig& s, std::string_view key) {
  using std::to_string;
  if (key == "mode") return toml_string(to_string(s.mode));
  if (key == "listen") return listen(s.listen);
  if (key == "backlog") return to_string(s.backlog);
  if (key == "max_connections") return to_string(s.max_connections);
  if (key == "idle_timeout") return duration(s.idle_timeout);
  if (key == "reuse_port") return boolean(s.reuse_port);
  if (key == "max_per_source") return to_string(s.max_per_source);
  if (key == "max_connection_rate") return to_string(s.max_connection_rate);
  if (key == "rate_pause") return duration(s.rate_pause);
  if (key == "allow") return cidrs(s.allow);
  if (key == "deny") return cidrs(s.deny);
  if (key == "proxy_protocol") return boolean(s.proxy_protocol);
  if (key == "proxy_header_timeout") return duration(s.proxy_header_timeout);
  if (key == "proxy_sources") return cidrs(s.proxy_sources);
  if (key == "message") return toml_string(s.message);
  if (key == "greeting") return toml_string(s.greeting);
  if (key == "exit_word") return toml_string(s.exit_word);
  if (key == "random_min") return to_string(s.random_min);
  if (key == "random_max") return to_string(s.random_max);
  if (key == "framing") return toml_string(to_string(s.framing));
  if (key == "max_line_bytes") return to_string(s.max_line_bytes);
  if (key == "ack_word") return toml_string(s.ack_word);
  if (key == "end_word") return toml_string(s.end_word);
  if (key == "max_upload_bytes") return to_string(s.max_upload_bytes);
  if (key == "upload_timeout") return duration(s.upload_timeout);
  if (key == "min_free_bytes") return to_string(s.min_free_bytes);
  if (key == "request_timeout") return duration(s.request_timeout);
  if (key == "max_request_bytes") return to_string(s.max_request_bytes);
  if (key == "receive_buffer") return to_string(s.receive_buffer);
  if (key == "command") {
    std::string out = "[";
    for (size_t i = 0; i < s.command.size(); ++i)
      out += (i == 0 ? "" : ", ") + toml_string(s.command[i]);
    return out + "]";
  }
  if (key == "environment") {
    std::string out = "{";
    for (size_t i = 0; i < s.environment.size(); ++i) {
      out += (i == 0 ? " " : ", ") + s.environment[i].first + " = " +
             toml_string(s.environment[i].second);
    }
    return out + (s.environment.empty() ? "}" : " }");
  }
  if (key == "max_instances") return to_string(s.max_instances);
  if (key == "run_timeout") return duration(s.run_timeout);
  if (key == "kill_grace") return duration(s.kill_grace);
  if (key == "user") return toml_string(s.user);
  if (key == "group") return toml_string(s.group);
  return std::nullopt;
}

std::optional<std::string> dump_daemon_value(const DaemonConfig& d, std::string_view key) {
  using std::to_string;
  if (key == "log_level") return toml_string(level_name(d.log_level));
  if (key == "max_connections") return to_string(d.max_connections);
  if (key == "max_output_bytes") return to_string(d.max_output_bytes);
  if (key == "upload_dir") return toml_string(d.upload_dir);
  if (key == "drain_timeout") return duration(d.drain_timeout);
  if (key == "log_rate_limit") return to_string(d.log_rate_limit);
  return std::nullopt;
}

std::string dump_config(const Config& config) {
  std::string out =
      "# socketd's effective configuration: every key with its value in force,\n"
      "# defaults included, the services of included files inline.\n"
      "\n[daemon]\n";
  for (const auto& key : config_internal::daemon_keys()) {
    if (auto value = dump_daemon_value(config.daemon, key.name)) {
      out += std::string(key.name) + " = " + *value + "\n";
    }
  }
  for (const auto& service : config.services) {
    out += "\n[services." + table_key(service.name) + "]\n";
    for (const auto& key : config_internal::service_keys()) {
      if (!config_internal::applies_to(key, service.mode) || !shown(service, key.name)) continue;
      if (auto value = dump_service_value(service, key.name)) {
        out += std::string(key.name) + " = " + *value + "\n";
      }
    }
  }
  return out;
}

}  // namespace socketd
