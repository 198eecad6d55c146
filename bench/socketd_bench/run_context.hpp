// RunContext: what every connection of a TCP run shares. All members are
// owned by the TcpRunner and outlive every connection.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "endpoint.hpp"
#include "epoll.hpp"
#include "options.hpp"
#include "pacer.hpp"
#include "payload.hpp"
#include "stats.hpp"

namespace socketd::bench {

struct RunContext {
  const Options& options;
  const Endpoint& target;
  const std::vector<Endpoint>& sources;
  const Payload& payload;
  Stats& stats;
  Pacer& pacer;
  Epoll& epoll;
  int64_t timeout_ns;
  std::span<char> read_buffer;   // scratch for recv(); single-threaded, so shared
  std::vector<uint64_t>& ready;  // keys of connections whose read budget ran out
  const std::string& stream_reply;  // stream: the reply that proves the file arrived intact
};

}  // namespace socketd::bench
