#include "tcp_connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

#include "clock.hpp"

namespace socketd::bench {
namespace {

// Whether the handshake just completed needed the SYN sent again: the
// server's accept queue was full (listen backlog too small) and it dropped
// the SYN; the first retry comes after the initial RTO of 1 s. TCP_INFO
// counts the retransmission; without it, a connect that took that long.
bool needed_syn_retransmit(int fd, int64_t connect_ns) noexcept {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
      len >= offsetof(tcp_info, tcpi_total_retrans) + sizeof info.tcpi_total_retrans) {
    return info.tcpi_total_retrans > 0;
  }
  return connect_ns >= kNsPerSec;
}

// Reads per event before the connection yields to the others; 16 x 64 KiB.
constexpr int kReadsPerEvent = 16;

}  // namespace

void TcpConnection::begin(int64_t now) noexcept {
  on_begin(now);
  pull_work(now);
}

void TcpConnection::pull_work(int64_t now) noexcept {
  bool started = false;
  while (!retired_ && has_capacity()) {
    const auto scheduled = ctx_.pacer.grant(slot_, now);
    if (!scheduled) break;
    granted_ = true;
    start_operation(*scheduled, now);
    started = true;
  }
  // One send for everything a pipelined burst queued.
  if (started && is_open()) flush();
  update_deadline(now);
}

void TcpConnection::on_io(uint32_t generation, uint32_t events) noexcept {
  if (!fd_ || generation != generation_) return;
  const int64_t now = now_ns();
  if (connecting_ && !finish_connect(events, now)) return;
  if ((events & EPOLLOUT) != 0) {
    writable_ = true;
    flush();
    if (fd_ && generation == generation_ && writable_ && out_.empty()) on_writable(now);
  }
  if (fd_ && generation == generation_ && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
    read_available(events, now);
  }
  // May reconnect (modes with one connection per operation): from here on
  // the slot can hold a new socket with a new generation.
  pull_work(now);
}

void TcpConnection::check_deadline(int64_t now) noexcept {
  if (deadline_ != 0 && now >= deadline_) fail(ErrorKind::kTimeout);
}

uint64_t TcpConnection::shutdown() noexcept {
  const uint64_t pending = is_open() ? unanswered() : 0;
  close_socket();
  return pending;
}

bool TcpConnection::open_socket(int64_t now) noexcept {
  dialed_ = true;
  const Endpoint& target = ctx_.target;
  Fd fd(::socket(target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    fail(classify_errno(errno), errno);
    return false;
  }
  const int one = 1;
  // Requests are small and latency-bound: never let Nagle hold one back.
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!ctx_.sources.empty()) {
    const Endpoint& source = ctx_.sources[slot_ % ctx_.sources.size()];
    // Without this, bind() must reserve a local port good for any target,
    // which caps a source address at ~28k connections; with it, connect()
    // picks the port per (source, target) pair.
    ::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd.get(), source.addr(), source.size()) != 0) {
      fail(ErrorKind::kOther, errno);
      return false;
    }
  }
  if (::connect(fd.get(), target.addr(), target.size()) != 0 && errno != EINPROGRESS) {
    fail(classify_errno(errno), errno);
    return false;
  }
  fd_ = std::move(fd);
  ++generation_;
  // Registered after connect(): an unconnected TCP socket polls as EPOLLHUP.
  // Registered once for everything; readiness is remembered, never re-armed.
  if (const auto ec = ctx_.epoll.add(fd_.get(), key(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)) {
    fail(ErrorKind::kOther, ec.value());
    return false;
  }
  connecting_ = true;
  writable_ = false;
  deadline_ = now + ctx_.timeout_ns;
  connect_started_ = now;
  return true;
}

