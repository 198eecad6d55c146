#include "server/connection.hpp"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>

#include "net/socket.hpp"
#include "server/proxy_field.hpp"
#include "server/service_runtime.hpp"

namespace socketd {

Connection::Connection(ServiceRuntime& service, std::shared_ptr<const ServiceSettings> settings,
                       Fd fd, const SocketAddress& peer)
    : service_(service),
      settings_(std::move(settings)),
      fd_(std::move(fd)),
      peer_(peer),
      opened_(service.context().reactor.now()) {
  idle_.owner = this;
  age_.owner = this;
  if (settings_->config.proxy_protocol) {
    proxied_ = std::make_unique<Proxied>();
    proxied_->proxy = peer;
    proxied_->header_wait.owner = this;
    admitted_ = false;
  } else if (settings_->config.mode != Mode::kExec) {
    session_ = service.make_session(*settings_, peer_);
  }
}

Connection::~Connection() = default;

bool Connection::save(handover::ConnectionRecord& record) const {
  if (closed_ || close_requested_ || broken_ || input_done_ || hangup_seen_ ||
      waiting_on_session_ || input_paused_) {
    return false;
  }
  if (!admitted_) {
    if (!proxied_) return false;
    record.kind = handover::SessionKind::kProxyPending;
    record.session_state = proxied_->reader.pending();
  } else {
    const Mode mode = settings_->config.mode;
    if (mode == Mode::kChat) {
      record.kind = handover::SessionKind::kChat;
    } else if (mode == Mode::kEcho) {
      record.kind = handover::SessionKind::kEcho;
    } else {
      return false;
    }
    auto state = session_->save();
    if (!state) return false;
    record.session_state = std::move(*state);
  }
  record.fd = fd_.get();
  record.peer = peer_;
  if (const SocketAddress* via = proxy()) record.proxy = *via;
  record.bytes_in = bytes_in_;
  record.bytes_out = bytes_out_;
  const auto now = service_.context().reactor.now();
  record.age_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now - opened_).count());
  record.idle_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now - idle_.last_active).count());
  const auto queued = out_.readable();
  record.pending_output.assign(queued.data(), queued.size());
  return true;
}

bool Connection::restore(const handover::ConnectionRecord& record, std::string& error) {
  using handover::SessionKind;
  const Mode mode = settings_->config.mode;
  if (record.kind == SessionKind::kProxyPending) {
    if (!proxied_) {
      error = "a PROXY header was awaited, but the service no longer has proxy_protocol";
      return false;
    }
    const auto& result = proxied_->reader.feed(record.session_state);
    if (result.status != ProxyParse::Status::kNeedMore) {
      error = "the PROXY header bytes handed over are not an incomplete header";
      return false;
    }
    bytes_in_ = record.bytes_in;
    return true;
  }
  if ((record.kind == SessionKind::kChat && mode != Mode::kChat) ||
      (record.kind == SessionKind::kEcho && mode != Mode::kEcho) ||
      (record.kind != SessionKind::kChat && record.kind != SessionKind::kEcho)) {
    error = "the service's mode changed";
    return false;
  }
  if (proxied_) {
    // Admitted through a PROXY header by the previous socketd.
    peer_ = record.peer;
    if (record.proxy) {
      proxied_->proxy = *record.proxy;
      proxied_->named_client = true;
    }
    admitted_ = true;
    session_ = service_.make_session(*settings_, peer_);
  }
  if (!session_->restore(record.session_state)) {
    error = "the session state does not fit the service's options";
    return false;
  }
  bytes_in_ = record.bytes_in;
  bytes_out_ = record.bytes_out;
  opened_ = service_.context().reactor.now() - std::chrono::milliseconds(record.age_ms);
  queue_output(record.pending_output);
  return true;
}

void Connection::resume() {
  // The idle and age timers were set from the handed-over state (adopt()).
  if (auto ec = service_.context().reactor.add(fd_.get(), this)) {
    finish("cannot register with epoll: " + ec.message(), false);
    return;
  }
  // Bytes may have arrived while no socketd watched: no edge will say so.
  service_.context().reactor.mark_ready(this);
}

void Connection::start() {
  service_.touch(*this);
  if (admitted_ && settings_->config.mode == Mode::kExec) {
    begin_exec();
    return;
  }
  if (admitted_) {  // else: no greeting before the PROXY header
    session_->on_open(*this);
    settle();
    // A session that is already done (banner) never needs the epoll set.
    if (closed_) return;
  }
  if (auto ec = service_.context().reactor.add(fd_.get(), this)) {
    finish("cannot register with epoll: " + ec.message(), false);
    return;
  }
  registered_ = true;
}

void Connection::on_io(uint32_t events) noexcept {
  // Events queued before we closed in this same batch are stale: ignore them.
  // Once a handler runs, the socket is its business (and out of the epoll set).
  if (closed_ || exec_) return;
  if (!admitted_ && settings_->config.mode == Mode::kExec) {
    read_exec_proxy_header();
    return;
  }
  if (events & EPOLLOUT) flush();
  if (closed_) return;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) hangup_seen_ = true;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | kResume)) read_some();
}

