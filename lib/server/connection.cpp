#include "server/connection.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>

#include "net/socket.hpp"
#include "server/service_runtime.hpp"

namespace socketd {

Connection::Connection(ServiceRuntime& service, std::shared_ptr<const ServiceSettings> settings,
                       Fd fd, const SocketAddress& peer)
    : service_(service),
      settings_(std::move(settings)),
      fd_(std::move(fd)),
      peer_(peer),
      session_(service.make_session(*settings_)),
      opened_(service.context().reactor.now()) {
  idle_.owner = this;
  age_.owner = this;
}

Connection::~Connection() = default;

void Connection::start() {
  if (auto ec = service_.context().reactor.add(fd_.get(), this)) {
    finish("cannot register with epoll: " + ec.message(), false);
    return;
  }
  service_.touch(*this);
  session_->on_open(*this);
  settle();
}

void Connection::on_io(uint32_t events) noexcept {
  // Events queued before we closed in this same batch are stale: ignore them.
  if (closed_) return;
  if (events & EPOLLOUT) flush();
  if (closed_) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | kResume)) read_some();
}

void Connection::read_some() {
  if (input_paused_ || input_done_ || close_requested_) return;
  const std::span<char> scratch = settings_->config.mode == Mode::kStreamUpload
                                      ? service_.context().bulk_scratch()
                                      : std::span<char>(service_.context().scratch);
  // The same bytes per turn whatever the buffer: a stream upload's bigger
  // reads (hash + write each) must not hold the loop longer than others do.
  const size_t budget =
      std::max<size_t>(1, kReadBudget * sizeof(service_.context().scratch) / scratch.size());
  for (size_t i = 0; i < budget; ++i) {
    auto n = recv_some(fd_.get(), scratch);
    if (!n) {
      if (would_block(n.error())) return;
      finish(n.error() == std::errc::connection_reset ? "reset by peer" : "read error", false);
      return;
    }
    if (*n == 0) {
      input_done_ = true;
      session_->on_eof(*this);
      settle();
      return;
    }
    bytes_in_ += *n;
    service_.touch(*this);
    session_->on_data(std::span<const char>(scratch.data(), *n), *this);
    settle();
    if (closed_ || close_requested_) return;
    if (out_.size() > kHighWater) {
      // Backpressure: the peer is not reading our replies. Stop reading it
      // until flush() drains the queue; other clients are unaffected.
      input_paused_ = true;
      return;
    }
  }
  // Budget spent with data possibly left: edge-triggering will not tell us
  // again, so ask to be run on the next turn.
  service_.context().reactor.mark_ready(this);
}

void Connection::send(std::string_view first, std::string_view second) {
  if (closed_ || broken_) return;
  if (!out_.empty()) {
    out_.append(first);
    out_.append(second);
    return;
  }
  iovec iov[2] = {{const_cast<char*>(first.data()), first.size()},
                  {const_cast<char*>(second.data()), second.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = second.empty() ? 1 : 2;
  ssize_t n;
  do {
    n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN) {
      broken_ = true;
      return;
    }
    n = 0;
  }
  auto sent = static_cast<size_t>(n);
  bytes_out_ += sent;
  if (sent < first.size()) {
    out_.append(first.substr(sent));
    out_.append(second);
  } else {
    out_.append(second.substr(sent - first.size()));
  }
}

void Connection::flush() {
  while (!out_.empty()) {
    auto n = send_some(fd_.get(), out_.readable());
    if (!n) {
      if (would_block(n.error())) return;
      finish("write error", false);
      return;
    }
    bytes_out_ += *n;
    out_.consume(*n);
  }
  service_.touch(*this);
  if (close_requested_) {
    finish(close_reason_, true);
  } else if (input_paused_) {
    input_paused_ = false;
    service_.context().reactor.mark_ready(this);  // data may be waiting, unannounced
  }
}

void Connection::settle() {
  if (closed_) return;
  if (broken_) {
    finish("peer stopped receiving", false);
  } else if (close_requested_) {
    close_reason_ = input_done_ ? "closed by peer" : "closed by server";
    if (out_.empty()) finish(close_reason_, true);
    // else: flush() finishes once the last byte is out
  } else if (input_done_ && out_.empty()) {
    finish("closed by peer", true);
  }
}

void Connection::abort(std::string_view reason) {
  if (!closed_) finish(reason, false);
}

void Connection::finish(std::string_view reason, bool graceful) {
  closed_ = true;
  service_.context().reactor.remove(fd_.get());
  if (graceful) {
    // Unread input makes close() send RST and can destroy our last reply in
    // flight; discard it so the peer sees every byte and then FIN.
    auto& scratch = service_.context().scratch;
    for (int i = 0; i < 4; ++i) {
      auto n = recv_some(fd_.get(), scratch);
      if (!n || *n == 0) break;
    }
    ::shutdown(fd_.get(), SHUT_WR);
  }
  fd_.reset();
  session_->on_close();
  service_.stats().bytes_in += bytes_in_;
  service_.stats().bytes_out += bytes_out_;
  auto& logger = service_.context().logger;
  if (logger.enabled(LogLevel::kInfo)) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        service_.context().reactor.now() - opened_).count();
    const std::string& name = settings_->config.name;
    logger.log({LogLevel::kInfo, LogEvent::kConnectionClosed,
                name + ": " + peer_.to_string() + " " + std::string(reason) + " (in " +
                    std::to_string(bytes_in_) + " B, out " + std::to_string(bytes_out_) +
                    " B, " + std::to_string(ms) + " ms)",
                {{"SERVICE", name},
                 {"PEER", peer_.to_string()},
                 {"BYTES_IN", std::to_string(bytes_in_)},
                 {"BYTES_OUT", std::to_string(bytes_out_)},
                 {"DURATION_MS", std::to_string(ms)},
                 {"REASON", std::string(reason)}}});
  }
  service_.on_closed(*this);  // destroys us at the end of this turn
}

}  // namespace socketd
