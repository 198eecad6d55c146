// ChatSession: greeting, then each message echoed followed by a random number;
// the exit word ends the connection. Chunk framing (one read = one message,
// byte-compatible with the classic clients) or line framing ("\n"-terminated,
// pipelining allowed, a message may span reads).
#pragma once

#include <cstdint>
#include <string>

#include "service/random_source.hpp"
#include "service/session.hpp"

namespace socketd {

struct ChatOptions {
  std::string_view greeting;
  std::string_view exit_word = "exit";
  int64_t random_min = 1;
  int64_t random_max = 1000;
  bool line_framing = false;
  uint32_t max_line_bytes = 65536;
};

class ChatSession final : public Session {
 public:
  // `options` and `random` must outlive the session (they belong to the service).
  ChatSession(const ChatOptions& options, RandomSource& random)
      : options_(options), random_(random) {}
  void on_open(Reply& reply) override;
  void on_data(std::span<const char> chunk, Reply& reply) override;
  // The unterminated line (line framing); nothing once the exit word was seen.
  std::optional<std::string> save() const override;
  bool restore(std::string_view state) override;

 private:
  // Returns false once the exit word has been seen.
  bool answer(std::string_view message, std::string_view suffix, Reply& reply);
  void on_lines(std::string_view data, Reply& reply);

  const ChatOptions& options_;
  RandomSource& random_;
  std::string partial_;  // line framing: an unterminated message; empty when idle
  bool done_ = false;
};

}  // namespace socketd
