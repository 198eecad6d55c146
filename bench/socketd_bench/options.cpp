#include "options.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <string_view>

namespace socketd::bench {
namespace {

constexpr unsigned bit(Mode mode) {
  return 1u << static_cast<unsigned>(mode);
}
constexpr unsigned kAllModes = 0x7f;
constexpr unsigned kTcpModes = kAllModes & ~bit(Mode::kUdp);
constexpr unsigned kRequestModes = kAllModes & ~bit(Mode::kHold);
constexpr unsigned kMessageModes = bit(Mode::kEcho) | bit(Mode::kChat) | bit(Mode::kUdp);
constexpr size_t kMaxDatagram = 65507;

enum class Id {
  kHost,
  kPort,
  kSource,
  kConnections,
  kSize,
  kDuration,
  kCount,
  kRate,
  kRamp,
  kTimeout,
  kPipeline,
  kJson,
  kQuiet,
  kFraming,
  kGreeting,
  kNoGreeting,
  kRandomMin,
  kRandomMax,
  kExpect,
  kChunk,
  kFileSize,
  kAbortAfter,
  kBatch,
  kHgrm,
  kVersion,
  kHelp,
};

struct Spec {
  Id id;
  const char* name;        // "--port"
  const char* short_name;  // "-c" or nullptr
  bool takes_value;
  unsigned modes;  // modes the option applies to; others reject it
};

constexpr Spec kSpecs[] = {
    {Id::kHost, "--host", nullptr, true, kAllModes},
    {Id::kPort, "--port", "-p", true, kAllModes},
    {Id::kSource, "--source", nullptr, true, kTcpModes},
    {Id::kConnections, "--connections", "-c", true, kAllModes},
    {Id::kSize, "--size", "-s", true, kMessageModes},
    {Id::kDuration, "--duration", "-d", true, kAllModes},
    {Id::kCount, "--count", "-n", true, kRequestModes},
    {Id::kRate, "--rate", "-r", true, kRequestModes},
    {Id::kRamp, "--ramp", nullptr, true, kTcpModes},
    {Id::kTimeout, "--timeout", nullptr, true, kTcpModes},
    {Id::kPipeline, "--pipeline", nullptr, true, bit(Mode::kEcho) | bit(Mode::kChat)},
    {Id::kJson, "--json", nullptr, false, kAllModes},
    {Id::kQuiet, "--quiet", "-q", false, kAllModes},
    {Id::kFraming, "--framing", nullptr, true, bit(Mode::kChat)},
    {Id::kGreeting, "--greeting", nullptr, true, bit(Mode::kChat)},
    {Id::kNoGreeting, "--no-greeting", nullptr, false, bit(Mode::kChat)},
    {Id::kRandomMin, "--random-min", nullptr, true, bit(Mode::kChat)},
    {Id::kRandomMax, "--random-max", nullptr, true, bit(Mode::kChat)},
    {Id::kExpect, "--expect", nullptr, true, bit(Mode::kConnect)},
    {Id::kChunk, "--chunk", nullptr, true, bit(Mode::kUpload)},
    {Id::kFileSize, "--file-size", nullptr, true, bit(Mode::kUpload) | bit(Mode::kStream)},
    {Id::kAbortAfter, "--abort-after", nullptr, true, bit(Mode::kUpload) | bit(Mode::kStream)},
    {Id::kBatch, "--batch", nullptr, true, bit(Mode::kUdp)},
    {Id::kHgrm, "--hgrm", nullptr, true, kAllModes},
    {Id::kVersion, "--version", "-V", false, kAllModes},
    {Id::kHelp, "--help", "-h", false, kAllModes},
};

const Spec* find_spec(std::string_view name) {
  for (const auto& spec : kSpecs) {
    if (name == spec.name || (spec.short_name != nullptr && name == spec.short_name)) return &spec;
  }
  return nullptr;
}

std::optional<Mode> parse_mode(std::string_view text) {
  if (text == "echo") return Mode::kEcho;
  if (text == "chat") return Mode::kChat;
  if (text == "connect") return Mode::kConnect;
  if (text == "upload") return Mode::kUpload;
  if (text == "udp") return Mode::kUdp;
  if (text == "hold") return Mode::kHold;
  if (text == "stream") return Mode::kStream;
  return std::nullopt;
}

std::optional<uint64_t> parse_uint(std::string_view text) {
  uint64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

// Byte counts accept a binary suffix: 64k = 65536, 1m = 1048576, 1g.
std::optional<uint64_t> parse_bytes(std::string_view text) {
  uint64_t multiplier = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K':
        multiplier = uint64_t{1} << 10;
        break;
      case 'm':
      case 'M':
        multiplier = uint64_t{1} << 20;
        break;
      case 'g':
      case 'G':
        multiplier = uint64_t{1} << 30;
        break;
      default:
        break;
    }
    if (multiplier != 1) text.remove_suffix(1);
  }
  const auto value = parse_uint(text);
  if (!value || *value > UINT64_MAX / multiplier) return std::nullopt;
  return *value * multiplier;
}

std::optional<double> parse_positive(std::string_view text) {
  double value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  return value;
}

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> parts;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto part = text.substr(0, comma);
    if (!part.empty()) parts.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return parts;
}

