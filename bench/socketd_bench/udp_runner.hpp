// UdpRunner: udp mode. Sends --size datagrams from --connections connected UDP
// sockets with sendmmsg, --batch per call, as fast as the kernel accepts them
// or at --rate datagrams/s. Nothing comes back, so it reports datagrams sent
// and send errors (ECONNREFUSED when the port is unreachable), not latency.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "endpoint.hpp"
#include "epoll.hpp"
#include "fd.hpp"
#include "options.hpp"
#include "pacer.hpp"
#include "payload.hpp"
#include "run_result.hpp"
#include "stats.hpp"
#include "stop_signal.hpp"

namespace socketd::bench {

class UdpRunner {
 public:
  UdpRunner(const Options& options, const Endpoint& target);

  // Opens the sockets; false (with the reason) if that or epoll fails.
  bool prepare(std::string& error);
  RunResult run();

 private:
  struct Sender {
    Fd fd;
    bool writable = true;  // edge-triggered: cleared on EAGAIN, set by EPOLLOUT
  };

  // Sends up to `n` datagrams from one writable socket; returns how many went.
  uint64_t send_batch(uint64_t n) noexcept;
  bool any_writable() const noexcept;
  bool dispatch(std::span<epoll_event> events) noexcept;  // false: stop requested

  const Options& options_;
  const Endpoint& target_;
  Payload payload_;
  Stats stats_;
  Pacer pacer_;
  Epoll epoll_;
  StopSignal stop_;
  std::vector<Sender> senders_;
  size_t next_sender_ = 0;
  uint64_t next_seq_ = 0;
  std::vector<mmsghdr> messages_;
  std::vector<iovec> iovecs_;
};

}  // namespace socketd::bench
