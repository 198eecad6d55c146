// udp-log's per-datagram cost above the socket: what ServiceRuntime does with
// each datagram of a flood. Before: escape the payload and build the record,
// then let the rate limit throw it away. Now: DatagramLog asks the limit
// first, so past it a datagram is counted (datagrams, bytes, peer) and nothing
// is built.
#include <string>

#include <benchmark/benchmark.h>

#include "log/logger.hpp"
#include "log/rate_limited_sink.hpp"
#include "net/address.hpp"
#include "reactor/reactor.hpp"
#include "server/datagram_log.hpp"
#include "service/escape.hpp"

namespace {

using namespace socketd;

class NullSink final : public LogSink {
 public:
  void write(const LogRecord& record) noexcept override {
    benchmark::DoNotOptimize(record.message.data());
  }
};

const std::string kPayload(64, 'x');

// The record the previous ServiceRuntime::on_datagram built for every datagram.
void BM_DatagramBuildThenSuppress(benchmark::State& state) {
  NullSink null;
  const auto frozen = Clock::now();
  RateLimitedSink limited(null, 1000, [frozen] { return frozen; });
  Logger logger(limited, LogLevel::kInfo);
  const SocketAddress peer = *SocketAddress::parse("203.0.113.7:52144");
  const std::string name = "udp";
  for (auto _ : state) {
    std::string text = escape_payload(kPayload);
    logger.log({LogLevel::kInfo, LogEvent::kDatagram,
                name + ": datagram from " + peer.to_string() + " (" +
                    std::to_string(kPayload.size()) + " bytes): " + text,
                {{"SERVICE", name},
                 {"PEER", peer.to_string()},
                 {"BYTES", std::to_string(kPayload.size())},
                 {"PAYLOAD", std::move(text)}}});
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DatagramBuildThenSuppress);

// DatagramLog::record past the limit (range(0) senders in turn).
void BM_DatagramLogSuppressed(benchmark::State& state) {
  NullSink null;
  const auto frozen = Clock::now();
  RateLimitedSink limited(null, 1000, [frozen] { return frozen; });
  Logger logger(limited, LogLevel::kInfo);
  auto reactor = Reactor::create();
  DatagramLog log(**reactor, logger, "udp");
  std::vector<SocketAddress> peers;
  for (int64_t i = 0; i < state.range(0); ++i) {
    peers.push_back(*SocketAddress::parse("203.0.113.7:" + std::to_string(40000 + i)));
  }
  for (int i = 0; i < 1000; ++i) log.record(kPayload, peers[0]);  // uses up the limit
  size_t next = 0;
  for (auto _ : state) {
    log.record(kPayload, peers[next]);
    if (++next == peers.size()) next = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DatagramLogSuppressed)->Arg(1)->Arg(10)->Arg(1000);

}  // namespace
