// Makes untrusted bytes safe for one log line: valid UTF-8 and printable ASCII
// pass through; control bytes, backslash and invalid UTF-8 become escapes
// (\n, \t, \\, \xHH), so a payload can never forge a record.
#pragma once

#include <span>
#include <string>

namespace socketd {

std::string escape_payload(std::span<const char> bytes, size_t max_bytes = 4096);

}  // namespace socketd
