// One LogRecord in the journal's native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL):
// the payload of one datagram to /run/systemd/journal/socket. Pure: no syscalls.
#pragma once

#include <string>

#include "log/logger.hpp"

namespace socketd {

// MESSAGE, PRIORITY, MESSAGE_ID (if `message_id` is not null) and one
// SOCKETD_<KEY> per field. A value is written "KEY=value\n", or, if it holds
// a newline, "KEY\n" + its length as 64-bit little-endian + the bytes + "\n".
std::string journal_entry(const LogRecord& record, const char* message_id);

}  // namespace socketd
