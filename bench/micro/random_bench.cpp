// The random number at the end of every chat reply: draw, then format.
#include <charconv>
#include <cstdint>
#include <limits>

#include <benchmark/benchmark.h>

#include "service/random_source.hpp"

namespace {

using socketd::RandomSource;

int64_t lo(const benchmark::State& state) { return state.range(0); }
int64_t hi(const benchmark::State& state) { return state.range(1); }

void BM_RandomUniform(benchmark::State& state) {
  RandomSource random(42);
  for (auto _ : state) benchmark::DoNotOptimize(random.uniform(lo(state), hi(state)));
  state.SetItemsProcessed(state.iterations());
}

// As ChatSession::answer does it: uniform, then to_chars into a stack buffer.
void BM_RandomToChars(benchmark::State& state) {
  RandomSource random(42);
  char digits[24];
  int64_t bytes = 0;
  for (auto _ : state) {
    auto* end = std::to_chars(digits, digits + sizeof digits, random.uniform(lo(state), hi(state))).ptr;
    benchmark::DoNotOptimize(digits);
    bytes += end - digits;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}

// The default [1, 1000], and the widest range a config allows.
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
BENCHMARK(BM_RandomUniform)->Args({1, 1000})->Args({0, kMax});
BENCHMARK(BM_RandomToChars)->Args({1, 1000})->Args({0, kMax});

}  // namespace
