// TimerQueue: the reactor's timers (sweeps, drain, listener pauses, watchdog).
#include <chrono>
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "reactor/timer_queue.hpp"

namespace {

using socketd::Clock;
using socketd::TimerId;
using socketd::TimerQueue;
using namespace std::chrono_literals;

// With range(0) live timers queued further out (the sweep, the status
// timer...): add one that comes first (a listener pause), cancel it, and ask
// for the next deadline as the reactor does after every change. The cancelled
// entry is at the heap's top, so next_deadline drops it at once.
//
// A cancelled timer later than a live one stays in the heap until its
// deadline surfaces (lazy cancel); that is only bounded because socketd has
// no per-connection timers, so it is not measured here.
void BM_TimerAddCancel(benchmark::State& state) {
  const auto base = Clock::time_point{} + 1h;
  TimerQueue queue;
  for (int64_t i = 0; i < state.range(0); ++i) queue.add(base + std::chrono::milliseconds(i), [] {});
  for (auto _ : state) {
    const TimerId id = queue.add(base - 1s, [] {});
    queue.cancel(id);
    benchmark::DoNotOptimize(queue.next_deadline());
  }
  if (queue.size() != static_cast<size_t>(state.range(0))) state.SkipWithError("timers lost");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerAddCancel)->Arg(0)->Arg(16)->Arg(1024);

// Add range(0) timers in scrambled order, then fire them all in one run_due.
void BM_TimerAddRunDue(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  std::vector<Clock::time_point> deadlines(n);
  uint32_t x = 2463534242u;
  for (auto& d : deadlines) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    d = Clock::time_point{} + std::chrono::microseconds(x % 1'000'000);
  }
  uint64_t fired = 0;
  TimerQueue queue;
  for (auto _ : state) {
    for (const auto& d : deadlines) queue.add(d, [&fired] { ++fired; });
    queue.run_due(Clock::time_point{} + 1s);
  }
  if (fired != n * static_cast<uint64_t>(state.iterations())) state.SkipWithError("timers lost");
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_TimerAddRunDue)->Arg(1)->Arg(16)->Arg(1024);

// The periodic case: a callback that re-arms itself, as the sweep and the
// status timers do; one run_due per iteration fires it and it adds the next.
void BM_TimerRearm(benchmark::State& state) {
  TimerQueue queue;
  auto now = Clock::time_point{};
  std::function<void()> rearm = [&] { queue.add(now + 1s, rearm); };
  queue.add(now + 1s, rearm);
  for (auto _ : state) {
    now += 1s;
    queue.run_due(now);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerRearm);

}  // namespace
