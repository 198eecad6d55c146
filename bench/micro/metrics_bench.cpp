// The cost of the metrics: what the per-packet path adds (plain integer
// increments of the service's counters; one histogram record per reactor
// turn), and a whole scrape of a Server with 100 services (parse the
// request, render every series, format the response) -- the loop time one
// scrape takes, to be well under 1 ms.
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "log/logger.hpp"
#include "metrics/turn_histogram.hpp"
#include "null_reply.hpp"
#include "reactor/reactor.hpp"
#include "server/server.hpp"
#include "service/metrics_session.hpp"

namespace {

using namespace socketd;

class NullSink final : public LogSink {
 public:
  void write(const LogRecord&) noexcept override {}
};

// What one TCP read and its reply add to a service's counters
// (Connection::read_some and Connection::send), and what a datagram adds
// (ServiceRuntime::on_datagram).
void BM_CountersPerPacket(benchmark::State& state) {
  auto stats = std::make_unique<ServiceStats>();
  ServiceStats* s = stats.get();
  size_t n = 64;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s);
    s->bytes_in += n;
    s->bytes_out += n;
    ++s->datagrams;
    benchmark::ClobberMemory();
    n ^= 1;
  }
  benchmark::DoNotOptimize(s->bytes_in);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CountersPerPacket);

// One reactor turn's record into socketd_loop_iteration_seconds (a quiet
// turn: the first bucket; a stall: the last).
void BM_TurnHistogramRecord(benchmark::State& state) {
  TurnHistogram h;
  const uint64_t ns = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(&h);
    h.record(ns);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(h.sum_ns());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TurnHistogramRecord)->Arg(5'000)->Arg(2'000'000'000);

// A Server with `services` services on loopback port 0: a quarter each echo,
// chat, udp-log and stream-upload (the latter refuse clients: no store).
struct ServerWith {
  explicit ServerWith(int services) : logger(sink, LogLevel::kError) {
    reactor = std::move(*Reactor::create());
    server = std::make_unique<Server>(*reactor, logger);
    Config config;
    const Mode modes[] = {Mode::kEcho, Mode::kChat, Mode::kUdpLog, Mode::kStreamUpload};
    for (int i = 0; i < services; ++i) {
      ServiceConfig s;
      s.name = "service-" + std::to_string(i);
      s.mode = modes[i % 4];
      s.listen = {*SocketAddress::parse("127.0.0.1:0")};
      config.services.push_back(std::move(s));
    }
    ServiceConfig m;
    m.name = "metrics";
    m.mode = Mode::kMetrics;
    m.listen = {*SocketAddress::parse("127.0.0.1:0")};
    config.services.push_back(std::move(m));
    ok = server->apply(config).empty();
  }
  NullSink sink;
  Logger logger;
  std::unique_ptr<Reactor> reactor;
  std::unique_ptr<Server> server;
  bool ok = false;
};

// Server::render_metrics alone, into a reused string.
void BM_RenderMetrics(benchmark::State& state) {
  ServerWith s(static_cast<int>(state.range(0)));
  if (!s.ok) {
    state.SkipWithError("cannot bind the services");
    return;
  }
  std::string out;
  for (auto _ : state) {
    out.clear();
    s.server->render_metrics(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_RenderMetrics)->Arg(1)->Arg(100)->Unit(benchmark::kMicrosecond);

// A whole scrape as the loop runs it: Prometheus's request parsed by a new
// MetricsSession, the exposition rendered, the response formatted.
void BM_Scrape(benchmark::State& state) {
  ServerWith s(static_cast<int>(state.range(0)));
  if (!s.ok) {
    state.SkipWithError("cannot bind the services");
    return;
  }
  constexpr std::string_view kRequest =
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nUser-Agent: Prometheus/2.42.0\r\n"
      "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,"
      "*/*;q=0.1\r\nAccept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n";
  micro::NullReply reply;
  Server* server = s.server.get();
  for (auto _ : state) {
    MetricsSession session({}, [server](std::string& out) { server->render_metrics(out); });
    session.on_data({kRequest.data(), kRequest.size()}, reply);
  }
  if (reply.sends != static_cast<size_t>(state.iterations()))
    state.SkipWithError("a scrape was not answered");
  state.counters["bytes"] =
      static_cast<double>(reply.bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Scrape)->Arg(100)->Unit(benchmark::kMicrosecond);

}  // namespace
