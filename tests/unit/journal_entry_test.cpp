// The journal's native protocol as journald parses it: "KEY=value\n" fields,
// and the length-prefixed form for values holding a newline.
#include "log/journal_entry.hpp"

#include <gtest/gtest.h>

#include <string>

namespace socketd {
namespace {

TEST(JournalEntry, FieldsAreKeyEqualsValueLines) {
  const LogRecord record{LogLevel::kWarning, LogEvent::kLimitHit, "udp: refused",
                         {{"SERVICE", "udp"}, {"PEER", "127.0.0.1:4000"}}};
  EXPECT_EQ(journal_entry(record, "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c09"),
            "MESSAGE=udp: refused\n"
            "PRIORITY=4\n"
            "MESSAGE_ID=8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c09\n"
            "SOCKETD_SERVICE=udp\n"
            "SOCKETD_PEER=127.0.0.1:4000\n");
}

TEST(JournalEntry, NoMessageIdWhenThereIsNone) {
  const LogRecord record{LogLevel::kInfo, LogEvent::kGeneric, "hello", {}};
  EXPECT_EQ(journal_entry(record, nullptr), "MESSAGE=hello\nPRIORITY=6\n");
}

TEST(JournalEntry, ValueWithANewlineIsLengthPrefixed) {
  const LogRecord record{LogLevel::kError, LogEvent::kGeneric, "two\nlines", {{"EMPTY", ""}}};
  const std::string expected = std::string("MESSAGE\n") +
                               std::string("\x09\0\0\0\0\0\0\0", 8) + "two\nlines\n" +
                               "PRIORITY=3\nSOCKETD_EMPTY=\n";
  EXPECT_EQ(journal_entry(record, nullptr), expected);
}

}  // namespace
}  // namespace socketd
