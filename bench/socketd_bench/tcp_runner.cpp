#include "tcp_runner.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_set>

#include "banner_connection.hpp"
#include "chat_connection.hpp"
#include "clock.hpp"
#include "echo_connection.hpp"
#include "hold_connection.hpp"
#include "progress.hpp"
#include "stream_connection.hpp"
#include "upload_connection.hpp"

namespace socketd::bench {
namespace {

constexpr size_t kReadBufferSize = 64 * 1024;
constexpr size_t kEventsPerWait = 1024;
constexpr int64_t kSweepInterval = 100 * kNsPerMs;  // deadline checks
constexpr uint64_t kStopKey = UINT64_MAX;           // slot numbers stay far below
// connect() costs tens of microseconds (more with many ports in use): begin at
// most this many slots per loop turn so handshakes completing meanwhile are
// served, and timed, without waiting for all 20k connects to be issued.
constexpr uint32_t kBeginsPerTurn = 256;

size_t payload_size(const Options& options) {
  if (options.mode == Mode::kStream) return StreamConnection::kWindow;
  return std::max(options.size, options.mode == Mode::kUpload ? options.chunk : 0);
}

}  // namespace

TcpRunner::TcpRunner(const Options& options, const Endpoint& target, std::vector<Endpoint> sources)
    : options_(options),
      target_(target),
      sources_(std::move(sources)),
      payload_(payload_size(options)),
      stream_reply_(options.mode == Mode::kStream
                        ? StreamConnection::expected_reply(payload_, options.file_size)
                        : std::string()),
      pacer_(options.rate, options.count, options.connections),
      read_buffer_(kReadBufferSize),
      ctx_{
          .options = options_,
          .target = target_,
          .sources = sources_,
          .payload = payload_,
          .stats = stats_,
          .pacer = pacer_,
          .epoll = epoll_,
          .timeout_ns = seconds_to_ns(options.timeout_s),
          .read_buffer = read_buffer_,
          .ready = ready_,
          .stream_reply = stream_reply_,
      } {
  connections_.reserve(options.connections);
  for (uint32_t slot = 0; slot < options.connections; ++slot) {
    connections_.push_back(make_connection(slot));
  }
}

bool TcpRunner::prepare(std::string& error) {
  if (!epoll_.valid() || stop_.fd() < 0) {
    error = "cannot create the epoll instance or the signalfd";
    return false;
  }
  epoll_.add(stop_.fd(), kStopKey, EPOLLIN);
  return true;
}

std::unique_ptr<TcpConnection> TcpRunner::make_connection(uint32_t slot) {
  switch (options_.mode) {
    case Mode::kEcho:
      return std::make_unique<EchoConnection>(ctx_, slot);
    case Mode::kChat:
      return std::make_unique<ChatConnection>(ctx_, slot);
    case Mode::kConnect:
      return std::make_unique<BannerConnection>(ctx_, slot);
    case Mode::kUpload:
      return std::make_unique<UploadConnection>(ctx_, slot);
    case Mode::kStream:
      return std::make_unique<StreamConnection>(ctx_, slot);
    case Mode::kHold:
    case Mode::kUdp:
      break;
  }
  return std::make_unique<HoldConnection>(ctx_, slot);
}

int64_t TcpRunner::begin_time(uint32_t slot) const noexcept {
  if (slot >= connections_.size()) return kNever;
  const double fraction = static_cast<double>(slot) / static_cast<double>(connections_.size());
  return start_ns_ + seconds_to_ns(options_.ramp_s * fraction);
}

RunResult TcpRunner::run() {
  start_ns_ = now_ns();
  pacer_.start(start_ns_);
  Progress progress(!options_.quiet, start_ns_);
  const int64_t duration = options_.duration_s ? seconds_to_ns(*options_.duration_s) : kNever;
  const bool hold = options_.mode == Mode::kHold;
  int64_t end = hold || duration == kNever ? kNever : start_ns_ + duration;
  int64_t next_sweep = start_ns_ + kSweepInterval;
  std::array<epoll_event, kEventsPerWait> events{};
  bool interrupted = false;

  for (;;) {
    const int64_t now = now_ns();
    if (now >= end) break;
    if (now >= progress.next_tick()) progress.tick(now, stats_, stats_.open_connections());
    begin_due_slots(now);
    while (const auto slot = pacer_.next_waiting(now)) connections_[*slot]->pull_work(now);
    run_ready_list();
    if (options_.abort_after) release_aborts(now);
    if (now >= next_sweep) {
      for (const auto& connection : connections_) connection->check_deadline(now);
      next_sweep = now + kSweepInterval;
      if (all_retired()) break;
      if (hold && end == kNever && all_settled()) {
        connect_phase_ns_ = now - start_ns_;
        end = now + duration;
      }
    }
    if (pacer_.exhausted() && all_settled()) break;

    const int64_t wake = ready_.empty() ? std::min({end, next_sweep, progress.next_tick(),
                                                    begin_time(next_begin_), pacer_.next_wakeup(),
                                                    abort_check_at_})
                                        : now;
    if (!dispatch(epoll_.wait(events, wake - now))) {
      interrupted = true;
      break;
    }
  }
  progress.finish();
  return finish(std::min(now_ns(), end), interrupted);
}

void TcpRunner::begin_due_slots(int64_t now) noexcept {
  for (uint32_t n = 0; n < kBeginsPerTurn && begin_time(next_begin_) <= now; ++n) {
    connections_[next_begin_++]->begin(now_ns());
  }
}

// Connections whose read budget ran out still have data queued, and
// edge-triggered epoll will not say so again: serve them before blocking.
void TcpRunner::run_ready_list() noexcept {
  if (ready_.empty()) return;
  std::vector<uint64_t> batch;
  batch.swap(ready_);
  for (const uint64_t key : batch) {
    connections_[key >> 32]->on_io(static_cast<uint32_t>(key), EPOLLIN | EPOLLRDHUP);
  }
}

// --abort-after: once every slot has begun, no connection is still on its
// way to the abort point (connecting, sending, waiting for an ack) and the
// server has read every byte sent (so each upload it abandons holds exactly
// --abort-after bytes, whatever its read speed), reset all the held ones in
// this one turn, so the server sees them end together. A server that does not
// read for --timeout gets the resets anyway.
void TcpRunner::release_aborts(int64_t now) noexcept {
  abort_check_at_ = kNever;
  if (next_begin_ != connections_.size()) return;
  bool any = false;
  for (const auto& connection : connections_) {
    if (connection->waiting_on_server()) return;
    any = any || connection->holding_abort();
  }
  if (!any) return;
  if (abort_held_since_ == kNever) abort_held_since_ = now;
  if (now - abort_held_since_ < ctx_.timeout_ns && !server_read_everything()) {
    abort_check_at_ = now + 2 * kNsPerMs;  // polled: no event says "the peer read it"
    return;
  }
  abort_held_since_ = kNever;
  for (const auto& connection : connections_) {
    if (connection->holding_abort()) connection->release_abort(now);
  }
  for (const auto& connection : connections_) connection->pull_work(now);
}

// Every byte sent on the held connections was acknowledged (SIOCOUTQ 0) and
// read by the server (its socket's rx_queue in /proc/net/tcp is 0). Only a
// server on this host shows up there; for any other, true once acknowledged.
bool TcpRunner::server_read_everything() const noexcept {
  std::unordered_set<std::string> unread;  // "LOCAL REMOTE" of server sockets with unread bytes
  if (std::FILE* f = std::fopen("/proc/net/tcp", "re")) {
    char line[512];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      char local[64], remote[64];
      unsigned state = 0;
      unsigned long tx = 0, rx = 0;
      if (std::sscanf(line, " %*s %63s %63s %x %lx:%lx", local, remote, &state, &tx, &rx) == 5 &&
          rx != 0) {
        unread.insert(std::string(local) + " " + remote);
      }
    }
    std::fclose(f);
  }
  for (const auto& connection : connections_) {
    if (!connection->holding_abort()) continue;
    const int fd = connection->socket_fd();
    int queued = 0;
    if (::ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0) return false;
    sockaddr_in self{}, peer{};
    socklen_t self_len = sizeof self, peer_len = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &self_len) != 0 ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 ||
        self.sin_family != AF_INET) {
      continue;
    }
    // /proc/net/tcp prints the address as the raw 32-bit word, the port in host order.
    char key[64];
    std::snprintf(key, sizeof key, "%08X:%04X %08X:%04X", peer.sin_addr.s_addr,
                  ntohs(peer.sin_port), self.sin_addr.s_addr, ntohs(self.sin_port));
    if (unread.contains(key)) return false;
  }
  return true;
}

