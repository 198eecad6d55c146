// floor-echo: the performance floor for echo benchmarks. A bare edge-triggered
// epoll echo server on 127.0.0.1 with no features at all: accept until EAGAIN,
// read until EAGAIN, write every read straight back. Output the kernel will not
// take yet is kept per fd, and that peer is not read until it drains, so the
// echo stays correct under backpressure.
//
//   floor-echo [PORT [BACKLOG [MESSAGE]]]
//     PORT 0 (default) picks one; the port is printed on stdout either way.
//     With MESSAGE it is the floor of the banner path instead: accept until
//     EAGAIN, send MESSAGE, close; nothing else (no read, no epoll entry).
//     MESSAGE "--chat" makes it the floor of the chat mode (chunk framing, no
//     greeting, no exit word): each read is sent back followed by a number in
//     1..1000 as decimal digits, in one send.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

std::vector<std::string> pending;  // by fd: echo bytes the kernel has not taken yet
bool chat = false;
uint64_t rng = 0x9e3779b97f4a7c15ull;

// xorshift64: a number in 1..1000, cheaper than any real server's generator.
unsigned next_number() {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return static_cast<unsigned>(rng % 1000) + 1;
}

void close_peer(int fd) {
  pending[static_cast<size_t>(fd)].clear();
  ::close(fd);  // also leaves the epoll set
}

// Sends what is pending; false if the peer is gone.
bool flush(int fd) {
  std::string& out = pending[static_cast<size_t>(fd)];
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0 && errno != EINTR) return false;
    if (n > 0) sent += static_cast<size_t>(n);
  }
  out.erase(0, sent);
  return true;
}

void serve(int fd) {
  char buffer[64 * 1024];
  if (!flush(fd)) return close_peer(fd);
  while (pending[static_cast<size_t>(fd)].empty()) {  // backpressure: read only when drained
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return close_peer(fd);
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) continue;
    pending[static_cast<size_t>(fd)].assign(buffer, static_cast<size_t>(n));
    if (chat) pending[static_cast<size_t>(fd)] += std::to_string(next_number());
    if (!flush(fd)) return close_peer(fd);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 0;
  const int backlog = argc > 2 ? std::atoi(argv[2]) : SOMAXCONN;
  std::string banner = argc > 3 ? argv[3] : "";
  if (banner == "--chat") {
    chat = true;
    banner.clear();
  }
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, backlog) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("floor-echo: listen");
    return 1;
  }
  std::printf("%u\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{EPOLLIN | EPOLLET, {.fd = listener}};
  ::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &event);
  epoll_event events[256];
  for (;;) {
    const int ready = ::epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      if (fd != listener) {
        serve(fd);
        continue;
      }
      for (int peer;
           (peer = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
        if (!banner.empty()) {
          ::send(peer, banner.data(), banner.size(), MSG_NOSIGNAL);
          ::close(peer);
          continue;
        }
        ::setsockopt(peer, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (pending.size() <= static_cast<size_t>(peer))
          pending.resize(static_cast<size_t>(peer) + 1);
        epoll_event peer_event{EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, {.fd = peer}};
        ::epoll_ctl(ep, EPOLL_CTL_ADD, peer, &peer_event);
      }
    }
  }
}
