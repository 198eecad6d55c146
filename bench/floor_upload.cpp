// floor-upload: the floor of socketd's stream-upload mode, and the separate
// sink process of bench/neighbours' control phases. A bare single-threaded
// edge-triggered epoll loop on 127.0.0.1 that speaks the same protocol: each
// connection sends "UPLOAD <size>\n" then exactly <size> bytes; every read
// (into one 2 MiB buffer) is SHA-256'd (OpenSSL EVP) and write()n to
// DIR/.NAME.part; after the last byte: fsync, rename to NAME, fsync of DIR,
// reply "OK <size> sha256=<hex>\n", close. A connection that ends early (EOF,
// reset) or sends more than it declared is abandoned the way socketd abandons
// one: fsync, rename to NAME.incomplete, fsync of DIR, close (no reply).
// All of it, fsync included, runs on the one loop: nothing else shares it.
//
//   floor-upload DIR [PORT]
//     PORT 0 (default) picks one; the port is printed on stdout either way.
//     Files are named upload-floor-<pid>-<n> (socketd's are upload-<time>-<hex>),
//     so "DIR/upload-*" and "DIR/.upload-*.part" cover both.
//
// No limits, no free-space check, no write-behind (sync_file_range), no
// timeouts: it shares no code with socketd, so a cost found in socketd and not
// here is socketd's.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr size_t kReadSize = 2u << 20;  // one read per connection per turn, like socketd
constexpr size_t kMaxHeader = 32;

struct Upload {
  int fd = -1;
  int file = -1;
  std::string header;
  bool in_header = true;
  uint64_t size = 0;
  uint64_t received = 0;
  std::string name;
  EVP_MD_CTX* sha = nullptr;
};

int dir_fd = -1;
unsigned long counter = 0;
std::vector<std::unique_ptr<Upload>> uploads;  // by socket fd
std::vector<char> buffer(kReadSize);
std::vector<int> ready;  // read budget used up: serve again before blocking

std::string part_name(const std::string& name) { return "." + name + ".part"; }

void finish(Upload& u) {
  ::close(u.fd);  // also leaves the epoll set
  if (u.file >= 0) ::close(u.file);
  EVP_MD_CTX_free(u.sha);
  uploads[static_cast<size_t>(u.fd)].reset();
}

// Early end: keep what arrived, as socketd does.
void abandon(Upload& u) {
  if (u.file >= 0) {
    ::fsync(u.file);
    ::renameat(dir_fd, part_name(u.name).c_str(), dir_fd, (u.name + ".incomplete").c_str());
    ::close(u.file);
    u.file = -1;
    ::fsync(dir_fd);
  }
  finish(u);
}

void commit(Upload& u) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(u.sha, digest, &length);
  bool ok = ::fsync(u.file) == 0 &&
            ::renameat(dir_fd, part_name(u.name).c_str(), dir_fd, u.name.c_str()) == 0;
  ::close(u.file);
  u.file = -1;
  ok = ok && ::fsync(dir_fd) == 0;
  std::string reply;
  if (ok) {
    static constexpr char kHex[] = "0123456789abcdef";
    reply = "OK " + std::to_string(u.size) + " sha256=";
    for (unsigned int i = 0; i < length; ++i) {
      reply.push_back(kHex[digest[i] >> 4]);
      reply.push_back(kHex[digest[i] & 0xf]);
    }
    reply.push_back('\n');
  } else {
    std::perror("floor-upload: commit");
    reply = "ERROR commit failed\n";
  }
  // A few dozen bytes into an empty send buffer: one send() takes them.
  ::send(u.fd, reply.data(), reply.size(), MSG_NOSIGNAL);
  finish(u);
}

