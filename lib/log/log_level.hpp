// LogLevel: a record's severity, with syslog's numbers (journald's PRIORITY=).
// The logger filters by it; the config's [daemon] log_level names one.
#pragma once

namespace socketd {

enum class LogLevel { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

}  // namespace socketd
