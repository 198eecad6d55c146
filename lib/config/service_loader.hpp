// Loads the [services] table: each [services.NAME] checked against the key
// schema and its mode. Then, across every file of the configuration (the
// main file and its includes), the services are checked against each other:
// each name defined once, no two listen addresses that cannot both bind.
#pragma once

#include <optional>
#include <vector>

#include "config/config.hpp"
#include "config/diagnostics.hpp"

namespace socketd::config_internal {

// A service as read, with where it was written (for ordering and messages).
struct LoadedService {
  ServiceConfig config;
  Diagnostics* diag = nullptr;  // of the file it is in
  toml::source_position table_at;
  toml::source_position name_at;
  // One per address of config.listen; empty unless both mode and listen are
  // valid: only then can it conflict.
  std::vector<toml::source_position> listen_at;
};

// Appends every service of one file it could read to `out`, in the file's order.
void load_services(Diagnostics& diag, const toml::node& node, std::vector<LoadedService>& out);

// Checks the services of every file, in order (earlier files first), against
// each other, and moves those that pass the checks into config.services.
void check_services(std::vector<LoadedService>& services, Config& config);

}  // namespace socketd::config_internal
