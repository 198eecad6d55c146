// fuzz_config: the whole input is a config file for parse_config().
// It must never crash or trip a sanitizer. A loaded Config must satisfy what
// the rest of the daemon relies on without re-checking (at least one service,
// every value in its documented range, no two listeners that cannot both
// bind); a refused one must explain itself with sorted, well-formed errors.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config_loader.hpp"
#include "fuzz_input.hpp"
#include "net/access_list.hpp"
#include "net/address.hpp"
#include "support/utf8_check.hpp"

namespace socketd::fuzz {
namespace {

using test::valid_utf8;

constexpr std::string_view kSource = "fuzz.toml";
constexpr auto kMaxDuration = std::chrono::hours(24 * 24);

bool valid_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool is_wildcard(const SocketAddress& a) {
  return a.host() == "0.0.0.0" || a.host() == "::";
}

void check_service(const ServiceConfig& s) {
  const std::string who = "service '" + printable(s.name) + "'";
  fuzz_check(valid_name(s.name), who);
  fuzz_check(!s.listen.empty(), who + " without a listen address");
  for (const auto& address : s.listen) {
    fuzz_check(address.family() == AF_INET || address.family() == AF_INET6, who);
    const auto again = SocketAddress::parse(address.to_string());
    fuzz_check(again && *again == address, who + " listen " + address.to_string());
  }
  fuzz_check(s.transport() == (s.mode == Mode::kUdpLog ? Transport::kUdp : Transport::kTcp), who);
  fuzz_check(s.backlog >= 1 && s.backlog <= 65535, who);
  fuzz_check(s.idle_timeout.count() >= 0 && s.idle_timeout <= kMaxDuration, who);
  fuzz_check(s.rate_pause.count() > 0 && s.rate_pause <= kMaxDuration, who);
  fuzz_check(s.proxy_header_timeout.count() > 0 && s.proxy_header_timeout <= kMaxDuration, who);
  // The PROXY keys other than proxy_protocol are refused while it is off.
  fuzz_check(s.proxy_protocol || s.proxy_sources.empty(), who + " proxy_sources without proxy");
  for (const auto* list : {&s.allow, &s.deny, &s.proxy_sources}) {
    for (const Cidr& c : *list) {
      const int width = c.family == AF_INET ? 32 : 128;
      fuzz_check(
          (c.family == AF_INET || c.family == AF_INET6) && c.prefix >= 0 && c.prefix <= width,
          who + " allow/deny/proxy_sources " + c.to_string());
    }
  }
  switch (s.mode) {
    case Mode::kChat:
      fuzz_check(
          s.random_min >= 0 && s.random_min <= s.random_max,
          who + " random " + std::to_string(s.random_min) + ".." + std::to_string(s.random_max));
      fuzz_check(s.max_line_bytes >= 1, who);
      fuzz_check(!s.exit_word.empty(), who);
      fuzz_check(s.exit_word.find_first_of("\r\n") == std::string::npos, who);
      fuzz_check(s.framing == Framing::kChunk || s.framing == Framing::kLine, who);
      break;
    case Mode::kUpload:
      fuzz_check(!s.ack_word.empty() && !s.end_word.empty(), who);
      fuzz_check(s.upload_timeout.count() >= 0 && s.upload_timeout <= kMaxDuration, who);
      break;
    case Mode::kStreamUpload:
      fuzz_check(s.upload_timeout.count() >= 0 && s.upload_timeout <= kMaxDuration, who);
      break;
    case Mode::kMetrics:
      fuzz_check(s.request_timeout.count() > 0 && s.request_timeout <= kMaxDuration, who);
      fuzz_check(s.max_request_bytes >= 256 && s.max_request_bytes <= (1u << 20), who);
      break;
    case Mode::kExec:
      fuzz_check(!s.command.empty() && !s.command.front().empty() && s.command.front()[0] == '/',
                 who);
      fuzz_check(s.run_timeout.count() >= 0 && s.run_timeout <= kMaxDuration, who);
      fuzz_check(s.kill_grace.count() > 0 && s.kill_grace <= kMaxDuration, who);
      break;
    case Mode::kBanner:
    case Mode::kEcho:
    case Mode::kUdpLog:
      break;
  }
}

void check_loaded(const Config& config) {
  fuzz_check(config.source == kSource, config.source);
  fuzz_check(!config.services.empty(), "ok() without services");
  const auto& d = config.daemon;
  fuzz_check(d.max_connections >= 1, "daemon.max_connections");
  fuzz_check(d.drain_timeout.count() > 0 && d.drain_timeout <= kMaxDuration, "drain_timeout");
  fuzz_check(d.upload_dir.find('\0') == std::string::npos, "upload_dir has a NUL");
  struct Bound {
    Transport transport;
    SocketAddress address;
  };
  std::vector<Bound> bound;  // every listen address of every service so far
  for (size_t i = 0; i < config.services.size(); ++i) {
    const auto& a = config.services[i];
    check_service(a);
    for (size_t j = 0; j < i; ++j) {
      fuzz_check(a.name != config.services[j].name, "duplicate service " + printable(a.name));
    }
    for (const auto& x : a.listen) {
      for (const auto& b : bound) {
        const auto& y = b.address;
        if (a.transport() != b.transport || x.family() != y.family() || x.port() == 0 ||
            x.port() != y.port()) {
          continue;
        }
        fuzz_check(!(x == y) && !is_wildcard(x) && !is_wildcard(y),
                   "listeners that cannot both bind: " + x.to_string() + " and " + y.to_string());
      }
      bound.push_back({a.transport(), x});
    }
  }
}

void check_refused(const ConfigLoad& load, bool input_is_utf8) {
  fuzz_check(!load.errors.empty(), "refused without an error");
  for (size_t i = 0; i < load.errors.size(); ++i) {
    const auto& e = load.errors[i];
    fuzz_check(e.file == kSource, e.file);
    fuzz_check(!e.message.empty(), "empty message");
    fuzz_check(e.to_string().starts_with(kSource), e.to_string());
    // A valid file gets readable messages: they quote only its own text.
    fuzz_check(!input_is_utf8 || valid_utf8(e.message),
               "invalid UTF-8 in message: " + printable(e.message));
    if (i > 0) {
      const auto& p = load.errors[i - 1];
      fuzz_check(p.line < e.line || (p.line == e.line && p.column <= e.column),
                 "errors out of order: " + p.to_string() + " / " + e.to_string());
    }
  }
}

}  // namespace
}  // namespace socketd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace socketd;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ConfigLoad load = parse_config(text, fuzz::kSource, Includes::kIgnore);
  fuzz_check(load.ok() == load.errors.empty(), "ok() " + std::to_string(load.ok()) + " with " +
                                                   std::to_string(load.errors.size()) + " errors");
  if (load.ok()) {
    fuzz::check_loaded(*load.config);
  } else {
    fuzz::check_refused(load, test::valid_utf8(text));
  }
  return 0;
}