// Returns false if the upload is over (the Upload is gone).
bool store(Upload& u, std::string_view bytes) {
  if (bytes.size() > u.size - u.received) {
    abandon(u);  // more than declared
    return false;
  }
  EVP_DigestUpdate(u.sha, bytes.data(), bytes.size());
  while (!bytes.empty()) {
    const ssize_t n = ::write(u.file, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::perror("floor-upload: write");
      abandon(u);
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    u.received += static_cast<uint64_t>(n);
  }
  if (u.received == u.size) {
    commit(u);
    return false;
  }
  return true;
}

bool start(Upload& u, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.starts_with("UPLOAD ")) return false;
  line.remove_prefix(7);
  const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), u.size);
  if (line.empty() || ec != std::errc{} || ptr != line.data() + line.size()) return false;
  u.name = "upload-floor-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  u.file = ::openat(dir_fd, part_name(u.name).c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (u.file < 0) {
    std::perror("floor-upload: open");
    return false;
  }
  u.sha = EVP_MD_CTX_new();
  EVP_DigestInit_ex(u.sha, EVP_sha256(), nullptr);
  u.in_header = false;
  return true;
}

void refuse(Upload& u) {
  static constexpr std::string_view kError = "ERROR bad header\n";
  ::send(u.fd, kError.data(), kError.size(), MSG_NOSIGNAL);
  if (u.file >= 0) {
    ::close(u.file);
    u.file = -1;
    ::unlinkat(dir_fd, part_name(u.name).c_str(), 0);
  }
  finish(u);
}

// One read per turn (up to 2 MiB); a full read puts the connection on the
// ready list, since edge-triggered epoll will not report the rest again.
void serve(int fd) {
  Upload* u = uploads[static_cast<size_t>(fd)].get();
  if (u == nullptr) return;  // closed earlier in this batch
  for (;;) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) return abandon(*u);  // EOF or reset before the last byte
    std::string_view bytes(buffer.data(), static_cast<size_t>(n));
    if (u->in_header) {
      const size_t take = std::min(bytes.size(), kMaxHeader + 1 - u->header.size());
      const auto newline = bytes.substr(0, take).find('\n');
      if (newline == std::string_view::npos) {
        u->header.append(bytes.substr(0, take));
        if (u->header.size() > kMaxHeader) return refuse(*u);
        continue;  // small read: the header is still arriving
      }
      u->header.append(bytes.substr(0, newline));
      bytes.remove_prefix(newline + 1);
      if (!start(*u, u->header)) return refuse(*u);
      if (u->size == 0) {
        if (!bytes.empty()) return abandon(*u);
        return commit(*u);
      }
    }
    if (!bytes.empty() && !store(*u, bytes)) return;
    if (static_cast<size_t>(n) == buffer.size()) {
      ready.push_back(fd);
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: floor-upload DIR [PORT]\n");
    return 2;
  }
  dir_fd = ::open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    std::perror("floor-upload: DIR");
    return 1;
  }
  const int port = argc > 2 ? std::atoi(argv[2]) : 0;
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, SOMAXCONN) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("floor-upload: listen");
    return 1;
  }
  std::printf("%u\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{EPOLLIN | EPOLLET, {.fd = listener}};
  ::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &event);
  epoll_event events[256];
  for (;;) {
    std::vector<int> again;
    again.swap(ready);
    for (const int fd : again) serve(fd);
    const int n = ::epoll_wait(ep, events, 256, ready.empty() ? -1 : 0);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd != listener) {
        serve(fd);
        continue;
      }
      for (int peer;
           (peer = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
        if (uploads.size() <= static_cast<size_t>(peer)) uploads.resize(static_cast<size_t>(peer) + 1);
        uploads[static_cast<size_t>(peer)] = std::make_unique<Upload>();
        uploads[static_cast<size_t>(peer)]->fd = peer;
        epoll_event peer_event{EPOLLIN | EPOLLRDHUP | EPOLLET, {.fd = peer}};
        ::epoll_ctl(ep, EPOLL_CTL_ADD, peer, &peer_event);
      }
    }
  }
}