// Applies one option's value to `options`; returns an error message or "".
std::string apply(const Spec& spec, std::string_view value, Options& options) {
  const auto bad = [&](const char* what) {
    return std::string(spec.name) + ": " + what + ", got '" + std::string(value) + "'";
  };
  switch (spec.id) {
    case Id::kHost:
      options.host = std::string(value);
      return {};
    case Id::kPort: {
      const auto port = parse_uint(value);
      if (!port || *port == 0 || *port > 65535) return bad("expected a port 1-65535");
      options.port = static_cast<uint16_t>(*port);
      return {};
    }
    case Id::kSource:
      options.sources = split_commas(value);
      if (options.sources.empty()) return bad("expected a comma-separated address list");
      return {};
    case Id::kConnections: {
      const auto n = parse_uint(value);
      if (!n || *n == 0 || *n > 1'000'000) return bad("expected a count 1-1000000");
      options.connections = static_cast<uint32_t>(*n);
      return {};
    }
    case Id::kSize: {
      const auto n = parse_bytes(value);
      if (!n || *n == 0 || *n > (uint64_t{1} << 30)) return bad("expected a size 1 B - 1 GiB");
      options.size = static_cast<size_t>(*n);
      return {};
    }
    case Id::kDuration: {
      const auto s = parse_duration_seconds(value);
      if (!s || *s == 0) return bad("expected a duration > 0 (10, 10s, 500ms, 2m)");
      options.duration_s = *s;
      return {};
    }
    case Id::kCount: {
      const auto n = parse_uint(value);
      if (!n || *n == 0) return bad("expected a count > 0");
      options.count = *n;
      return {};
    }
    case Id::kRate: {
      const auto r = parse_positive(value);
      if (!r || *r == 0) return bad("expected operations per second > 0");
      options.rate = *r;
      return {};
    }
    case Id::kRamp: {
      const auto s = parse_duration_seconds(value);
      if (!s) return bad("expected a duration >= 0 (2, 2s, 500ms)");
      options.ramp_s = *s;
      return {};
    }
    case Id::kTimeout: {
      const auto s = parse_duration_seconds(value);
      if (!s || *s == 0) return bad("expected a duration > 0 (5, 5s, 1500ms)");
      options.timeout_s = *s;
      return {};
    }
    case Id::kPipeline: {
      const auto n = parse_uint(value);
      if (!n || *n == 0 || *n > 65536) return bad("expected a depth 1-65536");
      options.pipeline = static_cast<uint32_t>(*n);
      return {};
    }
    case Id::kFraming:
      if (value == "chunk") {
        options.framing = Framing::kChunk;
      } else if (value == "line") {
        options.framing = Framing::kLine;
      } else {
        return bad("expected 'chunk' or 'line'");
      }
      return {};
    case Id::kGreeting:
      if (value.empty()) return bad("expected text (use --no-greeting for none)");
      options.greeting = std::string(value);
      return {};
    case Id::kNoGreeting:
      options.greeting.reset();
      return {};
    case Id::kRandomMin:
    case Id::kRandomMax: {
      const auto n = parse_uint(value);
      if (!n || *n > 1'000'000'000'000ULL) return bad("expected an integer 0-10^12");
      (spec.id == Id::kRandomMin ? options.random_min : options.random_max) = *n;
      return {};
    }
    case Id::kExpect:
      options.expect = std::string(value);
      return {};
    case Id::kChunk: {
      const auto n = parse_bytes(value);
      if (!n || *n == 0 || *n > (uint64_t{1} << 30)) return bad("expected a size 1 B - 1 GiB");
      options.chunk = static_cast<size_t>(*n);
      return {};
    }
    case Id::kFileSize: {
      const auto n = parse_bytes(value);
      if (!n) return bad("expected a size");
      options.file_size = *n;
      return {};
    }
    case Id::kAbortAfter: {
      const auto n = parse_bytes(value);
      if (!n) return bad("expected a size");
      options.abort_after = *n;
      return {};
    }
    case Id::kBatch: {
      const auto n = parse_uint(value);
      if (!n || *n == 0 || *n > 1024) return bad("expected 1-1024");
      options.batch = static_cast<uint32_t>(*n);
      return {};
    }
    case Id::kJson:
      options.json = true;
      return {};
    case Id::kHgrm:
      if (value.empty()) return bad("expected a file name");
      options.hgrm_path = std::string(value);
      return {};
    case Id::kQuiet:
      options.quiet = true;
      return {};
    case Id::kVersion:
    case Id::kHelp:
      return {};
  }
  return {};
}

