// Options: the validated command line of socketd-bench. parse_options() either
// returns a complete Options (every default applied, every combination
// checked) or a message saying what is wrong; it never exits or throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace socketd::bench {

enum class Mode { kEcho, kChat, kConnect, kUpload, kUdp, kHold, kStream };
enum class Framing { kChunk, kLine };

const char* to_string(Mode mode);
const char* to_string(Framing framing);

struct Options {
  Mode mode = Mode::kEcho;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::vector<std::string> sources;  // local addresses to bind before connect, round robin

  uint32_t connections = 10;
  size_t size = 64;                  // message / datagram bytes
  std::optional<double> duration_s;  // run length; 10 s when neither -d nor -n is given
  std::optional<uint64_t> count;     // total operations to start
  std::optional<double> rate;        // open loop: operations per second, all connections
  double ramp_s = 0;                 // spread the initial connects over this long
  double timeout_s = 5;              // no progress while waiting for the server
  uint32_t pipeline = 1;             // requests in flight per connection
  bool json = false;
  bool quiet = false;
  std::string hgrm_path;  // --hgrm: write the latency percentiles there (.hgrm)

  // chat
  Framing framing = Framing::kChunk;
  std::optional<std::string> greeting = std::string("success!");  // nullopt: --no-greeting
  uint64_t random_min = 1;
  uint64_t random_max = 1000;

  // connect
  std::optional<std::string> expect;

  // upload, stream
  size_t chunk = 1024;             // upload only
  uint64_t file_size = 64 * 1024;
  // Reset each upload (RST) once this many file bytes are sent (upload: and
  // acknowledged); counted as aborted, not as an error.
  std::optional<uint64_t> abort_after;

  // udp
  uint32_t batch = 32;  // datagrams per sendmmsg
};

struct HelpRequested {};
struct VersionRequested {};
struct UsageError {
  std::string message;
};
using ParseResult = std::variant<Options, HelpRequested, VersionRequested, UsageError>;

ParseResult parse_options(int argc, char** argv);
const char* usage_text();
// "12.5", "10s", "500ms", "250us", "2m": seconds (a bare number) or a number
// with a unit; nullopt when it is neither.
std::optional<double> parse_duration_seconds(std::string_view text);
// "HOST:PORT", "[v6]:PORT": the host and port, or nullopt.
std::optional<std::pair<std::string, uint16_t>> parse_host_port(std::string_view text);

}  // namespace socketd::bench
