// IdleList::touch: called on every read and every flush of every connection.
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "server/idle_list.hpp"

namespace {

using socketd::Clock;
using socketd::IdleHook;
using socketd::IdleList;

// range(0) connections touched round-robin: each touch moves the oldest one
// from the front to the back (unlink + relink), with the hooks spread over
// memory as Connection objects are.
void BM_IdleListTouchRoundRobin(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  struct Padded {  // roughly a Connection's footprint apart
    IdleHook hook;
    char rest[512];
  };
  std::vector<Padded> connections(n);
  IdleList list;
  auto now = Clock::time_point{};
  for (auto& c : connections) list.touch(c.hook, now);
  size_t next = 0;
  for (auto _ : state) {
    now += std::chrono::nanoseconds(1);
    list.touch(connections[next].hook, now);
    if (++next == n) next = 0;
  }
  benchmark::DoNotOptimize(list.oldest());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IdleListTouchRoundRobin)->Arg(16)->Arg(1024)->Arg(65536);

// The same connection touched again (several reads in a row): the tail fast path.
void BM_IdleListTouchTail(benchmark::State& state) {
  IdleHook a;
  IdleHook b;
  IdleList list;
  auto now = Clock::time_point{};
  list.touch(a, now);
  list.touch(b, now);
  for (auto _ : state) {
    now += std::chrono::nanoseconds(1);
    list.touch(b, now);
    benchmark::DoNotOptimize(b.last_active);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IdleListTouchTail);

}  // namespace
