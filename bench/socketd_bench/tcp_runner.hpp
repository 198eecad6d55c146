// TcpRunner: runs one TCP mode (echo, chat, connect, upload, hold). Owns the
// epoll instance, the connection slots, the pacer and the counters, and drives
// the event loop until the duration is over, the --count operations are all
// answered, every slot has failed, or SIGINT/SIGTERM arrives. In hold mode the
// duration starts once every connect has succeeded or failed.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "clock.hpp"
#include "endpoint.hpp"
#include "epoll.hpp"
#include "options.hpp"
#include "pacer.hpp"
#include "payload.hpp"
#include "run_context.hpp"
#include "run_result.hpp"
#include "stats.hpp"
#include "stop_signal.hpp"
#include "tcp_connection.hpp"

namespace socketd::bench {

class TcpRunner {
 public:
  TcpRunner(const Options& options, const Endpoint& target, std::vector<Endpoint> sources);
  TcpRunner(const TcpRunner&) = delete;  // ctx_ points into this object
  TcpRunner& operator=(const TcpRunner&) = delete;

  // False (with the reason) if the epoll instance or the signalfd is missing.
  bool prepare(std::string& error);
  RunResult run();

 private:
  std::unique_ptr<TcpConnection> make_connection(uint32_t slot);
  int64_t begin_time(uint32_t slot) const noexcept;
  void begin_due_slots(int64_t now) noexcept;
  void run_ready_list() noexcept;
  bool dispatch(std::span<epoll_event> events) noexcept;  // false: stop requested
  void release_aborts(int64_t now) noexcept;
  bool server_read_everything() const noexcept;
  bool all_retired() const noexcept;
  bool all_settled() const noexcept;
  RunResult finish(int64_t now, bool interrupted);

  const Options& options_;
  const Endpoint& target_;
  std::vector<Endpoint> sources_;
  Payload payload_;
  std::string stream_reply_;  // stream mode: see StreamConnection::expected_reply
  Stats stats_;
  Pacer pacer_;
  Epoll epoll_;
  StopSignal stop_;
  std::vector<char> read_buffer_;
  std::vector<uint64_t> ready_;
  RunContext ctx_;
  std::vector<std::unique_ptr<TcpConnection>> connections_;
  int64_t start_ns_ = 0;
  uint32_t next_begin_ = 0;  // slots [0, next_begin_) have begun
  int64_t connect_phase_ns_ = 0;
  int64_t abort_check_at_ = kNever;  // --abort-after: next look at the server's queues
  int64_t abort_held_since_ = kNever;
};

}  // namespace socketd::bench
