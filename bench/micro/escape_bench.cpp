// escape_payload: what the udp-log mode does to every datagram before logging it.
#include <cstdint>
#include <span>
#include <string>

#include <benchmark/benchmark.h>

#include "service/escape.hpp"

namespace {

std::string ascii(size_t n) {
  static constexpr std::string_view kText = "GET /index.html HTTP/1.1 host=example.org user=42 ";
  std::string s;
  while (s.size() < n) s += kText;
  s.resize(n);
  return s;
}

// Mixed scripts: 1-, 2-, 3- and 4-byte sequences, cut on a sequence boundary.
std::string utf8(size_t n) {
  static constexpr std::string_view kText = "naïve café Ωμέγα 日本語テキスト 🙂 ok ";
  std::string s;
  while (s.size() + kText.size() <= n) s += kText;
  s += ascii(n - s.size());
  return s;
}

// Every byte value in a fixed pseudo-random order: mostly escapes.
std::string binary(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 2463534242u;
  for (auto& c : s) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    c = static_cast<char>(x & 0xFF);
  }
  return s;
}

template <std::string (*Make)(size_t)>
void BM_Escape(benchmark::State& state) {
  const std::string input = Make(static_cast<size_t>(state.range(0)));
  size_t out_bytes = 0;
  for (auto _ : state) {
    std::string out = socketd::escape_payload(std::span<const char>(input));
    out_bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["out/in"] = static_cast<double>(out_bytes) / static_cast<double>(input.size());
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
// Up to 4096: escape_payload stops there by default.
BENCHMARK_TEMPLATE(BM_Escape, ascii)->Arg(64)->Arg(512)->Arg(4096)->Name("BM_EscapeAscii");
BENCHMARK_TEMPLATE(BM_Escape, utf8)->Arg(64)->Arg(512)->Arg(4096)->Name("BM_EscapeUtf8");
BENCHMARK_TEMPLATE(BM_Escape, binary)->Arg(64)->Arg(512)->Arg(4096)->Name("BM_EscapeBinary");

}  // namespace
