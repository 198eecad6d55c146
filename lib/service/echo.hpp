// EchoSession (RFC 862): every byte received is sent back; no greeting.
#pragma once

#include "service/session.hpp"

namespace socketd {

class EchoSession final : public Session {
 public:
  void on_data(std::span<const char> chunk, Reply& reply) override { reply.send(as_view(chunk)); }
  std::optional<std::string> save() const override { return std::string(); }  // stateless
  bool restore(std::string_view state) override { return state.empty(); }
};

}  // namespace socketd
