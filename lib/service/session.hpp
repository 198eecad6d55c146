// Session: the pure protocol state machine of one connection. It consumes the
// bytes of each read and answers through Reply; it makes no syscalls itself,
// so tests drive it with any split of the input.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace socketd {

// What a session may ask of its connection.
class Reply {
 public:
  // Queues `first` then `second` as one write (one segment when possible).
  virtual void send(std::string_view first, std::string_view second = {}) = 0;
  // Ends the connection once everything queued has been delivered.
  virtual void close() = 0;
  // A function that later runs the session's on_wake() (from the event loop,
  // never from inside another session call); for sessions that wait on work
  // done elsewhere (the disk). Calling it after the connection closed is safe.
  virtual std::function<void()> waker() { return {}; }

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

  // Whether the session takes input now. While false the connection reads
  // nothing (backpressure on the client) until on_wake() made it true again.
  virtual bool accepts_input() const { return true; }
  // Something the session waits for has happened (see Reply::waker()).
  virtual void on_wake(Reply&) {}
  // Where the next read may land (zero-copy, e.g. straight into an upload's
  // disk buffer); empty: the connection's own read buffer. on_data() then
  // gets a span inside it.
  virtual std::span<char> input_space() { return {}; }

  // Hand-over to the next socketd across a re-exec (lib/handover): the
  // session's state as bytes, or nullopt if it cannot be handed over as it
  // stands (the default).
  virtual std::optional<std::string> save() const { return std::nullopt; }
  // On a fresh session whose on_open() did not run: takes a saved state
  // back; false if the bytes do not fit this session's options.
  virtual bool restore(std::string_view /*state*/) { return false; }
  // For bulk streams: how many bytes are surely still coming, so that the
  // connection need not be woken for less (SO_RCVLOWAT); 0: wake for any
  // byte. Must never exceed what the client will send before it waits for
  // an answer, or the connection would sleep on a queue below the mark.
  virtual size_t input_batch() const { return 0; }
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
