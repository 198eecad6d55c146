// One message through each protocol state machine, answered into a NullReply.
#include <memory>
#include <span>
#include <string>

#include <benchmark/benchmark.h>

#include "null_reply.hpp"
#include "service/banner.hpp"
#include "service/chat.hpp"
#include "service/echo.hpp"
#include "service/upload.hpp"
#include "support/memory_upload_target.hpp"

namespace {

using namespace socketd;
using socketd::micro::NullReply;

constexpr std::string_view kMessage = "hello from the benchmark\n";

// Chunk framing: one read is one message, answered with it and a random number.
void BM_ChatChunk(benchmark::State& state) {
  const ChatOptions options;
  RandomSource random(42);
  ChatSession session(options, random);
  NullReply reply;
  for (auto _ : state) session.on_data(std::span<const char>(kMessage), reply);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kMessage.size()));
}
BENCHMARK(BM_ChatChunk);

// Line framing, one complete line per read (the common interactive case).
void BM_ChatLine(benchmark::State& state) {
  ChatOptions options;
  options.line_framing = true;
  RandomSource random(42);
  ChatSession session(options, random);
  NullReply reply;
  for (auto _ : state) session.on_data(std::span<const char>(kMessage), reply);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kMessage.size()));
}
BENCHMARK(BM_ChatLine);

// A chat connection's whole life without the socket: create the session the
// way ServiceRuntime::make_session does, greet, one message, the exit word.
void BM_ChatSessionLifecycle(benchmark::State& state) {
  ChatOptions options;
  options.greeting = "hello";
  RandomSource random(42);
  NullReply reply;
  for (auto _ : state) {
    std::unique_ptr<Session> session = std::make_unique<ChatSession>(options, random);
    session->on_open(reply);
    session->on_data(std::span<const char>(kMessage), reply);
    session->on_data(std::span<const char>("exit\n", 5), reply);
    session->on_close();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChatSessionLifecycle);

// Echo and an upload chunk pass a view of the read along without copying, so
// only items are reported: a bytes/s figure would be meaningless here.
void BM_Echo(benchmark::State& state) {
  const std::string chunk(static_cast<size_t>(state.range(0)), 'e');
  EchoSession session;
  NullReply reply;
  for (auto _ : state) session.on_data(std::span<const char>(chunk), reply);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Echo)->Arg(64)->Arg(64 << 10);

// Banner: the session is created per connection (make_session) and answers on open.
void BM_BannerOpen(benchmark::State& state) {
  const std::string message = "success!";
  NullReply reply;
  for (auto _ : state) {
    std::unique_ptr<Session> session = std::make_unique<BannerSession>(message);
    session->on_open(reply);
    session->on_close();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(message.size()));
}
BENCHMARK(BM_BannerOpen);

// The tests' in-memory target, synchronous, keeping and hashing nothing: the
// upload protocol's own cost, without a file.
test::MemoryUploadLog& null_uploads() {
  static test::MemoryUploadLog log = [] {
    test::MemoryUploadLog l;
    l.keep_data = false;
    l.hash = false;
    return l;
  }();
  return log;
}

UploadSession::Opener null_opener() { return test::memory_opener(null_uploads()); }

// One chunk of an upload in progress: append, acknowledge.
void BM_UploadChunk(benchmark::State& state) {
  const std::string chunk(static_cast<size_t>(state.range(0)), 'u');
  const UploadOptions options;  // max_bytes 0: unlimited, so the session never refuses
  UploadSession session(options, null_opener(), nullptr);
  NullReply reply;
  for (auto _ : state) session.on_data(std::span<const char>(chunk), reply);
  if (reply.closes != 0) state.SkipWithError("upload refused");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UploadChunk)->Arg(64)->Arg(64 << 10);

// A whole small upload: open on the first chunk, one chunk, the end word,
// the commit and the finished report (with a callback like the runtime's).
void BM_UploadLifecycle(benchmark::State& state) {
  const std::string chunk(1024, 'u');
  const UploadOptions options;
  NullReply reply;
  uint64_t reported = 0;
  for (auto _ : state) {
    UploadSession session(options, null_opener(), [&reported](const UploadResult& result) {
      reported += result.bytes;
    });
    session.on_data(std::span<const char>(chunk), reply);
    session.on_data(std::span<const char>("quit", 4), reply);
    session.on_close();
  }
  benchmark::DoNotOptimize(reported);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UploadLifecycle);

}  // namespace