// Checks that depend on more than one option.
std::string validate(const Options& o) {
  if (o.port == 0) return "no target: give HOST:PORT or --port";
  if (o.mode == Mode::kUdp && o.size > kMaxDatagram)
    return "--size: a UDP datagram holds at most 65507 bytes";
  if (o.pipeline > 1 &&
      !(o.mode == Mode::kEcho || (o.mode == Mode::kChat && o.framing == Framing::kLine))) {
    return "--pipeline > 1 needs echo or chat --framing line (chunk framing has no message "
           "boundaries)";
  }
  if (o.abort_after && *o.abort_after >= o.file_size)
    return "--abort-after must be below --file-size (the upload would be complete)";
  if (o.mode == Mode::kChat && o.random_min > o.random_max)
    return "--random-min is above --random-max";
  return {};
}

}  // namespace

const char* to_string(Mode mode) {
  switch (mode) {
    case Mode::kEcho:
      return "echo";
    case Mode::kChat:
      return "chat";
    case Mode::kConnect:
      return "connect";
    case Mode::kUpload:
      return "upload";
    case Mode::kUdp:
      return "udp";
    case Mode::kHold:
      return "hold";
    case Mode::kStream:
      return "stream";
  }
  return "?";
}

const char* to_string(Framing framing) {
  return framing == Framing::kLine ? "line" : "chunk";
}

ParseResult parse_options(int argc, char** argv) {
  Options options;
  std::vector<const Spec*> seen;
  bool have_mode = false;
  bool have_target = false;

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.empty() || arg.front() != '-') {
      if (have_mode && !have_target) {
        const auto target = parse_host_port(arg);
        if (!target) {
          return UsageError{"expected HOST:PORT (or [IPv6]:PORT), got '" + std::string(arg) + "'"};
        }
        options.host = target->first;
        options.port = target->second;
        have_target = true;
        continue;
      }
      if (have_mode) return UsageError{"unexpected argument '" + std::string(arg) + "'"};
      const auto mode = parse_mode(arg);
      if (!mode) return UsageError{"unknown mode '" + std::string(arg) + "'"};
      options.mode = *mode;
      have_mode = true;
      continue;
    }
    std::optional<std::string_view> inline_value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    const Spec* spec = find_spec(arg);
    if (spec == nullptr) return UsageError{"unknown option '" + std::string(arg) + "'"};
    if (spec->id == Id::kHelp) return HelpRequested{};
    if (spec->id == Id::kVersion) return VersionRequested{};
    std::string_view value;
    if (spec->takes_value) {
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return UsageError{std::string(spec->name) + " needs a value"};
      }
    } else if (inline_value) {
      return UsageError{std::string(spec->name) + " takes no value"};
    }
    if (auto error = apply(*spec, value, options); !error.empty()) return UsageError{error};
    seen.push_back(spec);
  }

  if (!have_mode) return UsageError{"no mode given (echo, chat, connect, upload, stream, udp or hold)"};
  for (const Spec* spec : seen) {
    if (have_target && (spec->id == Id::kHost || spec->id == Id::kPort)) {
      return UsageError{std::string(spec->name) + " and a HOST:PORT argument both name the target"};
    }
    if ((spec->modes & bit(options.mode)) == 0) {
      return UsageError{std::string(spec->name) + " does not apply to mode " +
                        to_string(options.mode)};
    }
  }
  if (!options.duration_s && !options.count) options.duration_s = 10.0;
  if (auto error = validate(options); !error.empty()) return UsageError{error};
  return options;
}

