#include "endpoint.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>

namespace socketd::bench {

std::optional<Endpoint> Endpoint::resolve(const std::string& host, uint16_t port,
                                          std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve '" + host + "': " + ::gai_strerror(rc);
    return std::nullopt;
  }
  Endpoint endpoint;
  std::memcpy(&endpoint.storage_, found->ai_addr, found->ai_addrlen);
  endpoint.size_ = found->ai_addrlen;
  ::freeaddrinfo(found);
  return endpoint;
}

std::string Endpoint::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage_);
  ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
  return std::string(text) + ":" + std::to_string(ntohs(v4->sin_port));
}

}  // namespace socketd::bench
