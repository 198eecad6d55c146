// Session: the pure protocol state machine of one connection. It consumes the
// bytes of each read and answers through Reply; it makes no syscalls itself,
// so tests drive it with any split of the input.
#pragma once

#include <span>
#include <string_view>

namespace socketd {

// What a session may ask of its connection.
class Reply {
 public:
  // Queues `first` then `second` as one write (one segment when possible).
  virtual void send(std::string_view first, std::string_view second = {}) = 0;
  // Ends the connection once everything queued has been delivered.
  virtual void close() = 0;

 protected:
  ~Reply() = default;
};

class Session {
 public:
  virtual ~Session() = default;
  virtual void on_open(Reply&) {}
  // `chunk` is exactly what one read returned: chunk framing depends on it.
  virtual void on_data(std::span<const char> chunk, Reply& reply) = 0;
  // The peer will send nothing more (FIN). The default finishes the connection.
  virtual void on_eof(Reply& reply) { reply.close(); }
  // The connection is gone, for whatever reason; last call.
  virtual void on_close() {}
};

inline std::string_view as_view(std::span<const char> bytes) {
  return {bytes.data(), bytes.size()};
}

// The message without one trailing "\n" or "\r\n".
inline std::string_view strip_one_newline(std::string_view s) {
  if (s.ends_with("\r\n")) return s.substr(0, s.size() - 2);
  if (s.ends_with('\n')) return s.substr(0, s.size() - 1);
  return s;
}

}  // namespace socketd