void Connection::read_some() {
  read_turn();
  // Before sleeping again: the mark must never exceed what is still coming.
  if (!closed_) follow_input_batch();
}

void Connection::follow_input_batch() {
  const size_t batch = admitted_ && session_ && !input_done_ ? session_->input_batch() : 0;
  const int mark = static_cast<int>(std::clamp<size_t>(batch, 1, 1 << 30));
  if (mark == low_water_) return;
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVLOWAT, &mark, sizeof mark) == 0) low_water_ = mark;
}

bool Connection::input_grew_unread() {
  if (low_water_ <= 1) return false;  // woken for every byte: unread means not arrived
  int n = 0;
  if (::ioctl(fd_.get(), FIONREAD, &n) != 0 || n <= 0) return false;
  const bool grew = static_cast<size_t>(n) > unread_seen_;
  unread_seen_ = static_cast<size_t>(n);
  return grew;
}

void Connection::read_turn() {
  if (input_paused_ || input_done_ || close_requested_) return;
  auto& scratch = service_.context().scratch;
  size_t taken = 0;  // bytes this turn
  for (int i = 0; i < kReadBudget && taken < kTurnBytes; ++i) {
    // (A bulk read may overshoot kTurnBytes once; the shared bulk budget caps it.)
    if (admitted_ && !session_->accepts_input()) {
      // The session waits on the disk: leave the bytes in the socket (the
      // client's TCP window fills) until on_wake() says it can take more.
      waiting_on_session_ = true;
      return;
    }
    std::span<char> into = admitted_ ? session_->input_space() : std::span<char>();
    size_t bulk = 0;  // of the turn's bulk budget (ServerContext::take_bulk)
    if (into.empty()) {
      into = scratch;  // one read is one chunk for chunk-framed modes: never cut short
    } else {
      // Bulk reads are bounded by the turn's shared budget instead: one big
      // read per turn costs less (fewer window updates, fewer syscalls).
      bulk = service_.context().take_bulk(into.size());
      if (bulk == 0) break;  // others had this turn's share: next turn
      into = into.first(bulk);
    }
    auto n = recv_some(fd_.get(), into);
    if (bulk != 0) service_.context().return_bulk(bulk - (n ? *n : 0));
    if (!n) {
      if (would_block(n.error())) return;
      finish(n.error() == std::errc::connection_reset ? "reset by peer" : "read error", false);
      return;
    }
    if (*n == 0) {
      input_done_ = true;
      if (!admitted_) {
        fail_proxy_header("closed before sending a complete PROXY header");
        return;
      }
      session_->on_eof(*this);
      settle();
      return;
    }
    bytes_in_ += *n;
    service_.stats().bytes_in += *n;
    taken += *n;
    unread_seen_ = 0;
    service_.touch(*this);
    std::span<const char> chunk(into.data(), *n);
    if (!admitted_) {
      chunk = take_proxy_header(chunk);
      if (closed_ || close_requested_) return;
      if (chunk.empty()) continue;
    }
    session_->on_data(chunk, *this);
    settle();
    if (closed_ || close_requested_) return;
    if (out_.size() > kHighWater) {
      // Backpressure: the peer is not reading our replies. Stop reading it
      // until flush() drains the queue; other clients are unaffected.
      input_paused_ = true;
      return;
    }
    // A short read emptied the receive queue (TCP copies all it holds, up to
    // the buffer size). Anything arriving later raises a new edge, so unless a
    // FIN or error is already pending, the read that would only say EAGAIN is
    // skipped: one syscall fewer per message than a read-until-EAGAIN loop.
    if (*n < into.size() && !hangup_seen_) return;
  }
  // Budget spent with data possibly left: edge-triggering will not tell us
  // again, so ask to be run on the next turn.
  service_.context().reactor.mark_ready(this);
}

void Connection::wake() noexcept {
  // Late wakes (the session's target finished a job after we closed in this
  // turn) find closed_ set; the session itself stops waking on abandon().
  if (closed_ || !session_) return;
  service_.touch(*this);
  session_->on_wake(*this);
  settle();
  if (closed_ || close_requested_) return;
  if (waiting_on_session_ && session_->accepts_input()) {
    waiting_on_session_ = false;
    // Bytes may be waiting in the socket, unannounced (edge-triggered).
    service_.context().reactor.mark_ready(this);
  }
}

std::span<const char> Connection::take_proxy_header(std::span<const char> chunk) {
  const ProxyParse& result = proxied_->reader.feed(chunk);
  if (result.status == ProxyParse::Status::kNeedMore) return {};
  if (result.status == ProxyParse::Status::kInvalid) {
    fail_proxy_header("bad PROXY header: " + result.error);
    return {};
  }
  if (!admit_proxied(result.header)) return {};
  admitted_ = true;
  session_ = service_.make_session(*settings_, peer_);
  session_->on_open(*this);
  settle();
  return chunk.subspan(proxied_->reader.consumed_from_last());
}

