// Blocking loopback clients for tests: every call has a deadline, so a broken
// server fails the test instead of hanging it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "net/address.hpp"
#include "net/fd.hpp"

namespace socketd::test {

using namespace std::chrono_literals;
inline constexpr std::chrono::milliseconds kDeadline = 10s;

SocketAddress loopback(uint16_t port);
// Connected blocking TCP socket with send/receive timeouts of `deadline`.
Fd connect_tcp_blocking(const SocketAddress& to, std::chrono::milliseconds deadline = kDeadline);
Fd udp_socket();
void send_all(int fd, std::string_view bytes);
// One recv() of up to `max` bytes, as the classic clients do ("" on EOF).
std::string recv_once(int fd, size_t max = 1024);
// Exactly n bytes, or fewer if EOF/timeout came first.
std::string recv_exact(int fd, size_t n);
// Everything until the peer closes (or the timeout).
std::string recv_until_eof(int fd);
// True if the peer closed cleanly (recv returns 0) within the deadline.
bool peer_closed(int fd);
// Polls `condition` until true or the deadline passes; returns its last value.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds deadline = kDeadline);

}  // namespace socketd::test
