#include "report.hpp"

#include <sys/resource.h>

#include <cstring>
#include <utility>

#include "clock.hpp"
#include "format.hpp"

namespace socketd::bench {
namespace {

using ull = unsigned long long;

constexpr std::pair<const char*, double> kPercentiles[] = {
    {"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}};

constexpr ErrorKind kAllErrorKinds[] = {ErrorKind::kConnectRefused, ErrorKind::kReset,
                                        ErrorKind::kTimeout,        ErrorKind::kWrongReply,
                                        ErrorKind::kUnexpectedEof,  ErrorKind::kOther};

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

Report::Report(const Options& options, std::string target, const RunResult& result)
    : options_(options), target_(std::move(target)), result_(result) {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  user_s_ = seconds(usage.ru_utime);
  sys_s_ = seconds(usage.ru_stime);
  max_rss_kib_ = usage.ru_maxrss;
}

double Report::elapsed_s() const noexcept {
  const double s = ns_to_seconds(result_.elapsed_ns);
  return s > 0 ? s : 1e-9;
}

double Report::cpu_percent() const noexcept {
  return 100.0 * (user_s_ + sys_s_) / elapsed_s();
}

const char* Report::pacing_key() const noexcept {
  if (options_.rate) return "open_loop";
  if (options_.mode == Mode::kHold) return "none";
  return options_.mode == Mode::kUdp ? "flat_out" : "closed_loop";
}

const char* Report::pacing() const noexcept {
  if (options_.rate) return ", open loop";
  if (options_.mode == Mode::kHold) return "";
  return options_.mode == Mode::kUdp ? ", flat out" : ", closed loop";
}

const char* Report::operation_name() const noexcept {
  switch (options_.mode) {
    case Mode::kEcho:
    case Mode::kChat:
      return "requests";
    case Mode::kConnect:
      return "connects";
    case Mode::kUpload:
    case Mode::kStream:
      return "uploads";
    case Mode::kUdp:
      return "datagrams";
    case Mode::kHold:
      return "connections";
  }
  return "operations";
}

int Report::exit_code() const noexcept {
  return result_.stats.errors() > 0 || result_.starved > 0 ? 1 : 0;
}

void Report::print_table(std::FILE* out) const {
  const Stats& stats = result_.stats;
  const auto ops = static_cast<double>(stats.ops());

  std::fprintf(out, "socketd-bench %s -> %s, %u %s%s, %.2f s%s\n\n", to_string(options_.mode),
               target_.c_str(), options_.connections,
               options_.mode == Mode::kUdp ? "sockets" : "connections", pacing(), elapsed_s(),
               result_.interrupted ? " (interrupted)" : "");
  std::fprintf(out, "%-16s %llu %s  (%s/s)\n", "operations", static_cast<ull>(stats.ops()),
               operation_name(), format_count(per_second(ops)).c_str());
  if (options_.rate) {
    std::fprintf(out, "%-16s %s/s requested, %llu due but never sent (fell behind the rate)\n",
                 "open-loop rate", format_count(*options_.rate).c_str(),
                 static_cast<ull>(result_.unsent));
  }

  if (has_latency()) {
    const Histogram& latency = stats.latency();
    std::fprintf(out, "%-16s", "latency");
    for (const auto& [name, p] : kPercentiles) std::fprintf(out, " %8s", name);
    std::fprintf(out, " %8s %8s\n%-16s", "max", "mean", "");
    for (const auto& [name, p] : kPercentiles) {
      std::fprintf(out, " %8s", format_latency(latency.percentile(p)).c_str());
    }
    std::fprintf(out, " %8s %8s\n", format_latency(latency.max()).c_str(),
                 format_latency(static_cast<int64_t>(latency.mean())).c_str());
    if (options_.rate) {
      std::fprintf(out, "%-16s from each operation's scheduled start\n", "");
    }
  } else if (options_.mode == Mode::kUdp) {
    std::fprintf(out, "%-16s n/a (UDP is one-way)\n", "latency");
  } else {
    std::fprintf(out, "%-16s n/a (no operation completed)\n", "latency");
  }

  std::fprintf(out, "%-16s %llu\n", "errors", static_cast<ull>(stats.errors()));
  for (const ErrorKind kind : kAllErrorKinds) {
    std::fprintf(out, "  %-16s %llu", std::string(label(kind)).c_str(),
                 static_cast<ull>(stats.errors(kind)));
    if (kind == ErrorKind::kOther && stats.last_other_errno() != 0) {
      std::fprintf(out, "  (last: %s)", std::strerror(stats.last_other_errno()));
    }
    std::fputc('\n', out);
  }

  if (options_.mode != Mode::kUdp) {
    std::fprintf(out, "%-16s %llu still in flight at the end\n", "unanswered",
                 static_cast<ull>(result_.unanswered));
    std::fprintf(out, "%-16s %llu of %u connections completed no operation%s\n", "starved",
                 static_cast<ull>(result_.starved), options_.connections,
                 result_.starved > 0 ? "  <-- the server left clients unserved" : "");
    std::fprintf(out, "%-16s %llu TCP handshakes, %llu open at the end\n", "connections",
                 static_cast<ull>(stats.connects()), static_cast<ull>(result_.open_at_end));
    std::fprintf(out, "%-16s %llu connects needed a SYN retransmit (each cost >= 1 s)\n",
                 "syn retransmits", static_cast<ull>(stats.syn_retransmits()));
    if (stats.syn_retransmits() > 0) {
      std::fprintf(out,
                   "%-16s the server's accept queue overflowed: its listen backlog is probably "
                   "too small\n%-16s (socketd: raise the service's `backlog`; the default is 5)\n",
                   "", "");
    }
    if (result_.not_started > 0) {
      std::fprintf(out,
                   "%-16s %llu connections never started (--ramp longer than the run, or "
                   "connect() too slow: try --source)\n",
                   "not started", static_cast<ull>(result_.not_started));
    }
    if (options_.mode == Mode::kHold) {
      std::fprintf(out, "%-16s %llu connections open after a %.2f s connect phase\n", "held",
                   static_cast<ull>(result_.open_at_end), ns_to_seconds(result_.connect_phase_ns));
    }
  }

  const auto sent = static_cast<double>(stats.bytes_sent());
  const auto received = static_cast<double>(stats.bytes_received());
  std::fprintf(out, "%-16s sent %s (%s/s), received %s (%s/s)\n", "bytes",
               format_bytes(sent).c_str(), format_bytes(per_second(sent)).c_str(),
               format_bytes(received).c_str(), format_bytes(per_second(received)).c_str());
  if (options_.mode == Mode::kUpload || options_.mode == Mode::kStream) {
    const auto payload = static_cast<double>(stats.payload_bytes());
    std::fprintf(out, "%-16s %s durably stored (%s/s)\n", "uploaded", format_bytes(payload).c_str(),
                 format_bytes(per_second(payload)).c_str());
    if (options_.abort_after) {
      std::fprintf(out, "%-16s %llu uploads reset on purpose after %llu bytes (--abort-after)\n",
                   "aborted", static_cast<ull>(stats.aborted()),
                   static_cast<ull>(*options_.abort_after));
    }
  }
  std::fprintf(out, "%-16s user %.2f s + sys %.2f s = %.0f%% of one core, max RSS %.1f MiB\n",
               "tool CPU", user_s_, sys_s_, cpu_percent(),
               static_cast<double>(max_rss_kib_) / 1024.0);
  if (exit_code() != 0) {
    std::fprintf(out, "\nFAILED: %llu errors, %llu starved connections (exit status 1)\n",
                 static_cast<ull>(stats.errors()), static_cast<ull>(result_.starved));
  }
}

void Report::print_json(std::FILE* out) const {
  const Stats& stats = result_.stats;
  const Histogram& latency = stats.latency();
  std::fprintf(out, "{\"mode\":\"%s\",\"target\":%s,\"connections\":%u,\"pacing\":\"%s\",",
               to_string(options_.mode), json_string(target_).c_str(), options_.connections,
               pacing_key());
  if (options_.rate) {
    std::fprintf(out, "\"rate_requested\":%.3f,\"unsent\":%llu,", *options_.rate,
                 static_cast<ull>(result_.unsent));
  }
  std::fprintf(out, "\"elapsed_s\":%.6f,\"interrupted\":%s,\"operations\":%llu,\"rate\":%.3f,",
               elapsed_s(), result_.interrupted ? "true" : "false", static_cast<ull>(stats.ops()),
               per_second(static_cast<double>(stats.ops())));
  if (has_latency()) {
    std::fprintf(out,
                 "\"latency_ns\":{\"count\":%llu,\"p50\":%lld,\"p90\":%lld,\"p99\":%lld,"
                 "\"p99_9\":%lld,\"max\":%lld,\"mean\":%.0f},",
                 static_cast<ull>(latency.count()), static_cast<long long>(latency.percentile(50)),
                 static_cast<long long>(latency.percentile(90)),
                 static_cast<long long>(latency.percentile(99)),
                 static_cast<long long>(latency.percentile(99.9)),
                 static_cast<long long>(latency.max()), latency.mean());
  } else {
    std::fprintf(out, "\"latency_ns\":null,");
  }
  std::fprintf(out, "\"errors\":{\"total\":%llu", static_cast<ull>(stats.errors()));
  for (const ErrorKind kind : kAllErrorKinds) {
    std::fprintf(out, ",\"%s\":%llu", std::string(json_key(kind)).c_str(),
                 static_cast<ull>(stats.errors(kind)));
  }
  std::fprintf(out,
               "},\"unanswered\":%llu,\"starved\":%llu,\"not_started\":%llu,\"connects\":%llu,"
               "\"syn_retransmits\":%llu,\"open_at_end\":%llu,",
               static_cast<ull>(result_.unanswered), static_cast<ull>(result_.starved),
               static_cast<ull>(result_.not_started), static_cast<ull>(stats.connects()),
               static_cast<ull>(stats.syn_retransmits()), static_cast<ull>(result_.open_at_end));
  if (options_.mode == Mode::kHold) {
    std::fprintf(out, "\"connect_phase_s\":%.6f,", ns_to_seconds(result_.connect_phase_ns));
  }
  std::fprintf(out, "\"bytes_sent\":%llu,\"bytes_received\":%llu,",
               static_cast<ull>(stats.bytes_sent()), static_cast<ull>(stats.bytes_received()));
  if (options_.mode == Mode::kUpload || options_.mode == Mode::kStream) {
    std::fprintf(out, "\"bytes_uploaded\":%llu,", static_cast<ull>(stats.payload_bytes()));
    if (options_.abort_after) {
      std::fprintf(out, "\"aborted\":%llu,", static_cast<ull>(stats.aborted()));
    }
  }
  std::fprintf(out,
               "\"cpu\":{\"user_s\":%.3f,\"sys_s\":%.3f,\"percent\":%.1f},\"max_rss_kib\":%ld,"
               "\"exit_code\":%d}\n",
               user_s_, sys_s_, cpu_percent(), max_rss_kib_, exit_code());
}

}  // namespace socketd::bench
