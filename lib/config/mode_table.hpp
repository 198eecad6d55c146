// The modes a service can run, one row each: everything that depends on the
// mode alone. config.cpp, transport_of(), is_upload(), the loader and the
// listener read it; no other file spells a mode's name or which keys a mode
// takes. Adding a mode: a row here, its keys below, its session maker in
// lib/server/service_runtime.cpp (ServiceRuntime::Makers).
#pragma once

#include <cstddef>
#include <iterator>
#include <span>
#include <string_view>

namespace socketd {

enum class Mode { kBanner, kChat, kEcho, kUdpLog, kUpload, kStreamUpload, kMetrics, kExec };
enum class Transport { kTcp, kUdp };

struct ModeInfo {
  Mode mode;
  // As the config file spells it. Always a string literal, so name.data() is
  // NUL-terminated (to_string(Mode) hands it out as a const char*).
  std::string_view name;
  Transport transport;
  bool stores_uploads;  // writes files into [daemon] upload_dir
  // Its replies are small and prompt, so accepted sockets get TCP_NODELAY.
  // (A banner is one write then close: Nagle never holds it back.)
  bool prompt_replies;
  // The [services.NAME] keys that only some modes take (KeyScope::kListedModes
  // in schema.cpp). Keys every mode or every TCP mode takes are not listed.
  std::span<const std::string_view> keys;
  // What builds this mode's sessions lives one layer up, in the same order:
  // ServiceRuntime::Makers in lib/server/service_runtime.cpp (a static_assert there
  // keeps the two tables in step).
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
inline constexpr std::string_view kMetrics[] = {"request_timeout", "max_request_bytes"};
inline constexpr std::string_view kExec[] = {
    "command", "environment", "max_instances", "run_timeout", "kill_grace", "user", "group"};
}  // namespace mode_keys

// In Mode's order, which is also the order messages list the modes in.
inline constexpr ModeInfo kModeTable[] = {
    // mode               name             transport        uploads prompt keys
    {Mode::kBanner, "banner", Transport::kTcp, false, false, mode_keys::kBanner},
    {Mode::kChat, "chat", Transport::kTcp, false, true, mode_keys::kChat},
    {Mode::kEcho, "echo", Transport::kTcp, false, true, {}},
    {Mode::kUdpLog, "udp-log", Transport::kUdp, false, false, mode_keys::kUdpLog},
    {Mode::kUpload, "upload", Transport::kTcp, true, true, mode_keys::kUpload},
    {Mode::kStreamUpload, "stream-upload", Transport::kTcp, true, true, mode_keys::kStreamUpload},
    {Mode::kMetrics, "metrics", Transport::kTcp, false, true, mode_keys::kMetrics},
    // exec: the handler owns the socket, so socketd leaves its options alone.
    {Mode::kExec, "exec", Transport::kTcp, false, false, mode_keys::kExec},
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
