// The classic file sender of the upload mode, as the process and fault tests
// play it: each line of the file in its own send(), then recv(1024) and stop
// unless the reply is exactly "success"; "quit" at the end. It reports what
// happened instead of asserting: the caller judges.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "support/loopback.hpp"

namespace socketd::test {

// A text file's lines, each with its line ending, the way Python's
// `for line in f` yields them.
inline std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const size_t n = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.emplace_back(text.substr(0, n));
    text.remove_prefix(n);
  }
  return lines;
}

// What the classic file sender saw: how many bytes it had acknowledged, and
// the first reply that was not the ack word ("" on EOF), if any.
struct SendOutcome {
  size_t acked_bytes = 0;
  size_t acked_lines = 0;
  bool quit_sent = false;
  std::optional<std::string> refusal;
};

// The sender over `fd`; "quit" at the end unless `then_quit` is false (the
// caller goes on sending).
inline SendOutcome classic_send_lines(int fd, std::string_view content, bool then_quit = true) {
  SendOutcome out;
  for (const auto& line : split_lines(content)) {
    if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
      out.refusal = "send failed: " + std::error_code(errno, std::system_category()).message();
      return out;
    }
    const std::string ack = recv_once(fd, 1024);
    if (ack != "success") {
      out.refusal = ack;
      return out;
    }
    out.acked_bytes += line.size();
    ++out.acked_lines;
  }
  if (then_quit && ::send(fd, "quit", 4, MSG_NOSIGNAL) == 4) out.quit_sent = true;
  return out;
}

}  // namespace socketd::test
