// SocketAddress: an IPv4 or IPv6 address with port, held by value as a
// sockaddr_storage. Parses and prints the config's "host:port" / "[v6]:port".
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace socketd {

class SocketAddress {
 public:
  SocketAddress() = default;
  // Accepts "127.0.0.1:8888", "0.0.0.0:80", "[::1]:8888", "[::]:0". Numeric
  // hosts only: socketd never resolves names at start-up.
  static std::optional<SocketAddress> parse(std::string_view text);
  static SocketAddress from_sockaddr(const sockaddr* sa, socklen_t len);

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* get_mut() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const { return len_; }
  socklen_t* size_mut() { return &len_; }
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  void set_port(uint16_t port);

  // "127.0.0.1:8888" or "[::1]:8888"; the form parse() accepts.
  std::string to_string() const;
  // Host part only, without brackets: "::1".
  std::string host() const;

  friend bool operator==(const SocketAddress& a, const SocketAddress& b);

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = sizeof(sockaddr_storage);
};

}  // namespace socketd
