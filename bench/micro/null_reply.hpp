// NullReply: a Reply that keeps nothing but counts what a session asked for,
// so a benchmark measures the protocol and not a socket or a buffer.
#pragma once

#include <cstddef>
#include <string_view>

#include <benchmark/benchmark.h>

#include "service/session.hpp"

namespace socketd::micro {

class NullReply final : public Reply {
 public:
  void send(std::string_view first, std::string_view second) override {
    // Touch the bytes' addresses so the optimiser cannot drop the reply.
    benchmark::DoNotOptimize(first.data());
    benchmark::DoNotOptimize(second.data());
    bytes += first.size() + second.size();
    ++sends;
  }
  void close() override { ++closes; }

  size_t bytes = 0;
  size_t sends = 0;
  size_t closes = 0;
};

}  // namespace socketd::micro
