#include "server/metrics_exporter.hpp"

#include <chrono>

#include "metrics/exposition.hpp"
#include "server/service_runtime.hpp"

#ifndef SOCKETD_VERSION
#define SOCKETD_VERSION "unknown"
#endif

namespace socketd {
namespace {

bool is_tcp(const MetricsExporter::Service& s) {
  return transport_of(s.mode) == Transport::kTcp;
}
bool is_udp(const MetricsExporter::Service& s) {
  return transport_of(s.mode) == Transport::kUdp;
}
bool stores(const MetricsExporter::Service& s) {
  return is_upload(s.mode);
}

// One counter family with a sample per service that `applies`.
template <typename Applies, typename Value>
void per_service(Exposition& x, std::span<const MetricsExporter::Service> services,
                 std::string_view name, std::string_view type, std::string_view help,
                 Applies applies, Value value) {
  bool any = false;
  for (const auto& s : services) any = any || applies(s);
  if (!any) return;
  x.family(name, type, help);
  for (const auto& s : services) {
    if (applies(s)) x.sample(name, {{"service", s.name}}, uint64_t{value(*s.stats)});
  }
}

}  // namespace

MetricsExporter::MetricsExporter()
    : start_time_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                      .count()),
      version_(SOCKETD_VERSION) {}

void MetricsExporter::render(std::string& out, std::span<const Service> services,
                             const TurnHistogram& turns) const {
  Exposition x(out);
  per_service(x, services, "socketd_connections_accepted_total", "counter",
              "TCP connections accepted and admitted, by service.", is_tcp,
              [](const ServiceStats& s) { return s.connections_total; });
  per_service(x, services, "socketd_connections_open", "gauge",
              "TCP connections open now, by service.", is_tcp,
              [](const ServiceStats& s) { return s.open; });
  bool any_tcp = false;
  for (const auto& s : services) any_tcp = any_tcp || is_tcp(s);
  if (any_tcp) {
    x.family("socketd_connections_refused_total", "counter",
             "TCP connections closed at once, by service and reason (allow_deny, "
             "max_connections, max_per_source, rate, proxy, fd_exhausted).");
    for (const auto& s : services) {
      if (!is_tcp(s)) continue;
      for (size_t r = 0; r < std::size(kRefusalLabels); ++r) {
        x.sample("socketd_connections_refused_total",
                 {{"service", s.name}, {"reason", kRefusalLabels[r]}}, s.stats->refused_by[r]);
      }
    }
  }
  per_service(x, services, "socketd_bytes_received_total", "counter",
              "Payload bytes received from TCP clients, by service.", is_tcp,
              [](const ServiceStats& s) { return s.bytes_in; });
  per_service(x, services, "socketd_bytes_sent_total", "counter",
              "Payload bytes sent to TCP clients, by service.", is_tcp,
              [](const ServiceStats& s) { return s.bytes_out; });
  per_service(x, services, "socketd_listen_overflows_total", "counter",
              "Connection attempts the kernel dropped at a full accept queue (raise backlog), "
              "by service.",
              is_tcp, [](const ServiceStats& s) { return s.listen_overflows; });
  bool any_upload = false;
  for (const auto& s : services) any_upload = any_upload || stores(s);
  if (any_upload) {
    x.family("socketd_uploads_total", "counter",
             "Uploads by service and outcome: finished (durable), incomplete (kept as "
             ".incomplete), refused (never started).");
    for (const auto& s : services) {
      if (!stores(s)) continue;
      x.sample("socketd_uploads_total", {{"service", s.name}, {"outcome", "finished"}},
               s.stats->uploads_finished);
      x.sample("socketd_uploads_total", {{"service", s.name}, {"outcome", "incomplete"}},
               s.stats->uploads_incomplete);
      x.sample("socketd_uploads_total", {{"service", s.name}, {"outcome", "refused"}},
               s.stats->uploads_refused);
    }
  }
  per_service(x, services, "socketd_upload_bytes_total", "counter",
              "Bytes stored by uploads (finished and incomplete), by service.", stores,
              [](const ServiceStats& s) { return s.upload_bytes; });
  per_service(x, services, "socketd_datagrams_received_total", "counter",
              "Datagrams received, by service.", is_udp,
              [](const ServiceStats& s) { return s.datagrams; });
  per_service(x, services, "socketd_datagrams_dropped_total", "counter",
              "Datagrams the kernel dropped for a full receive queue (SO_RXQ_OVFL), by service.",
              is_udp, [](const ServiceStats& s) { return s.datagrams_dropped; });

  x.family("socketd_log_records_dropped_total", "counter",
           "Log records not written, by reason: rate_limit ([daemon] log_rate_limit), "
           "not_read (the log was not being read and its queue was full).");
  x.sample("socketd_log_records_dropped_total", {{"reason", "rate_limit"}},
           log_rate_limited_ ? log_rate_limited_() : uint64_t{0});
  x.sample("socketd_log_records_dropped_total", {{"reason", "not_read"}},
           log_not_read_ ? log_not_read_() : uint64_t{0});

  x.family("socketd_reloads_total", "counter", "Configuration reloads, by result (ok, failed).");
  x.sample("socketd_reloads_total", {{"result", "ok"}}, reloads_ok_);
  x.sample("socketd_reloads_total", {{"result", "failed"}}, reloads_failed_);

  constexpr std::string_view kLoop = "socketd_loop_iteration_seconds";
  x.family(kLoop, "histogram",
           "Time one event loop turn took (every client waits while one runs).");
  const auto& counts = turns.counts();
  uint64_t cumulative = 0;
  for (size_t i = 0; i < TurnHistogram::kBoundsNs.size(); ++i) {
    cumulative += counts[i];
    x.sample("socketd_loop_iteration_seconds_bucket", {{"le", TurnHistogram::kBoundsText[i]}},
             cumulative);
  }
  cumulative += counts.back();
  x.sample("socketd_loop_iteration_seconds_bucket", {{"le", "+Inf"}}, cumulative);
  x.sample("socketd_loop_iteration_seconds_sum", {}, static_cast<double>(turns.sum_ns()) / 1e9);
  x.sample("socketd_loop_iteration_seconds_count", {}, cumulative);

  x.family("socketd_start_time_seconds", "gauge",
           "When socketd started, in seconds since the Unix epoch.");
  x.sample("socketd_start_time_seconds", {}, start_time_);
  x.family("socketd_build_info", "gauge", "Always 1; the version socketd was built as.");
  x.sample("socketd_build_info", {{"version", version_}}, uint64_t{1});
}

}  // namespace socketd
