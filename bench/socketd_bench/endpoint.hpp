// Endpoint: one IPv4/IPv6 socket address, resolved once before the run (the
// only place the tool may block on a name lookup).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>

namespace socketd::bench {

class Endpoint {
 public:
  // `host` is a numeric address or a name; port 0 is allowed (for --source).
  // On failure `error` says why.
  static std::optional<Endpoint> resolve(const std::string& host, uint16_t port,
                                         std::string& error);

  const sockaddr* addr() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return size_; }
  int family() const noexcept { return storage_.ss_family; }
  // "127.0.0.1:8888" or "[::1]:8888".
  std::string to_string() const;

 private:
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

}  // namespace socketd::bench
