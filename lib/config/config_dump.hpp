// The effective configuration as TOML (`socketd --dump-config`, like
// `nginx -T`): every key of [daemon] and of each service that applies to its
// mode, defaults filled in, the services of included files inline. socketd
// reads the output back as the same configuration, and dumping that gives
// the same text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace socketd {

std::string dump_config(const Config& config);

// One value as TOML, or nullopt for a key the dump does not know (a test
// checks every key of the schema is known).
std::optional<std::string> dump_service_value(const ServiceConfig& service, std::string_view key);
std::optional<std::string> dump_daemon_value(const DaemonConfig& daemon, std::string_view key);

}  // namespace socketd
