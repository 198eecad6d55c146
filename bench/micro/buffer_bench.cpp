// Buffer: what a connection's output queue does with the leftover of a send.
#include <string>

#include <benchmark/benchmark.h>

#include "buffer/buffer.hpp"

namespace {

using socketd::Buffer;

std::string payload(size_t n) { return std::string(n, 'x'); }

size_t arg(const benchmark::State& state) { return static_cast<size_t>(state.range(0)); }

// Append one leftover, drain it at once: the block is allocated and freed on
// every round (the free-when-drained path an idle connection relies on).
void BM_BufferAppendConsumeDrained(benchmark::State& state) {
  const std::string bytes = payload(arg(state));
  Buffer buffer;
  for (auto _ : state) {
    buffer.append(bytes);
    benchmark::DoNotOptimize(buffer.readable().data());
    buffer.consume(bytes.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BufferAppendConsumeDrained)->RangeMultiplier(4)->Range(64, 64 << 10);

// The same with one byte always left queued: the block is kept and the
// consumed prefix is reclaimed by memmove instead (the steady-state path).
void BM_BufferAppendConsumeResident(benchmark::State& state) {
  const std::string bytes = payload(arg(state));
  Buffer buffer;
  buffer.append("r");
  for (auto _ : state) {
    buffer.append(bytes);
    benchmark::DoNotOptimize(buffer.readable().data());
    buffer.consume(bytes.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BufferAppendConsumeResident)->RangeMultiplier(4)->Range(64, 64 << 10);

// A slow peer: the leftover leaves in 1460-byte sends (one TCP segment each),
// the last one draining and freeing the block.
void BM_BufferPartialDrain(benchmark::State& state) {
  constexpr size_t kSend = 1460;
  const std::string bytes = payload(arg(state));
  Buffer buffer;
  for (auto _ : state) {
    buffer.append(bytes);
    while (!buffer.empty()) {
      benchmark::DoNotOptimize(buffer.readable().data());
      buffer.consume(kSend);
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BufferPartialDrain)->RangeMultiplier(4)->Range(64, 64 << 10);

// A peer that reads nothing: 64-byte replies pile up, exercising the doubling
// growth, up to Connection::kHighWater (256 KiB), then drain at once.
void BM_BufferGrowThenDrain(benchmark::State& state) {
  constexpr size_t kReply = 64;
  const std::string bytes = payload(kReply);
  const size_t total = arg(state);
  Buffer buffer;
  for (auto _ : state) {
    for (size_t queued = 0; queued < total; queued += kReply) buffer.append(bytes);
    benchmark::DoNotOptimize(buffer.readable().data());
    buffer.consume(buffer.size());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(total / kReply));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BufferGrowThenDrain)->RangeMultiplier(4)->Range(256, 256 << 10);

}  // namespace