std::optional<double> parse_duration_seconds(std::string_view text) {
  struct Unit {
    std::string_view suffix;
    double seconds;
  };
  // Longest suffixes first: "ms" before "s", "min" before "m".
  constexpr Unit kUnits[] = {{"ms", 1e-3}, {"us", 1e-6}, {"ns", 1e-9}, {"min", 60},
                             {"s", 1},     {"m", 60},    {"h", 3600}};
  double scale = 1;
  for (const auto& unit : kUnits) {
    if (text.size() > unit.suffix.size() && text.ends_with(unit.suffix)) {
      text.remove_suffix(unit.suffix.size());
      scale = unit.seconds;
      break;
    }
  }
  const auto value = parse_positive(text);
  if (!value) return std::nullopt;
  return *value * scale;
}

std::optional<std::pair<std::string, uint16_t>> parse_host_port(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  const auto number = parse_uint(port);
  if (host.empty() || !number || *number == 0 || *number > 65535) return std::nullopt;
  return std::pair<std::string, uint16_t>{std::string(host), static_cast<uint16_t>(*number)};
}

const char* usage_text() {
  return R"(usage: socketd-bench MODE HOST:PORT [options]
       socketd-bench MODE --port PORT [--host ADDR] [options]

modes
  echo      send --size bytes, wait for exactly those bytes back, repeat
  chat      read the greeting, send a message, expect it echoed plus a number
  connect   connect, read to EOF (banner), compare with --expect, close
  upload    send --chunk bytes, wait for "success", ...; "quit"; wait for the
            durable "success"; one upload per connection
  stream    stream-upload: "UPLOAD <--file-size>\n", the file without acks,
            half-close, expect "OK <size> sha256=<hex>\n" for exactly that
            file; one upload per connection
  udp       send --size datagrams with sendmmsg, as fast as allowed
  hold      open --connections and keep them idle for --duration

common
  HOST:PORT             the target, e.g. 127.0.0.1:8889 or [::1]:7 (or:)
  --host ADDR           target (default 127.0.0.1)
  -p, --port PORT       target port (required without HOST:PORT)
  -c, --connections N   concurrent connections / UDP sockets (default 10)
  -d, --duration TIME   run length (default 10s unless -n is given); TIME is
                        seconds or a number with a unit: 10s, 500ms, 2m
  -n, --count N         stop after N operations have been started and answered
  -r, --rate R          open loop: R operations/s in total, latency measured from
                        the scheduled start (default: closed loop)
  --ramp TIME           spread the initial connects over TIME
  --timeout TIME        no progress from the server while waiting on it for TIME
                        counts a timeout and closes the connection (default 5)
  --source A,B,...      bind each connection to one of these local addresses
                        (round robin) before connecting
  --json                print the summary as one JSON object
  --hgrm FILE           also write the latency percentiles to FILE in
                        HdrHistogram's .hgrm text format (milliseconds)
  -q, --quiet           no progress line on stderr
  -V, --version         print the version and exit

mode options
  -s, --size BYTES      message / datagram size, k/m suffixes (default 64)
  --pipeline N          requests in flight per connection (echo, chat line)
  --framing chunk|line  chat framing (default chunk)
  --greeting TEXT       chat greeting to expect (default "success!")
  --no-greeting         the chat server sends no greeting
  --random-min N        chat number range (default 1 .. 1000)
  --random-max N
  --expect TEXT         connect: the exact banner
  --chunk BYTES         upload chunk size (default 1024)
  --file-size BYTES     upload / stream file size (default 64k)
  --abort-after BYTES   upload / stream: once BYTES of the file are sent (upload:
                        and acked), wait until every open connection got that
                        far, then reset them all at once (SO_LINGER 0 -> RST);
                        reported as aborted, not as errors
  --batch N             udp datagrams per sendmmsg (default 32)

Connects that needed a SYN retransmit (the server's accept queue was full:
its listen backlog is probably too small) are counted and reported.

exit status: 0 all operations answered correctly, 1 errors or starved
connections, 2 usage error, 3 could not set up (address, epoll, fd limit)
)";
}

}  // namespace socketd::bench
