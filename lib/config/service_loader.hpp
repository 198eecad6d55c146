// Loads the [services] table: each [services.NAME] checked against the key
// schema and its mode, then the listen addresses checked against each other.
#pragma once

#include "config/config.hpp"
#include "config/diagnostics.hpp"

namespace socketd::config_internal {

// Appends every service it could read to config.services, in the file's order.
void load_services(Diagnostics& diag, const toml::node& node, Config& config);

}  // namespace socketd::config_internal
