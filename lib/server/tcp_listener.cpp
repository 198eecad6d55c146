#include "server/tcp_listener.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "net/socket.hpp"
#include "server/service_runtime.hpp"

namespace socketd {
namespace {
Fd open_spare() { return Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }
}  // namespace

TcpListener::TcpListener(Reactor& reactor, Fd fd, SocketAddress configured)
    : reactor_(reactor), fd_(std::move(fd)), configured_(configured), spare_(open_spare()) {
  auto bound = local_address(fd_.get());
  bound_ = bound ? *bound : configured_;
  // An inherited socket may come with drops of its earlier life: not ours.
  drops_seen_ = listen_drops(fd_.get()).value_or(0);
}

TcpListener::~TcpListener() { close(); }

void TcpListener::close() {
  if (retry_timer_ != 0) reactor_.cancel_timer(retry_timer_);
  if (resume_timer_ != 0) reactor_.cancel_timer(resume_timer_);
  retry_timer_ = resume_timer_ = 0;
  if (fd_) reactor_.remove(fd_.get());
  fd_.reset();
}

std::error_code TcpListener::attach(ServiceRuntime& service) {
  const bool first = service_ == nullptr;
  service_ = &service;
  if (!first) return {};
  if (auto ec = reactor_.add(fd_.get(), this, EPOLLIN | EPOLLET)) return ec;
  // Connections may have queued before we registered (inherited socket):
  // with edge-triggering nobody would tell us.
  reactor_.mark_ready(this);
  return {};
}

void TcpListener::prepare_handoff() {
  // listen() again only changes the backlog. The configured one (5 by
  // default) would overflow within milliseconds of a restart under load, and
  // an overflowing queue drops SYNs (clients retry after 1 s, 3 s, ...). The
  // next socketd sets the configured backlog again when it adopts the socket.
  if (fd_ && !activated()) ::listen(fd_.get(), SOMAXCONN);
}

void TcpListener::pause(std::chrono::milliseconds duration) {
  if (resume_timer_ != 0) return;
  resume_timer_ = reactor_.add_timer(duration, [this] {
    resume_timer_ = 0;
    // Clients that queued meanwhile raised no new edge: look now.
    on_io(kResume);
  });
}

void TcpListener::on_io(uint32_t) noexcept {
  if (!fd_) return;  // closed earlier in this turn
  for (int i = 0; i < kAcceptBudget; ++i) {
    if (resume_timer_ != 0) return;  // paused: clients wait in the backlog
    SocketAddress peer;
    auto client = accept_nonblocking(fd_.get(), peer);
    if (!client) {
      const auto ec = client.error();
      if (would_block(ec)) return;
      if (ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system) {
        on_fd_exhaustion(ec);
        return;
      }
      // ECONNABORTED, EPERM (firewall), ENOBUFS...: that client is gone, go on.
      continue;
    }
    exhaustion_logged_ = false;
    if (mode_info(service_->settings().config.mode).prompt_replies) {
      const int one = 1;
      ::setsockopt(client->get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (service_->accept(std::move(*client), peer) == Admission::kRateExceeded) {
      pause(service_->rate_pause());
      return;
    }
  }
  reactor_.mark_ready(this);  // budget spent; the queue may hold more
}

void TcpListener::check_overflow() {
  if (!fd_ || service_ == nullptr) return;
  const auto drops = listen_drops(fd_.get());
  if (!drops || *drops == drops_seen_) return;
  const uint32_t fresh = *drops - drops_seen_;  // wraps correctly at 2^32
  drops_seen_ = *drops;
  service_->stats().listen_overflows += fresh;
  drops_unlogged_ += fresh;
  const auto now = reactor_.now();
  if (last_overflow_log_ != Clock::time_point{} &&
      now - last_overflow_log_ < kOverflowLogInterval) {
    return;  // counted; the next record says how many
  }
  last_overflow_log_ = now;
  const auto& config = service_->settings().config;
  const std::string name = service_->name();
  const std::string count = std::to_string(drops_unlogged_);
  drops_unlogged_ = 0;
  service_->context().logger.log(
      {LogLevel::kWarning,
       LogEvent::kLimitHit,
       name + ": accept queue of " + bound_.to_string() + " full: the kernel dropped " + count +
           " connection attempt(s) (backlog = " + std::to_string(config.backlog) +
           "); those clients wait for SYN retransmits (1 s, 3 s, ...). Raise 'backlog' in "
           "[services." +
           name + "] (the kernel caps it at net.core.somaxconn)",
       {{"SERVICE", name},
        {"LIMIT", "backlog"},
        {"LISTEN", bound_.to_string()},
        {"DROPPED", count}}});
}

void TcpListener::on_fd_exhaustion(std::error_code ec) {
  if (!exhaustion_logged_) {
    exhaustion_logged_ = true;
    service_->context().logger.log(
        {LogLevel::kError,
         LogEvent::kLimitHit,
         service_->name() + ": cannot accept: " + ec.message() +
             "; shedding new clients until descriptors free up (raise LimitNOFILE= or lower "
             "max_connections)",
         {{"SERVICE", service_->name()}, {"LIMIT", "file descriptors"}},
         /*once=*/true});
  }
  if (spare_) {
    // Free one descriptor, take the waiting client and close it cleanly, so
    // the queue drains instead of waking us forever.
    spare_.reset();
    SocketAddress peer;
    auto client = accept_nonblocking(fd_.get(), peer);
    const bool queue_empty = !client && would_block(client.error());
    if (client) ++service_->stats().refused_by[kRefusalFdExhausted];
    client = Fd();
    spare_ = open_spare();
    if (spare_) {
      // accept4() fails with EMFILE before it looks at the queue, so only
      // come back if a client was really waiting; otherwise the next
      // connection's edge wakes us. (Coming back regardless spins.)
      if (!queue_empty) reactor_.mark_ready(this);
      return;
    }
  }
  // No spare to give up: look again shortly rather than spin.
  if (retry_timer_ == 0) {
    retry_timer_ = reactor_.add_timer(std::chrono::milliseconds(100), [this] {
      retry_timer_ = 0;
      if (!spare_) spare_ = open_spare();
      on_io(kResume);
    });
  }
}

}  // namespace socketd
