// Config error messages quote names and values from the file: control
// characters in them are escaped, so one error stays one line (a newline in a
// service name), a terminal is never driven (ESC), and nothing is cut short (NUL).
#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.hpp"
#include "config/diagnostics.hpp"

namespace socketd {
namespace {

ConfigError only_error(std::string_view text) {
  const auto load = parse_config(text, "test.toml");
  EXPECT_EQ(load.errors.size(), 1u);
  for (const auto& e : load.errors) SCOPED_TRACE(e.to_string());
  return load.errors.empty() ? ConfigError{} : load.errors.front();
}

bool has_raw_control(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  }
  return false;
}

TEST(ConfigEscape, NewlineInAServiceNameStaysOnOneLine) {
  const auto error =
      only_error("[services.\"a\\nb\"]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n");
  const std::string line = error.to_string();
  EXPECT_FALSE(has_raw_control(line)) << line;
  EXPECT_NE(line.find("'a\\nb'"), std::string::npos) << line;
  EXPECT_EQ(error.line, 1u);
}

TEST(ConfigEscape, EscInAValueIsShownEscaped) {
  const auto error =
      only_error("[services.x]\nmode = \"ch\\u001b[31mat\"\nlisten = \"127.0.0.1:0\"\n");
  EXPECT_FALSE(has_raw_control(error.message)) << error.message;
  EXPECT_NE(error.message.find("\"ch\\x1b[31mat\""), std::string::npos) << error.message;
  EXPECT_EQ(error.line, 2u);
  EXPECT_EQ(error.column, 8u);
}

TEST(ConfigEscape, NulDoesNotTruncateTheMessage) {
  const auto error = only_error("[services.x]\nmode = \"echo\"\nlisten = \"127.0.0.1\\u0000:7\"\n");
  const std::string line = error.to_string();
  EXPECT_EQ(line.find('\0'), std::string::npos);
  EXPECT_NE(line.find("\"127.0.0.1\\0:7\""), std::string::npos) << line;
  // Printed as a C string, the whole message survives.
  EXPECT_EQ(std::string(line.c_str()), line);
}

TEST(ConfigEscape, C1ControlsAndLineSeparatorsAreEscaped) {
  using config_internal::escape_controls;
  EXPECT_EQ(escape_controls("a\xC2\x9B"
                            "b"),
            "a\\u009bb");  // CSI
  EXPECT_EQ(escape_controls("a\xE2\x80\xA8"
                            "b"),
            "a\\u2028b");
  EXPECT_EQ(escape_controls("tab\there\r\x7f"), "tab\\there\\r\\x7f");
  EXPECT_EQ(escape_controls("caf\xC3\xA9 \\ ok"), "caf\xC3\xA9 \\ ok");  // unchanged
}

TEST(ConfigEscape, FileNamesAreEscapedToo) {
  const ConfigError error{"conf.d/evil\nname.toml", 3, 1, "message"};
  EXPECT_EQ(error.to_string(), "conf.d/evil\\nname.toml:3:1: error: message");
}

}  // namespace
}  // namespace socketd
