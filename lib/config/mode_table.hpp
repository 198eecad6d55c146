// The modes a service can run, one row each: everything that depends on the
// mode alone. config.cpp, transport_of(), is_upload() and the loader read it;
// no other file spells a mode's name or which keys a mode takes.
#pragma once

#include <cstddef>
#include <iterator>
#include <span>
#include <string_view>

namespace socketd {

enum class Mode { kBanner, kChat, kEcho, kUdpLog, kUpload, kStreamUpload, kExec };
enum class Transport { kTcp, kUdp };

struct ModeInfo {
  Mode mode;
  // As the config file spells it. Always a string literal, so name.data() is
  // NUL-terminated (to_string(Mode) hands it out as a const char*).
  std::string_view name;
  Transport transport;
  bool stores_uploads;  // writes files into [daemon] upload_dir
  // The [services.NAME] keys that only some modes take (KeyScope::kListedModes
  // in schema.cpp). Keys every mode or every TCP mode takes are not listed.
  std::span<const std::string_view> keys;
  // The session factory (ServiceRuntime::make_session in lib/server) is to be
  // wired here: a field naming what builds this mode's sessions.
};

namespace mode_keys {
inline constexpr std::string_view kBanner[] = {"message"};
inline constexpr std::string_view kChat[] = {"greeting",   "exit_word", "random_min",
                                             "random_max", "framing",   "max_line_bytes"};
inline constexpr std::string_view kUdpLog[] = {"receive_buffer"};
inline constexpr std::string_view kUpload[] = {"ack_word", "end_word", "max_upload_bytes",
                                               "upload_timeout", "min_free_bytes"};
inline constexpr std::string_view kStreamUpload[] = {"max_upload_bytes", "upload_timeout",
                                                     "min_free_bytes"};
inline constexpr std::string_view kExec[] = {"command",     "environment", "max_instances",
                                             "run_timeout", "kill_grace",  "user",
                                             "group"};
}  // namespace mode_keys

// In Mode's order, which is also the order messages list the modes in.
inline constexpr ModeInfo kModeTable[] = {
    {Mode::kBanner, "banner", Transport::kTcp, false, mode_keys::kBanner},
    {Mode::kChat, "chat", Transport::kTcp, false, mode_keys::kChat},
    {Mode::kEcho, "echo", Transport::kTcp, false, {}},
    {Mode::kUdpLog, "udp-log", Transport::kUdp, false, mode_keys::kUdpLog},
    {Mode::kUpload, "upload", Transport::kTcp, true, mode_keys::kUpload},
    {Mode::kStreamUpload, "stream-upload", Transport::kTcp, true, mode_keys::kStreamUpload},
    {Mode::kExec, "exec", Transport::kTcp, false, mode_keys::kExec},
};

constexpr bool mode_table_in_order() {
  for (size_t i = 0; i < std::size(kModeTable); ++i) {
    if (static_cast<size_t>(kModeTable[i].mode) != i) return false;
  }
  return true;
}
static_assert(mode_table_in_order(), "kModeTable[i] must describe Mode(i)");

constexpr const ModeInfo& mode_info(Mode mode) {
  return kModeTable[static_cast<size_t>(mode)];
}

// Whether `key` is one of the mode-specific keys `mode` takes.
bool mode_takes_key(Mode mode, std::string_view key);

// Every mode's name, in table order.
std::span<const std::string_view> mode_names();

}  // namespace socketd
