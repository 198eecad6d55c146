// UdpListener: a bound datagram socket; receives in batches with recvmmsg and
// hands each datagram to its service (udp-log).
#pragma once

#include <sys/socket.h>

#include <memory>
#include <vector>

#include "net/address.hpp"
#include "net/fd.hpp"
#include "reactor/io_handler.hpp"
#include "server/listener.hpp"
#include "reactor/reactor.hpp"

namespace socketd {

class ServiceRuntime;

class UdpListener final : public Listener {
 public:
  // Datagrams per recvmmsg: a backlog drains in few calls. The buffers are
  // address space, resident only as far as datagrams fill them.
  static constexpr unsigned kBatch = 64;
  static constexpr size_t kMaxDatagram = 65536;
  static constexpr int kBatchBudget = 8;  // recvmmsg calls per event

  UdpListener(Reactor& reactor, Fd fd, SocketAddress configured);
  ~UdpListener() override;

  Transport transport() const override { return Transport::kUdp; }
  const SocketAddress& configured() const override { return configured_; }
  const SocketAddress& bound() const override { return bound_; }
  std::error_code attach(ServiceRuntime& service) override;
  void close() override;
  void on_io(uint32_t events) noexcept override;

 private:
  // SO_RCVBUF up to the service's receive_buffer; warns if the kernel caps it.
  void grow_receive_buffer(uint32_t wanted);
  // The socket's drop count (SO_RXQ_OVFL) as the datagram of `header` carries
  // it; adds what is new to the service's datagrams_dropped.
  void count_drops(const msghdr& header);

  // Room for one SO_RXQ_OVFL control message (a uint32_t) per datagram.
  struct alignas(cmsghdr) Control {
    char bytes[CMSG_SPACE(sizeof(uint32_t))];
  };

  Reactor& reactor_;
  Fd fd_;
  SocketAddress configured_;
  SocketAddress bound_;
  ServiceRuntime* service_ = nullptr;
  uint32_t asked_receive_buffer_ = 0;
  std::unique_ptr<char[]> buffers_;  // kBatch * kMaxDatagram, touched only as used
  // Set up once; recvmmsg only rewrites msg_len, msg_namelen and msg_flags.
  std::vector<mmsghdr> headers_;
  std::vector<iovec> iovecs_;
  std::vector<sockaddr_storage> peers_;
  std::vector<Control> controls_;
  // The kernel's drop count last seen: cumulative for the socket since it was
  // made (it wraps at 2^32; differences do not mind).
  uint32_t drops_seen_ = 0;
};

}  // namespace socketd
