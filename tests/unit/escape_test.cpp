// escape_payload: untrusted bytes made safe for one log line.
#include "service/escape.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <string_view>

#include "support/unescape.hpp"
#include "support/utf8_check.hpp"

namespace socketd {
namespace {

using test::unescape;
using test::valid_utf8;

std::string esc(std::string_view s, size_t max_bytes = 4096) {
  return escape_payload(std::span<const char>(s.data(), s.size()), max_bytes);
}

// The log-safety properties every output must have.
::testing::AssertionResult log_safe(const std::string& in, const std::string& out) {
  for (size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (c < 0x20 || c == 0x7F) {
      return ::testing::AssertionFailure() << "raw control byte 0x" << std::hex << unsigned{c}
                                           << " at " << std::dec << i << " of \"" << out << "\"";
    }
  }
  if (!valid_utf8(out)) return ::testing::AssertionFailure() << "invalid UTF-8 out: " << out;
  if (out.find("\xE2\x80\xA8") != std::string::npos ||
      out.find("\xE2\x80\xA9") != std::string::npos) {
    return ::testing::AssertionFailure() << "raw U+2028/U+2029 in: " << out;
  }
  std::string back;
  if (!unescape(out, back)) return ::testing::AssertionFailure() << "malformed escape: " << out;
  if (back != in) return ::testing::AssertionFailure() << "not reversible: " << out;
  return ::testing::AssertionSuccess();
}

TEST(EscapeTest, PrintableAsciiPassesThrough) {
  std::string all;
  for (int c = 0x20; c < 0x7F; ++c) {
    if (c != '\\') all.push_back(static_cast<char>(c));
  }
  EXPECT_EQ(esc(all), all);
  EXPECT_EQ(esc("hello world"), "hello world");
  EXPECT_EQ(esc(""), "");
}

TEST(EscapeTest, NamedEscapes) {
  EXPECT_EQ(esc("a\nb"), "a\\nb");
  EXPECT_EQ(esc("a\rb"), "a\\rb");
  EXPECT_EQ(esc("a\tb"), "a\\tb");
  EXPECT_EQ(esc("a\\b"), "a\\\\b");
  EXPECT_EQ(esc("\\n"), "\\\\n") << "a literal backslash-n must not look like a newline escape";
  EXPECT_EQ(esc("line\r\n"), "line\\r\\n");
}

TEST(EscapeTest, OtherControlBytesBecomeLowercaseHex) {
  EXPECT_EQ(esc(std::string_view("\0", 1)), "\\x00");
  EXPECT_EQ(esc("\x01"), "\\x01");
  EXPECT_EQ(esc("\x1b[31mred"), "\\x1b[31mred") << "no terminal escape sequences in logs";
  EXPECT_EQ(esc("\x1f"), "\\x1f");
  EXPECT_EQ(esc("\x7f"), "\\x7f");
  EXPECT_EQ(esc("\x0b\x0c"), "\\x0b\\x0c");
}

TEST(EscapeTest, ValidMultibyteUtf8IsKept) {
  EXPECT_EQ(esc("caf\xC3\xA9"), "caf\xC3\xA9");            // U+00E9
  EXPECT_EQ(esc("\xE2\x82\xAC"), "\xE2\x82\xAC");          // U+20AC
  EXPECT_EQ(esc("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");  // U+1F600
  EXPECT_EQ(esc("\xC2\xA0"), "\xC2\xA0");                  // U+00A0, lowest 2-byte non-C1
  EXPECT_EQ(esc("\xE0\xA0\x80"), "\xE0\xA0\x80");          // U+0800, lowest 3-byte
  EXPECT_EQ(esc("\xF0\x90\x80\x80"), "\xF0\x90\x80\x80");  // U+10000, lowest 4-byte
  EXPECT_EQ(esc("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");  // U+10FFFF, highest
  EXPECT_EQ(esc("\xEF\xBF\xBD"), "\xEF\xBF\xBD");          // U+FFFD
  EXPECT_EQ(esc("\xED\x9F\xBF"), "\xED\x9F\xBF");          // U+D7FF, below surrogates
}

TEST(EscapeTest, InvalidUtf8BecomesHexPerByte) {
  EXPECT_EQ(esc("\x80"), "\\x80") << "lone continuation byte";
  EXPECT_EQ(esc("\xBF"), "\\xbf");
  EXPECT_EQ(esc("\xC3("), "\\xc3(") << "lead byte without continuation";
  EXPECT_EQ(esc("\xE2\x82"), "\\xe2\\x82") << "truncated 3-byte sequence";
  EXPECT_EQ(esc("\xF0\x9F\x98"), "\\xf0\\x9f\\x98") << "truncated 4-byte sequence";
  EXPECT_EQ(esc("\xF5\x80\x80\x80"), "\\xf5\\x80\\x80\\x80");
  EXPECT_EQ(esc("\xFE\xFF"), "\\xfe\\xff");
  EXPECT_EQ(esc("\xED\xA0\x80"), "\\xed\\xa0\\x80") << "UTF-16 surrogate U+D800";
  EXPECT_EQ(esc("\xED\xBF\xBF"), "\\xed\\xbf\\xbf") << "UTF-16 surrogate U+DFFF";
  EXPECT_EQ(esc("\xF4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80") << "above U+10FFFF";
  // A valid character right after an invalid byte is still kept.
  EXPECT_EQ(esc("\xFF\xC3\xA9"), "\\xff\xC3\xA9");
}

TEST(EscapeTest, OverlongEncodingsAreEscaped) {
  EXPECT_EQ(esc("\xC0\xAF"), "\\xc0\\xaf") << "overlong '/'";
  EXPECT_EQ(esc("\xC1\xBF"), "\\xc1\\xbf");
  EXPECT_EQ(esc("\xC0\x8A"), "\\xc0\\x8a") << "overlong newline must not become a newline";
  EXPECT_EQ(esc("\xE0\x80\xAF"), "\\xe0\\x80\\xaf");
  EXPECT_EQ(esc("\xE0\x9F\xBF"), "\\xe0\\x9f\\xbf") << "overlong U+07FF";
  EXPECT_EQ(esc("\xF0\x80\x80\xAF"), "\\xf0\\x80\\x80\\xaf");
  EXPECT_EQ(esc("\xF0\x8F\xBF\xBF"), "\\xf0\\x8f\\xbf\\xbf") << "overlong U+FFFF";
}

TEST(EscapeTest, UnicodeLineSeparatorsAreEscaped) {
  EXPECT_EQ(esc("a\xE2\x80\xA8z"), "a\\xe2\\x80\\xa8z");
  EXPECT_EQ(esc("\xE2\x80\xA9"), "\\xe2\\x80\\xa9");
}

// C1 controls (U+0080..U+009F) are control characters too, and U+0085 (NEL)
// is a line break exactly like U+2028/U+2029, which escape.cpp already
// escapes "because they break lines in some viewers" (Python's splitlines(),
// Unicode line breaking class NL); U+009B is CSI for terminals that honour
// UTF-8 encoded C1 controls. Encoded as valid UTF-8, they pass through today.
TEST(EscapeTest, C1ControlCharactersAreEscaped) {
  EXPECT_EQ(esc("a\xC2\x85z"), "a\\xc2\\x85z") << "NEL forges a line break";
  EXPECT_EQ(esc("\xC2\x9B"
                "31m"),
            "\\xc2\\x9b31m")
      << "CSI starts a terminal sequence";
  std::string passed_raw;
  for (int c = 0x80; c <= 0x9F; ++c) {
    const std::string in{'\xC2', static_cast<char>(c)};
    if (esc(in).find(in) != std::string::npos)
      passed_raw += esc(std::string(1, static_cast<char>(c)));
  }
  EXPECT_EQ(passed_raw, "") << "C1 controls passed through raw (listed by their second byte)";
  EXPECT_EQ(esc("\xC2\xA0"), "\xC2\xA0") << "U+00A0 is not a control: kept";
}

TEST(EscapeTest, TruncatesAtMaxBytesWithAMarker) {
  EXPECT_EQ(esc("abcdefgh", 5), "abcde...");
  EXPECT_EQ(esc("abcde", 5), "abcde") << "no marker when nothing was cut";
  EXPECT_EQ(esc("a", 0), "...");
  EXPECT_EQ(esc("", 0), "");
  // max_bytes counts input bytes, not output bytes.
  EXPECT_EQ(esc("\n\n\n\n", 2), "\\n\\n...");
  const std::string big(5000, 'a');
  EXPECT_EQ(esc(big), std::string(4096, 'a') + "...") << "default limit";
}

TEST(EscapeTest, TruncationInsideAMultibyteCharacterNeverEmitsHalfACharacter) {
  // "ab" + U+20AC cut after its first byte.
  const std::string out = esc("ab\xE2\x82\xAC", 3);
  EXPECT_EQ(out, "ab\\xe2...");
  EXPECT_TRUE(valid_utf8(out));
}

TEST(EscapeTest, EverySingleByteIsLogSafe) {
  for (int b = 0; b < 256; ++b) {
    const std::string in(1, static_cast<char>(b));
    const std::string out = esc(in);
    ASSERT_TRUE(log_safe(in, out)) << "byte 0x" << std::hex << b;
    if (b >= 0x20 && b < 0x7F && b != '\\') {
      ASSERT_EQ(out, in);
    } else {
      ASSERT_NE(out, in) << "byte 0x" << std::hex << b << " must be escaped";
    }
  }
}

TEST(EscapeTest, EveryPairOfBytesIsLogSafe) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const std::string in{static_cast<char>(a), static_cast<char>(b)};
      ASSERT_TRUE(log_safe(in, esc(in))) << std::hex << a << " " << b;
    }
  }
}

TEST(EscapeTest, RandomBuffersAreLogSafeAndReversible) {
  std::mt19937_64 engine(20240601);
  std::uniform_int_distribution<int> length(0, 64);
  std::uniform_int_distribution<int> any_byte(0, 255);
  std::uniform_int_distribution<int> high_byte(0x80, 0xFF);
  std::uniform_int_distribution<int> coin(0, 3);
  for (int round = 0; round < 20000; ++round) {
    std::string in(static_cast<size_t>(length(engine)), '\0');
    for (auto& c : in) {
      // Bias towards bytes >= 0x80 so multibyte sequences (valid and not) are common.
      c = static_cast<char>(coin(engine) == 0 ? any_byte(engine) : high_byte(engine));
    }
    ASSERT_TRUE(log_safe(in, esc(in))) << "round " << round;
  }
}

TEST(EscapeTest, RandomMixOfValidCharactersIsKeptVerbatim) {
  const std::string_view pieces[] = {
      "a",        "Z",           " ", "~", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
      "\xD0\x96", "\xE4\xB8\xAD"};
  std::mt19937_64 engine(7);
  std::uniform_int_distribution<size_t> pick(0, std::size(pieces) - 1);
  for (int round = 0; round < 2000; ++round) {
    std::string in;
    for (int i = 0; i < 20; ++i) in += pieces[pick(engine)];
    ASSERT_EQ(esc(in), in);
  }
}

}  // namespace
}  // namespace socketd