bool Connection::admit_proxied(const ProxyHeader& header) {
  if (!header.local) {
    peer_ = header.source;
    proxied_->destination = header.destination;
    proxied_->named_client = true;
  }
  if (service_.admit(*this)) return true;
  refusal_logged_ = true;
  finish("refused", true);
  return false;
}

void Connection::fail_proxy_header(std::string_view reason) {
  ++service_.stats().proxy_errors;
  finish(reason, true);  // graceful: a clean EOF tells a misconfigured client what happened
}

void Connection::queue_output(std::string_view bytes) {
  if (bytes.empty()) return;
  out_.append(bytes);
  auto& context = service_.context();
  context.queued_output += bytes.size();
  if (context.queued_output > context.max_output_bytes && context.output_over_cap) {
    context.output_over_cap();
  }
}

void Connection::send(std::string_view first, std::string_view second) {
  if (closed_ || broken_) return;
  if (!out_.empty()) {
    queue_output(first);
    queue_output(second);
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
  service_.stats().bytes_out += sent;
  if (sent < first.size()) {
    queue_output(first.substr(sent));
    queue_output(second);
  } else {
    queue_output(second.substr(sent - first.size()));
  }
}

void Connection::flush() {
  bool sent = false;
  while (!out_.empty()) {
    auto n = send_some(fd_.get(), out_.readable());
    if (!n) {
      if (would_block(n.error())) return;
      finish("write error", false);
      return;
    }
    sent = true;
    bytes_out_ += *n;
    service_.stats().bytes_out += *n;
    out_.consume(*n);
    service_.context().queued_output -= *n;
  }
  // A writable socket with nothing to send is no activity: the first
  // EPOLLOUT of a handed-over connection must not restart its idle timer.
  if (sent) service_.touch(*this);
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
  } else if (input_done_ && out_.empty() && (!session_ || session_->accepts_input())) {
    // Not while the session works on (an upload's commit): it replies and
    // closes once the disk is done.
    finish("closed by peer", true);
  }
}

void Connection::abort(std::string_view reason) {
  if (closed_) return;
  if (exec_) {
    exec_->kill_and_reap(reason);  // on_exec_exit() finishes us
    return;
  }
  finish(reason, false);
}

void Connection::close_now(std::string_view reason) {
  if (closed_) return;
  if (exec_) {
    exec_->kill_and_reap(reason);
    return;
  }
  finish(reason, true);
}

void Connection::finish(std::string_view reason, bool graceful) {
  closed_ = true;
  close_socket(graceful);
  if (session_) session_->on_close();
  if (!refusal_logged_) log_closed(reason);
  service_.on_closed(*this);  // destroys us at the end of this turn
}

void Connection::close_socket(bool graceful) {
  if (graceful && !input_done_ && settings_->config.mode != Mode::kExec) {
    // Unread input makes close() send RST and can destroy our last reply in
    // flight; discard it so the peer sees every byte and then FIN. (close()
    // itself delivers what is still queued in the kernel, then the FIN.)
    auto& scratch = service_.context().scratch;
    for (int i = 0; i < 4; ++i) {
      auto n = recv_some(fd_.get(), scratch);
      if (!n || *n == 0) break;
    }
  }
  service_.context().queued_output -= out_.size();
  out_.clear();
  // Closing the only descriptor of the socket also takes it out of the epoll
  // set (socketd never duplicates or passes on a client socket); events of this
  // turn that are already queued for it find closed_ set.
  fd_.reset();
}

void Connection::log_closed(std::string_view reason) {
  auto& logger = service_.context().logger;
  // A client that was never admitted is worth a notice: the load balancer
  // sent no usable PROXY header.
  const LogLevel level = admitted_ ? LogLevel::kInfo : LogLevel::kNotice;
  if (!logger.enabled(level)) return;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      service_.context().reactor.now() - opened_).count();
  const std::string& name = settings_->config.name;
  std::string peer = peer_.to_string();
  std::string in = std::to_string(bytes_in_);
  std::string out = std::to_string(bytes_out_);
  std::string duration = std::to_string(ms);
  LogRecord record{level, LogEvent::kConnectionClosed,
                   name + ": " + peer + " " + std::string(reason) + " (in " + in + " B, out " +
                       out + " B, " + duration + " ms)",
                   {{"SERVICE", name},
                    {"PEER", std::move(peer)},
                    {"BYTES_IN", std::move(in)},
                    {"BYTES_OUT", std::move(out)},
                    {"DURATION_MS", std::move(duration)},
                    {"REASON", std::string(reason)}}};
  add_proxy(record);
  logger.log(record);
}

void Connection::add_proxy(LogRecord& record) const {
  add_proxy_field(record, proxy());
}

}  // namespace socketd
