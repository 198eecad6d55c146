#include "config/schema.hpp"

#include <cstdint>
#include <limits>

#include "config/exec_keys.hpp"
#include "config/suggestions.hpp"
#include "config/value_reader.hpp"

namespace socketd::config_internal {

namespace {

constexpr int64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMaxI64 = std::numeric_limits<int64_t>::max();

constexpr Choice<Framing> kFramings[] = {{"chunk", Framing::kChunk}, {"line", Framing::kLine}};
constexpr Choice<LogLevel> kLogLevels[] = {{"error", LogLevel::kError},
                                           {"warning", LogLevel::kWarning},
                                           {"notice", LogLevel::kNotice},
                                           {"info", LogLevel::kInfo},
                                           {"debug", LogLevel::kDebug}};

bool set_exit_word(Diagnostics& diag, const Field& field, ServiceConfig& service) {
  const auto word = read_word(diag, field);
  if (word && word->find_first_of("\r\n") != std::string::npos) {
    diag.error(field.node.source(), quoted(field.key) +
                                        " must not contain a line break (a trailing \\n or "
                                        "\\r\\n is already ignored when matching it)");
    return false;
  }
  return assign(service.exit_word, word);
}

bool set_upload_dir(Diagnostics& diag, const Field& field, DaemonConfig& daemon) {
  const auto dir = read_string(diag, field);
  if (dir && dir->find('\0') != std::string::npos) {
    diag.error(field.node.source(), quoted(field.key) + " must not contain a NUL character");
    return false;
  }
  return assign(daemon.upload_dir, dir);
}

// Setters for the key tables, one per reader: `member` names the field of
// ServiceConfig or DaemonConfig that the value goes into.
template <typename>
struct OwnerOf;
template <typename Config, typename T>
struct OwnerOf<T Config::*> {
  using type = Config;
};
template <auto member>
using Owner = typename OwnerOf<decltype(member)>::type;

template <auto member, int64_t min, int64_t max>
bool integer(Diagnostics& diag, const Field& field, Owner<member>& config) {
  return assign(config.*member, read_integer(diag, field, min, max));
}
template <auto member, ZeroDuration zero>
bool duration(Diagnostics& diag, const Field& field, Owner<member>& config) {
  return assign(config.*member, read_duration(diag, field, zero));
}
template <auto member, const auto& choices>
bool choice(Diagnostics& diag, const Field& field, Owner<member>& config) {
  return assign(config.*member, read_choice(diag, field, choices));
}
template <auto member, auto read>
bool value(Diagnostics& diag, const Field& field, Owner<member>& config) {
  return assign(config.*member, read(diag, field));
}

using S = ServiceConfig;
using D = DaemonConfig;
constexpr auto kAllowed = ZeroDuration::kAllowed;
constexpr auto kRefused = ZeroDuration::kRefused;
constexpr auto kEveryMode = KeyScope::kEveryMode;
constexpr auto kTcp = KeyScope::kTcp;
constexpr auto kListed = KeyScope::kListedModes;

const ServiceKey kServiceKeys[] = {
    {"mode", kEveryMode, nullptr},
    {"listen", kEveryMode, value<&S::listen, read_listen>},
    {"backlog", kTcp, integer<&S::backlog, 1, 65535>},
    {"max_connections", kTcp, integer<&S::max_connections, 0, kMaxU32>},
    {"idle_timeout", kTcp, duration<&S::idle_timeout, kAllowed>},
    {"reuse_port", kEveryMode, value<&S::reuse_port, read_bool>},
    {"max_per_source", kTcp, integer<&S::max_per_source, 0, kMaxU32>},
    {"max_connection_rate", kTcp, integer<&S::max_connection_rate, 0, kMaxU32>},
    {"rate_pause", kTcp, duration<&S::rate_pause, kRefused>},
    {"allow", kTcp, value<&S::allow, read_cidr_list>},
    {"deny", kTcp, value<&S::deny, read_cidr_list>},
    {"proxy_protocol", kTcp, value<&S::proxy_protocol, read_bool>},
    {"proxy_header_timeout", kTcp, duration<&S::proxy_header_timeout, kRefused>},
    {"proxy_sources", kTcp, value<&S::proxy_sources, read_cidr_list>},
    {"message", kListed, value<&S::message, read_string>},
    {"greeting", kListed, value<&S::greeting, read_string>},
    {"exit_word", kListed, set_exit_word},
    {"random_min", kListed, integer<&S::random_min, 0, kMaxI64>},
    {"random_max", kListed, integer<&S::random_max, 0, kMaxI64>},
    {"framing", kListed, choice<&S::framing, kFramings>},
    {"max_line_bytes", kListed, integer<&S::max_line_bytes, 1, kMaxU32>},
    {"ack_word", kListed, value<&S::ack_word, read_word>},
    {"end_word", kListed, value<&S::end_word, read_word>},
    {"max_upload_bytes", kListed, integer<&S::max_upload_bytes, 0, kMaxI64>},
    {"upload_timeout", kListed, duration<&S::upload_timeout, kAllowed>},
    {"min_free_bytes", kListed, integer<&S::min_free_bytes, 0, kMaxI64>},
    {"request_timeout", kListed, duration<&S::request_timeout, kRefused>},
    {"max_request_bytes", kListed, integer<&S::max_request_bytes, 256, 1 << 20>},
    {"receive_buffer", kListed, value<&S::receive_buffer, read_receive_buffer>},
    {"command", kListed, set_command},
    {"environment", kListed, set_environment},
    {"max_instances", kListed, integer<&S::max_instances, 0, kMaxU32>},
    {"run_timeout", kListed, duration<&S::run_timeout, kAllowed>},
    {"kill_grace", kListed, duration<&S::kill_grace, kRefused>},
    {"user", kListed, set_user},
    {"group", kListed, set_group},
};

const DaemonKey kDaemonKeys[] = {
    {"log_level", choice<&D::log_level, kLogLevels>},
    {"max_connections", integer<&D::max_connections, 1, kMaxU32>},
    {"max_output_bytes", integer<&D::max_output_bytes, 65536, kMaxI64>},
    {"upload_dir", set_upload_dir},
    {"drain_timeout", duration<&D::drain_timeout, kRefused>},
    {"log_rate_limit", integer<&D::log_rate_limit, 0, kMaxU32>},
};

}  // namespace

std::span<const ServiceKey> service_keys() {
  return kServiceKeys;
}

std::span<const DaemonKey> daemon_keys() {
  return kDaemonKeys;
}

bool applies_to(const ServiceKey& key, Mode mode) {
  switch (key.scope) {
    case KeyScope::kEveryMode:
      return true;
    case KeyScope::kTcp:
      return transport_of(mode) == Transport::kTcp;
    case KeyScope::kListedModes:
      return mode_takes_key(mode, key.name);
  }
  return false;
}

std::string modes_text(const ServiceKey& key) {
  std::vector<std::string_view> taking, others;
  bool exactly_tcp = true;
  for (const auto& info : kModeTable) {
    const bool applies = applies_to(key, info.mode);
    if (applies != (info.transport == Transport::kTcp)) exactly_tcp = false;
    (applies ? taking : others).push_back(info.name);
  }
  if (exactly_tcp) return "TCP services (every mode but " + quoted(join(others, "', '")) + ")";
  return (taking.size() > 1 ? "modes " : "mode ") + quoted(join(taking, "', '"));
}

}  // namespace socketd::config_internal