bool TcpConnection::finish_connect(uint32_t events, int64_t now) noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    fail(classify_errno(err), err);
    return false;
  }
  if ((events & EPOLLOUT) == 0) return false;  // handshake still in progress
  connecting_ = false;
  connected_ = true;
  ctx_.stats.connection_opened();
  if (needed_syn_retransmit(fd_.get(), now - connect_started_)) ctx_.stats.record_syn_retransmit();
  const uint32_t generation = generation_;
  on_connected(now);
  return fd_ && generation == generation_;
}

void TcpConnection::close_socket() noexcept {
  if (connected_) ctx_.stats.connection_closed();
  connected_ = false;
  connecting_ = false;
  writable_ = false;
  fd_.reset();
  out_.clear();
  out_sent_ = 0;
  deadline_ = 0;
}

void TcpConnection::fail(ErrorKind kind, int err) noexcept {
  ctx_.stats.record_error(kind, err);
  close_socket();
  retired_ = true;
}

void TcpConnection::flush() noexcept {
  while (fd_ && out_sent_ < out_.size()) {
    if (!writable_) return;  // EPOLLOUT will call us again
    const ssize_t n =
        ::send(fd_.get(), out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
    if (n >= 0) {
      out_sent_ += static_cast<size_t>(n);
      ctx_.stats.add_sent(static_cast<uint64_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      writable_ = false;
      return;
    } else if (errno != EINTR) {
      fail(classify_errno(errno), errno);
      return;
    }
  }
  out_.clear();
  out_sent_ = 0;
}

size_t TcpConnection::send_direct(std::string_view bytes, int64_t now) noexcept {
  size_t sent = 0;
  while (fd_ && writable_ && sent < bytes.size()) {
    const ssize_t n = ::send(fd_.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
      ctx_.stats.add_sent(static_cast<uint64_t>(n));
      if (deadline_ != 0) deadline_ = now + ctx_.timeout_ns;  // progress
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      writable_ = false;
    } else if (errno != EINTR) {
      fail(classify_errno(errno), errno);
      return 0;
    }
  }
  return sent;
}

void TcpConnection::shutdown_write() noexcept {
  if (fd_) ::shutdown(fd_.get(), SHUT_WR);
}

void TcpConnection::read_available(uint32_t events, int64_t now) noexcept {
  const uint32_t generation = generation_;
  const auto buffer = ctx_.read_buffer;
  // The event mask is computed when epoll hands the event over: if it holds no
  // RDHUP/HUP/ERR, a short read proves the queue empty, and anything arriving
  // later raises a new edge (libuv's UV_HANDLE_READ_PARTIAL). Otherwise read
  // on until EOF or the error, which would never be reported again.
  const bool peer_done = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  for (int i = 0; i < kReadsPerEvent; ++i) {
    const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
    if (n > 0) {
      const auto got = static_cast<size_t>(n);
      ctx_.stats.add_received(got);
      if (deadline_ != 0) deadline_ = now + ctx_.timeout_ns;  // progress
      on_bytes(std::string_view(buffer.data(), got), now);
      if (!fd_ || generation != generation_) return;
      if (got < buffer.size() && !peer_done) {
        on_read_drained(now);
        return;
      }
    } else if (n == 0) {
      on_eof(now);
      return;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      on_read_drained(now);
      return;
    } else if (errno != EINTR) {
      fail(classify_errno(errno), errno);
      return;
    }
  }
  // Budget used up with data possibly still queued: edge-triggered epoll will
  // not report it again, so the runner calls us back before it blocks.
  ctx_.ready.push_back(key());
}

void TcpConnection::update_deadline(int64_t now) noexcept {
  if (!waiting_on_server()) {
    deadline_ = 0;
  } else if (deadline_ == 0) {
    deadline_ = now + ctx_.timeout_ns;
  }
}

void TcpConnection::reset_connection() noexcept {
  if (fd_) {
    const linger hard{.l_onoff = 1, .l_linger = 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  ++completed_;
  ctx_.stats.record_abort();
  close_socket();
}

void TcpConnection::complete(int64_t scheduled, int64_t now) noexcept {
  ++completed_;
  ctx_.stats.record_op(now - scheduled);
}

}  // namespace socketd::bench
