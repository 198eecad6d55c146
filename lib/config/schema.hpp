// The key schema: every key the [daemon] and [services.NAME] tables accept,
// how its value is read into the Config, and (for services) which modes take
// it. Which mode takes which mode-specific key is in kModeTable.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/diagnostics.hpp"

namespace socketd::config_internal {

enum class KeyScope {
  kEveryMode,
  kTcp,          // every mode whose transport is TCP
  kListedModes,  // the modes whose kModeTable row lists the key
};

// A key of a [services.NAME] table. Setters return false when they rejected
// the value (error reported).
struct ServiceKey {
  std::string_view name;
  KeyScope scope;
  bool (*set)(Diagnostics&, const Field&, ServiceConfig&);
};

// A key of the [daemon] table.
struct DaemonKey {
  std::string_view name;
  bool (*set)(Diagnostics&, const Field&, DaemonConfig&);
};

// In the order messages list them. "mode" comes first and has no setter: it
// is read before the others, since it decides which keys apply.
std::span<const ServiceKey> service_keys();
std::span<const DaemonKey> daemon_keys();

bool applies_to(const ServiceKey& key, Mode mode);

// "mode 'chat'", "modes 'upload', 'stream-upload'" or "TCP services (every
// mode but 'udp-log')": the modes `key` applies to.
std::string modes_text(const ServiceKey& key);

template <typename Key>
std::vector<std::string_view> names_of(std::span<const Key> keys) {
  std::vector<std::string_view> names;
  for (const auto& key : keys) names.push_back(key.name);
  return names;
}

template <typename Key>
const Key* find_key(std::span<const Key> keys, std::string_view name) {
  for (const auto& key : keys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

}  // namespace socketd::config_internal
