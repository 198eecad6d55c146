// fuzz_proxy_header: the PROXY protocol header parser on the first bytes of a
// connection (byte 0 chooses how the rest is cut into reads). Invariants:
// parse_proxy_header() is monotone (a prefix that is invalid or parsed stays
// so, with the same length, when more bytes follow); a parsed header is at
// most kMaxProxyHeader (v1: 107) bytes and, unless local, names addresses of
// one family that print and parse back; ProxyHeaderReader fed the reads
// reaches the same verdict and length as the whole input, and says exactly
// which bytes of the last read were header.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "net/proxy_header.hpp"

namespace socketd::fuzz {
namespace {

using Status = ProxyParse::Status;

void check_header(const ProxyParse& result, std::string_view bytes) {
  fuzz_check(result.length > 0 && result.length <= bytes.size(), "length within the input");
  fuzz_check(result.length <= kMaxProxyHeader, "header within the cap");
  if (result.header.version == 1) fuzz_check(result.length <= kMaxProxyV1Line, "v1 line cap");
  fuzz_check(result.header.version == 1 || result.header.version == 2, "version 1 or 2");
  if (result.header.local) return;
  const auto& source = result.header.source;
  const auto& destination = result.header.destination;
  fuzz_check(source.family() == destination.family(), "one family");
  fuzz_check(source.family() == AF_INET || source.family() == AF_INET6, "an IP family");
  const auto again = SocketAddress::parse(source.to_string());
  fuzz_check(again && *again == source, "source prints and parses back");
}

}  // namespace
}  // namespace socketd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace socketd;
  using namespace socketd::fuzz;
  FuzzInput input(data, size);
  const size_t read_size = input.byte() % 32 + 1;
  const std::string_view stream = input.take(input.remaining());

  const ProxyParse whole = parse_proxy_header(stream);
  if (whole.status == Status::kParsed) check_header(whole, stream);
  if (whole.status == Status::kInvalid) fuzz_check(!whole.error.empty(), "a reason");
  // Monotone: every prefix is need-more, or already has the whole's verdict.
  for (size_t n = 0; n <= stream.size() && n <= kMaxProxyHeader + 1; ++n) {
    const ProxyParse part = parse_proxy_header(stream.substr(0, n));
    if (part.status == Status::kNeedMore) continue;
    fuzz_check(part.status == whole.status, "a prefix's verdict stands");
    fuzz_check(part.length == whole.length, "a prefix's length stands");
    break;
  }

  ProxyHeaderReader reader;
  size_t offset = 0;
  while (offset < stream.size() && reader.result().status == Status::kNeedMore) {
    const auto chunk = stream.substr(offset, read_size);
    const auto& result = reader.feed(std::span<const char>(chunk.data(), chunk.size()));
    if (result.status == Status::kParsed) {
      fuzz_check(whole.status == Status::kParsed, "reader parsed what the whole parse did");
      fuzz_check(offset + reader.consumed_from_last() == whole.length, "header ends in place");
      fuzz_check(reader.consumed_from_last() <= chunk.size(), "consumed within the read");
    }
    offset += chunk.size();
  }
  if (reader.result().status == Status::kInvalid) {
    fuzz_check(whole.status == Status::kInvalid ||
                   (whole.status == Status::kNeedMore && stream.size() >= kMaxProxyHeader),
               "reader refused what the whole parse refused");
  }
  if (reader.result().status == Status::kNeedMore) {
    fuzz_check(whole.status == Status::kNeedMore, "reader waits only when the whole does");
  }
  return 0;
}
