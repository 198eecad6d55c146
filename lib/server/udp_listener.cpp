#include "server/udp_listener.hpp"

#include "net/socket.hpp"
#include "server/service_runtime.hpp"

namespace socketd {

UdpListener::UdpListener(Reactor& reactor, Fd fd, SocketAddress configured)
    : reactor_(reactor),
      fd_(std::move(fd)),
      configured_(configured),
      buffers_(std::make_unique_for_overwrite<char[]>(kBatch * kMaxDatagram)),
      headers_(kBatch),
      iovecs_(kBatch),
      peers_(kBatch) {
  auto bound = local_address(fd_.get());
  bound_ = bound ? *bound : configured_;
}

UdpListener::~UdpListener() { close(); }

void UdpListener::close() {
  if (fd_) reactor_.remove(fd_.get());
  fd_.reset();
}

std::error_code UdpListener::attach(ServiceRuntime& service) {
  const bool first = service_ == nullptr;
  service_ = &service;
  if (!first) return {};
  if (auto ec = reactor_.add(fd_.get(), this, EPOLLIN | EPOLLET)) return ec;
  reactor_.mark_ready(this);
  return {};
}

void UdpListener::on_io(uint32_t) noexcept {
  if (!fd_) return;  // closed earlier in this turn
  for (int round = 0; round < kBatchBudget; ++round) {
    for (unsigned i = 0; i < kBatch; ++i) {
      iovecs_[i] = {buffers_.get() + i * kMaxDatagram, kMaxDatagram};
      headers_[i].msg_hdr = {};
      headers_[i].msg_hdr.msg_name = &peers_[i];
      headers_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      headers_[i].msg_hdr.msg_iov = &iovecs_[i];
      headers_[i].msg_hdr.msg_iovlen = 1;
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
    if (static_cast<unsigned>(n) < kBatch) return;
  }
  reactor_.mark_ready(this);
}

}  // namespace socketd
