#include "server/udp_listener.hpp"

#include <cstdio>
#include <cstring>
#include <string>

#include "net/socket.hpp"
#include "server/service_runtime.hpp"

namespace socketd {
namespace {

// SO_RCVBUF as the kernel reports it: twice what was asked, half of it for its
// own bookkeeping. Returns the asked-for equivalent, or 0 if unknown.
uint32_t receive_buffer_of(int fd) {
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, &len) != 0 || value < 0) return 0;
  return static_cast<uint32_t>(value) / 2;
}

std::string rmem_max() {
  char text[32] = {};
  if (FILE* f = std::fopen("/proc/sys/net/core/rmem_max", "re")) {
    if (std::fgets(text, sizeof text, f) == nullptr) text[0] = '\0';
    std::fclose(f);
  }
  std::string value = text;
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value.empty() ? "unknown" : value;
}

}  // namespace

UdpListener::UdpListener(Reactor& reactor, Fd fd, SocketAddress configured)
    : reactor_(reactor),
      fd_(std::move(fd)),
      configured_(configured),
      buffers_(std::make_unique_for_overwrite<char[]>(kBatch * kMaxDatagram)),
      headers_(kBatch),
      iovecs_(kBatch),
      peers_(kBatch),
      controls_(kBatch) {
  auto bound = local_address(fd_.get());
  bound_ = bound ? *bound : configured_;
  for (unsigned i = 0; i < kBatch; ++i) {
    iovecs_[i] = {buffers_.get() + i * kMaxDatagram, kMaxDatagram};
    headers_[i].msg_hdr = {};
    headers_[i].msg_hdr.msg_name = &peers_[i];
    headers_[i].msg_hdr.msg_iov = &iovecs_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
    headers_[i].msg_hdr.msg_control = controls_[i].bytes;
  }
  // Each datagram then carries the socket's count of datagrams dropped for a
  // full receive queue (socketd_datagrams_dropped_total). Without it (an old
  // kernel) the count stays 0.
  const int one = 1;
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
}

UdpListener::~UdpListener() { close(); }

void UdpListener::close() {
  if (fd_) reactor_.remove(fd_.get());
  fd_.reset();
}

std::error_code UdpListener::attach(ServiceRuntime& service) {
  const bool first = service_ == nullptr;
  service_ = &service;
  grow_receive_buffer(service.settings().config.receive_buffer);
  if (!first) return {};
  if (auto ec = reactor_.add(fd_.get(), this, EPOLLIN | EPOLLET)) return ec;
  reactor_.mark_ready(this);
  return {};
}

void UdpListener::on_io(uint32_t) noexcept {
  if (!fd_) return;  // closed earlier in this turn
  for (int round = 0; round < kBatchBudget; ++round) {
    for (auto& header : headers_) {
      header.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      header.msg_hdr.msg_controllen = sizeof(Control);
    }
    const int n = ::recvmmsg(fd_.get(), headers_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: drained. Other errors (ICMP-induced) are per-datagram noise.
    }
    for (int i = 0; i < n; ++i) {
      const auto& hdr = headers_[i].msg_hdr;
      const auto peer = SocketAddress::from_sockaddr(static_cast<const sockaddr*>(hdr.msg_name),
                                                     hdr.msg_namelen);
      service_->on_datagram({buffers_.get() + i * kMaxDatagram, headers_[i].msg_len}, peer);
    }
    // The count only grows from one datagram to the next: the batch's last
    // one has the newest.
    if (n > 0) count_drops(headers_[n - 1].msg_hdr);
    if (static_cast<unsigned>(n) < kBatch) return;
  }
  reactor_.mark_ready(this);
}

void UdpListener::count_drops(const msghdr& header) {
  // The kernel attaches the count only once it is non-zero.
  for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&header), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL) continue;
    uint32_t drops = 0;
    std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
    service_->stats().datagrams_dropped += static_cast<uint32_t>(drops - drops_seen_);
    drops_seen_ = drops;
  }
}

void UdpListener::grow_receive_buffer(uint32_t wanted) {
  // Only ever grows it: a larger ReceiveBuffer= from systemd's socket unit, or
  // an earlier configuration, stays.
  if (wanted == 0 || wanted <= asked_receive_buffer_ || !fd_) return;
  asked_receive_buffer_ = wanted;
  if (receive_buffer_of(fd_.get()) >= wanted) return;
  const int value = static_cast<int>(wanted);
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &value, sizeof value);
  if (receive_buffer_of(fd_.get()) >= wanted) return;
  // SO_RCVBUF stops at net.core.rmem_max; SO_RCVBUFFORCE goes past it, but
  // only with CAP_NET_ADMIN (root; never the DynamicUser service).
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &value, sizeof value);
  const uint32_t got = receive_buffer_of(fd_.get());
  if (got >= wanted) return;
  auto& logger = service_->context().logger;
  const std::string name = service_->name();
  logger.log(
      {LogLevel::kWarning,
       LogEvent::kLimitHit,
       name + ": UDP receive buffer is " + std::to_string(got) + " bytes, not receive_buffer = " +
           std::to_string(wanted) + ": the kernel caps it at net.core.rmem_max (" + rmem_max() +
           "); datagrams arriving in bursts may be dropped. Raise it (a file in "
           "/etc/sysctl.d/ with net.core.rmem_max = " +
           std::to_string(wanted) + "), or set ReceiveBuffer= on the socket in socketd.socket",
       {{"SERVICE", name}, {"LIMIT", "receive_buffer"}},
       /*once=*/true});
}

}  // namespace socketd
