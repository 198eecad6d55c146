// The reload report: how `socketd --signal-reload PID` (ExecReload=) learns
// the outcome of the SIGHUP it sent. The daemon replaces one file in its
// runtime directory after every reload; its one line reads
//   GENERATION ok|failed MESSAGE
// with GENERATION counting up from 1 (the start counts as the first).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace socketd {

struct ReloadReport {
  uint64_t generation = 0;  // 0: no report yet (or an unreadable one)
  bool ok = false;
  std::string message;
};

std::string format_reload_report(const ReloadReport& report);
ReloadReport parse_reload_report(std::string_view text);

// Blocking file work (write a temporary, rename it over `path`): an I/O job
// in the daemon, a plain call in the reload command.
std::error_code write_reload_report(const std::string& path, const ReloadReport& report);
ReloadReport read_reload_report(const std::string& path);

}  // namespace socketd
