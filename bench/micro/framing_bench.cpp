// ChatSession line framing: scanning reads for "\n" and carrying a partial
// message across reads.
#include <span>
#include <string>

#include <benchmark/benchmark.h>

#include "null_reply.hpp"
#include "service/chat.hpp"

namespace {

using socketd::ChatOptions;
using socketd::ChatSession;
using socketd::RandomSource;
using socketd::micro::NullReply;

ChatOptions line_options() {
  ChatOptions options;
  options.line_framing = true;
  return options;
}

// A pipelining client: one 16 KiB read holding many lines of range(0) bytes
// (including the "\n"), each answered with its own reply.
void BM_ChatLineManyShortLines(benchmark::State& state) {
  constexpr size_t kChunk = 16 << 10;
  const auto line_bytes = static_cast<size_t>(state.range(0));
  std::string line(line_bytes - 1, 'm');
  line += '\n';
  std::string chunk;
  while (chunk.size() + line.size() <= kChunk) chunk += line;
  const size_t lines = chunk.size() / line.size();

  const ChatOptions options = line_options();
  RandomSource random(42);
  ChatSession session(options, random);
  NullReply reply;
  for (auto _ : state) session.on_data(std::span<const char>(chunk), reply);
  if (reply.closes != 0) state.SkipWithError("session closed");
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(lines));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(chunk.size()));
}
BENCHMARK(BM_ChatLineManyShortLines)->Arg(8)->Arg(32)->Arg(128)->Arg(1024);

// One line of range(0) bytes arriving in 1460-byte reads (one TCP segment
// each): the session buffers the partial message, then answers it once.
void BM_ChatLineLongLineSplit(benchmark::State& state) {
  constexpr size_t kRead = 1460;
  const auto line_bytes = static_cast<size_t>(state.range(0));
  std::string line(line_bytes - 1, 'l');
  line += '\n';

  ChatOptions options = line_options();
  options.max_line_bytes = static_cast<uint32_t>(line_bytes);
  RandomSource random(42);
  ChatSession session(options, random);
  NullReply reply;
  for (auto _ : state) {
    for (size_t at = 0; at < line.size(); at += kRead) {
      const size_t n = std::min(kRead, line.size() - at);
      session.on_data(std::span<const char>(line.data() + at, n), reply);
    }
  }
  if (reply.closes != 0 || reply.sends != static_cast<size_t>(state.iterations())) {
    state.SkipWithError("expected one reply per line");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(line.size()));
}
BENCHMARK(BM_ChatLineLongLineSplit)->Arg(4 << 10)->Arg(16 << 10)->Arg(64 << 10);

}  // namespace