bool TcpRunner::dispatch(std::span<epoll_event> events) noexcept {
  bool keep_going = true;
  for (const epoll_event& event : events) {
    if (event.data.u64 == kStopKey) {
      keep_going = !stop_.consume();
      continue;
    }
    // The key holds the slot and the generation of the socket registered;
    // the slot ignores events of a socket it closed earlier in this batch.
    connections_[event.data.u64 >> 32]->on_io(static_cast<uint32_t>(event.data.u64), event.events);
  }
  return keep_going;
}

bool TcpRunner::all_retired() const noexcept {
  return std::all_of(connections_.begin(), connections_.end(),
                     [](const auto& connection) { return connection->retired(); });
}

// Every slot has begun and none is connecting, waiting for an answer or
// holding for --abort-after.
bool TcpRunner::all_settled() const noexcept {
  return next_begin_ == connections_.size() &&
         std::none_of(connections_.begin(), connections_.end(),
                      [](const auto& connection) {
                        return connection->waiting_on_server() || connection->holding_abort();
                      });
}

RunResult TcpRunner::finish(int64_t now, bool interrupted) {
  RunResult result;
  result.elapsed_ns = now - start_ns_;
  result.interrupted = interrupted;
  result.unsent = pacer_.backlog(now);
  result.open_at_end = stats_.open_connections();
  result.not_started = connections_.size() - next_begin_;
  result.connect_phase_ns = connect_phase_ns_;
  for (const auto& connection : connections_) {
    if (connection->starved()) ++result.starved;
    result.unanswered += connection->shutdown();
  }
  result.stats = stats_;
  return result;
}

}  // namespace socketd::bench
