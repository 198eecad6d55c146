// Log records: building one the way Connection::finish does, formatting it
// for stderr, and the per-service rate limit in front of the sink.
#include <chrono>
#include <string>
#include <string_view>

#include <benchmark/benchmark.h>

#include "log/logger.hpp"
#include "log/rate_limited_sink.hpp"
#include "net/address.hpp"

namespace {

using namespace socketd;

// The record Connection::finish logs for every closed connection (copied
// from there: keep it in step).
LogRecord connection_closed(const std::string& name, const SocketAddress& peer,
                            std::string_view reason, uint64_t bytes_in, uint64_t bytes_out,
                            int64_t ms) {
  return {LogLevel::kInfo, LogEvent::kConnectionClosed,
          name + ": " + peer.to_string() + " " + std::string(reason) + " (in " +
              std::to_string(bytes_in) + " B, out " + std::to_string(bytes_out) + " B, " +
              std::to_string(ms) + " ms)",
          {{"SERVICE", name},
           {"PEER", peer.to_string()},
           {"BYTES_IN", std::to_string(bytes_in)},
           {"BYTES_OUT", std::to_string(bytes_out)},
           {"DURATION_MS", std::to_string(ms)},
           {"REASON", std::string(reason)}}};
}

SocketAddress peer(const char* text) { return *SocketAddress::parse(text); }

// range(0): 0 = IPv4 peer, 1 = IPv6 peer (to_string differs: inet_ntop of either).
const char* peer_text(const benchmark::State& state) {
  return state.range(0) == 0 ? "203.0.113.7:52144" : "[2001:db8::1:7]:52144";
}

void BM_LogBuildConnectionClosed(benchmark::State& state) {
  const std::string name = "hello";
  const SocketAddress address = peer(peer_text(state));
  for (auto _ : state) {
    LogRecord record = connection_closed(name, address, "closed by peer", 1234, 5678, 42);
    benchmark::DoNotOptimize(record.message.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LogBuildConnectionClosed)->Arg(0)->Arg(1);

void BM_PeerToString(benchmark::State& state) {
  const SocketAddress address = peer(peer_text(state));
  for (auto _ : state) {
    std::string text = address.to_string();
    benchmark::DoNotOptimize(text.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PeerToString)->Arg(0)->Arg(1);

// range(0): 0 = plain line, 1 = with the "<6>" journald priority prefix.
void BM_StderrSinkFormat(benchmark::State& state) {
  const LogRecord record =
      connection_closed("hello", peer("203.0.113.7:52144"), "closed by peer", 1234, 5678, 42);
  const bool prefix = state.range(0) != 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    std::string line = StderrSink::format(record, prefix);
    bytes += static_cast<int64_t>(line.size());
    benchmark::DoNotOptimize(line.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_StderrSinkFormat)->Arg(0)->Arg(1);

// Counts what reaches it; stands in for the stderr or journal sink.
class CountingSink final : public LogSink {
 public:
  void write(const LogRecord& record) noexcept override {
    benchmark::DoNotOptimize(record.message.data());
    ++written;
  }
  uint64_t written = 0;
};

// The full per-connection cost without the write(2): build, rate-limit, format.
void BM_LogClosedEndToEnd(benchmark::State& state) {
  const std::string name = "hello";
  const SocketAddress address = peer("203.0.113.7:52144");
  for (auto _ : state) {
    LogRecord record = connection_closed(name, address, "closed by peer", 1234, 5678, 42);
    std::string line = StderrSink::format(record, true);
    benchmark::DoNotOptimize(line.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LogClosedEndToEnd);

// RateLimitedSink::write with a frozen clock. range(0) is the limit: 0 passes
// everything without looking at fields; a small limit means nearly every
// record is counted and suppressed (the flood case the limit exists for).
void BM_RateLimitedSinkWrite(benchmark::State& state) {
  const LogRecord record =
      connection_closed("hello", peer("203.0.113.7:52144"), "closed by peer", 1234, 5678, 42);
  CountingSink next;
  const auto frozen = Clock::now();
  RateLimitedSink sink(next, static_cast<uint32_t>(state.range(0)), [frozen] { return frozen; });
  for (auto _ : state) sink.write(record);
  state.counters["passed"] = static_cast<double>(next.written);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RateLimitedSinkWrite)->Arg(0)->Arg(1000);

}  // namespace
