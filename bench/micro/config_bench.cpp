// parse_config of the shipped config/socketd.toml: the cost of a start or a reload.
#include <fstream>
#include <sstream>
#include <string>

#include <benchmark/benchmark.h>

#include "config/config_loader.hpp"

namespace {

constexpr const char* kConfigPath = SOCKETD_SOURCE_DIR "/config/socketd.toml";

std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

void BM_ParseConfig(benchmark::State& state) {
  const std::string text = read_file(kConfigPath);
  if (text.empty()) {
    state.SkipWithError("cannot read " SOCKETD_SOURCE_DIR "/config/socketd.toml");
    return;
  }
  for (auto _ : state) {
    auto load = socketd::parse_config(text, kConfigPath);
    if (!load.ok()) {
      state.SkipWithError(load.errors.front().to_string().c_str());
      break;
    }
    benchmark::DoNotOptimize(load);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_ParseConfig);

}  // namespace
