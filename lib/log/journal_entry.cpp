#include "log/journal_entry.hpp"

#include <cstdint>
#include <string_view>

namespace socketd {
namespace {

void append_field(std::string& out, std::string_view prefix, std::string_view key,
                  std::string_view value) {
  out += prefix;
  out += key;
  if (value.find('\n') == std::string_view::npos) {
    out += '=';
    out += value;
  } else {
    out += '\n';
    uint64_t n = value.size();
    for (int i = 0; i < 8; ++i, n >>= 8) out += static_cast<char>(n & 0xff);
    out += value;
  }
  out += '\n';
}

}  // namespace

std::string journal_entry(const LogRecord& record, const char* message_id) {
  std::string out;
  out.reserve(record.message.size() + 64 + record.fields.size() * 48);
  append_field(out, "", "MESSAGE", record.message);
  append_field(out, "", "PRIORITY", std::to_string(static_cast<int>(record.level)));
  if (message_id != nullptr) append_field(out, "", "MESSAGE_ID", message_id);
  for (const auto& field : record.fields) append_field(out, "SOCKETD_", field.key, field.value);
  return out;
}

}  // namespace socketd
