// fuzz_escape: escape_payload() output is always safe for one log line.
//
// Input layout: if byte 0 has its top bit set, max_bytes = byte 0 & 0x7f
// (0..127, to exercise truncation) and the payload is the rest; otherwise the
// whole input is the payload and max_bytes is the default (4096).
//
// Checked: no byte < 0x20 and no 0x7f; valid UTF-8 (shortest form, no
// surrogates); no C1 control (U+0080..U+009F) and no U+2028/U+2029; "..."
// appended exactly when the payload was cut; and the escapes are reversible:
// unescaping gives back the first max_bytes bytes exactly.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "service/escape.hpp"
#include "support/unescape.hpp"
#include "support/utf8_check.hpp"

namespace socketd::fuzz {
namespace {

using test::first_invalid_utf8;
using test::unescape;
using test::valid_utf8;

}  // namespace
}  // namespace socketd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace socketd;
  using namespace socketd::fuzz;
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  size_t max_bytes = 4096;
  if (size > 0 && (data[0] & 0x80)) {
    max_bytes = data[0] & 0x7f;
    payload.remove_prefix(1);
  }
  const std::string out = max_bytes == 4096 ? escape_payload(as_span(payload))
                                            : escape_payload(as_span(payload), max_bytes);
  for (size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    fuzz_check(c >= 0x20 && c != 0x7f, "raw byte " + std::to_string(c) + " at " +
                                           std::to_string(i) + " of \"" + printable(out) + "\"");
  }
  const size_t bad = first_invalid_utf8(out);
  fuzz_check(bad == std::string_view::npos,
             "invalid UTF-8 at " + std::to_string(bad) + " of \"" + printable(out) + "\"");
  fuzz_check(out.find("\xE2\x80\xA8") == std::string::npos &&
                 out.find("\xE2\x80\xA9") == std::string::npos,
             "raw U+2028/U+2029 in \"" + printable(out) + "\"");
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    const auto second = static_cast<unsigned char>(out[i + 1]);
    fuzz_check(!(static_cast<unsigned char>(out[i]) == 0xC2 && second >= 0x80 && second <= 0x9F),
               "raw C1 control at " + std::to_string(i) + " of \"" + printable(out) + "\"");
  }

  const bool cut = payload.size() > max_bytes;
  std::string_view body = out;
  if (cut) {
    fuzz_check(body.ends_with("..."), "cut without the marker: \"" + printable(out) + "\"");
    body.remove_suffix(3);
  }
  std::string back;
  fuzz_check(unescape(body, back), "malformed escape in \"" + printable(out) + "\"");
  const auto kept = payload.substr(0, max_bytes);
  fuzz_check(back == kept,
             "not reversible: \"" + printable(out) + "\" for \"" + printable(kept) + "\"");
  return 0;
}
